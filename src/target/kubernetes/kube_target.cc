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
#include "target/kubernetes/kube_hooks.h"
#include "target/kubernetes/kube_inventory.h"
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

// What a server answered for an object: its HTTP status and body.
struct Answer {
  int status = 0;
  Value body;
};

std::string ResourceVersion(const Value& obj) {
  const Value* rv = obj.FindPath({"metadata", "resourceVersion"});
  return rv && rv->is_string() ? rv->as_string() : "";
}

class KubeTarget : public Target {
 public:
  KubeTarget(KubeTargetOptions o, std::unique_ptr<KubeClient> client)
      : o_(std::move(o)),
        client_(std::move(client)),
        discovery_(client_.get()),
        apply_query_("fieldManager=" + QueryEscape(o_.field_manager) + "&force=true"),
        inventory_(client_.get(), o_.inventory_namespace, apply_query_) {
    if (!o_.clock) o_.clock = &system_clock_;
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
    std::string path = info->ObjectPath(Namespace(ctx, desired.id(), *info), desired.id().name);
    auto r = Send({.method = "PATCH",
                   .path = path,
                   .query = "dryRun=All&" + apply_query_,
                   .content_type = "application/apply-patch+yaml",
                   .body = resource::ToJson(body)});
    if (!r.ok()) {
      // The namespace is created in this same sync: no dry run yet, and nothing there.
      if (IsNotFound(r.status()) && info->namespaced) {
        NoteAbsent(path);
        return Strip(std::move(body));
      }
      return r.status();
    }
    // 201: the apply would create it, so it is not there: Observe() needs no GET.
    if (r->status == 201) NoteAbsent(path);
    return Strip(std::move(r->body));
  }

  using Target::Observe;
  Result<std::vector<LiveObject>> Observe(const AppContext& ctx,
                                          const std::vector<const ResourceId*>& ids) override {
    std::vector<LiveObject> out;
    out.reserve(ids.size());
    for (const ResourceId* at : ids) {
      const ResourceId& id = *at;
      LiveObject live{.id = id};
      auto info = discovery_.ResolveGroupKind(id.group, id.kind);
      if (!info.ok()) {
        if (!IsNotFound(info.status())) return info.status();
        out.push_back(std::move(live));  // the kind is not served (yet): nothing lives
        continue;
      }
      std::string path = info->ObjectPath(Namespace(ctx, id, *info), id.name);
      ASSIGN_OR_RETURN(live.exists, ReadLive(*info, path, &live.body));
      if (live.exists) FinishHook(ctx, id, *info, path, live.body);
      out.push_back(std::move(live));
    }
    return out;
  }

  Result<Change> Apply(const AppContext& ctx, const Resource& desired) override {
    const ResourceId& id = desired.id();
    ASSIGN_OR_RETURN(ApiResource info, discovery_.Resolve(desired.api_version(), id.kind));
    Value body = ApplyBody(ctx, desired, &info);
    std::string path = info.ObjectPath(Namespace(ctx, id, info), id.name);
    bool hook = !desired.Annotation(kHookAnnotation).empty();
    std::vector<std::string> policies;
    if (hook) {
      ASSIGN_OR_RETURN(policies, HookDeletePolicies(desired));
    }
    auto also = [&] {  // what this reconcile may apply besides
      std::vector<ResourceId> out;
      if (ctx.desired)
        for (const Resource& r : *ctx.desired)
          if (Handles(r.id())) out.push_back(r.id());
      return out;
    };
    Status persisted = inventory_.Persist(ctx.app, id, also);
    // The inventory's namespace may be this very Namespace, applied first: record it (and
    // the rest) right after.
    bool namespace_first =
        !persisted.ok() && IsNotFound(persisted) && id.group.empty() && id.kind == "Namespace";
    if (!persisted.ok() && !namespace_first) return persisted;
    if (hook) RETURN_IF_ERROR(PrepareHookRun(ctx, desired, info, path, policies));
    ASSIGN_OR_RETURN(Answer r, Send({.method = "PATCH",
                                     .path = path,
                                     .query = apply_query_,
                                     .content_type = "application/apply-patch+yaml",
                                     .body = resource::ToJson(body)}));
    inventory_.Record(ctx.app, id, resource::CanonicalHash(body));
    if (namespace_first) (void)inventory_.Persist(ctx.app, id, also);  // else: the next apply
    {
      std::lock_guard<std::mutex> lock(mu_);
      absent_.erase(path);
      if (hook) running_hooks_[path] = policies;
    }
    if (watches_) {
      watches_->Ensure(info);
      watches_->Wrote(info, path, ResourceVersion(r.body));
    }
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
    Value live;
    // Never from a dry run's "absent" mark: an object being pruned is not desired, so a
    // mark for its path is left from an earlier pass that failed before its Observe.
    ASSIGN_OR_RETURN(bool exists, ReadLive(*info, path, &live, /*trust_absent=*/false));
    if (!exists) {
      Forget(ctx.app, id);
      return Change{.id = id, .kind = ChangeKind::kUnchanged, .message = "already gone"};
    }
    const Value* labels = live.FindPath({"metadata", "labels"});
    const Value* owner = labels ? labels->Find(kAppLabel) : nullptr;
    if (!owner || !owner->is_string() || owner->as_string() != ctx.app) {
      Forget(ctx.app, id);  // not ours (any more): never deleted
      return Change{.id = id,
                    .kind = ChangeKind::kSkipped,
                    .message = std::string("not labelled ") + kAppLabel + "=" + ctx.app};
    }
    const Value* annotations = live.FindPath({"metadata", "annotations"});
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
    ASSIGN_OR_RETURN(bool deleted, Delete(*info, id, path, policy));
    Forget(ctx.app, id);
    if (!deleted)
      return Change{.id = id, .kind = ChangeKind::kUnchanged, .message = "already gone"};
    return Change{.id = id, .kind = ChangeKind::kDeleted};
  }

