// secrets: the age v1 file format's text layer (https://age-encryption.org/v1, C2SP): the
// header with its recipient stanzas, canonical base64 and the ASCII armor. No cryptography
// here; age.cc unwraps stanzas, checks the header MAC and decrypts the payload. Internal to
// the secrets module.
//
// Every error is InvalidArgument and starts with "age: header: " or "age: armor: ", so a
// caller (and the CCTV test vectors) can tell a malformed header from a malformed armor.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace plumb::secrets::internal {

inline constexpr std::string_view kAgeVersionLine = "age-encryption.org/v1\n";
inline constexpr std::string_view kArmorBegin = "-----BEGIN AGE ENCRYPTED FILE-----";
inline constexpr std::string_view kArmorEnd = "-----END AGE ENCRYPTED FILE-----";

// Base64 with the standard alphabet. `padded` selects RFC 4648 padding (the armor) or none
// (the header). Decoding is strict: only alphabet characters (no whitespace), canonical
// (unused trailing bits are zero), padding exactly where `padded` puts it.
std::string AgeBase64Encode(std::string_view bytes, bool padded = false);
bool AgeBase64Decode(std::string_view text, bool padded, std::string* out);

struct AgeStanza {
  std::string type;               // first argument after "->"
  std::vector<std::string> args;  // the others
  std::string body;               // decoded
};

struct AgeHeader {
  std::vector<AgeStanza> stanzas;
  std::string mac;            // 32 bytes, decoded from the "--- " line
  size_t mac_input_len = 0;   // bytes of the file up to and including "---", what the MAC covers
  size_t payload_offset = 0;  // first byte after the header's final newline
};

// Parses the header of a binary age file. The header must be exactly as the spec writes it:
// the version line, stanzas "-> ARG..." (arguments of visible ASCII, separated by one space)
// with bodies in lines of 64 columns ending with a shorter one, then "--- MAC".
Result<AgeHeader> ParseAgeHeader(std::string_view file);

// The header text for `stanzas` up to and including "---" (what the MAC covers); the caller
// appends " " + base64(mac) + "\n".
std::string EncodeAgeHeaderForMac(const std::vector<AgeStanza>& stanzas);

// True when `file` is meant as an armored file: it starts (after whitespace) with "-----" or
// holds the BEGIN line somewhere, so its errors are reported as armor errors.
bool LooksArmored(std::string_view file);

// The binary file inside an armor. Whitespace is allowed around the armor (at most 1024
// bytes each side); lines end with LF or CRLF; every base64 line but the last has 64
// columns; the last ends with padding as needed and is followed by the END line.
Result<std::string> AgeArmorDecode(std::string_view text);
// Armors a binary file: BEGIN line, base64 in 64-column lines, END line, final newline.
std::string AgeArmorEncode(std::string_view binary);

}  // namespace plumb::secrets::internal
