#include "target/kubernetes/kube_target.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/fs.h"
#include "diff/diff.h"
#include "resource/codec.h"
#include "target/kubernetes/kube_test_util.h"

namespace plumb::target::kubernetes {
namespace {

using resource::Resource;
using resource::ResourceId;
using resource::Value;

std::vector<Resource> Parse(const std::string& yaml) { return ParseResources(yaml); }

constexpr const char* kApp = R"(apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  namespace: demo
data:
  greeting: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w1
  namespace: demo
spec:
  size: 3
)";

class KubeTargetTest : public KubeFixture {
 protected:
  void SetUp() override {
    KubeFixture::SetUp();
    target_ = NewTarget();
    ref_.ns = "demo";
    ctx_.app = "shop";
    ctx_.kubernetes = &ref_;
    desired_ = Parse(kApp);
    ctx_.desired = &desired_;
  }
  std::unique_ptr<Target> NewTarget() {
    auto t = NewKubeTarget({.cluster = config_,
                            .client = options_,
                            .crd_wait = Duration(5000),
                            .poll = Duration(10),
                            .watch_timeout = Duration(2000)});
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? std::move(*t) : nullptr;
  }
  void ApplyAll() {
    for (const Resource& r : desired_) {
      auto c = target_->Apply(ctx_, r);
      ASSERT_TRUE(c.ok()) << r.id().ToString() << ": " << c.status().ToString();
      EXPECT_EQ(c->kind, ChangeKind::kCreated) << r.id().ToString();
    }
    ASSERT_TRUE(target_->Flush().ok());
  }
  const Resource& Find(const std::string& kind) {
    for (const Resource& r : desired_)
      if (r.id().kind == kind) return r;
    ADD_FAILURE() << kind;
    return desired_[0];
  }
  // Expected() and Observe() agree once normalised (the engine's in-sync test).
  bool InSync(const Resource& r) {
    auto e = target_->Expected(ctx_, r);
    auto l = target_->Observe(ctx_, {r.id()});
    EXPECT_TRUE(e.ok() && l.ok());
    if (!e.ok() || !l.ok() || !(*l)[0].exists) return false;
    return diff::Normalize(*e) == diff::Normalize((*l)[0].body);
  }
  KubernetesRef ref_;
  AppContext ctx_;
  std::vector<Resource> desired_;
  std::unique_ptr<Target> target_;
};

TEST_F(KubeTargetTest, ExpectedBeforeTheNamespaceAndCrdExistIsTheApplyBody) {
  for (const Resource& r : desired_) {
    auto e = target_->Expected(ctx_, r);
    ASSERT_TRUE(e.ok()) << r.id().ToString() << ": " << e.status().ToString();
    EXPECT_EQ(e->FindPath({"metadata", "labels"})->GetString(kAppLabel), "shop");
  }
  auto live = target_->Observe(ctx_, {desired_[0].id(), Find("Widget").id()});
  ASSERT_TRUE(live.ok()) << live.status().ToString();
  EXPECT_FALSE((*live)[0].exists);
  EXPECT_FALSE((*live)[1].exists);  // kind not served yet: absent, not an error
}

TEST_F(KubeTargetTest, AppliesInStagesWithTheRealRequestShapes) {
  server_->ClearRequests();
  ApplyAll();
  // The CRD was Established before its Widget was applied.
  auto w = server_->Get("/apis/example.com/v1/namespaces/demo/widgets/w1");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->FindPath({"metadata", "labels"})->GetString(kAppLabel), "shop");
  // A Deployment without a namespace goes to spec.target.kubernetes.namespace.
  ASSERT_TRUE(server_->Get("/apis/apps/v1/namespaces/demo/deployments/web").ok());
  // Every apply is the recorded request: PATCH, the path, fieldManager=plumbline&force=true,
  // application/apply-patch+yaml, Accept application/json (11, 12, 17, 46, 49).
  std::map<std::string, std::string> recorded = {
      {"/api/v1/namespaces/demo", "11-ssa-namespace-create.json"},
      {"/api/v1/namespaces/demo/configmaps/app-config", "12-ssa-configmap-create.json"},
      {"/apis/apps/v1/namespaces/demo/deployments/web", "17-ssa-deployment-create.json"},
      {"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
       "46-ssa-crd-widgets.json"},
      {"/apis/example.com/v1/namespaces/demo/widgets/w1", "49-ssa-widget.json"}};
  int applies = 0;
  for (const auto& req : server_->Requests()) {
    if (req.method != "PATCH" || !recorded.count(req.path)) continue;
    auto rec = resource::ParseJson(
        *fs::ReadFile(std::string(PLUMB_KUBE_TESTDATA) + "/" + recorded[req.path]));
    const Value& want = *rec->Find("request");
    EXPECT_EQ(req.query, want.GetString("query")) << req.path;
    EXPECT_EQ(req.content_type, want.FindPath({"headers"})->GetString("Content-Type"));
    EXPECT_EQ(req.accept, want.FindPath({"headers"})->GetString("Accept"));
    EXPECT_TRUE(req.authorized);
    applies++;
  }
  EXPECT_EQ(applies, 5);
  for (const Resource& r : desired_) EXPECT_TRUE(InSync(r)) << r.id().ToString();
}

