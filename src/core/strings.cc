#include "core/strings.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace plumb {

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.emplace_back(s.substr(start));
      return out;
    }
    out.emplace_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool EndsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

namespace {
// Length of a valid UTF-8 sequence starting at s[i], or 0 if invalid.
size_t Utf8Len(std::string_view s, size_t i) {
  unsigned char c = s[i];
  size_t n;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0 && c >= 0xC2)
    n = 2;
  else if ((c & 0xF0) == 0xE0)
    n = 3;
  else if ((c & 0xF8) == 0xF0 && c <= 0xF4)
    n = 4;
  else
    return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  return n;
}
}  // namespace

namespace {
// Whether a byte needs more than a copy inside a JSON string: a control character, a quote,
// a backslash, or a byte of a multi-byte (or invalid) UTF-8 sequence.
bool NeedsEscape(unsigned char c) { return c < 0x20 || c >= 0x80 || c == '"' || c == '\\'; }

// Whether any of the 8 bytes of `x` needs more than a copy (exact: no false answers).
bool WordNeedsEscape(uint64_t x) {
  constexpr uint64_t k01 = 0x0101010101010101ULL, k80 = 0x8080808080808080ULL;
  auto has_zero_byte = [](uint64_t v) { return (v - k01) & ~v & k80; };
  const uint64_t below_space = (x - k01 * 0x20) & ~x & k80;  // a byte < 0x20 (or >= 0x80)
  return (below_space | (x & k80) | has_zero_byte(x ^ (k01 * '"')) |
          has_zero_byte(x ^ (k01 * '\\'))) != 0;
}

// The end of the run of bytes from `i` that are copied as they are: 8 at a time while no
// byte of the word needs an escape, then one at a time.
size_t PlainRunEnd(std::string_view s, size_t i) {
  while (i + 8 <= s.size()) {
    uint64_t x;
    std::memcpy(&x, s.data() + i, 8);
    if (WordNeedsEscape(x)) break;
    i += 8;
  }
  while (i < s.size() && !NeedsEscape(static_cast<unsigned char>(s[i]))) ++i;
  return i;
}
}  // namespace

void AppendJsonQuoted(std::string* out, std::string_view s) {
  *out += '"';
  for (size_t i = 0; i < s.size();) {
    // A run that needs no escape goes in at once (most of a body).
    const size_t run = PlainRunEnd(s, i);
    if (run > i) {
      out->append(s.data() + i, run - i);
      i = run;
      if (i == s.size()) break;
    }
    unsigned char c = s[i];
    switch (c) {
      case '"':
        *out += "\\\"";
        ++i;
        continue;
      case '\\':
        *out += "\\\\";
        ++i;
        continue;
      case '\n':
        *out += "\\n";
        ++i;
        continue;
      case '\r':
        *out += "\\r";
        ++i;
        continue;
      case '\t':
        *out += "\\t";
        ++i;
        continue;
      default:
        break;
    }
    if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      *out += buf;
      ++i;
      continue;
    }
    size_t n = Utf8Len(s, i);
    if (n == 0) {
      *out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    out->append(s.substr(i, n));
    i += n;
  }
  *out += '"';
}

std::string JsonQuote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  AppendJsonQuoted(&out, s);
  return out;
}

std::string HexEncode(std::string_view bytes) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

namespace {
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out += kBase64[(n >> k) & 63];
  }
  if (size_t rest = bytes.size() - i; rest > 0) {
    uint32_t n = uint8_t(bytes[i]) << 16;
    if (rest == 2) n |= uint8_t(bytes[i + 1]) << 8;
    out += kBase64[(n >> 18) & 63];
    out += kBase64[(n >> 12) & 63];
    out += rest == 2 ? kBase64[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool Base64Decode(std::string_view text, std::string* out) {
  out->clear();
  uint32_t acc = 0;
  int bits = 0, chars = 0, pad = 0;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++pad;
      ++chars;
      continue;
    }
    if (pad > 0) return false;  // data after padding
    const char* p = std::strchr(kBase64, c);
    if (c == '\0' || p == nullptr) return false;
    acc = (acc << 6) | static_cast<uint32_t>(p - kBase64);
    bits += 6;
    ++chars;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return chars % 4 == 0 && pad <= 2;
}

std::string Sha256Hex(std::string_view bytes) {
  // Fetched once: EVP_sha256() makes every EVP_Digest fetch the implementation again
  // (OpenSSL 3), a third of the cost of hashing a small File body.
  static const EVP_MD* const sha256 = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched ? fetched : EVP_sha256();
  }();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, sha256, nullptr);
  return HexEncode(std::string_view(reinterpret_cast<char*>(md), len));
}

uint64_t Fnv1a64(std::string_view bytes, uint64_t h) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string RandomHex(size_t n) {
  // The kernel's generator (what OpenSSL seeds its own from): no OpenSSL initialisation
  // (~2 ms, its configuration and providers) on the way of a start that needs a name.
  std::string buf(n, '\0');
  for (size_t got = 0; got < n;) {
    const ssize_t r = ::getrandom(buf.data() + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      std::fprintf(stderr, "plumb: getrandom failed: %s\n", std::strerror(errno));
      std::abort();
    }
    got += static_cast<size_t>(r);
  }
  return HexEncode(buf);
}

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return HexEncode(std::string_view(reinterpret_cast<char*>(md), len));
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace plumb
