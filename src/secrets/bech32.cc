#include "secrets/bech32.h"

#include <cstdint>
#include <vector>

namespace plumb::secrets::internal {
namespace {

constexpr char kCharset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

uint32_t Polymod(const std::vector<uint8_t>& values) {
  static const uint32_t kGen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
  uint32_t chk = 1;
  for (uint8_t v : values) {
    uint32_t top = chk >> 25;
    chk = (chk & 0x1ffffff) << 5 ^ v;
    for (int i = 0; i < 5; ++i) {
      if ((top >> i) & 1) chk ^= kGen[i];
    }
  }
  return chk;
}

std::vector<uint8_t> HrpExpand(std::string_view hrp) {
  std::vector<uint8_t> out;
  for (char c : hrp) out.push_back(static_cast<uint8_t>(c) >> 5);
  out.push_back(0);
  for (char c : hrp) out.push_back(static_cast<uint8_t>(c) & 31);
  return out;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

std::string Bech32Encode(std::string_view hrp, std::string_view data) {
  std::string lower_hrp;
  for (char c : hrp) lower_hrp += Lower(c);
  std::vector<uint8_t> words;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char b : data) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      words.push_back((acc >> bits) & 31);
    }
  }
  if (bits > 0) words.push_back((acc << (5 - bits)) & 31);
  std::vector<uint8_t> values = HrpExpand(lower_hrp);
  values.insert(values.end(), words.begin(), words.end());
  values.insert(values.end(), 6, 0);
  uint32_t mod = Polymod(values) ^ 1;
  std::string out = lower_hrp + "1";
  for (uint8_t w : words) out += kCharset[w];
  for (int i = 0; i < 6; ++i) out += kCharset[(mod >> (5 * (5 - i))) & 31];
  return out;
}

bool Bech32Decode(std::string_view text, std::string* hrp, std::string* data) {
  bool has_lower = false;
  bool has_upper = false;
  for (char c : text) {
    if (c < 33 || c > 126) return false;
    if (c >= 'a' && c <= 'z') has_lower = true;
    if (c >= 'A' && c <= 'Z') has_upper = true;
  }
  if (has_lower && has_upper) return false;
  size_t pos = text.rfind('1');
  if (pos == std::string_view::npos || pos < 1 || pos + 7 > text.size()) return false;
  std::string lower_hrp;
  for (char c : text.substr(0, pos)) lower_hrp += Lower(c);
  std::vector<uint8_t> words;
  for (char c : text.substr(pos + 1)) {
    const char* p = nullptr;
    for (const char* q = kCharset; *q != '\0'; ++q) {
      if (*q == Lower(c)) p = q;
    }
    if (p == nullptr) return false;
    words.push_back(static_cast<uint8_t>(p - kCharset));
  }
  std::vector<uint8_t> values = HrpExpand(lower_hrp);
  values.insert(values.end(), words.begin(), words.end());
  if (Polymod(values) != 1) return false;
  words.resize(words.size() - 6);
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t w : words) {
    acc = (acc << 5) | w;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // Leftover bits are padding: fewer than 5 and all zero, as BIP 173 requires.
  if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0) return false;
  *hrp = std::string(text.substr(0, pos));
  *data = std::move(out);
  return true;
}

}  // namespace plumb::secrets::internal
