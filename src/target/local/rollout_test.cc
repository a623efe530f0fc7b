#include "target/local/rollout.h"

#include <gtest/gtest.h>

namespace plumb::target::local {
namespace {

std::vector<ReplicaView> Make(int old_ready, int old_unready, int cur_ready, int cur_unready) {
  std::vector<ReplicaView> out;
  int slot = 0;
  for (int i = 0; i < old_ready; ++i) out.push_back({slot++, false, true});
  for (int i = 0; i < old_unready; ++i) out.push_back({slot++, false, false});
  for (int i = 0; i < cur_ready; ++i) out.push_back({slot++, true, true});
  for (int i = 0; i < cur_unready; ++i) out.push_back({slot++, true, false});
  return out;
}

TEST(RolloutTest, FreshProcessStartsEveryReplica) {
  RolloutStep s = PlanRollout(3, 1, 0, {});
  EXPECT_EQ(s.start, 3);
  EXPECT_TRUE(s.stop.empty());
  EXPECT_FALSE(s.done);
}

TEST(RolloutTest, SteadyStateIsDone) {
  RolloutStep s = PlanRollout(3, 1, 0, Make(0, 0, 3, 0));
  EXPECT_EQ(s.start, 0);
  EXPECT_TRUE(s.stop.empty());
  EXPECT_TRUE(s.done);
}

TEST(RolloutTest, SurgeOneUnavailableZeroNeverDropsBelowWant) {
  // 3 old ready: start one new (surge), stop nothing.
  RolloutStep s = PlanRollout(3, 1, 0, Make(3, 0, 0, 0));
  EXPECT_EQ(s.start, 1);
  EXPECT_TRUE(s.stop.empty());
  // The new one is not ready yet: wait.
  s = PlanRollout(3, 1, 0, Make(3, 0, 0, 1));
  EXPECT_EQ(s.start, 0);
  EXPECT_TRUE(s.stop.empty());
  // It is ready: one old may go.
  s = PlanRollout(3, 1, 0, Make(3, 0, 1, 0));
  EXPECT_EQ(s.start, 0);
  ASSERT_EQ(s.stop.size(), 1u);
  EXPECT_FALSE(s.done);
}

TEST(RolloutTest, UnavailableOneWithoutSurgeStopsFirst) {
  RolloutStep s = PlanRollout(3, 0, 1, Make(3, 0, 0, 0));
  EXPECT_EQ(s.start, 0);
  EXPECT_EQ(s.stop.size(), 1u);
  s = PlanRollout(3, 0, 1, Make(2, 0, 0, 0));
  EXPECT_EQ(s.start, 1);
  EXPECT_TRUE(s.stop.empty());
}

TEST(RolloutTest, BrokenNewVersionKeepsOldServing) {
  // New replicas never become ready: the old ones stay (3 - 1 unavailable = 2 ready).
  RolloutStep s = PlanRollout(3, 1, 1, Make(2, 0, 0, 2));
  EXPECT_EQ(s.start, 0);
  EXPECT_TRUE(s.stop.empty());
}

TEST(RolloutTest, UnreadyOldReplicasGoFirstAndFreely) {
  RolloutStep s = PlanRollout(3, 1, 0, Make(0, 3, 0, 0));
  EXPECT_EQ(s.stop.size(), 3u);
  EXPECT_EQ(s.start, 1);
}

TEST(RolloutTest, ScaleDownStopsHighestSlotsAndUnreadyFirst) {
  auto reps = Make(0, 0, 4, 1);  // slots 0-3 ready, slot 4 unready
  RolloutStep s = PlanRollout(2, 1, 0, reps);
  ASSERT_EQ(s.stop.size(), 3u);
  EXPECT_EQ(reps[s.stop[0]].slot, 4);
  EXPECT_EQ(reps[s.stop[1]].slot, 3);
  EXPECT_EQ(reps[s.stop[2]].slot, 2);
}

TEST(RolloutTest, ScaleUpIgnoresSurge) {
  RolloutStep s = PlanRollout(5, 0, 1, Make(0, 0, 3, 0));
  EXPECT_EQ(s.start, 2);
}

TEST(RolloutTest, ScaleToZeroStopsEverything) {
  RolloutStep s = PlanRollout(0, 1, 0, Make(1, 0, 2, 0));
  EXPECT_EQ(s.stop.size(), 3u);
  EXPECT_EQ(s.start, 0);
}

}  // namespace
}  // namespace plumb::target::local
