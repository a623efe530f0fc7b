// YAML reader: libyaml's event stream built straight into our Value tree, with limits on
// input size, documents, nesting depth and alias expansion.
#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "resource/codec.h"
#include "resource/yaml_events.h"

namespace plumb::resource {
namespace {

using internal::YamlEvent;
using internal::YamlEventStream;

// Past this many keys a map checks duplicates with a hash set instead of a scan.
constexpr size_t kKeySetThreshold = 16;
// Scalars up to this long are shared between equal occurrences in one file.
constexpr size_t kInternMaxBytes = 64;

// A finished node: its value plus what the limits need to know about it.
struct Node {
  Value value;
  size_t nodes = 1;  // nodes in the subtree, aliases expanded
  int height = 0;    // nesting levels below it
  bool is_merge_key = false;
};

struct Frame {
  bool is_map = false;
  int line = 0;
  std::string anchor;
  size_t nodes = 1;
  int height = 0;
  Array items;
  Object members;
  // Maps only.
  bool have_key = false;
  bool key_is_merge = false;
  std::string key;
  int key_line = 0;
  std::unordered_set<std::string> key_set;
  std::vector<std::pair<size_t, Value>> merges;  // (position in members, map merged in)
};

class YamlReader {
 public:
  YamlReader(std::string_view text, const std::string& name, const ParseLimits& limits)
      : events_(text, name), name_(name), limits_(limits) {}

  Result<std::vector<Document>> Run() {
    std::vector<Document> docs;
    YamlEvent ev;
    while (true) {
      RETURN_IF_ERROR(events_.Next(&ev));
      switch (ev.type()) {
        case YAML_STREAM_END_EVENT:
          return docs;
        case YAML_DOCUMENT_START_EVENT:
          anchors_.clear();
          root_.reset();
          if (++documents_ > limits_.max_documents) {
            return Error(ev.line(),
                         "more than " + std::to_string(limits_.max_documents) + " documents");
          }
          break;
        case YAML_DOCUMENT_END_EVENT:
          if (root_ && !root_->value.is_null()) {
            docs.push_back(Document{.value = std::move(root_->value), .line = root_line_});
          }
          root_.reset();
          break;
        case YAML_SCALAR_EVENT:
          RETURN_IF_ERROR(OnScalar(ev));
          break;
        case YAML_ALIAS_EVENT:
          RETURN_IF_ERROR(OnAlias(ev));
          break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
          RETURN_IF_ERROR(OnStart(ev));
          break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
          RETURN_IF_ERROR(OnEnd());
          break;
        default:
          break;
      }
    }
  }

 private:
  struct Anchor {
    Value value;
    size_t nodes;
    int height;
  };

  Status Error(int line, const std::string& what) const {
    return InvalidArgument(name_ + ":" + std::to_string(line) + ": " + what);
  }

  static std::string AnchorName(const unsigned char* a) {
    return a ? reinterpret_cast<const char*>(a) : "";
  }

  Status OnScalar(const YamlEvent& ev) {
    Node n;
    if (!internal::ScalarValue(*ev, &n.value)) {
      std::string tag = reinterpret_cast<const char*>(ev->data.scalar.tag);
      return Error(ev.line(),
                   "cannot read \"" + std::string(internal::ScalarText(*ev)) + "\" as " + tag);
    }
    n.is_merge_key = internal::IsMergeKey(*ev);
    Intern(&n.value);
    std::string anchor = AnchorName(ev->data.scalar.anchor);
    if (!anchor.empty()) anchors_[anchor] = Anchor{n.value, 1, 0};
    return Add(std::move(n), ev.line());
  }

  // Short strings repeat across the documents of a file ("apiVersion: local.plumbline.dev/v1",
  // "kind: File", "mode: \"0644\""): equal ones share one node, which the tree keeps for as
  // long as the parse cache holds it. Values are immutable once shared (see Value).
  void Intern(Value* v) {
    // Strings up to Value::kInlineString bytes are inside the Value: nothing to share.
    if (!v->is_string() || v->as_string().size() <= Value::kInlineString ||
        v->as_string().size() > kInternMaxBytes)
      return;
    auto [it, inserted] = interned_.try_emplace(v->as_string(), *v);
    if (!inserted) *v = it->second;
  }

