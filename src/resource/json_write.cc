// JSON writer: compact or pretty-printed, object keys in stored order.
#include <string>

#include "core/strings.h"
#include "resource/codec.h"
#include "resource/number_format.h"

namespace plumb::resource {
namespace {

void Newline(int indent, int depth, std::string* out) {
  if (indent <= 0) return;
  *out += '\n';
  out->append(static_cast<size_t>(indent) * depth, ' ');
}

void WriteJson(const Value& v, int indent, int depth, std::string* out) {
  switch (v.type()) {
    case Value::Type::kNull:
      *out += "null";
      break;
    case Value::Type::kBool:
      *out += v.as_bool() ? "true" : "false";
      break;
    case Value::Type::kInt:
      *out += std::to_string(v.as_int());
      break;
    case Value::Type::kDouble: {
      double d = v.as_double();
      *out += internal::IsFinite(d) ? internal::FormatDoubleKeepType(d) : "null";
      break;
    }
    case Value::Type::kString:
      AppendJsonQuoted(out, v.as_string());
      break;
    case Value::Type::kArray: {
      if (v.size() == 0) {
        *out += "[]";
        break;
      }
      *out += '[';
      bool first = true;
      for (const Value& e : v.as_array()) {
        if (!first) *out += ',';
        first = false;
        Newline(indent, depth + 1, out);
        WriteJson(e, indent, depth + 1, out);
      }
      Newline(indent, depth, out);
      *out += ']';
      break;
    }
    case Value::Type::kObject: {
      if (v.size() == 0) {
        *out += "{}";
        break;
      }
      *out += '{';
      bool first = true;
      for (const Member& m : v.as_object()) {
        if (!first) *out += ',';
        first = false;
        Newline(indent, depth + 1, out);
        AppendJsonQuoted(out, m.first);
        *out += indent > 0 ? ": " : ":";
        WriteJson(m.second, indent, depth + 1, out);
      }
      Newline(indent, depth, out);
      *out += '}';
      break;
    }
  }
}

}  // namespace

std::string ToJson(const Value& v, int indent) {
  std::string out;
  WriteJson(v, indent, 0, &out);
  return out;
}

}  // namespace plumb::resource
