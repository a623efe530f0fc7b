#include "resource/yaml_scalar.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <string>

namespace plumb::resource::internal {
namespace {

bool IsOneOf(std::string_view s, std::initializer_list<std::string_view> words) {
  for (auto w : words)
    if (s == w) return true;
  return false;
}

bool IsNull(std::string_view s) { return IsOneOf(s, {"", "~", "null", "Null", "NULL"}); }

// 1 true, 0 false, -1 not a boolean.
int BoolValue(std::string_view s) {
  if (IsOneOf(s, {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})) return 1;
  if (IsOneOf(s, {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})) return 0;
  return -1;
}

bool SpecialFloat(std::string_view s, double* d) {
  if (IsOneOf(s, {".nan", ".NaN", ".NAN"})) {
    *d = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (IsOneOf(s, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"})) {
    *d = std::numeric_limits<double>::infinity();
    return true;
  }
  if (IsOneOf(s, {"-.inf", "-.Inf", "-.INF"})) {
    *d = -std::numeric_limits<double>::infinity();
    return true;
  }
  return false;
}

bool IsDigitIn(char c, int base) {
  if (c >= '0' && c <= '9') return c - '0' < base;
  if (base == 16) return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  return false;
}

// Go's strconv.ParseInt(s, 0, 64) after go-yaml removed the underscores: optional sign,
// then 0x/0X hex, 0o/0O or leading-0 octal, 0b/0B binary, or decimal.
bool ParseInt(std::string_view s, int64_t* out) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
    base = 8;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
    base = 2;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  if (s.empty()) return false;
  for (char c : s)
    if (!IsDigitIn(c, base)) return false;
  uint64_t magnitude;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude, base);
  if (ec != std::errc() || end != s.data() + s.size()) return false;
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (negative) {
    if (magnitude > kMax + 1) return false;
    *out = magnitude == kMax + 1 ? std::numeric_limits<int64_t>::min()
                                 : -static_cast<int64_t>(magnitude);
  } else {
    if (magnitude > kMax) return false;
    *out = static_cast<int64_t>(magnitude);
  }
  return true;
}

// go-yaml's float pattern: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
bool ParseFloat(std::string_view s, double* out) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i - start;
  };
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  } else {
    if (digits() == 0) return false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      digits();
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  if (i != s.size()) return false;
  std::string text(s);
  if (text[0] == '+') text.erase(0, 1);
  double d = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
  if (ec == std::errc::result_out_of_range) {
    // Overflow is infinity, underflow zero (what Go's ParseFloat reports alongside).
    size_t e = text.find_first_of("eE");
    bool tiny = e != std::string::npos && text[e + 1] == '-';
    double mag = tiny ? 0.0 : std::numeric_limits<double>::infinity();
    d = text[0] == '-' ? -mag : mag;
  } else if (ec != std::errc() || end != text.data() + text.size()) {
    return false;
  }
  *out = d;
  return true;
}

// Numbers as go-yaml v2 resolves them: only when the scalar starts with a digit, a sign
// or '.'; underscores are dropped first.
bool ResolveNumber(std::string_view text, Value* out) {
  if (text.empty()) return false;
  char c = text[0];
  if (!((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')) return false;
  std::string plain;
  plain.reserve(text.size());
  for (char ch : text)
    if (ch != '_') plain += ch;
  int64_t i;
  if (ParseInt(plain, &i)) {
    *out = Value(i);
    return true;
  }
  double d;
  if (ParseFloat(plain, &d)) {
    *out = Value(d);
    return true;
  }
  return false;
}

}  // namespace

Value ResolvePlainScalar(std::string_view text) {
  // Most scalars are names and words: only these first characters can start anything
  // but a string (go-yaml's resolve table does the same).
  if (!text.empty() &&
      std::string_view("~nNtTfFoOyY0123456789+-.").find(text[0]) == std::string_view::npos) {
    return Value(std::string(text));
  }
  if (IsNull(text)) return Value();
  int b = BoolValue(text);
  if (b >= 0) return Value(b == 1);
  double d;
  if (SpecialFloat(text, &d)) return Value(d);
  Value number;
  if (ResolveNumber(text, &number)) return number;
  return Value(std::string(text));
}

bool ResolveTaggedScalar(std::string_view tag, std::string_view text, bool plain, Value* out) {
  constexpr std::string_view kPrefix = "tag:yaml.org,2002:";
  if (tag == "!") {  // the non-specific tag: a string
    *out = Value(std::string(text));
    return true;
  }
  if (tag.substr(0, kPrefix.size()) != kPrefix) {
    *out = plain ? ResolvePlainScalar(text) : Value(std::string(text));
    return true;
  }
  std::string_view t = tag.substr(kPrefix.size());
  if (t == "str" || t == "binary" || t == "timestamp") {
    *out = Value(std::string(text));
    return true;
  }
  Value v = ResolvePlainScalar(text);
  if (t == "null") {
    *out = Value();
    return IsNull(text);
  }
  if (t == "bool") {
    *out = v;
    return v.is_bool();
  }
  if (t == "int") {
    *out = v;
    return v.is_int();
  }
  if (t == "float") {
    if (!v.is_number()) return false;
    *out = Value(v.as_double());
    return true;
  }
  if (t == "merge") {
    *out = Value(std::string(text));
    return true;
  }
  *out = plain ? v : Value(std::string(text));
  return true;
}

bool PlainWouldChangeType(std::string_view text) {
  if (!ResolvePlainScalar(text).is_string()) return true;
  // Readers that follow YAML 1.1 to the letter also take y/n as booleans; "<<" is a merge.
  return IsOneOf(text, {"y", "Y", "n", "N", "<<", "="});
}

}  // namespace plumb::resource::internal
