// render (internal): the resources one manifest file renders to, keyed by its content
// (git blob id), its format and its path (a resource's origin names the file), least-
// recently-used entries evicted beyond a bound. An unchanged file of a new commit is
// neither parsed nor validated again. Thread-safe.
#pragma once

#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "resource/resource.h"

namespace plumb::render::internal {

using FileResources = std::vector<resource::Resource>;  // one file's, in document order

class ParseCache {
 public:
  explicit ParseCache(size_t capacity) : capacity_(capacity) {}

  // The cached documents for `key`, or nullptr. A hit makes the entry most recent.
  std::shared_ptr<const FileResources> Get(const std::string& key);
  // Stores (or replaces) `key`; evicts the least recently used beyond the capacity.
  void Put(const std::string& key, std::shared_ptr<const FileResources> resources);
  // Whether `key` is cached (its entry is not made more recent).
  bool Contains(const std::string& key) const;
  size_t size() const;

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const FileResources>>;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;                                               // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;  // GUARDED_BY(mu_)
};

}  // namespace plumb::render::internal
