#include "target/router.h"

#include <map>
#include <mutex>

namespace plumb::target {
namespace {

using resource::Resource;
using resource::ResourceId;

class RoutingTarget : public Target {
 public:
  RoutingTarget(std::unique_ptr<Target> local, ClusterTargetFactory factory)
      : local_(std::move(local)), factory_(std::move(factory)) {}

  Result<resource::Value> Expected(const AppContext& ctx, const Resource& desired) override {
    ASSIGN_OR_RETURN(Target * t, For(ctx));
    if (t == local_.get() && !local_->Handles(desired.id()))
      return InvalidArgument("no target handles kind " + desired.api_version() + " " +
                             desired.id().kind +
                             " here: set spec.target.kubernetes to apply it to a cluster");
    return t->Expected(ctx, desired);
  }
  using Target::Observe;
  Result<std::vector<LiveObject>> Observe(const AppContext& ctx,
                                          const std::vector<const ResourceId*>& ids) override {
    ASSIGN_OR_RETURN(Target * t, For(ctx));
    return t->Observe(ctx, ids);
  }
  Result<std::vector<LiveBody>> ObserveBodies(const AppContext& ctx,
                                              const std::vector<const ResourceId*>& ids) override {
    ASSIGN_OR_RETURN(Target * t, For(ctx));
    return t->ObserveBodies(ctx, ids);
  }
  bool ExpectedIsPure(const AppContext& ctx, const Resource& desired) override {
    auto t = For(ctx);
    if (!t.ok() || (*t == local_.get() && !local_->Handles(desired.id()))) return false;
    return (*t)->ExpectedIsPure(ctx, desired);
  }
  using Target::UnchangedSinceApplied;
  std::vector<bool> UnchangedSinceApplied(const AppContext& ctx,
                                          const std::vector<const ResourceId*>& ids) override {
    auto t = For(ctx);
    if (!t.ok()) return std::vector<bool>(ids.size(), false);
    return (*t)->UnchangedSinceApplied(ctx, ids);
  }
  Result<Change> Apply(const AppContext& ctx, const Resource& desired) override {
    ASSIGN_OR_RETURN(Target * t, For(ctx));
    return t->Apply(ctx, desired);
  }
  Result<Change> Remove(const AppContext& ctx, const ResourceId& id) override {
    ASSIGN_OR_RETURN(Target * t, For(ctx));
    return t->Remove(ctx, id);
  }
  Health AssessHealth(const AppContext& ctx, const LiveObject& live) override {
    auto t = For(ctx);
    if (!t.ok()) return Health{HealthStatus::kUnknown, t.status().message()};
    return (*t)->AssessHealth(ctx, live);
  }
  Result<std::vector<InventoryEntry>> Inventory(const std::string& app) override {
    return ForApp(app)->Inventory(app);
  }
  Result<std::shared_ptr<const std::vector<InventoryEntry>>> InventoryOf(
      const AppContext& ctx) override {
    ASSIGN_OR_RETURN(Target * t, For(ctx));
    return t->InventoryOf(ctx);
  }
  Status Settle(const AppContext& ctx) override {
    Status first = local_->Settle(ctx);
    for (Target* t : Clusters()) {
      Status s = t->Settle(ctx);
      if (first.ok()) first = s;
    }
    return first;
  }
  Status Flush() override {
    Status first = local_->Flush();
    for (Target* t : Clusters()) {
      Status s = t->Flush();
      if (first.ok()) first = s;
    }
    return first;
  }

  void WaitStarted() override {
    local_->WaitStarted();
    for (Target* t : Clusters()) t->WaitStarted();
  }
  void Watch(std::function<void(const std::string&, const ResourceId&)> on_drift) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      on_drift_ = on_drift;
    }
    local_->Watch(on_drift);
    for (Target* t : Clusters()) t->Watch(on_drift);
  }
  void WatchHealth(std::function<void(const std::string&, const ResourceId&)> on_health) override {
    local_->WatchHealth(std::move(on_health));
  }
  void WatchEvents(std::function<void(const TargetEvent&)> on_event) override {
    local_->WatchEvents(std::move(on_event));
  }
  Result<std::vector<LogSource>> Logs(const std::string& app, const ResourceId& id) override {
    return ForApp(app)->Logs(app, id);
  }
  Result<RunningStatus> Running(const std::string& app, const ResourceId& id) override {
    return ForApp(app)->Running(app, id);
  }
  Result<Change> SetReplicas(const std::string& app, const ResourceId& id, int replicas) override {
    return ForApp(app)->SetReplicas(app, id, replicas);
  }
  bool Handles(const ResourceId& id) const override {
    return local_->Handles(id) || (factory_ && id.group != "plumbline.dev");
  }

 private:
  static std::string Key(const KubernetesRef& r) { return r.kubeconfig + "\n" + r.context; }

  Result<Target*> For(const AppContext& ctx) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!ctx.kubernetes) {
      app_cluster_.erase(ctx.app);
      return local_.get();
    }
    if (!factory_) return Unimplemented("this operator was built without Kubernetes support");
    std::string key = Key(*ctx.kubernetes);
    auto it = clusters_.find(key);
    if (it == clusters_.end()) {
      auto t = factory_(*ctx.kubernetes);
      if (!t.ok())
        return t.status().WithContext("spec.target.kubernetes" +
                                      (ctx.kubernetes->kubeconfig.empty()
                                           ? std::string(" (in-cluster)")
                                           : " (" + ctx.kubernetes->kubeconfig + ")"));
      if (on_drift_) (*t)->Watch(on_drift_);
      it = clusters_.emplace(key, std::move(*t)).first;
    }
    app_cluster_[ctx.app] = key;
    return it->second.get();
  }

  Target* ForApp(const std::string& app) {
    std::lock_guard<std::mutex> lock(mu_);
    auto a = app_cluster_.find(app);
    if (a == app_cluster_.end()) return local_.get();
    return clusters_.at(a->second).get();
  }

  std::vector<Target*> Clusters() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Target*> out;
    for (auto& [k, t] : clusters_) out.push_back(t.get());
    return out;
  }

  std::unique_ptr<Target> local_;
  ClusterTargetFactory factory_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Target>> clusters_;  // GUARDED_BY(mu_)
  std::map<std::string, std::string> app_cluster_;           // app -> cluster key
  std::function<void(const std::string&, const ResourceId&)> on_drift_;
};

}  // namespace

std::unique_ptr<Target> NewRoutingTarget(std::unique_ptr<Target> local,
                                         ClusterTargetFactory cluster) {
  return std::make_unique<RoutingTarget>(std::move(local), std::move(cluster));
}

}  // namespace plumb::target
