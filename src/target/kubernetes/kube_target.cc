#include "target/kubernetes/kube_target.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/log.h"
#include "core/strings.h"
#include "resource/codec.h"
#include "target/kubernetes/discovery.h"
#include "target/kubernetes/health.h"
#include "target/kubernetes/kube_watch.h"

namespace plumb::target::kubernetes {
namespace {

using resource::Resource;
using resource::ResourceId;
using resource::Value;

bool IsNotFound(const Status& s) { return s.code() == Code::kNotFound; }

// What plumbline keeps of a live object: managedFields go (large, and nothing reads them).
Value Strip(Value v) {
  if (Value* md = v.Find("metadata")) md->Erase("managedFields");
  return v;
}

void SetMeta(Value* body, const char* map, const std::string& key, const std::string& value) {
  Value* md = body->Find("metadata");
  Value* m = md->Find(map);
  if (!m || !m->is_object()) m = &md->Set(map, Value::EmptyObject());
  m->Set(key, value);
}

// A ConfigMap name for an Application's inventory: lowercase DNS label characters.
std::string InventoryName(const std::string& app) {
  std::string n = "plumbline-inventory-";
  for (char c : app) {
    unsigned char u = static_cast<unsigned char>(c);
    n += isalnum(u) ? static_cast<char>(tolower(u)) : (c == '.' ? '.' : '-');
  }
  return n.substr(0, 253);
}

class KubeTarget : public Target {
 public:
  KubeTarget(KubeTargetOptions o, std::unique_ptr<KubeClient> client)
      : o_(std::move(o)), client_(std::move(client)), discovery_(client_.get()) {
    if (!o_.clock) o_.clock = &system_clock_;
    apply_query_ = "fieldManager=" + QueryEscape(o_.field_manager) + "&force=true";
  }
  ~KubeTarget() override { watches_.reset(); }

  bool Handles(const ResourceId& id) const override {
    return id.group != "local.plumbline.dev" && id.group != "plumbline.dev";
  }

  Result<Value> Expected(const AppContext& ctx, const Resource& desired) override {
    auto info = discovery_.Resolve(desired.api_version(), desired.id().kind);
    if (!info.ok()) {
      // Its CRD comes in this same sync: what will be applied is all there is to show.
      if (IsNotFound(info.status()) && CrdInDesired(ctx, desired)) {
        return Strip(ApplyBody(ctx, desired, nullptr));
      }
      return info.status();
    }
    Value body = ApplyBody(ctx, desired, &*info);
    auto r = client_->DoJson(
        {.method = "PATCH",
         .path = info->ObjectPath(Namespace(ctx, desired.id(), *info), desired.id().name),
         .query = "dryRun=All&" + apply_query_,
         .content_type = "application/apply-patch+yaml",
         .body = resource::ToJson(body)});
    if (!r.ok()) {
      // The namespace is created in this same sync: no dry run yet.
      if (IsNotFound(r.status()) && info->namespaced) return Strip(std::move(body));
      return r.status();
    }
    return Strip(std::move(*r));
  }

  Result<std::vector<LiveObject>> Observe(const AppContext& ctx,
                                          const std::vector<ResourceId>& ids) override {
    std::vector<LiveObject> out;
    out.reserve(ids.size());
    for (const ResourceId& id : ids) {
      LiveObject live{.id = id};
      auto info = discovery_.ResolveGroupKind(id.group, id.kind);
      if (!info.ok()) {
        if (!IsNotFound(info.status())) return info.status();
        out.push_back(std::move(live));  // the kind is not served (yet): nothing lives
        continue;
      }
      auto r = client_->DoJson({.path = info->ObjectPath(Namespace(ctx, id, *info), id.name)});
      if (r.ok()) {
        live.exists = true;
        live.body = Strip(std::move(*r));
      } else if (!IsNotFound(r.status())) {
        return r.status();
      }
      out.push_back(std::move(live));
    }
    return out;
  }

