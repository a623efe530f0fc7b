// resource (internal): YAML 1.1 scalar resolution as sigs.k8s.io/yaml (go-yaml v2) does it,
// shared by the parser (to type plain scalars) and the emitter (to know when a string
// must be quoted). Not part of the module's public contract.
#pragma once

#include <string_view>

#include "resource/value.h"

namespace plumb::resource::internal {

// The value of a plain (unquoted, untagged) scalar: null, bool, int, double or string.
Value ResolvePlainScalar(std::string_view text);

// Resolves a scalar carrying an explicit tag ("tag:yaml.org,2002:int", ...). Returns
// false when the text is not a valid instance of the tag (e.g. !!int "abc").
// Unknown tags resolve like an untagged scalar of the same style.
bool ResolveTaggedScalar(std::string_view tag, std::string_view text, bool plain, Value* out);

// Whether `text` as a plain scalar could read back as something other than the same
// string in some YAML 1.1 reader (including y/n, "<<", timestamps are fine).
bool PlainWouldChangeType(std::string_view text);

}  // namespace plumb::resource::internal
