// YAML writer: block style, 2-space indentation, kubectl-like list layout.
#include <cstdint>
#include <string>

#include "resource/codec.h"
#include "resource/number_format.h"
#include "resource/utf8.h"
#include "resource/yaml_scalar.h"

namespace plumb::resource {
namespace {

using internal::AppendUtf8;
using internal::NextCodePoint;

// Implicit keys longer than this are not allowed by YAML readers; use "? key".
constexpr size_t kMaxImplicitKey = 1000;

// Characters a YAML reader takes literally inside a plain or block scalar (no control
// characters, no Unicode line breaks, no BOM).
bool IsPlainPrintable(int32_t cp) {
  if (cp < 0) return false;
  if (cp < 0x80) return cp >= 0x20 && cp != 0x7F;
  if (cp < 0xA0 || cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF) return false;
  return cp <= 0xD7FF || (cp >= 0xE000 && cp <= 0xFFFD) || cp >= 0x10000;
}

// A double-quoted YAML scalar; invalid UTF-8 becomes U+FFFD.
std::string Quote(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    int32_t cp = NextCodePoint(s, &i);
    switch (cp) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case -1:
        cp = 0xFFFD;
        break;
      default:
        break;
    }
    if (IsPlainPrintable(cp)) {
      AppendUtf8(cp, &out);
    } else {
      out += "\\u";
      for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 0xF];
    }
  }
  out += '"';
  return out;
}

bool CanBePlain(std::string_view s) {
  if (s.empty() || internal::PlainWouldChangeType(s)) return false;
  if (s.front() == ' ' || s.back() == ' ') return false;
  if (std::string_view("-?:,[]{}#&*!|>'\"%@`").find(s.front()) != std::string_view::npos) {
    return false;
  }
  if (s.back() == ':') return false;
  if (s.find(": ") != std::string_view::npos || s.find(" #") != std::string_view::npos) {
    return false;
  }
  if (s == "---" || s == "...") return false;
  for (size_t i = 0; i < s.size();) {
    if (!IsPlainPrintable(NextCodePoint(s, &i))) return false;
  }
  return true;
}

// Multi-line text that reads back unchanged from a literal block.
bool CanBeLiteral(std::string_view s) {
  if (s.find('\n') == std::string_view::npos) return false;
  size_t first = s.find_first_not_of('\n');
  if (first == std::string_view::npos || s[first] == ' ' || s[first] == '\t') return false;
  for (size_t i = 0; i < s.size();) {
    size_t start = i;
    int32_t cp = NextCodePoint(s, &i);
    if (cp == '\n') {
      if (start > 0 && (s[start - 1] == ' ' || s[start - 1] == '\t')) return false;
      continue;
    }
    if (cp != '\t' && !IsPlainPrintable(cp)) return false;
  }
  return s.back() != ' ' && s.back() != '\t';
}

std::string ScalarText(const Value& v) {
  switch (v.type()) {
    case Value::Type::kNull:
      return "null";
    case Value::Type::kBool:
      return v.as_bool() ? "true" : "false";
    case Value::Type::kInt:
      return std::to_string(v.as_int());
    case Value::Type::kDouble: {
      double d = v.as_double();
      if (d != d) return ".nan";
      if (!internal::IsFinite(d)) return d > 0 ? ".inf" : "-.inf";
      return internal::FormatDoubleKeepType(d);
    }
    case Value::Type::kString: {
      std::string_view s = v.as_string();
      return CanBePlain(s) ? std::string(s) : Quote(s);
    }
    default:
      return "";
  }
}

class Emitter {
 public:
  std::string out;

  // Writes `v` where the cursor is right after "key:" or "-" (a space is written first)
  // or at the start of a document (`top`). `indent` is the column of that key or dash.
  void Node(const Value& v, int indent, bool after_key, bool top) {
    const char* sep = top ? "" : " ";
    if (v.is_object() && v.size() > 0) {
      if (after_key || top) {
        if (!top) out += '\n';
        Map(v, after_key ? indent + 2 : indent, false);
      } else {
        out += ' ';
        Map(v, indent + 2, true);
      }
      return;
    }
    if (v.is_array() && v.size() > 0) {
      if (after_key || top) {
        if (!top) out += '\n';
        List(v, indent, false);  // kubectl style: "- " at the key's column
      } else {
        out += ' ';
        List(v, indent + 2, true);
      }
      return;
    }
    out += sep;
    if (v.is_object()) {
      out += "{}\n";
    } else if (v.is_array()) {
      out += "[]\n";
    } else if (v.is_string() && CanBeLiteral(v.as_string())) {
      Literal(v.as_string(), top ? 2 : indent + 2);
    } else {
      out += ScalarText(v);
      out += '\n';
    }
  }

 private:
  void Indent(int n) { out.append(static_cast<size_t>(n), ' '); }

  void Map(const Value& v, int indent, bool inline_first) {
    bool first = true;
    for (const Member& m : v.as_object()) {
      if (!(first && inline_first)) Indent(indent);
      first = false;
      const std::string& key = m.first.str();
      std::string text = CanBePlain(key) ? key : Quote(key);
      if (text.size() > kMaxImplicitKey) {
        out += "? " + text + "\n";
        Indent(indent);
      } else {
        out += text;
      }
      out += ':';
      Node(m.second, indent, true, false);
    }
  }

  void List(const Value& v, int indent, bool inline_first) {
    bool first = true;
    for (const Value& item : v.as_array()) {
      if (!(first && inline_first)) Indent(indent);
      first = false;
      out += '-';
      Node(item, indent, false, false);
    }
  }

  void Literal(std::string_view s, int indent) {
    size_t trailing = 0;
    while (trailing < s.size() && s[s.size() - 1 - trailing] == '\n') ++trailing;
    out += trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+";
    out += '\n';
    std::string_view body = s.substr(0, s.size() - trailing);
    size_t pos = 0;
    while (pos <= body.size()) {
      size_t nl = body.find('\n', pos);
      std::string_view line = body.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
      if (!line.empty()) Indent(indent);
      out.append(line);
      out += '\n';
      if (nl == std::string_view::npos) break;
      pos = nl + 1;
    }
    for (size_t i = 1; i < trailing; ++i) out += '\n';
  }
};

}  // namespace

std::string ToYaml(const Value& v) {
  Emitter e;
  e.Node(v, 0, false, true);
  return std::move(e.out);
}

}  // namespace plumb::resource
