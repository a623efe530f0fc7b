#include "engine/plan.h"

#include <gtest/gtest.h>

#include "engine/id_index.h"
#include "engine/plan_memo.h"
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
  in.live_desired[0] = {true, d[0].body()};
  Value changed = d[1].body();
  changed.Set("spec", Value::EmptyObject()).Set("content", "old");
  in.live_desired[1] = {true, changed};
  in.live_desired[2] = {false, Value()};
  Resource gone = Make("File", "gone");
  Resource first = Make("File", "first-owned");
  in.inventory = std::make_shared<const std::vector<target::InventoryEntry>>(
      std::vector<target::InventoryEntry>{
          {first.id(), 0, {}}, {d[0].id(), 1, {}}, {gone.id(), 2, {}}});
  in.live_inventory = {{true, first.body()}, {true, d[0].body()}, {true, gone.body()}};
  Plan p = MakePlan(in);
  ASSERT_EQ(p.apply.size(), 3u);
  EXPECT_EQ(p.apply[0].action, Action::kNoop);
  EXPECT_EQ(p.apply[1].action, Action::kUpdate);
  EXPECT_EQ(p.apply[2].action, Action::kCreate);
  ASSERT_EQ(p.prune.size(), 2u);
  EXPECT_EQ(p.prune[0].id->name, "gone");  // reverse apply order
  EXPECT_EQ(p.prune[1].id->name, "first-owned");
  EXPECT_FALSE(p.InSync());
}

TEST(PlanTest, InvalidExpectedIsNotApplied) {
  std::vector<Resource> d = {Make("File", "bad")};
  PlanInput in;
  in.desired = &d;
  in.order = ApplyOrder(d);
  in.expected = {Value()};
  in.expected_error = {"spec.path escapes"};
  in.live_desired = {{false, Value()}};
  Plan p = MakePlan(in);
  EXPECT_EQ(p.apply[0].action, Action::kInvalid);
  EXPECT_EQ(p.apply[0].error.str(), "spec.path escapes");
}

TEST(PlanTest, AsAppliedItemsAreNoopsWithoutBodies) {
  std::vector<Resource> d = {Make("File", "kept"), Make("File", "edited")};
  PlanInput in;
  in.desired = &d;
  in.order = ApplyOrder(d);
  in.expected = {Value(), d[1].body()};
  in.expected_error = {"", ""};
  in.live_desired = {{}, {false, Value()}};
  in.as_applied = {true, false};
  Plan p = MakePlan(in);
  ASSERT_EQ(p.apply.size(), 2u);
  EXPECT_EQ(p.apply[0].action, Action::kNoop);
  EXPECT_TRUE(p.apply[0].as_applied);
  EXPECT_TRUE(p.apply[0].expected.is_null());
  EXPECT_EQ(p.apply[1].action, Action::kCreate);
  EXPECT_FALSE(p.apply[1].as_applied);
}

Resource WithContent(const std::string& name, const std::string& content) {
  Resource r = Make("File", name);
  r.mutable_body().Set("spec", Value::EmptyObject()).Set("content", content);
  return r;
}

TEST(PlanTest, ExpectedErrorsMayBeLeftEmptyAndLiveBodiesCarryNoIdentity) {
  std::vector<Resource> d = {Make("File", "same"), Make("File", "new")};
  PlanInput in;
  in.desired = &d;
  in.order = ApplyOrder(d);
  in.expected = {d[0].body(), d[1].body()};
  // No error for any resource: expected_error left empty rather than a "" per resource.
  in.live_desired = {LiveBody{true, d[0].body()}, LiveBody{}};
  Plan p = MakePlan(in);
  ASSERT_EQ(p.apply.size(), 2u);
  EXPECT_EQ(p.apply[0].action, Action::kNoop);
  EXPECT_EQ(p.apply[0].id->name, "same");  // the identity is the desired resource's
  EXPECT_EQ(&p.apply[0].id.get(), &d[0].id());
  EXPECT_EQ(p.apply[1].action, Action::kCreate);
  EXPECT_TRUE(p.apply[1].error.empty());
}

TEST(PlanMemoTest, RemembersOnlyUnchangedResourcesOfTheLastPass) {
  PlanMemo memo;
  auto one = std::make_shared<const std::vector<Resource>>(
      std::vector<Resource>{WithContent("a", "1"), WithContent("b", "1"), WithContent("c", "1")});
  memo.Begin("web", one);
  for (size_t i = 0; i < 3; ++i) EXPECT_FALSE(memo.Find(i));
  memo.Put(0, target::HexDigest("aa"));
  memo.Put(1, target::HexDigest("bb"));  // c: not hashed (nothing applied to compare with)
  memo.End();

  // The same set again (a no-op pass): every remembered hash comes back.
  memo.Begin("web", one);
  ASSERT_TRUE(memo.Find(0));
  EXPECT_EQ(memo.Find(0)->Hex(), "aa");
  EXPECT_EQ(memo.Find(1)->Hex(), "bb");
  EXPECT_FALSE(memo.Find(2));
  memo.End();

  // A new commit: b changed, a is the same in a new vector, c was deleted, d is new.
  auto two = std::make_shared<const std::vector<Resource>>(
      std::vector<Resource>{WithContent("a", "1"), WithContent("b", "2"), WithContent("d", "1")});
  memo.Begin("web", two);
  ASSERT_TRUE(memo.Find(0));
  EXPECT_EQ(memo.Find(0)->Hex(), "aa");
  EXPECT_FALSE(memo.Find(1)) << "a changed body must be asked again";
  EXPECT_FALSE(memo.Find(2));
  memo.Put(1, target::HexDigest("b2"));
  memo.End();
  one.reset();  // the memo keeps what it points into

  memo.Begin("web", two);
  EXPECT_EQ(memo.Find(1)->Hex(), "b2");
  // A pass that fails before End() changes nothing.
  auto three =
      std::make_shared<const std::vector<Resource>>(std::vector<Resource>{WithContent("a", "3")});
  memo.Begin("web", three);
  EXPECT_FALSE(memo.Find(0));
  memo.Begin("web", two);
  EXPECT_EQ(memo.Find(0)->Hex(), "aa");
  memo.End();

  // Another context (local root, cluster): everything is asked again.
  memo.Begin("web\n/srv/other", two);
  EXPECT_FALSE(memo.Find(0));
  memo.End();
  EXPECT_EQ(memo.size(), 0u);
}

