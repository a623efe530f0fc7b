// JSON reader: a small recursive-descent RFC 8259 parser into Value.
#include <charconv>
#include <cmath>
#include <cstring>
#include <unordered_set>

#include "core/strings.h"
#include "resource/codec.h"
#include "resource/utf8.h"

namespace plumb::resource {
namespace {

class JsonParser {
 public:
  JsonParser(std::string_view text, const std::string& name, const ParseLimits& limits)
      : text_(text), name_(name), limits_(limits) {}

  Result<Value> ParseDocument() {
    SkipSpace();
    Value v;
    RETURN_IF_ERROR(ParseValue(0, &v));
    SkipSpace();
    if (pos_ != text_.size()) return Error("unexpected text after the JSON value");
    return v;
  }

 private:
  Status Error(const std::string& what) const {
    return InvalidArgument(name_ + ":" + std::to_string(line_) + ": " + what);
  }
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }

  void SkipSpace() {
    while (!AtEnd()) {
      char c = text_[pos_];
      if (c == '\n') {
        ++line_;
      } else if (c != ' ' && c != '\t' && c != '\r') {
        return;
      }
      ++pos_;
    }
  }

  Status Expect(char c) {
    if (Peek() != c) return Error(std::string("expected '") + c + "'" + Found());
    ++pos_;
    return Status::Ok();
  }

  std::string Found() const {
    if (AtEnd()) return " but the input ended";
    char c = text_[pos_];
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return " but found byte " + std::to_string(static_cast<unsigned char>(c));
    }
    return std::string(" but found '") + c + "'";
  }

  Status ParseValue(int depth, Value* out) {
    switch (Peek()) {
      case '{':
        return ParseObject(depth + 1, out);
      case '[':
        return ParseArray(depth + 1, out);
      case '"': {
        std::string s;
        RETURN_IF_ERROR(ParseString(&s));
        *out = Value(std::move(s));
        return Status::Ok();
      }
      case 't':
        return ParseLiteral("true", Value(true), out);
      case 'f':
        return ParseLiteral("false", Value(false), out);
      case 'n':
        return ParseLiteral("null", Value(), out);
      default:
        if (Peek() == '-' || (Peek() >= '0' && Peek() <= '9')) return ParseNumber(out);
        return Error("expected a JSON value" + Found());
    }
  }

  Status ParseLiteral(std::string_view word, Value v, Value* out) {
    if (text_.substr(pos_, word.size()) != word) return Error("invalid literal" + Found());
    pos_ += word.size();
    *out = std::move(v);
    return Status::Ok();
  }

