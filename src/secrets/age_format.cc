#include "secrets/age_format.h"

#include "core/strings.h"

namespace plumb::secrets::internal {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr size_t kColumns = 64;       // base64 characters per full line (header and armor)
constexpr size_t kBytesPerLine = 48;  // what a full line decodes to
constexpr size_t kMaxWhitespace = 1024;

int Sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

// A stanza argument: non-empty, visible ASCII only.
bool ValidArgument(std::string_view a) {
  if (a.empty()) return false;
  for (char c : a) {
    if (c < 33 || c > 126) return false;
  }
  return true;
}

// Splits on single spaces, keeping empty parts (so "a  b" gives an empty argument).
std::vector<std::string_view> SplitSpaces(std::string_view line) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t sp = line.find(' ', start);
    if (sp == std::string_view::npos) {
      parts.push_back(line.substr(start));
      return parts;
    }
    parts.push_back(line.substr(start, sp - start));
    start = sp + 1;
  }
}

Status HeaderError(const std::string& what) { return InvalidArgument("age: header: " + what); }
Status ArmorError(const std::string& what) { return InvalidArgument("age: armor: " + what); }

}  // namespace

std::string AgeBase64Encode(std::string_view bytes, bool padded) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16 | static_cast<uint8_t>(bytes[i + 1]) << 8 |
                 static_cast<uint8_t>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    if (padded) out += "==";
  } else if (rest == 2) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16 | static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    if (padded) out += "=";
  }
  return out;
}