  Status OnAlias(const YamlEvent& ev) {
    std::string name = AnchorName(ev->data.alias.anchor);
    auto it = anchors_.find(name);
    if (it == anchors_.end()) return Error(ev.line(), "unknown anchor \"" + name + "\"");
    const Anchor& a = it->second;
    alias_nodes_ += a.nodes;
    if (alias_nodes_ > limits_.max_alias_nodes) {
      return Error(ev.line(), "aliases expand to more than " +
                                  std::to_string(limits_.max_alias_nodes) +
                                  " nodes (is this a \"billion laughs\" document?)");
    }
    if (static_cast<int>(stack_.size()) + a.height > limits_.max_depth) {
      return Error(ev.line(), "alias \"" + name + "\" nests deeper than " +
                                  std::to_string(limits_.max_depth) + " levels");
    }
    return Add(Node{.value = a.value, .nodes = a.nodes, .height = a.height}, ev.line());
  }

  Status OnStart(const YamlEvent& ev) {
    if (!stack_.empty() && stack_.back().is_map && !stack_.back().have_key) {
      return Error(ev.line(), "a map key must be a scalar, not a list or map");
    }
    if (static_cast<int>(stack_.size()) >= limits_.max_depth) {
      return Error(ev.line(),
                   "nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
    }
    if (stack_.empty()) root_line_ = ev.line();
    Frame f;
    f.is_map = ev.type() == YAML_MAPPING_START_EVENT;
    f.line = ev.line();
    f.anchor =
        AnchorName(f.is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor);
    stack_.push_back(std::move(f));
    return Status::Ok();
  }

  Status OnEnd() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    Node n{.nodes = f.nodes, .height = f.height + 1};
    // Exact capacity: growth by doubling leaves up to half of every map and list unused,
    // and the tree lives as long as the parse cache holds it.
    if (f.is_map) {
      Object members = ApplyMerges(std::move(f.members), std::move(f.merges));
      members.shrink_to_fit();
      n.value = Value(std::move(members));
    } else {
      f.items.shrink_to_fit();
      n.value = Value(std::move(f.items));
    }
    if (!f.anchor.empty()) anchors_[f.anchor] = Anchor{n.value, n.nodes, n.height};
    return Add(std::move(n), f.line);
  }

  // Explicit keys win over merged ones; among merged maps, the first one to name a key wins.
  static Object ApplyMerges(Object members, std::vector<std::pair<size_t, Value>> merges) {
    if (merges.empty()) return members;
    std::unordered_set<std::string> seen;
    for (const Member& m : members) seen.insert(m.first);
    Object out;
    out.reserve(members.size());
    size_t next = 0;
    for (auto& [pos, source] : merges) {
      while (next < pos) out.push_back(std::move(members[next++]));
      for (Member& m : source.as_object()) {
        if (seen.insert(m.first).second) out.push_back(std::move(m));
      }
    }
    while (next < members.size()) out.push_back(std::move(members[next++]));
    return out;
  }

  Status Add(Node n, int line) {
    if (stack_.empty()) {
      if (!root_) root_line_ = line;
      root_ = std::move(n);
      return Status::Ok();
    }
    Frame& f = stack_.back();
    f.nodes += n.nodes;
    f.height = std::max(f.height, n.height);
    if (!f.is_map) {
      f.items.push_back(std::move(n.value));
      return Status::Ok();
    }
    if (!f.have_key) {
      if (n.value.is_array() || n.value.is_object()) {
        return Error(line, "a map key must be a scalar, not a list or map");
      }
      f.have_key = true;
      f.key_is_merge = n.is_merge_key;
      f.key = internal::KeyString(n.value);
      f.key_line = line;
      return Status::Ok();
    }
    f.have_key = false;
    if (f.key_is_merge) return AddMerge(f, std::move(n.value), line);
    if (IsDuplicate(f, f.key)) return Error(f.key_line, "duplicate key \"" + f.key + "\"");
    f.members.emplace_back(std::move(f.key), std::move(n.value));
    return Status::Ok();
  }

