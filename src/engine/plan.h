// engine: the pure core of a reconcile — order the desired set, pair it with the live
// set and the inventory, and decide per resource: create, update, delete or nothing.
// No I/O; tested with desired/live pairs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "resource/resource.h"
#include "target/target.h"

namespace plumb::engine {

// Apply order: by `plumbline.dev/sync-wave` (lower first), then kind (namespaces and
// configuration before what consumes it, processes and jobs last), then file order.
// Returns indexes into `desired`; `waves`, when given, gets each one's sync wave (by index
// into `desired`).
std::vector<size_t> ApplyOrder(const std::vector<resource::Resource>& desired,
                               std::vector<int>* waves = nullptr);
// r.SyncWave(), without building the strings it builds for the many resources that carry
// no annotations (it runs per resource on every plan and apply).
int SyncWaveOf(const resource::Resource& r);
int KindRank(const std::string& kind);

enum class Action : uint8_t { kCreate, kUpdate, kDelete, kNoop, kInvalid };
const char* ActionName(Action a);

// A plan item's identity without a copy of it: the desired resource's own (the plan lives
// no longer than the desired set it was made from: Observed holds both), or for a prune a
// copy held by the item (the target changes its inventory list as rows are written). A
// copy per item was 128 bytes and an allocation: 16 MB at 100,000 resources.
class ItemId {
 public:
  ItemId() = default;
  // `id` must outlive this ItemId and its copies.
  static ItemId Of(const resource::ResourceId& id) {
    ItemId out;
    out.ref_ = &id;
    return out;
  }
  static ItemId Copy(resource::ResourceId id) {
    ItemId out;
    out.own_ = std::make_shared<const resource::ResourceId>(std::move(id));
    out.ref_ = out.own_.get();
    return out;
  }
  const resource::ResourceId& get() const { return *ref_; }
  operator const resource::ResourceId&() const { return *ref_; }  // NOLINT
  const resource::ResourceId* operator->() const { return ref_; }
  std::string Key() const { return ref_->Key(); }
  std::string ToString() const { return ref_->ToString(); }

 private:
  static const resource::ResourceId kNone;
  const resource::ResourceId* ref_ = &kNone;
  std::shared_ptr<const resource::ResourceId> own_;  // set by Copy()
};

// A plan item's error: a string that takes 8 bytes when empty (almost every item), where a
// std::string took 32. Reads as a const std::string.
class PlanError {
 public:
  PlanError() = default;
  PlanError(const PlanError& o) : text_(o.text_ ? new std::string(*o.text_) : nullptr) {}
  PlanError(PlanError&&) noexcept = default;
  PlanError& operator=(const PlanError& o) {
    if (this != &o) text_.reset(o.text_ ? new std::string(*o.text_) : nullptr);
    return *this;
  }
  PlanError& operator=(PlanError&&) noexcept = default;
  PlanError& operator=(std::string s) {
    if (s.empty())
      text_.reset();
    else
      text_ = std::make_unique<std::string>(std::move(s));
    return *this;
  }
  const std::string& str() const { return text_ ? *text_ : Empty(); }
  operator const std::string&() const { return str(); }  // NOLINT
  bool empty() const { return !text_ || text_->empty(); }
  friend std::string operator+(const std::string& a, const PlanError& b) { return a + b.str(); }
  friend std::string operator+(const PlanError& a, const char* b) { return a.str() + b; }

 private:
  static const std::string& Empty() {
    static const std::string* empty = new std::string();
    return *empty;
  }
  std::unique_ptr<std::string> text_;
};

// 88 bytes (120 with a std::string error and the flag apart): a plan holds one per
// desired resource.
struct PlanItem {
  ItemId id;
  Action action = Action::kNoop;
  // kNoop known without observing: the target still holds what it last applied, and that
  // is what git wants (PlanInput::as_applied). `expected` and `live` stay null; the
  // object is Healthy (Target::UnchangedSinceApplied).
  bool as_applied = false;
  int desired_index = -1;    // into the desired vector; -1 for prunes
  resource::Value expected;  // what the target should hold (null for prunes)
  resource::Value live;      // what it holds (null when absent), normalised
  // What normalising drops that health reads (status, metadata.generation and
  // deletionTimestamp): a cluster's health is in them.
  resource::Value live_extra;
  PlanError error;  // kInvalid: why the target cannot apply it
};

struct Plan {
  std::vector<PlanItem> apply;  // in apply order (desired resources)
  std::vector<PlanItem> prune;  // owned but no longer desired, reverse apply order
  bool InSync() const;          // nothing to create, update, delete or fix
};

// What the plan needs of a live object: whether it exists and its body. The identity is the
// plan item's (the desired resource's or the inventory entry's): a target::LiveObject per
// resource, with its copy of the identity, was 152 bytes (15 MB at 100,000); this is 24.
using target::LiveBody;

struct PlanInput {
  const std::vector<resource::Resource>* desired = nullptr;
  std::vector<size_t> order;  // from ApplyOrder
  // Per desired index; may be left empty when every resource is as_applied.
  std::vector<resource::Value> expected;  // per desired index (null if error)
  // Per desired index ("" when fine); may be shorter (none past its end): sized only once
  // there is an error, not a string per resource (3.2 MB at 100,000) for none.
  std::vector<std::string> expected_error;
  std::vector<LiveBody> live_desired;  // per desired index
  // Per desired index (empty = none): the target holds what it last applied and git
  // wants exactly that, so neither `expected` nor `live_desired` is filled in.
  std::vector<bool> as_applied;
  // Owned, in apply order (the target's list, shared; null: none).
  std::shared_ptr<const std::vector<target::InventoryEntry>> inventory;
  std::vector<LiveBody> live_inventory;  // per inventory entry (empty: all absent)
  // Per inventory entry: whether it is desired, when the caller knows (else found by id).
  std::vector<bool> inventory_desired;
};

Plan MakePlan(const PlanInput& in);

// The live body to assess health on: item.live with item.live_extra put back.
resource::Value LiveForHealth(const PlanItem& item);

}  // namespace plumb::engine
