#include "diff/field_path.h"

#include <cctype>
#include <string>
#include <vector>

#include "core/strings.h"

namespace plumb::diff {
namespace {

bool IsPlainKey(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

struct Segment {
  bool is_index = false;
  std::string key;
  size_t index = 0;
};

// Parses a path into keys and indexes; false when malformed.
bool ParsePath(std::string_view path, std::vector<Segment>* out) {
  size_t i = 0;
  bool expect_key = true;  // at the start or after '.'
  while (i < path.size()) {
    if (path[i] == '[') {
      size_t close = path.find(']', i);
      if (close == std::string_view::npos) return false;
      std::string_view inner = path.substr(i + 1, close - i - 1);
      if (inner.size() >= 2 && inner.front() == '"' && inner.back() == '"') {
        // A quoted key; the only escapes JsonQuote produces for plain text are \" and \\.
        std::string key;
        for (size_t k = 1; k + 1 < inner.size(); ++k) {
          if (inner[k] == '\\' && k + 2 < inner.size()) ++k;
          key.push_back(inner[k]);
        }
        out->push_back({.key = std::move(key)});
      } else {
        if (inner.empty()) return false;
        size_t n = 0;
        for (char c : inner) {
          if (!std::isdigit(static_cast<unsigned char>(c))) return false;
          n = n * 10 + static_cast<size_t>(c - '0');
        }
        out->push_back({.is_index = true, .index = n});
      }
      i = close + 1;
      expect_key = false;
      continue;
    }
    if (path[i] == '.') {
      if (expect_key) return false;
      ++i;
      expect_key = true;
      continue;
    }
    size_t end = path.find_first_of(".[", i);
    if (end == std::string_view::npos) end = path.size();
    out->push_back({.key = std::string(path.substr(i, end - i))});
    i = end;
    expect_key = false;
  }
  return !out->empty() && !expect_key;
}

// The value at `segments` under `v`, or nullptr.
const resource::Value* FindPath(const resource::Value& v, const std::vector<Segment>& segments) {
  const resource::Value* cur = &v;
  for (const Segment& seg : segments) {
    if (!seg.is_index) {
      cur = cur->Find(seg.key);
    } else {
      cur = cur->is_array() && seg.index < cur->size() ? &cur->as_array()[seg.index] : nullptr;
    }
    if (!cur) return nullptr;
  }
  return cur;
}

}  // namespace

std::string AppendKey(const std::string& path, std::string_view key) {
  if (IsPlainKey(key)) return path.empty() ? std::string(key) : path + "." + std::string(key);
  return path + "[" + JsonQuote(key) + "]";
}

std::string AppendIndex(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

bool ErasePath(resource::Value* v, std::string_view path) {
  std::vector<Segment> segments;
  if (!ParsePath(path, &segments)) return false;
  // Looked up read-only first: a value that shares its nodes is copied only when a field
  // is really dropped.
  if (!FindPath(*v, segments)) return false;
  resource::Value* cur = v;
  for (size_t s = 0; s + 1 < segments.size(); ++s) {
    const Segment& seg = segments[s];
    if (!seg.is_index) {
      cur = cur->Find(seg.key);
    } else {
      cur = cur->is_array() && seg.index < cur->size() ? &cur->as_array()[seg.index] : nullptr;
    }
    if (!cur) return false;
  }
  const Segment& last = segments.back();
  if (!last.is_index) return cur->Erase(last.key);
  if (!cur->is_array() || last.index >= cur->size()) return false;
  auto& arr = cur->as_array();
  arr.erase(arr.begin() + static_cast<std::ptrdiff_t>(last.index));
  return true;
}

}  // namespace plumb::diff
