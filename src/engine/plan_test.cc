#include "engine/plan.h"

#include <gtest/gtest.h>

#include "resource/codec.h"

namespace plumb::engine {
namespace {
using resource::Resource;
using resource::Value;

Resource Make(const std::string& kind, const std::string& name, int wave = 0) {
  Value v;
  v.Set("apiVersion", "local.plumbline.dev/v1");
  v.Set("kind", kind);
  Value& md = v.Set("metadata", Value::EmptyObject());
  md.Set("name", name);
  if (wave)
    md.Set("annotations", Value::EmptyObject())
        .Set("plumbline.dev/sync-wave", std::to_string(wave));
  return *Resource::FromValue(v, {"x.yaml", 1});
}

TEST(PlanTest, OrdersByWaveThenKindThenFileOrder) {
  std::vector<Resource> d = {Make("File", "a"), Make("ConfigMap", "b"), Make("File", "c", -1),
                             Make("Process", "d"), Make("File", "e")};
  auto order = ApplyOrder(d);
  std::vector<std::string> names;
  for (size_t i : order) names.push_back(d[i].id().name);
  EXPECT_EQ(names, (std::vector<std::string>{"c", "b", "a", "e", "d"}));
}

TEST(PlanTest, PairsDesiredWithLiveAndPrunesOnlyInventory) {
  std::vector<Resource> d = {Make("File", "same"), Make("File", "changed"), Make("File", "new")};
  PlanInput in;
  in.desired = &d;
  in.order = ApplyOrder(d);
  for (auto& r : d) {
    in.expected.push_back(r.body());
    in.expected_error.push_back("");
  }
  in.live_desired.resize(3);
  in.live_desired[0] = {d[0].id(), true, d[0].body()};
  Value changed = d[1].body();
  changed.Set("spec", Value::EmptyObject()).Set("content", "old");
  in.live_desired[1] = {d[1].id(), true, changed};
  in.live_desired[2] = {d[2].id(), false, Value()};
  Resource gone = Make("File", "gone");
  Resource first = Make("File", "first-owned");
  in.inventory = {{first.id(), 0, ""}, {d[0].id(), 1, ""}, {gone.id(), 2, ""}};
  in.live_inventory = {{first.id(), true, first.body()},
                       {d[0].id(), true, d[0].body()},
                       {gone.id(), true, gone.body()}};
  Plan p = MakePlan(in);
  ASSERT_EQ(p.apply.size(), 3u);
  EXPECT_EQ(p.apply[0].action, Action::kNoop);
  EXPECT_EQ(p.apply[1].action, Action::kUpdate);
  EXPECT_EQ(p.apply[2].action, Action::kCreate);
  ASSERT_EQ(p.prune.size(), 2u);
  EXPECT_EQ(p.prune[0].id.name, "gone");  // reverse apply order
  EXPECT_EQ(p.prune[1].id.name, "first-owned");
  EXPECT_FALSE(p.InSync());
}

TEST(PlanTest, InvalidExpectedIsNotApplied) {
  std::vector<Resource> d = {Make("File", "bad")};
  PlanInput in;
  in.desired = &d;
  in.order = ApplyOrder(d);
  in.expected = {Value()};
  in.expected_error = {"spec.path escapes"};
  in.live_desired = {{d[0].id(), false, Value()}};
  Plan p = MakePlan(in);
  EXPECT_EQ(p.apply[0].action, Action::kInvalid);
  EXPECT_EQ(p.apply[0].error, "spec.path escapes");
}

}  // namespace
}  // namespace plumb::engine