TEST_F(KubeTargetTest, DriftByAnotherManagerShowsAndApplyHealsIt) {
  ApplyAll();
  const Resource& web = Find("Deployment");
  // kubectl scale / edit: a merge patch by another field manager (19).
  ASSERT_TRUE(client_
                  ->DoJson({.method = "PATCH",
                            .path = "/apis/apps/v1/namespaces/demo/deployments/web",
                            .query = "fieldManager=kubectl-edit",
                            .content_type = "application/merge-patch+json",
                            .body = R"({"spec":{"replicas":5}})"})
                  .ok());
  EXPECT_FALSE(InSync(web));
  auto e = target_->Expected(ctx_, web);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->FindPath({"spec", "replicas"})->as_int(), 3);  // force takes it back
  auto c = target_->Apply(ctx_, web);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kind, ChangeKind::kConfigured);
  auto live = server_->Get("/apis/apps/v1/namespaces/demo/deployments/web");
  EXPECT_EQ(live->FindPath({"spec", "replicas"})->as_int(), 3);
  EXPECT_TRUE(InSync(web));
  // A field removed from git goes from the live object too.
  desired_ = Parse(R"(apiVersion: v1
kind: ConfigMap
metadata: {name: app-config, namespace: demo}
data: {other: x}
)");
  EXPECT_FALSE(InSync(desired_[0]));
  ASSERT_TRUE(target_->Apply(ctx_, desired_[0]).ok());
  auto cm = server_->Get("/api/v1/namespaces/demo/configmaps/app-config");
  EXPECT_EQ(cm->Find("data")->Find("greeting"), nullptr);
}

TEST_F(KubeTargetTest, PruneReadsTheObjectEvenWhenAnEarlierDryRunSaidAbsent) {
  // A pass whose dry run found the ConfigMap absent and that failed before its Observe
  // leaves that mark behind; the object appears meanwhile (another operator replica
  // applied it). Pruning it later must look, not trust the mark.
  ApplyAll();
  const Resource cm = Find("ConfigMap");
  const std::string path = "/api/v1/namespaces/demo/configmaps/app-config";
  auto other = NewTarget();
  ASSERT_TRUE(other->Remove(ctx_, cm.id()).ok());
  ASSERT_EQ(server_->Get(path).status().code(), Code::kNotFound);
  ASSERT_TRUE(target_->Expected(ctx_, cm).ok());  // 201: would create
  ASSERT_TRUE(other->Apply(ctx_, cm).ok());
  ASSERT_TRUE(server_->Get(path).ok());
  auto del = target_->Remove(ctx_, cm.id());
  ASSERT_TRUE(del.ok()) << del.status().ToString();
  EXPECT_EQ(del->kind, ChangeKind::kDeleted) << del->message;
  EXPECT_EQ(server_->Get(path).status().code(), Code::kNotFound);
}

