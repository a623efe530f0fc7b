// FindYamlLine: walks libyaml events of one document, tracking the path, to point an
// error message at the line of a field.
#include <string>

#include "resource/codec.h"
#include "resource/yaml_events.h"

namespace plumb::resource {
namespace {

using internal::YamlEvent;
using internal::YamlEventStream;

struct Level {
  bool is_map = false;
  bool expecting_key = true;  // maps
  size_t index = 0;           // lists: the next item's index
};

class LineFinder {
 public:
  LineFinder(std::string_view text, size_t doc_index, const std::vector<std::string>& path)
      : events_(text, name_), doc_index_(doc_index), path_(path) {}

  int Run() {
    YamlEvent ev;
    size_t doc = 0;
    bool in_target = false;
    bool at_root = false;
    while (events_.Next(&ev).ok()) {
      switch (ev.type()) {
        case YAML_STREAM_END_EVENT:
          return 0;
        case YAML_DOCUMENT_START_EVENT:
          at_root = true;
          continue;
        case YAML_DOCUMENT_END_EVENT:
          if (in_target) return 0;
          continue;
        default:
          break;
      }
      if (at_root) {
        at_root = false;
        // Documents that ParseYaml skips (null roots) do not count.
        Value v;
        if (ev.type() == YAML_SCALAR_EVENT && internal::ScalarValue(*ev, &v) && v.is_null()) {
          continue;
        }
        in_target = doc++ == doc_index_;
        if (in_target && path_.empty()) return ev.line();
      }
      if (!in_target) continue;
      int found = OnNode(ev);
      if (found) return found;
    }
    return 0;
  }

 private:
  // Handles one node event of the target document; returns a line when it is the target.
  int OnNode(const YamlEvent& ev) {
    bool ends = ev.type() == YAML_SEQUENCE_END_EVENT || ev.type() == YAML_MAPPING_END_EVENT;
    if (ends) {
      levels_.pop_back();
      path_now_.pop_back();
      return 0;
    }
    if (!levels_.empty()) {
      Level& top = levels_.back();
      if (top.is_map && top.expecting_key) {
        top.expecting_key = false;
        Value key;
        if (ev.type() == YAML_SCALAR_EVENT && internal::ScalarValue(*ev, &key)) {
          path_now_.back() = internal::KeyString(key);
        } else {
          path_now_.back().assign(1, '\x01');  // not a name a path can hold
        }
        return Matches() ? ev.line() : 0;
      }
      if (top.is_map) {
        top.expecting_key = true;
      } else {
        path_now_.back() = std::to_string(top.index++);
        if (Matches()) return ev.line();
      }
    }
    if (ev.type() == YAML_SEQUENCE_START_EVENT || ev.type() == YAML_MAPPING_START_EVENT) {
      levels_.push_back(Level{.is_map = ev.type() == YAML_MAPPING_START_EVENT});
      path_now_.emplace_back();
    }
    return 0;
  }

  bool Matches() const { return path_now_ == path_; }

  const std::string name_ = "<yaml>";
  YamlEventStream events_;
  size_t doc_index_;
  const std::vector<std::string>& path_;
  std::vector<Level> levels_;
  std::vector<std::string> path_now_;
};

}  // namespace

int FindYamlLine(std::string_view text, size_t doc_index, const std::vector<std::string>& path) {
  return LineFinder(text, doc_index, path).Run();
}

}  // namespace plumb::resource
