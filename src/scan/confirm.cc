// Confirming matches: every check here is about not reporting what is not a secret.
#include "scan/confirm.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>

#include "core/strings.h"

namespace plumb::scan::internal {

namespace {

char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// `lower` (lowercase) in `s`, ignoring ASCII case (no locale: std::tolower is a call per byte).
bool ContainsNoCase(std::string_view s, std::string_view lower) {
  auto it = std::search(s.begin(), s.end(), lower.begin(), lower.end(),
                        [](char a, char b) { return AsciiLower(a) == b; });
  return it != s.end();
}

// Base64url (no padding) to bytes; false on a bad character.
bool DecodeBase64Url(std::string_view in, std::string* out) {
  std::string std_b64(in);
  for (char& c : std_b64) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (std_b64.size() % 4 != 0) std_b64.push_back('=');
  return Base64Decode(std_b64, out);
}

// A JWT: three base64url parts, the first decoding to a JSON object with "alg".
bool IsJwt(std::string_view token) {
  size_t dot = token.find('.');
  if (dot == std::string_view::npos) return false;
  std::string header;
  if (!DecodeBase64Url(token.substr(0, dot), &header)) return false;
  return !header.empty() && header.front() == '{' && header.find("\"alg\"") != std::string::npos;
}

// A private key header followed by its body: at least 40 base64 characters before its
// -----END line, within the next 600 (PGP blocks put armor headers first; JSON strings escape
// newlines as \n).
bool HasKeyBody(std::string_view after) {
  after = after.substr(0, std::min(after.size(), after.find("-----END")));
  after = after.substr(0, 600);
  size_t run = 0;
  for (size_t i = 0; i < after.size(); ++i) {
    char c = after[i];
    if (c == '\\' && i + 1 < after.size() && after[i + 1] == 'n') {
      ++i;
      continue;
    }
    if (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '/' || c == '=') {
      if (++run >= 40) return true;
    } else if (c != '\n' && c != '\r') {
      run = 0;
    }
  }
  return false;
}

// A value that names a secret rather than holding one: an environment or template
// reference, a function call, a path, a key reference.
bool IsReference(std::string_view v) {
  if (v.empty()) return true;
  char first = v.front();
  if (first == '$' || first == '<' || first == '{' || first == '%' || first == '@' ||
      first == '[' || first == '(' || first == '&' || first == '*' || first == '/' ||
      first == '.' || first == ':' || first == '=') {
    return true;
  }
  // Code, not a value: member access, scope resolution.
  if (v.find("->") != std::string_view::npos || v.find("::") != std::string_view::npos) {
    return true;
  }
  // An e-mail address, a host name, a path or an API version ("local.plumbline.dev/v1"):
  // lowercase letters, digits and . / - @ : only, with a '.' or a '/'.
  bool lower_path = std::all_of(v.begin(), v.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '/' || c == '-' ||
           c == '@' || c == ':' || c == '_';
  });
  if (lower_path &&
      (v.find('.') != std::string_view::npos || v.find('/') != std::string_view::npos)) {
    return true;
  }
  if (v.find('(') != std::string_view::npos || v.find(')') != std::string_view::npos ||
      v.find("${") != std::string_view::npos || v.find("{{") != std::string_view::npos ||
      (v.find('{') != std::string_view::npos && v.find('}') != std::string_view::npos)) {
    return true;
  }
  if (StartsWith(v, "ENC[")) return true;  // SOPS
  // A dotted identifier (config.secrets.token, os.environ.TOKEN): letters, digits, '_' and
  // at least one '.', no digits-only part.
  bool dotted = v.find('.') != std::string_view::npos;
  bool ident = std::all_of(v.begin(), v.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.';
  });
  return dotted && ident && std::isalpha(static_cast<unsigned char>(first)) != 0;
}

}  // namespace

double ShannonEntropy(std::string_view s) {
  if (s.empty()) return 0;
  std::array<size_t, 256> counts{};
  for (unsigned char c : s) ++counts[c];
  double h = 0;
  double n = static_cast<double>(s.size());
  for (size_t c : counts) {
    if (c == 0) continue;
    double p = static_cast<double>(c) / n;
    h -= p * std::log2(p);
  }
  return h;
}

bool IsPlaceholder(std::string_view s) {
  if (s.find("EXAMPLE") != std::string_view::npos) return true;
  if (ContainsNoCase(s, "xxxx") || s.find("****") != std::string_view::npos ||
      s.find("...") != std::string_view::npos) {
    return true;
  }
  if (ContainsNoCase(s, "placeholder") || ContainsNoCase(s, "changeme") ||
      ContainsNoCase(s, "redacted") || ContainsNoCase(s, "your_") || ContainsNoCase(s, "your-")) {
    return true;
  }
  if (!s.empty() && (s.front() == '<' || s.back() == '>')) return true;
  if (s.find("${") != std::string_view::npos || s.find("{{") != std::string_view::npos) {
    return true;
  }
  // A run of 8 of one character ("ghp_00000000...", "AKIAAAAAAAAA...").
  size_t run = 1;
  for (size_t i = 1; i < s.size(); ++i) {
    run = s[i] == s[i - 1] ? run + 1 : 1;
    if (run >= 8) return true;
  }
  return false;
}

bool IsSealedValue(std::string_view value) {
  if (value.size() < 344) return false;  // base64 of 2 + 256 bytes
  std::string bytes;
  if (!Base64Decode(value, &bytes) || bytes.size() < 2) return false;
  size_t rsa = (static_cast<unsigned char>(bytes[0]) << 8) | static_cast<unsigned char>(bytes[1]);
  return (rsa == 256 || rsa == 384 || rsa == 512) && bytes.size() >= 2 + rsa + 16;
}

bool IsUuidOrHash(std::string_view v) {
  auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  if (v.size() == 36 && v[8] == '-' && v[13] == '-' && v[18] == '-' && v[23] == '-') {
    for (size_t i = 0; i < v.size(); ++i) {
      if (i == 8 || i == 13 || i == 18 || i == 23) continue;
      if (!hex(v[i])) return false;
    }
    return true;
  }
  size_t n = v.size();
  if (n != 32 && n != 40 && n != 56 && n != 64 && n != 96 && n != 128) return false;
  return std::all_of(v.begin(), v.end(), hex);
}

bool Confirm(const Rule& rule, std::string_view secret, std::string_view after) {
  if (rule.check == Rule::Check::kPrivateKeyBody) return HasKeyBody(after);
  if (IsPlaceholder(secret)) return false;
  if (rule.min_entropy > 0 && ShannonEntropy(secret) < rule.min_entropy) return false;
  switch (rule.check) {
    case Rule::Check::kJwt:
      return IsJwt(secret);
    case Rule::Check::kGeneric:
      if (IsReference(secret) || IsUuidOrHash(secret) || IsSealedValue(secret)) return false;
      // A value of letters only is a word or an identifier, not a generated secret.
      return !std::all_of(secret.begin(), secret.end(), [](char c) {
        return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
      });
    default:
      return !IsSealedValue(secret);
  }
}

std::string Redact(std::string_view secret) {
  size_t keep = std::min<size_t>(4, secret.size() / 4);
  return std::string(secret.substr(0, keep)) + "*****";
}

}  // namespace plumb::scan::internal