TEST_F(KubeTargetTest, InventoryIsKeptInTheClusterAndPruneDeletesOnlyWhatIsOurs) {
  ApplyAll();
  auto inv = NewTarget()->Inventory("shop");  // a restarted operator reads it back
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  ASSERT_EQ(inv->size(), 5u);
  EXPECT_EQ((*inv)[0].id.kind, "Namespace");  // apply order kept
  EXPECT_EQ((*inv)[4].id.kind, "Widget");

  server_->ClearRequests();
  auto del = target_->Remove(ctx_, Find("ConfigMap").id());
  ASSERT_TRUE(del.ok()) << del.status().ToString();
  EXPECT_EQ(del->kind, ChangeKind::kDeleted);
  EXPECT_EQ(server_->Get("/api/v1/namespaces/demo/configmaps/app-config").status().code(),
            Code::kNotFound);
  // The DELETE is the recorded one (34): DeleteOptions with propagationPolicy Background.
  auto rec = resource::ParseJson(
      *fs::ReadFile(std::string(PLUMB_KUBE_TESTDATA) + "/34-delete-configmap-background.json"));
  bool seen = false;
  for (const auto& req : server_->Requests())
    if (req.method == "DELETE") {
      seen = true;
      EXPECT_EQ(req.content_type, "application/json");
      EXPECT_EQ(*resource::ParseJson(req.body), *rec->FindPath({"request", "body"}));
      EXPECT_EQ(req.query, "");
    }
  EXPECT_TRUE(seen);

  // Someone else's object of the same name is never deleted.
  ASSERT_TRUE(client_
                  ->DoJson({.method = "PATCH",
                            .path = "/apis/apps/v1/namespaces/demo/deployments/web",
                            .query = "fieldManager=kubectl-edit",
                            .content_type = "application/merge-patch+json",
                            .body = R"({"metadata":{"labels":{"app.plumbline.dev/name":null}}})"})
                  .ok());
  auto skip = target_->Remove(ctx_, Find("Deployment").id());
  ASSERT_TRUE(skip.ok());
  EXPECT_EQ(skip->kind, ChangeKind::kSkipped);
  EXPECT_TRUE(server_->Get("/apis/apps/v1/namespaces/demo/deployments/web").ok());

  // plumbline.dev/prune: disabled keeps the object; Foreground by annotation.
  desired_ = Parse(R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: keep
  namespace: demo
  annotations: {plumbline.dev/prune: disabled}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: fg
  namespace: demo
  annotations: {plumbline.dev/prune-propagation: Foreground}
)");
  for (const Resource& r : desired_) ASSERT_TRUE(target_->Apply(ctx_, r).ok());
  auto kept = target_->Remove(ctx_, desired_[0].id());
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->kind, ChangeKind::kSkipped);
  EXPECT_TRUE(server_->Get("/api/v1/namespaces/demo/configmaps/keep").ok());
  server_->ClearRequests();
  ASSERT_EQ(target_->Remove(ctx_, desired_[1].id())->kind, ChangeKind::kDeleted);
  for (const auto& req : server_->Requests()) {
    if (req.method == "DELETE") {
      EXPECT_NE(req.body.find("\"Foreground\""), std::string::npos) << req.body;
    }
  }
  ASSERT_TRUE(target_->Flush().ok());
  inv = NewTarget()->Inventory("shop");
  ASSERT_TRUE(inv.ok());
  for (const auto& e : *inv) {
    EXPECT_NE(e.id.name, "keep");  // left the inventory, stays in the cluster
    EXPECT_NE(e.id.name, "app-config");
  }
}

TEST_F(KubeTargetTest, UnservedKindIsAClearError) {
  auto r = Parse("apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n");
  auto c = target_->Apply(ctx_, r[0]);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("does not serve example.com/v1"), std::string::npos)
      << c.status().message();
  auto e = target_->Expected(ctx_, r[0]);
  ASSERT_FALSE(e.ok());
}

