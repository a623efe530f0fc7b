#include "engine/hooks.h"

#include <gtest/gtest.h>

namespace plumb::engine {
namespace {
using resource::Resource;
using resource::Value;

Resource Make(const std::string& kind, const std::string& name, const std::string& hook,
              int wave = 0, int line = 1) {
  Value v;
  v.Set("apiVersion", "local.plumbline.dev/v1");
  v.Set("kind", kind);
  Value& md = v.Set("metadata", Value::EmptyObject());
  md.Set("name", name);
  Value& ann = md.Set("annotations", Value::EmptyObject());
  if (!hook.empty()) ann.Set(kHookAnnotation, hook);
  if (wave) ann.Set("plumbline.dev/sync-wave", std::to_string(wave));
  return *Resource::FromValue(v, {"hooks.yaml", line});
}

std::vector<std::vector<std::string>> Names(const std::vector<Resource>& hooks, HookPhase phase) {
  std::vector<std::vector<std::string>> out;
  for (const auto& group : HookGroups(hooks, phase)) {
    out.emplace_back();
    for (size_t i : group) out.back().push_back(hooks[i].id().name);
  }
  return out;
}

TEST(HooksTest, ParsesPhasesCommaSeparated) {
  EXPECT_EQ(*HookPhases(Make("Job", "plain", "")), 0u);
  EXPECT_EQ(*HookPhases(Make("Job", "pre", "PreSync")), unsigned{kPreSync});
  EXPECT_EQ(*HookPhases(Make("Job", "both", " PostSync , SyncFail")),
            unsigned{kPostSync | kSyncFail});
}

TEST(HooksTest, UnknownPhaseNamesFileLineAndTheWord) {
  auto r = HookPhases(Make("Job", "typo", "PreSnyc", 0, 7));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("hooks.yaml:7"), std::string::npos);
  EXPECT_NE(r.status().message().find("\"PreSnyc\""), std::string::npos);
}

TEST(HooksTest, GroupsOnePhaseByWaveThenKindThenFileOrder) {
  std::vector<Resource> hooks = {
      Make("Job", "migrate", "PreSync"),     Make("Job", "notify", "PostSync"),
      Make("Job", "backup", "PreSync", -1),  Make("Job", "cleanup", "SyncFail"),
      Make("ConfigMap", "flags", "PreSync"), Make("Job", "smoke", "PostSync,SyncFail", 2),
      Make("Job", "warm", "PreSync", 0, 9)};
  EXPECT_EQ(Names(hooks, kPreSync),
            (std::vector<std::vector<std::string>>{{"backup"}, {"flags", "migrate", "warm"}}));
  EXPECT_EQ(Names(hooks, kPostSync),
            (std::vector<std::vector<std::string>>{{"notify"}, {"smoke"}}));
  EXPECT_EQ(Names(hooks, kSyncFail),
            (std::vector<std::vector<std::string>>{{"cleanup"}, {"smoke"}}));
}

TEST(HooksTest, NoHooksOfAPhaseMeansNoGroups) {
  std::vector<Resource> hooks = {Make("Job", "pre", "PreSync")};
  EXPECT_TRUE(HookGroups(hooks, kSyncFail).empty());
  EXPECT_TRUE(HookGroups({}, kPreSync).empty());
}

TEST(HooksTest, SettleWaitsOnProgressingAndFailsOnDegraded) {
  using H = target::HealthStatus;
  EXPECT_EQ(SettleOf(H::kProgressing, true), Settle::kWaiting);
  EXPECT_EQ(SettleOf(H::kProgressing, false), Settle::kWaiting);
  EXPECT_EQ(SettleOf(H::kHealthy, true), Settle::kDone);
  EXPECT_EQ(SettleOf(H::kDegraded, true), Settle::kFailed);
  EXPECT_EQ(SettleOf(H::kDegraded, false), Settle::kFailed);
  // A hook whose run vanished failed; an applied resource without health is done.
  EXPECT_EQ(SettleOf(H::kMissing, true), Settle::kFailed);
  EXPECT_EQ(SettleOf(H::kMissing, false), Settle::kDone);
  EXPECT_EQ(SettleOf(H::kUnknown, true), Settle::kDone);
  EXPECT_EQ(SettleOf(H::kSuspended, false), Settle::kDone);
}

TEST(HooksTest, WaveStartsOnlyWhereTheWaveChanges) {
  EXPECT_TRUE(WaveStarts({}).empty());
  EXPECT_TRUE(WaveStarts({0, 0, 0}).empty());
  EXPECT_EQ(WaveStarts({-1, 0, 0, 2}), (std::vector<size_t>{1, 3}));
}

TEST(HooksTest, DeadlineIsActiveDeadlineSecondsPlusGraceElseTheFallback) {
  Resource plain = Make("Job", "a", "PreSync");
  EXPECT_EQ(HookDeadline(plain, Duration(600000), Duration(2000)), Duration(600000));
  Value body = plain.body();
  body.Set("spec", Value::EmptyObject()).Set("activeDeadlineSeconds", 30);
  Resource limited = *Resource::FromValue(body, {"hooks.yaml", 1});
  EXPECT_EQ(HookDeadline(limited, Duration(600000), Duration(2000)), Duration(32000));
  body.Set("spec", Value::EmptyObject()).Set("activeDeadlineSeconds", 0);
  Resource zero = *Resource::FromValue(body, {"hooks.yaml", 1});
  EXPECT_EQ(HookDeadline(zero, Duration(600000), Duration(2000)), Duration(600000));
}

}  // namespace
}  // namespace plumb::engine
