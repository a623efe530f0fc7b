#include "target/kubernetes/kube_hooks.h"

#include <gtest/gtest.h>

#include "target/kubernetes/kube_target.h"
#include "target/kubernetes/kube_test_util.h"

namespace plumb::target::kubernetes {
namespace {

using resource::Resource;
using resource::ResourceId;
using resource::Value;

constexpr const char* kJobPath = "/apis/batch/v1/namespaces/demo/jobs/migrate";

// A PreSync hook Job as the engine hands it to the target for run `run`.
Resource HookJob(const std::string& run, const std::string& policy = "",
                 const std::string& command = "true", const std::string& extra = "") {
  std::string yaml =
      "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n"
      "  annotations:\n    plumbline.dev/hook: PreSync\n"
      "    plumbline.dev/hook-run: \"" +
      run + "\"\n" + extra;
  if (!policy.empty()) yaml += "    plumbline.dev/hook-delete-policy: " + policy + "\n";
  yaml +=
      "spec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n"
      "      containers:\n      - name: m\n        image: busybox\n        command: [" +
      command + "]\n";
  return ParseResources(yaml)[0];
}

class KubeHooksTest : public KubeFixture {
 protected:
  void SetUp() override {
    fake_options_.controllers = true;  // Jobs complete (or fail) as the Job controller would
    KubeFixture::SetUp();
    auto t = NewKubeTarget({.cluster = config_,
                            .client = options_,
                            .hook_delete_wait = Duration(5000),
                            .poll = Duration(10),
                            .watch_timeout = Duration(2000)});
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    target_ = std::move(*t);
    ref_.ns = "demo";
    ctx_ = {.app = "shop", .kubernetes = &ref_, .desired = &desired_};
    auto ns = ParseResources("apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n");
    ASSERT_TRUE(target_->Apply(ctx_, ns[0]).ok());
  }
  // Observes the hook until it is no longer Progressing (as the engine waits).
  Health Wait(const Resource& hook) {
    Health h;
    for (int64_t deadline = MonotonicMillis() + 10000; MonotonicMillis() < deadline;) {
      auto live = target_->Observe(ctx_, {hook.id()});
      EXPECT_TRUE(live.ok()) << live.status().ToString();
      if (!live.ok()) break;
      h = target_->AssessHealth(ctx_, (*live)[0]);
      if (h.status != HealthStatus::kProgressing) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return h;
  }
  std::string Uid() {
    auto job = server_->Get(kJobPath);
    return job.ok() ? job->FindPath({"metadata", "uid"})->as_string() : "";
  }
  int Deletes() {
    int n = 0;
    for (const auto& r : server_->Requests()) n += r.method == "DELETE" && r.path == kJobPath;
    return n;
  }
  KubernetesRef ref_;
  AppContext ctx_;
  std::vector<Resource> desired_;
  std::unique_ptr<Target> target_;
};

TEST_F(KubeHooksTest, EachRunIsANewJobAndTheRunBeforeIsDeletedFirst) {
  // The Job runs 200 ms: the target shows it running, then complete.
  Resource run1 = HookJob("1", "", "true", "    fake.plumbline.dev/job-duration-ms: \"200\"\n");
  auto c = target_->Apply(ctx_, run1);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kind, ChangeKind::kCreated);
  auto live = target_->Observe(ctx_, {run1.id()});
  ASSERT_TRUE(live.ok());
  EXPECT_EQ(target_->AssessHealth(ctx_, (*live)[0]).status, HealthStatus::kProgressing);
  EXPECT_EQ(Wait(run1).status, HealthStatus::kHealthy);
  std::string first = Uid();
  ASSERT_FALSE(first.empty());  // BeforeHookCreation (the default) keeps a finished run

  // The next sync's run: the old Job is deleted (and gone) before the new one is created.
  server_->ClearRequests();
  Resource run2 = HookJob("2");
  c = target_->Apply(ctx_, run2);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kind, ChangeKind::kCreated);
  EXPECT_EQ(Deletes(), 1);
  std::string second = Uid();
  EXPECT_NE(second, first);
  auto job = server_->Get(kJobPath);
  EXPECT_EQ(job->FindPath({"metadata", "annotations"})->GetString(kHookRunAnnotation), "2");
  EXPECT_EQ(Wait(run2).status, HealthStatus::kHealthy);
}

TEST_F(KubeHooksTest, AFailedJobIsDegradedWithTheControllersReason) {
  Resource run = HookJob("1", "", "\"false\"");
  ASSERT_TRUE(target_->Apply(ctx_, run).ok());
  Health h = Wait(run);
  EXPECT_EQ(h.status, HealthStatus::kDegraded);
  EXPECT_NE(h.message.find("backoff limit"), std::string::npos) << h.message;
  EXPECT_TRUE(server_->Get(kJobPath).ok());  // BeforeHookCreation: kept until the next run
}

TEST_F(KubeHooksTest, HookSucceededAndHookFailedDeleteTheFinishedRun) {
  Resource ok = HookJob("1", "HookSucceeded");
  ASSERT_TRUE(target_->Apply(ctx_, ok).ok());
  EXPECT_EQ(Wait(ok).status, HealthStatus::kHealthy);  // what the engine judges by
  EXPECT_EQ(server_->Get(kJobPath).status().code(), Code::kNotFound);
  ASSERT_TRUE(target_->Flush().ok());
  auto inv = target_->Inventory("shop");
  ASSERT_TRUE(inv.ok());
  for (const auto& e : *inv) EXPECT_NE(e.id.kind, "Job");  // deleted: no longer owned

  // HookSucceeded only: a failed run stays, to be looked at.
  Resource failed_kept = HookJob("2", "HookSucceeded,BeforeHookCreation", "\"false\"");
  ASSERT_TRUE(target_->Apply(ctx_, failed_kept).ok());
  EXPECT_EQ(Wait(failed_kept).status, HealthStatus::kDegraded);
  EXPECT_TRUE(server_->Get(kJobPath).ok());

  Resource failed = HookJob("3", "HookFailed,BeforeHookCreation", "\"false\"");
  ASSERT_TRUE(target_->Apply(ctx_, failed).ok());
  EXPECT_EQ(Wait(failed).status, HealthStatus::kDegraded);
  EXPECT_EQ(server_->Get(kJobPath).status().code(), Code::kNotFound);
}

TEST_F(KubeHooksTest, AnEarlierRunWithoutBeforeHookCreationIsAClearError) {
  Resource run1 = HookJob("1", "HookFailed");
  ASSERT_TRUE(target_->Apply(ctx_, run1).ok());
  EXPECT_EQ(Wait(run1).status, HealthStatus::kHealthy);  // succeeded: kept
  auto c = target_->Apply(ctx_, HookJob("2", "HookFailed"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("has no BeforeHookCreation"), std::string::npos)
      << c.status().message();
  // An unknown policy names itself.
  c = target_->Apply(ctx_, HookJob("3", "WhenDone"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("unknown policy \"WhenDone\""), std::string::npos)
      << c.status().message();
}

}  // namespace
}  // namespace plumb::target::kubernetes
