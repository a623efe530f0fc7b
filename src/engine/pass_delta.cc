#include "engine/pass_delta.h"

#include "engine/hooks.h"
#include "engine/plan.h"
#include "engine/unseal.h"

namespace plumb::engine {
using resource::Resource;

bool SameNode(const resource::Value& a, const resource::Value& b) {
  return a.is_object() && b.is_object() && &a.as_object() == &b.as_object();
}

bool SameBody(const resource::Value& a, const resource::Value& b) {
  return SameNode(a, b) || a == b;
}

bool SameSplit(const std::vector<Resource>& was, const std::vector<Resource>& now) {
  if (was.size() != now.size()) return false;
  for (size_t i = 0; i < now.size(); ++i) {
    const Resource& a = was[i];
    const Resource& b = now[i];
    if (SameNode(a.body(), b.body())) continue;
    if (a.id() != b.id() || SyncWaveOf(a) != SyncWaveOf(b) ||
        a.Annotation(kHookAnnotation) != b.Annotation(kHookAnnotation) || !HookPhases(b).ok())
      return false;
  }
  return true;
}

bool NeedsUnsealAfter(const std::vector<Resource>* was, bool was_needs,
                      const std::vector<Resource>& now) {
  if (!was || was_needs || was->size() != now.size()) return NeedsUnseal(now);
  std::vector<Resource> changed;
  for (size_t i = 0; i < now.size(); ++i)
    if (!SameNode((*was)[i].body(), now[i].body())) changed.push_back(now[i]);
  return NeedsUnseal(changed);
}

size_t InventoryFinder::Find(const resource::ResourceId& id) {
  const size_t n = inventory_.size();
  if (next_ < n && inventory_[next_].id == id) return next_++;
  for (size_t j = next_ + 1; j < n && j <= next_ + kWindow; ++j)
    if (inventory_[j].id == id) return (next_ = j + 1) - 1;
  for (size_t j = n; j-- > 0 && j + kWindow >= n;)
    if (inventory_[j].id == id) return j;
  if (!indexed_) {
    index_.Reset(n);
    for (size_t j = 0; j < n; ++j) index_.Add(inventory_[j].id, j);
    indexed_ = true;
  }
  size_t k = index_.Find(id);
  if (k != IdIndex::kNone) next_ = k + 1;
  return k;
}

}  // namespace plumb::engine
