#include "target/router.h"

#include <gtest/gtest.h>

namespace plumb::target {
namespace {

using resource::Resource;
using resource::ResourceId;
using resource::Value;

// Records which calls reached it.
class StubTarget : public Target {
 public:
  explicit StubTarget(std::string name, std::vector<std::string>* log) : name_(name), log_(log) {}
  Result<Value> Expected(const AppContext& ctx, const Resource&) override {
    log_->push_back(name_ + " expected " + ctx.app);
    return Value();
  }
  using Target::Observe;
  Result<std::vector<LiveObject>> Observe(const AppContext& ctx,
                                          const std::vector<const ResourceId*>&) override {
    log_->push_back(name_ + " observe " + ctx.app);
    return std::vector<LiveObject>{};
  }
  Result<Change> Apply(const AppContext&, const Resource& r) override { return Change{r.id()}; }
  Result<Change> Remove(const AppContext&, const ResourceId& id) override { return Change{id}; }
  Health AssessHealth(const AppContext&, const LiveObject&) override { return {}; }
  Result<std::vector<InventoryEntry>> Inventory(const std::string& app) override {
    log_->push_back(name_ + " inventory " + app);
    return std::vector<InventoryEntry>{};
  }
  Status Flush() override {
    log_->push_back(name_ + " flush");
    return Status::Ok();
  }
  void Watch(std::function<void(const std::string&, const ResourceId&)>) override {
    log_->push_back(name_ + " watch");
  }
  bool Handles(const ResourceId& id) const override { return id.group == "local.plumbline.dev"; }

 private:
  std::string name_;
  std::vector<std::string>* log_;
};

TEST(RoutingTargetTest, InventoryOfAnApplicationNotYetSeenGoesToItsCluster) {
  // After a restart the engine asks for an Application's inventory before anything else:
  // by name alone the router would answer from the local runtime (and nothing would ever
  // be pruned on the cluster).
  std::vector<std::string> log;
  auto router = NewRoutingTarget(
      std::make_unique<StubTarget>("local", &log),
      [&](const KubernetesRef& ref) -> Result<std::unique_ptr<Target>> {
        return std::unique_ptr<Target>(std::make_unique<StubTarget>("k8s:" + ref.context, &log));
      });
  KubernetesRef prod{.kubeconfig = "/k", .context = "prod"};
  AppContext shop{.app = "shop", .kubernetes = &prod}, host{.app = "host"};
  ASSERT_TRUE(router->InventoryOf(shop).ok());
  ASSERT_TRUE(router->InventoryOf(host).ok());
  ASSERT_TRUE(router->Inventory("shop").ok());  // now known by name too
  EXPECT_EQ(log, (std::vector<std::string>{"k8s:prod inventory shop", "local inventory host",
                                           "k8s:prod inventory shop"}));
}

TEST(RoutingTargetTest, SendsEachApplicationToItsClusterAndSharesOnePerContext) {
  std::vector<std::string> log;
  int made = 0;
  auto router = NewRoutingTarget(
      std::make_unique<StubTarget>("local", &log),
      [&](const KubernetesRef& ref) -> Result<std::unique_ptr<Target>> {
        if (ref.context == "bad") return NotFound("no context bad");
        made++;
        return std::unique_ptr<Target>(std::make_unique<StubTarget>("k8s:" + ref.context, &log));
      });
  router->Watch([](const std::string&, const ResourceId&) {});
  KubernetesRef prod{.kubeconfig = "/k", .context = "prod"};
  AppContext host{.app = "host"}, a{.app = "a", .kubernetes = &prod},
      b{.app = "b", .kubernetes = &prod};
  ASSERT_TRUE(router->Observe(host, std::vector<ResourceId>{}).ok());
  ASSERT_TRUE(router->Observe(a, std::vector<ResourceId>{}).ok());
  ASSERT_TRUE(router->Observe(b, std::vector<ResourceId>{}).ok());
  EXPECT_EQ(made, 1);  // one target per kubeconfig and context
  ASSERT_TRUE(router->Inventory("a").ok());
  ASSERT_TRUE(router->Inventory("host").ok());
  ASSERT_TRUE(router->Flush().ok());
  std::vector<std::string> want = {
      "local watch",          "local observe host", "k8s:prod watch",
      "k8s:prod observe a",   "k8s:prod observe b", "k8s:prod inventory a",
      "local inventory host", "local flush",        "k8s:prod flush"};
  EXPECT_EQ(log, want);
  // A bad context is an error naming the kubeconfig.
  KubernetesRef bad{.kubeconfig = "/k", .context = "bad"};
  AppContext c{.app = "c", .kubernetes = &bad};
  auto o = router->Observe(c, std::vector<ResourceId>{});
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("spec.target.kubernetes (/k): no context bad"),
            std::string::npos)
      << o.status().message();
  EXPECT_TRUE(router->Handles(ResourceId{"apps", "Deployment", "", "web"}));
  EXPECT_FALSE(router->Handles(ResourceId{"plumbline.dev", "Application", "", "x"}));
}

}  // namespace
}  // namespace plumb::target
