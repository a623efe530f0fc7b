// The pure parts of the pipeline: resolving environments and the promotion gate.
#include "pipeline/pipeline.h"

#include <gtest/gtest.h>

namespace plumb::pipeline {
namespace {

engine::AppView App(const std::string& name, const std::string& branch, const std::string& applied,
                    const std::string& sync = "Synced", const std::string& health = "Healthy",
                    const std::string& repo = "/r.git", const std::string& path = ".") {
  engine::AppView v;
  v.spec.name = name;
  v.spec.repo = repo;
  v.spec.branch = branch;
  v.spec.path = path;
  v.status.applied_commit = applied;
  v.status.head_commit = applied;
  v.status.sync = sync;
  v.status.health = health;
  return v;
}

const std::string kC1 = "1111111111111111111111111111111111111111";
const std::string kC2 = "2222222222222222222222222222222222222222";

TEST(GateTest, PassesOnlyWhenSyncedAndHealthyAtExactlyTheCommit) {
  EXPECT_TRUE(CheckGate({App("web-staging", "staging", kC1)}, kC1).passed);
  GateResult older = CheckGate({App("web-staging", "staging", kC2)}, kC1);
  EXPECT_FALSE(older.passed);
  EXPECT_EQ(older.checks[0].reason, "has applied 2222222, not 1111111");
  GateResult degraded = CheckGate({App("web-staging", "staging", kC1, "Synced", "Degraded")}, kC1);
  EXPECT_FALSE(degraded.passed);
  EXPECT_EQ(degraded.checks[0].reason, "is Degraded at 1111111");
  GateResult out_of_sync = CheckGate({App("a", "staging", kC1, "OutOfSync")}, kC1);
  EXPECT_FALSE(out_of_sync.passed);
  EXPECT_FALSE(CheckGate({}, kC1).passed);
}

TEST(GateTest, EveryApplicationMustPass) {
  GateResult r =
      CheckGate({App("a", "staging", kC1), App("b", "staging", kC1, "Synced", "Progressing")}, kC1);
  EXPECT_FALSE(r.passed);
  ASSERT_EQ(r.checks.size(), 2u);
  EXPECT_TRUE(r.checks[0].passed);
  EXPECT_FALSE(r.checks[1].passed);
  EXPECT_EQ(r.Summary(), "a Synced and Healthy at 1111111; b is Progressing at 1111111");
}

TEST(EnvironmentTest, ResolvesAnApplicationNameOrABranch) {
  std::vector<engine::AppView> apps = {App("web-staging", "staging", kC1),
                                       App("db-staging", "staging", kC1),
                                       App("web-prod", "production", kC1)};
  auto byname = ResolveEnvironment(apps, "web-prod");
  ASSERT_TRUE(byname.ok()) << byname.status().ToString();
  EXPECT_EQ(byname->branch, "production");
  EXPECT_EQ(byname->apps.size(), 1u);
  auto bybranch = ResolveEnvironment(apps, "staging");
  ASSERT_TRUE(bybranch.ok());
  EXPECT_EQ(bybranch->apps.size(), 2u);
  auto missing = ResolveEnvironment(apps, "qa");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("plumb env list"), std::string::npos);
}

TEST(EnvironmentTest, ABranchFollowedInSeveralRepositoriesIsAmbiguous) {
  std::vector<engine::AppView> apps = {App("a", "staging", kC1, "Synced", "Healthy", "/a.git"),
                                       App("b", "staging", kC1, "Synced", "Healthy", "/b.git")};
  EXPECT_EQ(ResolveEnvironment(apps, "staging").status().code(), Code::kInvalidArgument);
  auto in_b = ResolveEnvironment(apps, "staging", "/b.git");
  ASSERT_TRUE(in_b.ok());
  EXPECT_EQ(in_b->apps[0].spec.name, "b");
}

}  // namespace
}  // namespace plumb::pipeline
