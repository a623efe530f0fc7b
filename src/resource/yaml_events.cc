#include "resource/yaml_events.h"

#include <algorithm>

#include "resource/number_format.h"
#include "resource/yaml_scalar.h"

namespace plumb::resource::internal {

YamlEventStream::YamlEventStream(std::string_view text, const std::string& name)
    : text_(text), name_(name) {
  yaml_parser_initialize(&parser_);
  yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()),
                               text.size());
}

Status YamlEventStream::Next(YamlEvent* event) {
  event->Reset();
  if (yaml_parser_parse(&parser_, &event->event_)) {
    event->live_ = true;
    return Status::Ok();
  }
  size_t line;
  if (parser_.error == YAML_READER_ERROR) {
    size_t offset = std::min(parser_.problem_offset, text_.size());
    line = 1 + std::count(text_.begin(), text_.begin() + offset, '\n');
  } else {
    line = parser_.problem_mark.line + 1;
  }
  std::string what = parser_.problem ? parser_.problem : "invalid YAML";
  if (parser_.error == YAML_MEMORY_ERROR) what = "out of memory";
  if (parser_.context) what += std::string(" ") + parser_.context;
  return InvalidArgument(name_ + ":" + std::to_string(line) + ": " + what);
}

std::string_view ScalarText(const yaml_event_t& e) {
  return std::string_view(reinterpret_cast<const char*>(e.data.scalar.value), e.data.scalar.length);
}

bool ScalarValue(const yaml_event_t& e, Value* out) {
  std::string_view text = ScalarText(e);
  bool plain = e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  if (e.data.scalar.tag != nullptr) {
    std::string_view tag(reinterpret_cast<const char*>(e.data.scalar.tag));
    return ResolveTaggedScalar(tag, text, plain, out);
  }
  *out = plain ? ResolvePlainScalar(text) : Value(std::string(text));
  return true;
}

bool IsMergeKey(const yaml_event_t& e) {
  if (e.data.scalar.tag != nullptr) {
    return std::string_view(reinterpret_cast<const char*>(e.data.scalar.tag)) ==
           "tag:yaml.org,2002:merge";
  }
  return e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && ScalarText(e) == "<<";
}

std::string KeyString(const Value& key) {
  switch (key.type()) {
    case Value::Type::kString:
      return key.as_string();
    case Value::Type::kNull:
      return "null";
    case Value::Type::kBool:
      return key.as_bool() ? "true" : "false";
    case Value::Type::kInt:
      return std::to_string(key.as_int());
    case Value::Type::kDouble: {
      double d = key.as_double();
      if (d != d) return "NaN";
      if (!IsFinite(d)) return d > 0 ? "+Inf" : "-Inf";
      return FormatDouble(d);
    }
    default:
      return "";
  }
}

}  // namespace plumb::resource::internal
