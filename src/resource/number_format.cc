#include "resource/number_format.h"

#include <charconv>
#include <cmath>

namespace plumb::resource::internal {

bool IsFinite(double d) { return std::isfinite(d); }

std::string FormatDouble(double d) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

std::string FormatDoubleKeepType(double d) {
  std::string s = FormatDouble(d);
  if (!IsFinite(d)) return s;
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

}  // namespace plumb::resource::internal
