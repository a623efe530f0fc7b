// render (internal): parsed documents of a file, keyed by content (git blob id plus the
// format), least-recently-used entries evicted beyond a bound. Thread-safe.
#pragma once

#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "resource/codec.h"

namespace plumb::render::internal {

using Documents = std::vector<resource::Document>;

class ParseCache {
 public:
  explicit ParseCache(size_t capacity) : capacity_(capacity) {}

  // The cached documents for `key`, or nullptr. A hit makes the entry most recent.
  std::shared_ptr<const Documents> Get(const std::string& key);
  // Stores (or replaces) `key`; evicts the least recently used beyond the capacity.
  void Put(const std::string& key, std::shared_ptr<const Documents> docs);
  size_t size() const;

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const Documents>>;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;                                               // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;  // GUARDED_BY(mu_)
};

}  // namespace plumb::render::internal
