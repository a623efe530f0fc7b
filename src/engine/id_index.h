// engine (internal): where a resource is in a list, by identity, for the plan's lookups
// (10,000 per pass at 10,000 resources): an open-addressing table that builds no key
// strings and allocates once per Reset().
//
// Holds pointers to the ids it was given: they must outlive the index. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "resource/resource.h"

namespace plumb::engine {

class IdIndex {
 public:
  static constexpr size_t kNone = SIZE_MAX;

  // Forgets everything and makes room for `n` ids.
  void Reset(size_t n);
  // Remembers `id` at `position`; an id already there keeps its first position.
  void Add(const resource::ResourceId& id, size_t position);
  // The position of an id equal to `id`, or kNone.
  size_t Find(const resource::ResourceId& id) const;

 private:
  struct Slot {
    const resource::ResourceId* id = nullptr;  // nullptr: empty
    size_t hash = 0;
    size_t position = 0;
  };
  std::vector<Slot> slots_;  // size a power of two, at most half full
  size_t mask_ = 0;
  size_t used_ = 0;
};

}  // namespace plumb::engine
