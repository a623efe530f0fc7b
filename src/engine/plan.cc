#include "engine/plan.h"

#include <algorithm>
#include <string_view>
#include <unordered_set>

#include "diff/diff.h"

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

std::vector<size_t> ApplyOrder(const std::vector<resource::Resource>& desired) {
  std::vector<size_t> idx(desired.size());
  std::vector<std::pair<int, int>> keys(desired.size());
  for (size_t i = 0; i < desired.size(); ++i) {
    idx[i] = i;
    keys[i] = {desired[i].SyncWave(), KindRank(desired[i].id().kind)};
  }
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
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

Plan MakePlan(const PlanInput& in) {
  Plan plan;
  std::vector<std::string> own_keys;
  if (!in.desired_keys) {
    own_keys.reserve(in.desired->size());
    for (const resource::Resource& r : *in.desired) own_keys.push_back(r.id().Key());
  }
  const std::vector<std::string>& keys = in.desired_keys ? *in.desired_keys : own_keys;
  std::unordered_set<std::string_view> desired_keys(keys.begin(), keys.end());
  plan.apply.reserve(in.order.size());
  for (size_t i : in.order) {
    const resource::Resource& r = (*in.desired)[i];
    PlanItem item;
    item.id = r.id();
    item.desired_index = static_cast<int>(i);
    if (i < in.as_applied.size() && in.as_applied[i]) {
      item.action = Action::kNoop;
      item.as_applied = true;
      plan.apply.push_back(std::move(item));
      continue;
    }
    const target::LiveObject& live = in.live_desired[i];
    if (live.exists) {
      item.live = diff::Normalize(live.body);
      item.live_extra = HealthFields(live.body);
    }
    if (!in.expected_error[i].empty()) {
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
  for (size_t k = in.inventory.size(); k-- > 0;) {
    const auto& entry = in.inventory[k];
    if (desired_keys.count(entry.id.Key())) continue;
    PlanItem item;
    item.id = entry.id;
    item.action = Action::kDelete;
    if (k < in.live_inventory.size() && in.live_inventory[k].exists)
      item.live = diff::Normalize(in.live_inventory[k].body);
    plan.prune.push_back(std::move(item));
  }
  return plan;
}

}  // namespace plumb::engine