  bool IsDuplicate(Frame& f, const std::string& key) {
    if (f.members.size() < kKeySetThreshold) {
      for (const Member& m : f.members)
        if (m.first == key) return true;
      if (f.members.size() + 1 == kKeySetThreshold) {
        for (const Member& m : f.members) f.key_set.insert(m.first);
        f.key_set.insert(key);
      }
      return false;
    }
    return !f.key_set.insert(key).second;
  }

  Status AddMerge(Frame& f, Value v, int line) {
    const char* kWant = "a merge key (<<) takes a map or a list of maps";
    if (v.is_object()) {
      f.merges.emplace_back(f.members.size(), std::move(v));
      return Status::Ok();
    }
    if (!v.is_array()) return Error(line, kWant);
    for (Value& item : v.as_array()) {
      if (!item.is_object()) return Error(line, kWant);
      f.merges.emplace_back(f.members.size(), std::move(item));
    }
    return Status::Ok();
  }

  YamlEventStream events_;
  const std::string& name_;
  const ParseLimits& limits_;
  std::vector<Frame> stack_;
  std::unordered_map<std::string, Anchor> anchors_;
  std::unordered_map<std::string, Value> interned_;
  std::optional<Node> root_;
  int root_line_ = 1;
  size_t documents_ = 0;
  size_t alias_nodes_ = 0;
};

// A first pass over the events that only counts what aliases expand to, so a "billion
// laughs" document is refused before anything is built. Syntax errors are left to the
// real pass, which reports them in document order with the other errors.
Status CheckAliasExpansion(std::string_view text, const std::string& name,
                           const ParseLimits& limits) {
  YamlEventStream events(text, name);
  YamlEvent ev;
  std::unordered_map<std::string, size_t> anchors;
  std::vector<std::pair<size_t, std::string>> open;  // per collection: nodes, anchor
  size_t expanded = 0;
  while (events.Next(&ev).ok() && ev.type() != YAML_STREAM_END_EVENT) {
    size_t done = 0;  // nodes of a node that just finished
    const unsigned char* anchor = nullptr;
    switch (ev.type()) {
      case YAML_DOCUMENT_START_EVENT:
        anchors.clear();
        continue;
      case YAML_SCALAR_EVENT:
        done = 1;
        anchor = ev->data.scalar.anchor;
        break;
      case YAML_ALIAS_EVENT: {
        auto it = anchors.find(reinterpret_cast<const char*>(ev->data.alias.anchor));
        if (it == anchors.end()) return Status::Ok();  // the real pass names it
        done = it->second;
        expanded += done;
        if (expanded > limits.max_alias_nodes) {
          return InvalidArgument(name + ":" + std::to_string(ev.line()) +
                                 ": aliases expand to more than " +
                                 std::to_string(limits.max_alias_nodes) +
                                 " nodes (is this a \"billion laughs\" document?)");
        }
        break;
      }
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT: {
        const unsigned char* a = ev.type() == YAML_MAPPING_START_EVENT
                                     ? ev->data.mapping_start.anchor
                                     : ev->data.sequence_start.anchor;
        open.emplace_back(1, a ? reinterpret_cast<const char*>(a) : "");
        continue;
      }
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT: {
        done = open.back().first;
        if (!open.back().second.empty()) anchors[open.back().second] = done;
        open.pop_back();
        break;
      }
      default:
        continue;
    }
    if (anchor != nullptr) anchors[reinterpret_cast<const char*>(anchor)] = done;
    if (!open.empty()) open.back().first = std::min(open.back().first + done, SIZE_MAX / 2);
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<Document>> ParseYaml(std::string_view text, const std::string& name,
                                        const ParseLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return InvalidArgument(name + ":1: input is " + std::to_string(text.size()) +
                           " bytes, more than the limit of " + std::to_string(limits.max_bytes));
  }
  // Only a document with an alias can expand; most manifests have no '*' at all.
  if (text.find('*') != std::string_view::npos) {
    RETURN_IF_ERROR(CheckAliasExpansion(text, name, limits));
  }
  return YamlReader(text, name, limits).Run();
}

}  // namespace plumb::resource