  Result<Change> Apply(const AppContext& ctx, const Resource& desired) override {
    const ResourceId& id = desired.id();
    ASSIGN_OR_RETURN(ApiResource info, discovery_.Resolve(desired.api_version(), id.kind));
    Value body = ApplyBody(ctx, desired, &info);
    std::string path = info.ObjectPath(Namespace(ctx, id, info), id.name);
    ASSIGN_OR_RETURN(HttpResponse r, client_->Do({.method = "PATCH",
                                                  .path = path,
                                                  .query = apply_query_,
                                                  .content_type = "application/apply-patch+yaml",
                                                  .body = resource::ToJson(body)}));
    if (r.status != 200 && r.status != 201) return StatusFromResponse(r, "apply " + id.ToString());
    {
      std::lock_guard<std::mutex> lock(mu_);
      InventoryState& inv = LoadedInventory(ctx.app);
      inv.entries[id.Key()] = InventoryEntry{
          .id = id, .order = next_order_++, .applied_hash = resource::CanonicalHash(body)};
      inv.dirty = true;
    }
    if (watches_) watches_->Ensure(info);
    if (id.kind == "CustomResourceDefinition" && id.group == "apiextensions.k8s.io") {
      RETURN_IF_ERROR(WaitEstablished(path, id));
      discovery_.Invalidate();
    }
    return Change{.id = id,
                  .kind = r.status == 201 ? ChangeKind::kCreated : ChangeKind::kConfigured};
  }

  Result<Change> Remove(const AppContext& ctx, const ResourceId& id) override {
    auto info = discovery_.ResolveGroupKind(id.group, id.kind);
    if (!info.ok()) {
      if (!IsNotFound(info.status())) return info.status();
      Forget(ctx.app, id);
      return Change{.id = id, .kind = ChangeKind::kUnchanged, .message = "already gone"};
    }
    std::string path = info->ObjectPath(Namespace(ctx, id, *info), id.name);
    auto live = client_->DoJson({.path = path});
    if (!live.ok()) {
      if (!IsNotFound(live.status())) return live.status();
      Forget(ctx.app, id);
      return Change{.id = id, .kind = ChangeKind::kUnchanged, .message = "already gone"};
    }
    const Value* labels = live->FindPath({"metadata", "labels"});
    const Value* owner = labels ? labels->Find(kAppLabel) : nullptr;
    if (!owner || !owner->is_string() || owner->as_string() != ctx.app) {
      Forget(ctx.app, id);  // not ours (any more): never deleted
      return Change{.id = id,
                    .kind = ChangeKind::kSkipped,
                    .message = std::string("not labelled ") + kAppLabel + "=" + ctx.app};
    }
    const Value* annotations = live->FindPath({"metadata", "annotations"});
    std::string prune = annotations ? annotations->GetString(kPruneAnnotation) : "";
    if (prune == "disabled") {
      Forget(ctx.app, id);
      return Change{.id = id,
                    .kind = ChangeKind::kSkipped,
                    .message = std::string(kPruneAnnotation) + ": disabled; kept"};
    }
    std::string policy =
        annotations ? annotations->GetString(kPropagationAnnotation, "Background") : "Background";
    if (policy != "Background" && policy != "Foreground" && policy != "Orphan")
      return InvalidArgument(id.ToString() + ": " + kPropagationAnnotation + " \"" + policy +
                             "\" is not Background, Foreground or Orphan");
    Value opts = Value::EmptyObject();
    opts.Set("kind", "DeleteOptions");
    opts.Set("apiVersion", "v1");
    opts.Set("propagationPolicy", policy);
    if (watches_) watches_->ExpectDelete(id.Key());
    ASSIGN_OR_RETURN(HttpResponse r, client_->Do({.method = "DELETE",
                                                  .path = path,
                                                  .content_type = "application/json",
                                                  .body = resource::ToJson(opts)}));
    if (r.status == 404) {
      Forget(ctx.app, id);
      return Change{.id = id, .kind = ChangeKind::kUnchanged, .message = "already gone"};
    }
    if (r.status != 200 && r.status != 202) return StatusFromResponse(r, "delete " + id.ToString());
    Forget(ctx.app, id);
    return Change{.id = id, .kind = ChangeKind::kDeleted};
  }