  Health AssessHealth(const AppContext& ctx, const LiveObject& live) override {
    (void)ctx;
    if (!live.exists) return Health{HealthStatus::kMissing, "not found in the cluster"};
    return KubeHealth(live.id.kind, live.body);
  }

  Result<std::vector<InventoryEntry>> Inventory(const std::string& app) override {
    bool first_read = false;
    ASSIGN_OR_RETURN(auto out, inventory_.Entries(app, &first_read));
    // After a restart nothing may need applying: watch what the inventory holds, so drift
    // is still seen.
    if (first_read && watches_) {
      for (const InventoryEntry& e : out)
        if (auto info = discovery_.ResolveGroupKind(e.id.group, e.id.kind); info.ok())
          watches_->Ensure(*info);
    }
    return out;
  }

  Status Flush() override { return inventory_.Flush(); }

  void Watch(std::function<void(const std::string& app, const ResourceId& id)> on_drift) override {
    watches_ = std::make_unique<KindWatches>(
        client_.get(),
        WatchOptions{
            .field_manager = o_.field_manager, .label = kAppLabel, .timeout = o_.watch_timeout},
        std::move(on_drift));
    // Every kind already in an inventory this target has read.
    for (const ResourceId& id : inventory_.AllIds())
      if (auto info = discovery_.ResolveGroupKind(id.group, id.kind); info.ok())
        watches_->Ensure(*info);
  }

 private:
  // Do(), and for a 2xx answer its status and JSON body; otherwise StatusFromResponse().
  Result<Answer> Send(const HttpRequest& request) {
    ASSIGN_OR_RETURN(HttpResponse r, client_->Do(request));
    std::string what = request.method + " " + request.path;
    if (r.status < 200 || r.status >= 300) return StatusFromResponse(r, what);
    auto v = resource::ParseJson(r.body, what);
    if (!v.ok()) return Internal(what + ": the server's answer is not JSON");
    return Answer{r.status, std::move(*v)};
  }

  void NoteAbsent(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    absent_.insert(path);
  }

