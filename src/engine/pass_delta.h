// engine (internal): what a pass's desired set shares with the last pass's, so that a
// commit changing a few files costs in proportion to them. The renderer hands out the
// cached resources of a file git did not change again: their bodies are the very nodes of
// the last set (copy on write), which makes "unchanged" an O(1) question.
#pragma once

#include <cstddef>
#include <vector>

#include "engine/id_index.h"
#include "resource/resource.h"
#include "target/target.h"

namespace plumb::engine {

// Whether two objects are one shared node, so one document. O(1); false says nothing.
bool SameNode(const resource::Value& a, const resource::Value& b);
// Whether two bodies are equal: SameNode, else compared deeply.
bool SameBody(const resource::Value& a, const resource::Value& b);

// Whether `now` is set aside (hooks) and sorted (ApplyOrder) as `was` was: the same
// identities at the same positions, each the very document of `was` or one with the same
// identity, hook annotation and sync wave. A hook annotation of `now` that does not parse
// is not the same (the full split reports it). One document is one identity: the renderer
// derives it from the body, with options fixed for its life.
bool SameSplit(const std::vector<resource::Resource>& was,
               const std::vector<resource::Resource>& now);

// NeedsUnseal(now), knowing NeedsUnseal(*was) == `was_needs` (`was` may be null): when
// `was` needed nothing, only the resources of `now` that are not the same documents at the
// same positions are looked at.
bool NeedsUnsealAfter(const std::vector<resource::Resource>* was, bool was_needs,
                      const std::vector<resource::Resource>& now);

// Where each desired resource is in the inventory. The inventory is in the apply order of
// the passes that last applied each entry, so asked in this pass's apply order it mostly
// answers with the next entry. Where that is not it: a few entries on (the last pass's
// order had some that are not desired now), or among the last few (applied again since,
// so sorted last), else by identity (an index built then, once per finder).
// Holds a reference to `inventory`. Not thread-safe.
class InventoryFinder {
 public:
  explicit InventoryFinder(const std::vector<target::InventoryEntry>& inventory)
      : inventory_(inventory) {}
  // The position of `id` in the inventory, or IdIndex::kNone.
  size_t Find(const resource::ResourceId& id);
  bool indexed() const { return indexed_; }  // for tests: whether it needed the index

 private:
  static constexpr size_t kWindow = 16;
  const std::vector<target::InventoryEntry>& inventory_;
  size_t next_ = 0;
  bool indexed_ = false;
  IdIndex index_;
};

}  // namespace plumb::engine
