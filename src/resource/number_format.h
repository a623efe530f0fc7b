// resource (internal): number formatting shared by the JSON, YAML and canonical writers.
// Not part of the module's public contract; other modules do not include it.
#pragma once

#include <string>

namespace plumb::resource::internal {

// Shortest text that reads back as exactly `d` ("0.1", "1e+300", "5"). NaN and the
// infinities have no JSON form: callers handle them (see IsFinite).
std::string FormatDouble(double d);
// Like FormatDouble, but always reads back as a floating-point number in JSON/YAML
// ("5.0" rather than "5"), so a double stays a double through a round trip.
std::string FormatDoubleKeepType(double d);
bool IsFinite(double d);

}  // namespace plumb::resource::internal
