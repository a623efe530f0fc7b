#include "engine/id_index.h"

#include <functional>
#include <string_view>

namespace plumb::engine {
namespace {
// Name, kind and namespace only: they sit inside the ResourceId (short-string), while the
// group is usually on the heap and its read a cache miss per resource; ids that differ
// only in group are rare, and equality still compares all four parts.
size_t Hash(const resource::ResourceId& id) {
  std::hash<std::string_view> h;
  size_t v = h(id.name);
  v ^= h(id.kind) + 0x9e3779b97f4a7c15 + (v << 6) + (v >> 2);
  v ^= h(id.ns) + 0x9e3779b97f4a7c15 + (v << 6) + (v >> 2);
  return v;
}
}  // namespace

void IdIndex::Reset(size_t n) {
  size_t size = 16;
  while (size < 2 * n) size *= 2;
  slots_.assign(size, Slot{});
  mask_ = size - 1;
  used_ = 0;
}

void IdIndex::Add(const resource::ResourceId& id, size_t position) {
  if (slots_.empty()) Reset(1);
  const size_t hash = Hash(id);
  for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (!s.id) {
      s = Slot{&id, hash, position};
      ++used_;
      break;
    }
    if (s.hash == hash && *s.id == id) return;
  }
  // Reset() sized the table for the ids expected; grow when more came.
  if (2 * used_ <= slots_.size()) return;
  std::vector<Slot> old = std::move(slots_);
  Reset(used_);
  for (const Slot& s : old)
    if (s.id) Add(*s.id, s.position);
}

size_t IdIndex::Find(const resource::ResourceId& id) const {
  if (slots_.empty()) return kNone;
  const size_t hash = Hash(id);
  for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (!s.id) return kNone;
    if (s.hash == hash && *s.id == id) return s.position;
  }
}

}  // namespace plumb::engine
