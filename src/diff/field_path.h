// diff-internal: field paths as StructuralDiff prints them and NormalizeOptions takes
// them: keys joined by '.', array elements as "[3]", and keys that are not plain words
// (they hold '.', '/', spaces, ...) as ["kubernetes.io/name"]. Not part of the public API.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "resource/value.h"

namespace plumb::diff {

std::string AppendKey(const std::string& path, std::string_view key);
std::string AppendIndex(const std::string& path, size_t index);

// Removes the field at `path` from `v` if present (an array element shifts the rest).
// Returns whether something was removed; a malformed path removes nothing.
bool ErasePath(resource::Value* v, std::string_view path);

}  // namespace plumb::diff