TEST(PlanMemoTest, FindsMovedResourcesOfANewSetByIdentity) {
  PlanMemo memo;
  auto one = std::make_shared<const std::vector<Resource>>(
      std::vector<Resource>{WithContent("a", "1"), WithContent("b", "1")});
  memo.Begin("web", one);
  memo.Put(0, target::HexDigest("aa"));
  memo.Put(1, target::HexDigest("bb"));
  memo.End();
  // Another file order: the same resources at other positions.
  auto two = std::make_shared<const std::vector<Resource>>(
      std::vector<Resource>{WithContent("c", "1"), WithContent("b", "1"), WithContent("a", "1")});
  memo.Begin("web", two);
  EXPECT_FALSE(memo.Find(0));
  ASSERT_TRUE(memo.Find(1));
  EXPECT_EQ(memo.Find(1)->Hex(), "bb");
  ASSERT_TRUE(memo.Find(2));
  EXPECT_EQ(memo.Find(2)->Hex(), "aa");
  memo.End();
  EXPECT_EQ(memo.size(), 2u);
  // And by position once that set is the last pass's.
  memo.Begin("web", two);
  EXPECT_FALSE(memo.Find(0));
  EXPECT_EQ(memo.Find(2)->Hex(), "aa");
  memo.End();
}

TEST(PlanMemoTest, KeepsPutsInAnyOrderAndTheLastPutOfAResource) {
  PlanMemo memo;
  auto one = std::make_shared<const std::vector<Resource>>(
      std::vector<Resource>{WithContent("a", "1"), WithContent("b", "1"), WithContent("c", "1")});
  // Only puts, out of order (End() keeps them as they are).
  memo.Begin("web", one);
  memo.Put(2, target::HexDigest("cc"));
  memo.Put(0, target::HexDigest("aa"));
  memo.End();
  memo.Begin("web", one);
  EXPECT_EQ(memo.Find(0)->Hex(), "aa");
  EXPECT_FALSE(memo.Find(1));
  EXPECT_EQ(memo.Find(2)->Hex(), "cc");
  memo.End();
  EXPECT_EQ(memo.size(), 2u);
  // A resource put twice in a pass: the last hash is remembered (End() copies).
  memo.Begin("other", one);
  memo.Put(1, target::HexDigest("b1"));
  memo.Put(1, target::HexDigest("b2"));
  memo.Put(0, target::HexDigest("a2"));
  memo.End();
  memo.Begin("other", one);
  EXPECT_EQ(memo.Find(0)->Hex(), "a2");
  EXPECT_EQ(memo.Find(1)->Hex(), "b2");
  EXPECT_FALSE(memo.Find(2));
  memo.End();
  EXPECT_EQ(memo.size(), 2u);
}

TEST(PlanTest, PrunesByIdentityWithoutTheCallersAnswer) {
  std::vector<Resource> d = {Make("File", "kept")};
  PlanInput in;
  in.desired = &d;
  in.order = ApplyOrder(d);
  in.expected = {d[0].body()};
  in.expected_error = {""};
  in.live_desired = {{true, d[0].body()}};
  Resource other_kind = Make("ConfigMap", "kept");  // same name, another identity
  in.inventory = std::make_shared<const std::vector<target::InventoryEntry>>(
      std::vector<target::InventoryEntry>{{.id = d[0].id()}, {.id = other_kind.id()}});
  in.live_inventory.resize(2);
  Plan p = MakePlan(in);
  ASSERT_EQ(p.prune.size(), 1u);
  EXPECT_EQ(p.prune[0].id, other_kind.id());
  in.inventory_desired = {true, true};  // the caller's answer wins
  EXPECT_TRUE(MakePlan(in).prune.empty());
}

TEST(IdIndexTest, FindsEveryIdAndGrowsPastItsSize) {
  std::vector<resource::ResourceId> ids;
  for (int i = 0; i < 1000; ++i)
    ids.push_back({"local.plumbline.dev", i % 2 ? "File" : "ConfigMap",
                   i % 3 ? "ns" + std::to_string(i % 3) : "", "r" + std::to_string(i / 6)});
  IdIndex index;
  index.Reset(10);  // far fewer than added
  for (size_t i = 0; i < ids.size(); ++i) index.Add(ids[i], i);
  index.Add(ids[5], 99);  // a second time: the first position stays
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(index.Find(ids[i]), i);
  EXPECT_EQ(index.Find({"local.plumbline.dev", "File", "", "absent"}), IdIndex::kNone);
  EXPECT_EQ(IdIndex().Find(ids[0]), IdIndex::kNone);
}

}  // namespace
}  // namespace plumb::engine
