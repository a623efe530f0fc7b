#include "engine/plan.h"

#include <algorithm>

#include "diff/diff.h"
#include "engine/id_index.h"

namespace plumb::engine {

int KindRank(const std::string& kind) {
  static const char* kOrder[] = {"Namespace",
                                 "CustomResourceDefinition",
                                 "ServiceAccount",
                                 "Role",
                                 "ClusterRole",
                                 "RoleBinding",
                                 "ClusterRoleBinding",
                                 "Secret",
                                 "ConfigMap",
                                 "File",
                                 "PersistentVolumeClaim",
                                 "Service",
                                 "Process",
                                 "Deployment",
                                 "StatefulSet",
                                 "DaemonSet",
                                 "Job",
                                 "CronJob",
                                 "Ingress"};
  for (size_t i = 0; i < std::size(kOrder); ++i)
    if (kind == kOrder[i]) return static_cast<int>(i);
  return static_cast<int>(std::size(kOrder));
}

int SyncWaveOf(const resource::Resource& r) {
  const resource::Value* annotations = r.body().FindPath({"metadata", "annotations"});
  return annotations && annotations->Find("plumbline.dev/sync-wave") ? r.SyncWave() : 0;
}

std::vector<size_t> ApplyOrder(const std::vector<resource::Resource>& desired,
                               std::vector<int>* waves) {
  std::vector<size_t> idx(desired.size());
  std::vector<std::pair<int, int>> keys(desired.size());
  for (size_t i = 0; i < desired.size(); ++i) {
    idx[i] = i;
    keys[i] = {SyncWaveOf(desired[i]), KindRank(desired[i].id().kind)};
  }
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
  if (waves) {
    waves->resize(desired.size());
    for (size_t i = 0; i < desired.size(); ++i) (*waves)[i] = keys[i].first;
  }
  return idx;
}

const char* ActionName(Action a) {
  switch (a) {
    case Action::kCreate:
      return "create";
    case Action::kUpdate:
      return "update";
    case Action::kDelete:
      return "delete";
    case Action::kNoop:
      return "none";
    case Action::kInvalid:
      return "invalid";
  }
  return "?";
}

bool Plan::InSync() const {
  for (const auto& i : apply)
    if (i.action != Action::kNoop) return false;
  return prune.empty();
}

namespace {

resource::Value HealthFields(const resource::Value& body) {
  resource::Value out;
  if (const resource::Value* st = body.Find("status")) out.Set("status", *st);
  for (const char* k : {"generation", "deletionTimestamp"})
    if (const resource::Value* v = body.FindPath({"metadata", k})) {
      resource::Value* md = out.Find("metadata");
      if (!md) md = &out.Set("metadata", resource::Value::EmptyObject());
      md->Set(k, *v);
    }
  return out;
}

}  // namespace

resource::Value LiveForHealth(const PlanItem& item) {
  resource::Value body = item.live;
  if (body.is_null() || !item.live_extra.is_object()) return body;
  if (const resource::Value* st = item.live_extra.Find("status")) body.Set("status", *st);
  if (const resource::Value* md = item.live_extra.Find("metadata")) {
    resource::Value* bmd = body.Find("metadata");
    if (!bmd) bmd = &body.Set("metadata", resource::Value::EmptyObject());
    for (const auto& [k, v] : md->as_object()) bmd->Set(k, v);
  }
  return body;
}

const resource::ResourceId ItemId::kNone;

Plan MakePlan(const PlanInput& in) {
  Plan plan;
  static const std::vector<target::InventoryEntry> kNone;
  const std::vector<target::InventoryEntry>& inventory = in.inventory ? *in.inventory : kNone;
  std::vector<bool> found;
  if (in.inventory_desired.size() != inventory.size()) {
    IdIndex desired;
    desired.Reset(in.desired->size());
    for (size_t i = 0; i < in.desired->size(); ++i) desired.Add((*in.desired)[i].id(), i);
    found.resize(inventory.size());
    for (size_t k = 0; k < inventory.size(); ++k)
      found[k] = desired.Find(inventory[k].id) != IdIndex::kNone;
  }
  const std::vector<bool>& inventory_desired = found.empty() ? in.inventory_desired : found;
  plan.apply.reserve(in.order.size());
  for (size_t i : in.order) {
    const resource::Resource& r = (*in.desired)[i];
    PlanItem item;
    item.id = ItemId::Of(r.id());
    item.desired_index = static_cast<int>(i);
    if (i < in.as_applied.size() && in.as_applied[i]) {
      item.action = Action::kNoop;
      item.as_applied = true;
      plan.apply.push_back(std::move(item));
      continue;
    }
    const LiveBody& live = in.live_desired[i];
    if (live.exists) {
      item.live = diff::Normalize(live.body);
      item.live_extra = HealthFields(live.body);
    }
    if (i < in.expected_error.size() && !in.expected_error[i].empty()) {
      item.action = Action::kInvalid;
      item.error = in.expected_error[i];
    } else {
      item.expected = diff::Normalize(in.expected[i]);
      if (!live.exists)
        item.action = Action::kCreate;
      else if (item.live != item.expected)
        item.action = Action::kUpdate;
      else
        item.action = Action::kNoop;
    }
    plan.apply.push_back(std::move(item));
  }
  for (size_t k = inventory.size(); k-- > 0;) {
    const auto& entry = inventory[k];
    if (inventory_desired[k]) continue;
    PlanItem item;
    item.id = ItemId::Copy(entry.id);
    item.action = Action::kDelete;
    if (k < in.live_inventory.size() && in.live_inventory[k].exists)
      item.live = diff::Normalize(in.live_inventory[k].body);
    plan.prune.push_back(std::move(item));
  }
  return plan;
}

}  // namespace plumb::engine