TEST_F(KubeTargetTest, HealthFollowsTheControllersStatus) {
  ApplyAll();
  auto live = target_->Observe(
      ctx_,
      {Find("Deployment").id(), Find("CustomResourceDefinition").id(), Find("ConfigMap").id()});
  ASSERT_TRUE(live.ok());
  EXPECT_EQ(target_->AssessHealth(ctx_, (*live)[0]).status, HealthStatus::kProgressing);
  EXPECT_EQ(target_->AssessHealth(ctx_, (*live)[1]).status, HealthStatus::kHealthy);
  EXPECT_EQ(target_->AssessHealth(ctx_, (*live)[2]).status, HealthStatus::kHealthy);
  auto status = resource::ParseJson(
      R"({"observedGeneration":1,"replicas":3,"updatedReplicas":3,"readyReplicas":3,"availableReplicas":3})");
  ASSERT_TRUE(server_->SetStatus("/apis/apps/v1/namespaces/demo/deployments/web", *status).ok());
  live = target_->Observe(ctx_, {Find("Deployment").id()});
  EXPECT_EQ(target_->AssessHealth(ctx_, (*live)[0]).status, HealthStatus::kHealthy);
  EXPECT_EQ(target_->AssessHealth(ctx_, LiveObject{.id = Find("ConfigMap").id()}).status,
            HealthStatus::kMissing);
}

TEST_F(KubeTargetTest, WatchReportsChangesByOthersOnceAndRelistsAfter410) {
  std::mutex mu;
  std::vector<std::string> drifted;
  target_->Watch([&](const std::string& app, const ResourceId& id) {
    std::lock_guard<std::mutex> lock(mu);
    drifted.push_back(app + " " + id.ToString());
  });
  ApplyAll();
  int replicas = 4;
  // Edits the Deployment as kubectl would until the drift count reaches n. The watch may
  // begin after an edit (its initial list then already holds it), so edit again until seen.
  auto edit_until = [&](size_t n) {
    for (int64_t deadline = MonotonicMillis() + 10000; MonotonicMillis() < deadline;) {
      ASSERT_TRUE(
          client_
              ->DoJson({.method = "PATCH",
                        .path = "/apis/apps/v1/namespaces/demo/deployments/web",
                        .query = "fieldManager=kubectl-edit",
                        .content_type = "application/merge-patch+json",
                        .body = "{\"spec\":{\"replicas\":" + std::to_string(++replicas) + "}}"})
              .ok());
      for (int i = 0; i < 20; ++i) {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (drifted.size() >= n) return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    ADD_FAILURE() << "no drift reported";
  };
  edit_until(1);
  size_t seen;
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(drifted[0], "shop apps/Deployment/demo/web");
    seen = drifted.size();
  }
  // plumbline's own apply (healing) and its prune are not drift.
  ASSERT_TRUE(target_->Apply(ctx_, Find("Deployment")).ok());
  ASSERT_TRUE(target_->Remove(ctx_, Find("ConfigMap").id()).ok());
  // The API server loses its history and drops the streams: the watch lists again.
  server_->Compact();
  server_->CloseWatches();
  edit_until(seen + 1);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_GE(drifted.size(), seen + 1);
  for (size_t i = seen; i < drifted.size(); ++i)
    EXPECT_EQ(drifted[i], "shop apps/Deployment/demo/web");
}

TEST_F(KubeTargetTest, ARestartedTargetWatchesWhatItsInventoryHolds) {
  ApplyAll();
  target_.reset();  // the operator restarts; everything is in sync, nothing is applied
  auto restarted = NewTarget();
  std::atomic<int> drifts{0};
  restarted->Watch([&](const std::string& app, const ResourceId& id) {
    if (app == "shop" && id.kind == "ConfigMap") drifts++;
  });
  ASSERT_TRUE(restarted->Inventory("shop").ok());
  // The watch may start after this edit: its initial list gives the version to start
  // from, so the edit is caught only if it comes later. Edit until it is seen.
  int edits = 0;
  for (int64_t deadline = MonotonicMillis() + 10000;
       drifts.load() == 0 && MonotonicMillis() < deadline;) {
    std::string body = R"({"data":{"greeting":"edited-)" + std::to_string(++edits) + R"("}})";
    ASSERT_TRUE(client_
                    ->DoJson({.method = "PATCH",
                              .path = "/api/v1/namespaces/demo/configmaps/app-config",
                              .query = "fieldManager=kubectl-edit",
                              .content_type = "application/merge-patch+json",
                              .body = body})
                    .ok());
    for (int i = 0; i < 20 && drifts.load() == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(drifts.load(), 0);
}

}  // namespace
}  // namespace plumb::target::kubernetes
