// core: small string utilities.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace plumb {

std::vector<std::string> Split(std::string_view s, char sep);
std::string Join(const std::vector<std::string>& parts, std::string_view sep);
bool StartsWith(std::string_view s, std::string_view prefix);
bool EndsWith(std::string_view s, std::string_view suffix);
std::string Trim(std::string_view s);
// A JSON string literal, with quotes, escaping control characters; invalid UTF-8 bytes
// are replaced by U+FFFD so the output is always valid JSON.
std::string JsonQuote(std::string_view s);
// JsonQuote(s) appended to `out`.
void AppendJsonQuoted(std::string* out, std::string_view s);
std::string HexEncode(std::string_view bytes);
// Standard base64 (RFC 4648, with padding), as Kubernetes Secret `data` uses.
std::string Base64Encode(std::string_view bytes);
// Strict decoding: false on characters outside the alphabet or bad padding. Ignores
// whitespace (line-wrapped values are common in YAML).
bool Base64Decode(std::string_view text, std::string* out);
// Lowercase hex SHA-256 of the bytes.
std::string Sha256Hex(std::string_view bytes);
// 64-bit FNV-1a: fast, not cryptographic.
uint64_t Fnv1a64(std::string_view bytes, uint64_t seed = 1469598103934665603ULL);
// Cryptographically random bytes (getrandom(2)), hex-encoded (n bytes -> 2n chars).
std::string RandomHex(size_t n);
// Lowercase hex HMAC-SHA256 of `data` under `key`.
std::string HmacSha256Hex(std::string_view key, std::string_view data);
// Constant-time comparison for secrets (tokens, signatures).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace plumb
