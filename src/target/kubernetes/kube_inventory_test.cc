// The inventory's durability and the requests a reconcile costs, against the double.
#include "target/kubernetes/kube_inventory.h"

#include <gtest/gtest.h>

#include <thread>

#include "diff/diff.h"
#include "resource/codec.h"
#include "target/kubernetes/kube_target.h"
#include "target/kubernetes/kube_test_util.h"

namespace plumb::target::kubernetes {
namespace {

using resource::Resource;
using resource::ResourceId;
using resource::Value;

std::string ConfigMaps(const std::vector<std::string>& names) {
  std::string yaml;
  for (const std::string& n : names)
    yaml += "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + n +
            ", namespace: demo}\ndata: {k: v}\n";
  return yaml;
}

class KubeInventoryTest : public KubeFixture {
 protected:
  void SetUp() override {
    KubeFixture::SetUp();
    target_ = NewTarget();
    ref_.ns = "demo";
    ctx_ = {.app = "shop", .kubernetes = &ref_, .desired = &desired_};
    auto ns = ParseResources("apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n");
    ASSERT_TRUE(target_->Apply(ctx_, ns[0]).ok());
    ASSERT_TRUE(target_->Flush().ok());
  }
  std::unique_ptr<Target> NewTarget() {
    auto t =
        NewKubeTarget({.cluster = config_, .client = options_, .watch_timeout = Duration(2000)});
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? std::move(*t) : nullptr;
  }
  std::set<std::string> Names(Target* t) {
    std::set<std::string> out;
    auto inv = t->Inventory("shop");
    EXPECT_TRUE(inv.ok()) << inv.status().ToString();
    if (inv.ok())
      for (const auto& e : *inv) out.insert(e.id.name);
    return out;
  }
  // Requests since the last ClearRequests(), by verb ("GET", "PATCH dry-run", ...).
  std::map<std::string, int> Counts() {
    std::map<std::string, int> n;
    for (const auto& r : server_->Requests()) {
      std::string verb = r.method;
      if (r.method == "PATCH" && r.query.find("dryRun=All") != std::string::npos)
        verb += " dry-run";
      else if (r.method == "GET" && r.query.find("watch=1") != std::string::npos)
        verb += " watch";
      else if (r.method == "GET" && r.path.find("/plumbline-inventory-") != std::string::npos)
        verb += " inventory";
      else if (r.method == "GET" &&
               r.path.find("/namespaces/demo/configmaps/") == std::string::npos)
        verb += " list";  // the watch's
      n[verb]++;
    }
    return n;
  }
  // One reconcile's plan stage, as the engine runs it: Expected, Observe, Inventory.
  bool PlanInSync() {
    bool in_sync = true;
    std::vector<ResourceId> ids;
    std::vector<Value> expected;
    for (const Resource& r : desired_) {
      auto e = target_->Expected(ctx_, r);
      EXPECT_TRUE(e.ok()) << e.status().ToString();
      expected.push_back(e.ok() ? *e : Value());
      ids.push_back(r.id());
    }
    auto live = target_->Observe(ctx_, ids);
    EXPECT_TRUE(live.ok());
    for (size_t i = 0; live.ok() && i < ids.size(); ++i)
      in_sync &=
          (*live)[i].exists && diff::Normalize(expected[i]) == diff::Normalize((*live)[i].body);
    EXPECT_TRUE(target_->Inventory("shop").ok());
    return in_sync;
  }
  KubernetesRef ref_;
  AppContext ctx_;
  std::vector<Resource> desired_;
  std::unique_ptr<Target> target_;
};

TEST_F(KubeInventoryTest, ANewObjectIsInTheInventoryBeforeItIsApplied) {
  desired_ = ParseResources(ConfigMaps({"a", "b", "c"}));
  for (const Resource& r : desired_) ASSERT_TRUE(target_->Apply(ctx_, r).ok());
  ASSERT_TRUE(target_->Flush().ok());
  EXPECT_EQ(Names(NewTarget().get()), (std::set<std::string>{"demo", "a", "b", "c"}));

  // The next commit drops a and adds d and e; the operator dies after applying d, before
  // its reconcile ends: a restarted one still finds d (and e, not applied yet) and a.
  desired_ = ParseResources(ConfigMaps({"b", "c", "d", "e"}));
  ASSERT_TRUE(target_->Apply(ctx_, desired_[2]).ok());
  target_.reset();  // no Flush: killed
  target_ = NewTarget();
  EXPECT_EQ(Names(target_.get()), (std::set<std::string>{"demo", "a", "b", "c", "d", "e"}));

  // The restarted operator's reconcile of a later commit (d dropped too) prunes a and d;
  // e was never applied: "already gone"; Flush leaves the exact set.
  desired_ = ParseResources(ConfigMaps({"b", "c"}));
  for (std::string gone : {"a", "d", "e"}) {
    auto c = target_->Remove(ctx_, ResourceId{"", "ConfigMap", "demo", gone});
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->kind, gone == "e" ? ChangeKind::kUnchanged : ChangeKind::kDeleted);
  }
  ASSERT_TRUE(target_->Flush().ok());
  EXPECT_EQ(Names(NewTarget().get()), (std::set<std::string>{"demo", "b", "c"}));
  EXPECT_EQ(server_->Get("/api/v1/namespaces/demo/configmaps/d").status().code(), Code::kNotFound);
}

// Apply orders are int64: stored past 2^32, they are read and written back as they are
// (an int would wrap them to small numbers and reorder the prune).
TEST_F(KubeInventoryTest, OrdersPastTwoToThe32AreKept) {
  desired_ = ParseResources(ConfigMaps({"a", "b"}));
  for (const Resource& r : desired_) ASSERT_TRUE(target_->Apply(ctx_, r).ok());
  ASSERT_TRUE(target_->Flush().ok());
  const std::string path = "/api/v1/namespaces/default/configmaps/plumbline-inventory-shop";
  auto cm = client_->DoJson({.path = path});
  ASSERT_TRUE(cm.ok()) << cm.status().ToString();
  auto list = resource::ParseJson(cm->FindPath({"data"})->GetString("entries"));
  ASSERT_TRUE(list.ok() && list->is_array());
  const int64_t big = int64_t{1} << 32;
  Value shifted = Value::EmptyArray();
  for (const Value& row : list->as_array()) {
    Value r = row;
    r.Set("order", big + row.Find("order")->as_int());
    shifted.Append(r);
  }
  Value patch = Value::EmptyObject();
  Value data = Value::EmptyObject();
  data.Set("entries", resource::ToJson(shifted));
  patch.Set("data", data);
  ASSERT_TRUE(client_
                  ->DoJson({.method = "PATCH",
                            .path = path,
                            .content_type = "application/merge-patch+json",
                            .body = resource::ToJson(patch)})
                  .ok());

  // A restarted operator adds c: it is ordered after a and b, and theirs stay as stored.
  target_ = NewTarget();
  desired_ = ParseResources(ConfigMaps({"a", "b", "c"}));
  ASSERT_TRUE(target_->Apply(ctx_, desired_[2]).ok());
  ASSERT_TRUE(target_->Flush().ok());
  auto inv = NewTarget()->Inventory("shop");
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  ASSERT_EQ(inv->size(), 4u);
  EXPECT_EQ(inv->back().id.name, "c");
  for (const InventoryEntry& e : *inv) EXPECT_GE(e.order, big) << e.id.name;
}

TEST_F(KubeInventoryTest, AReconcileThatAddsNothingWritesNoInventory) {
  desired_ = ParseResources(ConfigMaps({"a", "b"}));
  for (const Resource& r : desired_) ASSERT_TRUE(target_->Apply(ctx_, r).ok());
  ASSERT_TRUE(target_->Flush().ok());
  server_->ClearRequests();
  desired_ = ParseResources(
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: demo}\ndata: {k: w}\n");
  ASSERT_TRUE(target_->Apply(ctx_, desired_[0]).ok());  // a change, not a new object
  ASSERT_TRUE(target_->Flush().ok());
  for (const auto& r : server_->Requests())
    EXPECT_EQ(r.path.find("plumbline-inventory"), std::string::npos) << r.method << " " << r.path;
}

TEST_F(KubeInventoryTest, ANoOpReconcileSendsOnlyDryRunsOnceTheWatchHasListed) {
  target_->Watch([](const std::string&, const ResourceId&) {});
  desired_ = ParseResources(ConfigMaps({"a", "b", "c", "d"}));
  // Cold: the dry runs answer 201 (would create), so nothing is read before the applies.
  server_->ClearRequests();
  EXPECT_FALSE(PlanInSync());
  auto cold = Counts();
  EXPECT_EQ(cold["PATCH dry-run"], 4);
  EXPECT_EQ(cold["GET"], 0) << "no GET for objects the dry run says are absent";
  for (const Resource& r : desired_) ASSERT_TRUE(target_->Apply(ctx_, r).ok());
  ASSERT_TRUE(target_->Flush().ok());
  // Once the watch has shown plumbline's applies, a reconcile reads live objects from it.
  std::map<std::string, int> n;
  for (int64_t deadline = MonotonicMillis() + 10000; MonotonicMillis() < deadline;) {
    server_->ClearRequests();
    ASSERT_TRUE(PlanInSync());
    n = Counts();
    if (n["GET"] == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(n["PATCH dry-run"], 4);
  EXPECT_EQ(n["GET"], 0);
  EXPECT_EQ(n["PATCH"], 0);
  EXPECT_EQ(n["GET inventory"], 0);  // read once per process

  // Drift by another manager reaches the cache before the drift callback: the next plan
  // sees it without a GET.
  ASSERT_TRUE(client_
                  ->DoJson({.method = "PATCH",
                            .path = "/api/v1/namespaces/demo/configmaps/b",
                            .query = "fieldManager=kubectl-edit",
                            .content_type = "application/merge-patch+json",
                            .body = R"({"data":{"k":"edited"}})"})
                  .ok());
  bool seen = false;
  for (int64_t deadline = MonotonicMillis() + 10000; !seen && MonotonicMillis() < deadline;) {
    seen = !PlanInSync();
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(seen);
}

}  // namespace
}  // namespace plumb::target::kubernetes