  Status CheckDepth(int depth) const {
    if (depth > limits_.max_depth) {
      return Error("nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
    }
    return Status::Ok();
  }

  // Kubernetes' strict decoding refuses duplicate keys; so do we (as in YAML). Small
  // objects scan; larger ones keep a set of their keys.
  static bool IsDuplicate(const Object& members, const std::string& key,
                          std::unordered_set<std::string>* key_set) {
    constexpr size_t kKeySetThreshold = 16;
    if (members.size() < kKeySetThreshold) {
      for (const Member& m : members)
        if (m.first == key) return true;
      if (members.size() + 1 == kKeySetThreshold) {
        for (const Member& m : members) key_set->insert(m.first);
        key_set->insert(key);
      }
      return false;
    }
    return !key_set->insert(key).second;
  }

  Status ParseObject(int depth, Value* out) {
    RETURN_IF_ERROR(CheckDepth(depth));
    ++pos_;  // '{'
    Object members;
    std::unordered_set<std::string> key_set;
    SkipSpace();
    if (Peek() == '}') {
      ++pos_;
      *out = Value(std::move(members));
      return Status::Ok();
    }
    while (true) {
      SkipSpace();
      if (Peek() != '"') return Error("expected a string key" + Found());
      std::string key;
      int key_line = line_;
      RETURN_IF_ERROR(ParseString(&key));
      if (IsDuplicate(members, key, &key_set)) {
        return InvalidArgument(name_ + ":" + std::to_string(key_line) + ": duplicate key " +
                               JsonQuote(key));
      }
      SkipSpace();
      RETURN_IF_ERROR(Expect(':'));
      SkipSpace();
      Value v;
      RETURN_IF_ERROR(ParseValue(depth, &v));
      members.emplace_back(std::move(key), std::move(v));
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      RETURN_IF_ERROR(Expect('}'));
      break;
    }
    members.shrink_to_fit();  // as the YAML reader: no spare capacity in a kept tree
    *out = Value(std::move(members));
    return Status::Ok();
  }

  Status ParseArray(int depth, Value* out) {
    RETURN_IF_ERROR(CheckDepth(depth));
    ++pos_;  // '['
    Array items;
    SkipSpace();
    if (Peek() == ']') {
      ++pos_;
      *out = Value(std::move(items));
      return Status::Ok();
    }
    while (true) {
      SkipSpace();
      Value v;
      RETURN_IF_ERROR(ParseValue(depth, &v));
      items.push_back(std::move(v));
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      RETURN_IF_ERROR(Expect(']'));
      break;
    }
    items.shrink_to_fit();
    *out = Value(std::move(items));
    return Status::Ok();
  }

  Status ParseHex4(uint32_t* out) {
    if (text_.size() - pos_ < 4) return Error("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= c - '0';
      else if (c >= 'a' && c <= 'f')
        v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        v |= c - 'A' + 10;
      else
        return Error("invalid hex digit in \\u escape");
    }
    *out = v;
    return Status::Ok();
  }

  Status ParseEscape(std::string* s) {
    if (AtEnd()) return Error("unterminated string");
    char c = text_[pos_++];
    switch (c) {
      case '"':
        *s += '"';
        return Status::Ok();
      case '\\':
        *s += '\\';
        return Status::Ok();
      case '/':
        *s += '/';
        return Status::Ok();
      case 'b':
        *s += '\b';
        return Status::Ok();
      case 'f':
        *s += '\f';
        return Status::Ok();
      case 'n':
        *s += '\n';
        return Status::Ok();
      case 'r':
        *s += '\r';
        return Status::Ok();
      case 't':
        *s += '\t';
        return Status::Ok();
      case 'u':
        break;
      default:
        return Error(std::string("invalid escape '\\") + c + "'");
    }
    uint32_t cp;
    RETURN_IF_ERROR(ParseHex4(&cp));
    if (cp >= 0xDC00 && cp <= 0xDFFF) return Error("unpaired low surrogate in \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (text_.substr(pos_, 2) != "\\u") return Error("unpaired high surrogate in \\u escape");
      pos_ += 2;
      uint32_t low;
      RETURN_IF_ERROR(ParseHex4(&low));
      if (low < 0xDC00 || low > 0xDFFF) return Error("invalid low surrogate in \\u escape");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    internal::AppendUtf8(static_cast<int32_t>(cp), s);
    return Status::Ok();
  }

  Status ParseString(std::string* s) {
    ++pos_;  // opening quote
    while (true) {
      if (AtEnd()) return Error("unterminated string");
      char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return Status::Ok();
      }
      if (c == '\\') {
        ++pos_;
        RETURN_IF_ERROR(ParseEscape(s));
        continue;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return Error("control character in string (must be escaped)");
      }
      // Copy a run of ordinary bytes at once; RFC 8259 text is UTF-8.
      size_t end = pos_;
      while (end < text_.size() && text_[end] != '"' && text_[end] != '\\' &&
             static_cast<unsigned char>(text_[end]) >= 0x20) {
        if (static_cast<unsigned char>(text_[end]) < 0x80) {
          ++end;
        } else if (internal::NextCodePoint(text_, &end) < 0) {
          return Error("invalid UTF-8 in string");
        }
      }
      s->append(text_.data() + pos_, end - pos_);
      pos_ = end;
    }
  }

  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }

  Status ParseNumber(Value* out) {
    size_t start = pos_;
    bool is_float = false;
    if (Peek() == '-') ++pos_;
    if (Peek() == '0') {
      ++pos_;
    } else if (IsDigit(Peek())) {
      while (IsDigit(Peek())) ++pos_;
    } else {
      return Error("invalid number" + Found());
    }
    if (Peek() == '.') {
      is_float = true;
      ++pos_;
      if (!IsDigit(Peek())) return Error("invalid number: expected a digit after '.'");
      while (IsDigit(Peek())) ++pos_;
    }
    if (Peek() == 'e' || Peek() == 'E') {
      is_float = true;
      ++pos_;
      if (Peek() == '+' || Peek() == '-') ++pos_;
      if (!IsDigit(Peek())) return Error("invalid number: expected a digit in the exponent");
      while (IsDigit(Peek())) ++pos_;
    }
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    if (!is_float) {
      int64_t i;
      auto [end, ec] = std::from_chars(first, last, i);
      if (ec == std::errc() && end == last) {
        *out = Value(i);
        return Status::Ok();
      }
    }
    double d;
    auto [end, ec] = std::from_chars(first, last, d);
    if (end != last || (ec != std::errc() && ec != std::errc::result_out_of_range)) {
      return Error("invalid number");
    }
    if (ec == std::errc::result_out_of_range) {
      // Overflow becomes infinity and underflow zero, as strtod does.
      bool negative = *first == '-';
      bool huge = std::memchr(first, 'e', last - first) == nullptr &&
                  std::memchr(first, 'E', last - first) == nullptr;
      if (!huge) {
        const char* e = first;
        while (*e != 'e' && *e != 'E') ++e;
        huge = e[1] != '-';
      }
      d = huge ? (negative ? -HUGE_VAL : HUGE_VAL) : (negative ? -0.0 : 0.0);
    }
    *out = Value(d);
    return Status::Ok();
  }

  std::string_view text_;
  const std::string& name_;
  const ParseLimits& limits_;
  size_t pos_ = 0;
  int line_ = 1;
};

}  // namespace

Result<Value> ParseJson(std::string_view text, const std::string& name, const ParseLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return InvalidArgument(name + ":1: input is " + std::to_string(text.size()) +
                           " bytes, more than the limit of " + std::to_string(limits.max_bytes));
  }
  return JsonParser(text, name, limits).ParseDocument();
}

}  // namespace plumb::resource
