#include "target/kubernetes/kube_inventory.h"

#include <algorithm>

#include "resource/codec.h"

namespace plumb::target::kubernetes {

using resource::ResourceId;
using resource::Value;

namespace {
constexpr const char* kOwnerAnnotation = "plumbline.dev/owner";
}  // namespace

std::string InventoryName(const std::string& app) {
  std::string n = "plumbline-inventory-";
  for (char c : app) {
    unsigned char u = static_cast<unsigned char>(c);
    n += isalnum(u) ? static_cast<char>(tolower(u)) : (c == '.' ? '.' : '-');
  }
  return n.substr(0, 253);
}

Result<InventoryStore::State*> InventoryStore::Load(const std::string& app, bool* first_read) {
  auto it = apps_.find(app);
  if (it != apps_.end()) return &it->second;
  ASSIGN_OR_RETURN(auto entries, Read(app));
  State st;
  for (const auto& [k, e] : entries) st.persisted.insert(k);
  st.entries = std::move(entries);
  if (first_read) *first_read = true;
  return &apps_.emplace(app, std::move(st)).first->second;
}

Result<std::vector<InventoryEntry>> InventoryStore::Entries(const std::string& app,
                                                            bool* first_read) {
  std::vector<InventoryEntry> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(State * st, Load(app, first_read));
    for (const auto& [k, e] : st->entries) out.push_back(e);
  }
  std::stable_sort(out.begin(), out.end(), [](const InventoryEntry& a, const InventoryEntry& b) {
    return a.order < b.order;
  });
  return out;
}

Status InventoryStore::Persist(const std::string& app, const ResourceId& id,
                               const std::function<std::vector<ResourceId>()>& also) {
  std::map<std::string, InventoryEntry> all;
  std::set<std::string> pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(State * st, Load(app, nullptr));
    if (st->persisted.count(id.Key())) return Status::Ok();
    all = st->entries;
    // Not applied yet: ordered after everything applied so far.
    int64_t order = next_order_;
    auto add = [&](const ResourceId& x) {
      if (all.count(x.Key())) return;
      all[x.Key()] = InventoryEntry{.id = x, .order = order++};
      pending.insert(x.Key());
    };
    add(id);
    for (const ResourceId& x : also()) add(x);
  }
  RETURN_IF_ERROR(Write(app, all).WithContext("recording " + id.ToString() +
                                              " in the inventory before applying it"));
  std::lock_guard<std::mutex> lock(mu_);
  State& st = apps_[app];
  st.pending.insert(pending.begin(), pending.end());
  st.persisted.clear();
  for (const auto& [k, e] : all) st.persisted.insert(k);
  return Status::Ok();
}

void InventoryStore::Record(const std::string& app, const ResourceId& id, const std::string& hash) {
  std::lock_guard<std::mutex> lock(mu_);
  State& st = apps_[app];
  auto it = st.entries.find(id.Key());
  st.pending.erase(id.Key());
  if (it == st.entries.end()) {
    st.entries[id.Key()] =
        InventoryEntry{.id = id, .order = next_order_++, .applied_hash = HexDigest(hash)};
    st.dirty = true;
  } else {
    it->second.applied_hash = HexDigest(hash);  // the first apply order stays
  }
}

void InventoryStore::Forget(const std::string& app, const ResourceId& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = apps_.find(app);
  if (it == apps_.end()) return;
  if (it->second.entries.erase(id.Key())) it->second.dirty = true;
  it->second.pending.erase(id.Key());
}