  // The live object at `path`: absent when this reconcile's dry run said the apply would
  // create it; else the watch cache when it holds the object; else a GET. False when
  // there is none.
  Result<bool> ReadLive(const ApiResource& info, const std::string& path, Value* body,
                        bool trust_absent = true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (absent_.erase(path) && trust_absent) return false;
    }
    bool found = false;
    if (watches_ && watches_->Cached(info, path, body, &found) && found) return true;
    auto r = client_->DoJson({.path = path});
    if (!r.ok()) {
      if (IsNotFound(r.status())) return false;
      return r.status();
    }
    *body = Strip(std::move(*r));
    return true;
  }

  // DELETE with this propagation policy. False when it was already gone.
  Result<bool> Delete(const ApiResource& info, const ResourceId& id, const std::string& path,
                      const std::string& policy) {
    Value opts = Value::EmptyObject();
    opts.Set("kind", "DeleteOptions");
    opts.Set("apiVersion", "v1");
    opts.Set("propagationPolicy", policy);
    if (watches_) {
      watches_->ExpectDelete(id.Key());
      watches_->Wrote(info, path, "");
    }
    ASSIGN_OR_RETURN(HttpResponse r, client_->Do({.method = "DELETE",
                                                  .path = path,
                                                  .content_type = "application/json",
                                                  .body = resource::ToJson(opts)}));
    if (r.status == 404) return false;
    if (r.status != 200 && r.status != 202) return StatusFromResponse(r, "delete " + id.ToString());
    return true;
  }

  // Before a hook's run is applied: the object of an earlier run is deleted (and gone)
  // when its policy says BeforeHookCreation; otherwise a run of another sync is an error,
  // since a Job's template cannot change and it would not run again.
  Status PrepareHookRun(const AppContext& ctx, const Resource& hook, const ApiResource& info,
                        const std::string& path, const std::vector<std::string>& policies) {
    auto live = client_->DoJson({.path = path});
    if (!live.ok()) return IsNotFound(live.status()) ? Status::Ok() : live.status();
    const Value* labels = live->FindPath({"metadata", "labels"});
    if (!labels || labels->GetString(kAppLabel) != ctx.app)
      return FailedPrecondition(hook.id().ToString() + " exists and is not labelled " + kAppLabel +
                                "=" + ctx.app + ": not replaced by the hook");
    if (!HasPolicy(policies, kBeforeHookCreation)) {
      const Value* ann = live->FindPath({"metadata", "annotations"});
      std::string run = ann ? ann->GetString(kHookRunAnnotation) : "";
      if (run == hook.Annotation(kHookRunAnnotation)) return Status::Ok();  // this very run
      return FailedPrecondition(hook.id().ToString() + " of an earlier run still exists and " +
                                kHookDeletePolicyAnnotation + " has no " + kBeforeHookCreation +
                                ": delete it, or add " + kBeforeHookCreation);
    }
    ASSIGN_OR_RETURN(bool deleted, Delete(info, hook.id(), path, "Background"));
    if (!deleted) return Status::Ok();
    int64_t deadline = MonotonicMillis() + o_.hook_delete_wait.count();
    for (;;) {
      auto gone = client_->DoJson({.path = path});
      if (!gone.ok() && IsNotFound(gone.status())) return Status::Ok();
      if (MonotonicMillis() >= deadline)
        return DeadlineExceeded(hook.id().ToString() +
                                ": the run before is still being deleted after " +
                                FormatDuration(o_.hook_delete_wait));
      std::this_thread::sleep_for(o_.poll);
    }
  }

  // A hook this target started that has finished (its health is no longer Progressing) is
  // deleted when its hook-delete-policy says so for how it ended.
  void FinishHook(const AppContext& ctx, const ResourceId& id, const ApiResource& info,
                  const std::string& path, const Value& live) {
    std::vector<std::string> policies;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = running_hooks_.find(path);
      if (it == running_hooks_.end()) return;
      Health h = KubeHealth(info.kind, live);
      if (h.status == HealthStatus::kProgressing) return;
      bool failed = h.status == HealthStatus::kDegraded;
      if (!HasPolicy(it->second, failed ? kHookFailed : kHookSucceeded)) {
        running_hooks_.erase(it);
        return;
      }
      running_hooks_.erase(it);
    }
    auto deleted = Delete(info, id, path, "Background");
    if (!deleted.ok()) {
      log::Warn("kubernetes: deleting finished hook " + id.ToString() +
                " failed: " + deleted.status().message());
      return;
    }
    Forget(ctx.app, id);
  }

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

  void Forget(const std::string& app, const ResourceId& id) { inventory_.Forget(app, id); }

  KubeTargetOptions o_;
  SystemClock system_clock_;
  std::unique_ptr<KubeClient> client_;
  Discovery discovery_;
  std::string apply_query_;
  InventoryStore inventory_;
  std::mutex mu_;
  // Objects this reconcile's dry run would create (so absent): Observe() skips their GET.
  std::set<std::string> absent_;  // GUARDED_BY(mu_)
  // Hooks applied and not yet seen finished, with their hook-delete-policy.
  std::map<std::string, std::vector<std::string>> running_hooks_;  // GUARDED_BY(mu_)
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
