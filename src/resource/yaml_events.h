// resource (internal): a thin RAII wrapper over libyaml's event parser that reports
// errors as "NAME:LINE: problem context". Shared by ParseYaml and FindYamlLine.
#pragma once

#include <yaml.h>

#include <string>
#include <string_view>

#include "core/status.h"
#include "resource/value.h"

namespace plumb::resource::internal {

class YamlEvent {
 public:
  YamlEvent() = default;
  YamlEvent(const YamlEvent&) = delete;
  YamlEvent& operator=(const YamlEvent&) = delete;
  ~YamlEvent() { Reset(); }

  void Reset() {
    if (live_) yaml_event_delete(&event_);
    live_ = false;
  }
  yaml_event_t* get() { return &event_; }
  const yaml_event_t& operator*() const { return event_; }
  const yaml_event_t* operator->() const { return &event_; }
  yaml_event_type_t type() const { return event_.type; }
  int line() const { return static_cast<int>(event_.start_mark.line) + 1; }

 private:
  friend class YamlEventStream;
  yaml_event_t event_{};
  bool live_ = false;
};

class YamlEventStream {
 public:
  YamlEventStream(std::string_view text, const std::string& name);
  YamlEventStream(const YamlEventStream&) = delete;
  YamlEventStream& operator=(const YamlEventStream&) = delete;
  ~YamlEventStream() { yaml_parser_delete(&parser_); }

  // Reads the next event into `event` (releasing what it held). Errors name the line.
  Status Next(YamlEvent* event);

 private:
  std::string_view text_;
  const std::string& name_;
  yaml_parser_t parser_{};
};

// The scalar event's text and its value by YAML 1.1 rules; false when an explicit tag
// does not fit the text (e.g. `!!int abc`).
std::string_view ScalarText(const yaml_event_t& e);
bool ScalarValue(const yaml_event_t& e, Value* out);
// Whether a scalar event is the merge key `<<` (plain, or tagged !!merge).
bool IsMergeKey(const yaml_event_t& e);
// A scalar used as a map key, as a string ("true", "420", "null"), the way
// sigs.k8s.io/yaml turns YAML keys into JSON keys.
std::string KeyString(const Value& key);

}  // namespace plumb::resource::internal