Status InventoryStore::Flush() {
  std::vector<std::pair<std::string, std::map<std::string, InventoryEntry>>> writes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [app, st] : apps_) {
      // What the ConfigMap must list: what is applied, and what a reconcile still under
      // way may apply (another Application's Flush must not shrink it).
      std::map<std::string, InventoryEntry> want = st.entries;
      for (const std::string& k : st.pending)
        if (auto id = ResourceId::FromKey(k); id.ok() && !want.count(k))
          want[k] = InventoryEntry{.id = *id, .order = next_order_};
      bool same = st.persisted.size() == want.size();
      for (const auto& [k, e] : want) same = same && st.persisted.count(k);
      // New apply orders are written once the reconcile applied all it planned.
      if (same && !(st.dirty && st.pending.empty())) continue;
      writes.emplace_back(app, std::move(want));
      st.dirty = false;
    }
  }
  for (const auto& [app, entries] : writes) {
    Status s = Write(app, entries);
    std::lock_guard<std::mutex> lock(mu_);
    State& st = apps_[app];
    if (!s.ok()) {
      st.dirty = true;  // written again at the next Flush
      return s.WithContext("writing the inventory of " + app);
    }
    st.persisted.clear();
    for (const auto& [k, e] : entries) st.persisted.insert(k);
  }
  return Status::Ok();
}

std::vector<ResourceId> InventoryStore::AllIds() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ResourceId> ids;
  for (const auto& [app, st] : apps_)
    for (const auto& [k, e] : st.entries) ids.push_back(e.id);
  return ids;
}

Status InventoryStore::Write(const std::string& app,
                             const std::map<std::string, InventoryEntry>& entries) {
  Value list = Value::EmptyArray();
  for (const auto& [k, e] : entries) {
    Value row = Value::EmptyObject();
    row.Set("key", k);
    row.Set("order", static_cast<int64_t>(e.order));
    row.Set("hash", e.applied_hash.Hex());
    list.Append(row);
  }
  Value cm = Value::EmptyObject();
  cm.Set("apiVersion", "v1");
  cm.Set("kind", "ConfigMap");
  Value md = Value::EmptyObject();
  md.Set("name", InventoryName(app));
  md.Set("namespace", ns_);
  Value labels = Value::EmptyObject();
  labels.Set("app.plumbline.dev/inventory-of", InventoryName(app).substr(20, 63));
  md.Set("labels", labels);
  Value annotations = Value::EmptyObject();
  annotations.Set(kOwnerAnnotation, app);
  md.Set("annotations", annotations);
  cm.Set("metadata", md);
  Value data = Value::EmptyObject();
  data.Set("entries", resource::ToJson(list));
  cm.Set("data", data);
  auto r =
      client_->DoJson({.method = "PATCH",
                       .path = "/api/v1/namespaces/" + ns_ + "/configmaps/" + InventoryName(app),
                       .query = apply_query_,
                       .content_type = "application/apply-patch+yaml",
                       .body = resource::ToJson(cm)});
  return r.status();
}

Result<std::map<std::string, InventoryEntry>> InventoryStore::Read(const std::string& app) {
  std::map<std::string, InventoryEntry> out;
  auto cm =
      client_->DoJson({.path = "/api/v1/namespaces/" + ns_ + "/configmaps/" + InventoryName(app)});
  if (!cm.ok()) {
    if (cm.status().code() == Code::kNotFound) return out;
    return cm.status().WithContext("reading the inventory of " + app);
  }
  const Value* data = cm->FindPath({"data"});
  std::string text = data ? data->GetString("entries", "[]") : "[]";
  auto list = resource::ParseJson(text, "inventory of " + app);
  if (!list.ok() || !list->is_array()) return Internal("the inventory of " + app + " is corrupt");
  for (const Value& row : list->as_array()) {
    auto id = ResourceId::FromKey(row.GetString("key"));
    if (!id.ok()) continue;
    const Value* order = row.Find("order");
    int64_t o = order && order->is_int() ? order->as_int() : 0;
    next_order_ = std::max(next_order_, o + 1);
    out[id->Key()] =
        InventoryEntry{.id = *id, .order = o, .applied_hash = HexDigest(row.GetString("hash"))};
  }
  return out;
}

}  // namespace plumb::target::kubernetes