bool AgeBase64Decode(std::string_view text, bool padded, std::string* out) {
  if (padded) {
    if (text.size() % 4 != 0) return false;
    size_t pad = 0;
    while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
    text.remove_suffix(pad);
    if (pad > 0 && text.size() % 4 != 4 - pad) return false;
  }
  if (text.size() % 4 == 1) return false;
  std::string result;
  result.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = Sextet(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      result += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // Canonical: the bits left over after the last whole byte are zero.
  if ((acc & ((1u << bits) - 1)) != 0) return false;
  *out = std::move(result);
  return true;
}

Result<AgeHeader> ParseAgeHeader(std::string_view file) {
  if (!StartsWith(file, kAgeVersionLine)) {
    if (StartsWith(file, "age-encryption.org/")) {
      return HeaderError("unsupported version (want age-encryption.org/v1)");
    }
    return HeaderError("not an age file (no age-encryption.org/v1 line)");
  }
  AgeHeader header;
  size_t pos = kAgeVersionLine.size();
  auto next_line = [&](std::string_view* line) {
    size_t nl = file.find('\n', pos);
    if (nl == std::string_view::npos) return false;
    *line = file.substr(pos, nl - pos);
    pos = nl + 1;
    return true;
  };
  while (true) {
    size_t line_start = pos;
    std::string_view line;
    if (!next_line(&line)) return HeaderError("truncated before the \"---\" line");
    if (StartsWith(line, "---")) {
      auto parts = SplitSpaces(line);
      if (parts[0] != "---" || parts.size() != 2 ||
          !AgeBase64Decode(parts[1], /*padded=*/false, &header.mac) || header.mac.size() != 32) {
        return HeaderError("malformed MAC line (want \"--- \" and 43 base64 characters)");
      }
      header.mac_input_len = line_start + 3;
      header.payload_offset = pos;
      return header;
    }
    if (!StartsWith(line, "->")) return HeaderError("unexpected line (neither a stanza nor MAC)");
    auto parts = SplitSpaces(line);
    if (parts[0] != "->") return HeaderError("malformed stanza line (want \"-> TYPE ...\")");
    if (parts.size() < 2) return HeaderError("stanza without a type");
    AgeStanza stanza;
    for (size_t i = 1; i < parts.size(); ++i) {
      if (!ValidArgument(parts[i])) {
        return HeaderError("stanza argument " + std::to_string(i) +
                           " is empty or has a character outside visible ASCII");
      }
      if (i == 1) {
        stanza.type = std::string(parts[i]);
      } else {
        stanza.args.emplace_back(parts[i]);
      }
    }
    while (true) {
      std::string_view body_line;
      if (!next_line(&body_line)) {
        return HeaderError("stanza " + stanza.type + ": body does not end with a short line");
      }
      std::string decoded;
      if (body_line.size() > kColumns) {
        return HeaderError("stanza " + stanza.type + ": body line longer than 64 columns");
      }
      if (!AgeBase64Decode(body_line, /*padded=*/false, &decoded)) {
        return HeaderError("stanza " + stanza.type + ": body is not canonical unpadded base64");
      }
      stanza.body += decoded;
      if (decoded.size() < kBytesPerLine) break;
    }
    header.stanzas.push_back(std::move(stanza));
  }
}

std::string EncodeAgeHeaderForMac(const std::vector<AgeStanza>& stanzas) {
  std::string out(kAgeVersionLine);
  for (const auto& s : stanzas) {
    out += "-> " + s.type;
    for (const auto& a : s.args) out += " " + a;
    out += "\n";
    std::string b64 = AgeBase64Encode(s.body);
    size_t i = 0;
    for (; i + kColumns <= b64.size(); i += kColumns) out += b64.substr(i, kColumns) + "\n";
    out += b64.substr(i) + "\n";  // the final short line, empty when the body fills its lines
  }
  out += "---";
  return out;
}

bool LooksArmored(std::string_view file) {
  size_t i = 0;
  while (i < file.size() && IsSpace(file[i])) ++i;
  if (StartsWith(file.substr(i), "-----")) return true;
  return !StartsWith(file, "age-encryption.org/") &&
         file.find(kArmorBegin) != std::string_view::npos;
}

Result<std::string> AgeArmorDecode(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size() && IsSpace(text[pos])) {
    if (++pos >= kMaxWhitespace) return ArmorError("too much whitespace before the BEGIN line");
  }
  // A line without its LF (or CRLF); false at the end of the text.
  auto next_line = [&](std::string_view* line) {
    if (pos >= text.size()) return false;
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    *line = text.substr(pos, end - pos);
    if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    return true;
  };
  auto rest_is_whitespace = [&]() -> Status {
    std::string_view rest = text.substr(pos);
    for (char c : rest) {
      if (!IsSpace(c)) return ArmorError("data after the END line");
    }
    if (rest.size() >= kMaxWhitespace) return ArmorError("too much whitespace after the END line");
    return Status::Ok();
  };
  std::string_view line;
  if (!next_line(&line) || line != kArmorBegin) {
    return ArmorError("the first line is not \"" + std::string(kArmorBegin) + "\"");
  }
  std::string out;
  while (true) {
    if (!next_line(&line)) return ArmorError("no END line");
    if (line == kArmorEnd) break;
    if (line.empty()) return ArmorError("empty line inside the armor");
    if (line.size() > kColumns) return ArmorError("line longer than 64 columns");
    std::string decoded;
    if (!AgeBase64Decode(line, /*padded=*/true, &decoded)) {
      return ArmorError("line is not canonical padded base64");
    }
    out += decoded;
    if (decoded.size() < kBytesPerLine) {
      if (!next_line(&line) || line != kArmorEnd) {
        return ArmorError("a line shorter than 64 columns is not followed by the END line");
      }
      break;
    }
  }
  RETURN_IF_ERROR(rest_is_whitespace());
  return out;
}

std::string AgeArmorEncode(std::string_view binary) {
  std::string out(kArmorBegin);
  out += "\n";
  std::string b64 = AgeBase64Encode(binary, /*padded=*/true);
  for (size_t i = 0; i < b64.size(); i += kColumns) out += b64.substr(i, kColumns) + "\n";
  out += kArmorEnd;
  out += "\n";
  return out;
}

}  // namespace plumb::secrets::internal