  Health AssessHealth(const AppContext& ctx, const LiveObject& live) override {
    (void)ctx;
    if (!live.exists) return Health{HealthStatus::kMissing, "not found in the cluster"};
    return KubeHealth(live.id.kind, live.body);
  }

  Result<std::vector<InventoryEntry>> Inventory(const std::string& app) override {
    std::vector<InventoryEntry> out;
    bool first_read = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = inventory_.find(app);
      if (it == inventory_.end()) {
        ASSIGN_OR_RETURN(auto entries, ReadInventory(app));
        it = inventory_.emplace(app, InventoryState{.entries = std::move(entries)}).first;
        first_read = true;
      }
      for (const auto& [k, e] : it->second.entries) out.push_back(e);
    }
    // After a restart nothing may need applying: watch what the inventory holds, so drift
    // is still seen.
    if (first_read && watches_) {
      for (const InventoryEntry& e : out)
        if (auto info = discovery_.ResolveGroupKind(e.id.group, e.id.kind); info.ok())
          watches_->Ensure(*info);
    }
    std::stable_sort(out.begin(), out.end(), [](const InventoryEntry& a, const InventoryEntry& b) {
      return a.order < b.order;
    });
    return out;
  }

  Status Flush() override {
    std::vector<std::pair<std::string, Value>> writes;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [app, inv] : inventory_) {
        if (!inv.dirty) continue;
        Value list = Value::EmptyArray();
        for (const auto& [k, e] : inv.entries) {
          Value row = Value::EmptyObject();
          row.Set("key", k);
          row.Set("order", static_cast<int64_t>(e.order));
          row.Set("hash", e.applied_hash);
          list.Append(row);
        }
        writes.emplace_back(app, list);
        inv.dirty = false;
      }
    }
    for (const auto& [app, list] : writes) {
      Value cm = Value::EmptyObject();
      cm.Set("apiVersion", "v1");
      cm.Set("kind", "ConfigMap");
      Value md = Value::EmptyObject();
      md.Set("name", InventoryName(app));
      md.Set("namespace", o_.inventory_namespace);
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
      auto r = client_->DoJson({.method = "PATCH",
                                .path = "/api/v1/namespaces/" + o_.inventory_namespace +
                                        "/configmaps/" + InventoryName(app),
                                .query = apply_query_,
                                .content_type = "application/apply-patch+yaml",
                                .body = resource::ToJson(cm)});
      if (!r.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        inventory_[app].dirty = true;  // written again at the next Flush
        return r.status().WithContext("writing the inventory of " + app);
      }
    }
    return Status::Ok();
  }

  void Watch(std::function<void(const std::string& app, const ResourceId& id)> on_drift) override {
    watches_ = std::make_unique<KindWatches>(
        client_.get(),
        WatchOptions{
            .field_manager = o_.field_manager, .label = kAppLabel, .timeout = o_.watch_timeout},
        std::move(on_drift));
    // Every kind already in an inventory this target has read.
    std::vector<ResourceId> ids;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [app, inv] : inventory_)
        for (const auto& [k, e] : inv.entries) ids.push_back(e.id);
    }
    for (const ResourceId& id : ids)
      if (auto info = discovery_.ResolveGroupKind(id.group, id.kind); info.ok())
        watches_->Ensure(*info);
  }

 private:
  struct InventoryState {
    std::map<std::string, InventoryEntry> entries;
    bool dirty = false;
  };

  std::string Namespace(const AppContext& ctx, const ResourceId& id,
                        const ApiResource& info) const {
    if (!info.namespaced) return "";
    if (!id.ns.empty()) return id.ns;
    if (ctx.kubernetes && !ctx.kubernetes->ns.empty()) return ctx.kubernetes->ns;
    return o_.cluster.namespace_;
  }

  static bool CrdInDesired(const AppContext& ctx, const Resource& r) {
    if (!ctx.desired) return false;
    std::string group, version;
    resource::SplitApiVersion(r.api_version(), &group, &version);
    for (const Resource& d : *ctx.desired) {
      if (d.id().kind != "CustomResourceDefinition") continue;
      const Value* spec = d.body().Find("spec");
      const Value* kind = d.body().FindPath({"spec", "names", "kind"});
      if (spec && spec->GetString("group") == group && kind && kind->is_string() &&
          kind->as_string() == r.id().kind)
        return true;
    }
    return false;
  }

  Value ApplyBody(const AppContext& ctx, const Resource& desired, const ApiResource* info) const {
    Value body = desired.body();
    SetMeta(&body, "labels", kAppLabel, ctx.app);
    SetMeta(&body, "annotations", kOwnerAnnotation, ctx.app);
    Value* md = body.Find("metadata");
    if (info && info->namespaced) {
      md->Set("namespace", Namespace(ctx, desired.id(), *info));
    } else if (info) {
      md->Erase("namespace");
    }
    if (body.Find("status")) body.Erase("status");
    return body;
  }

  Status WaitEstablished(const std::string& path, const ResourceId& id) {
    int64_t deadline = MonotonicMillis() + o_.crd_wait.count();
    for (;;) {
      auto crd = client_->DoJson({.path = path});
      if (crd.ok()) {
        Health h = KubeHealth("CustomResourceDefinition", *crd);
        if (h.status == HealthStatus::kHealthy) return Status::Ok();
        if (h.status == HealthStatus::kDegraded)
          return FailedPrecondition(id.ToString() + ": " + h.message);
      }
      if (MonotonicMillis() >= deadline)
        return DeadlineExceeded(id.ToString() + ": not Established after " +
                                FormatDuration(o_.crd_wait));
      std::this_thread::sleep_for(o_.poll);
    }
  }

  // Requires mu_.
  InventoryState& LoadedInventory(const std::string& app) {
    auto it = inventory_.find(app);
    if (it != inventory_.end()) return it->second;
    auto entries = ReadInventory(app);
    InventoryState st;
    if (entries.ok()) st.entries = std::move(*entries);
    return inventory_.emplace(app, std::move(st)).first->second;
  }

  Result<std::map<std::string, InventoryEntry>> ReadInventory(const std::string& app) {
    std::map<std::string, InventoryEntry> out;
    auto cm = client_->DoJson({.path = "/api/v1/namespaces/" + o_.inventory_namespace +
                                       "/configmaps/" + InventoryName(app)});
    if (!cm.ok()) {
      if (IsNotFound(cm.status())) return out;
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
      int o = order && order->is_int() ? static_cast<int>(order->as_int()) : 0;
      next_order_ = std::max(next_order_, o + 1);
      out[id->Key()] = InventoryEntry{.id = *id, .order = o, .applied_hash = row.GetString("hash")};
    }
    return out;
  }

  void Forget(const std::string& app, const ResourceId& id) {
    std::lock_guard<std::mutex> lock(mu_);
    InventoryState& inv = LoadedInventory(app);
    if (inv.entries.erase(id.Key())) inv.dirty = true;
  }

  KubeTargetOptions o_;
  SystemClock system_clock_;
  std::unique_ptr<KubeClient> client_;
  Discovery discovery_;
  std::string apply_query_;
  std::mutex mu_;
  std::map<std::string, InventoryState> inventory_;  // GUARDED_BY(mu_)
  int next_order_ = 0;                               // GUARDED_BY(mu_)
  std::unique_ptr<KindWatches> watches_;
};

}  // namespace

Result<std::unique_ptr<Target>> NewKubeTarget(const KubeTargetOptions& options) {
  const Clock* clock = options.clock;
  static SystemClock system_clock;
  ASSIGN_OR_RETURN(auto client, KubeClient::Create(options.cluster, options.client,
                                                   clock ? clock : &system_clock));
  return std::unique_ptr<Target>(new KubeTarget(options, std::move(client)));
}

}  // namespace plumb::target::kubernetes
