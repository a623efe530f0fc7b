// resource (internal): UTF-8 decoding and encoding shared by the JSON and YAML codecs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace plumb::resource::internal {

// Decodes the UTF-8 sequence at s[*i] and advances *i past it. Returns the code point,
// or -1 (advancing one byte) when the bytes are not valid UTF-8 (overlong forms,
// surrogates and values past U+10FFFF are invalid).
int32_t NextCodePoint(std::string_view s, size_t* i);
// Appends the UTF-8 encoding of a valid code point.
void AppendUtf8(int32_t cp, std::string* out);

}  // namespace plumb::resource::internal
