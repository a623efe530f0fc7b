#include "engine/pass_delta.h"

#include <gtest/gtest.h>

#include "engine/hooks.h"

namespace plumb::engine {
namespace {
using resource::Resource;
using resource::ResourceId;
using resource::Value;

Resource Doc(const std::string& kind, const std::string& name, const std::string& content,
             const std::string& wave = "", const std::string& hook = "") {
  Value v;
  v.Set("apiVersion", "local.plumbline.dev/v1");
  v.Set("kind", kind);
  Value& md = v.Set("metadata", Value::EmptyObject());
  md.Set("name", name);
  if (!wave.empty() || !hook.empty()) {
    Value& ann = md.Set("annotations", Value::EmptyObject());
    if (!wave.empty()) ann.Set("plumbline.dev/sync-wave", wave);
    if (!hook.empty()) ann.Set(kHookAnnotation, hook);
  }
  v.Set("spec", Value::EmptyObject()).Set("content", content);
  return *Resource::FromValue(v, {"x.yaml", 1});
}

TEST(PassDeltaTest, SameNodeOnlyForOneSharedDocument) {
  Resource a = Doc("File", "a", "one");
  Resource copy = a;  // what the render cache hands out again
  Resource again = Doc("File", "a", "one");
  EXPECT_TRUE(SameNode(a.body(), copy.body()));
  EXPECT_FALSE(SameNode(a.body(), again.body()));
  EXPECT_TRUE(SameBody(a.body(), again.body()));
  copy.mutable_body().Set("spec", Value::EmptyObject()).Set("content", "two");
  EXPECT_FALSE(SameNode(a.body(), copy.body()));
  EXPECT_FALSE(SameBody(a.body(), copy.body()));
  EXPECT_FALSE(SameNode(Value(), Value()));
}

TEST(PassDeltaTest, SameSplitOnlyWhenNothingThatSetsAsideOrOrdersChanged) {
  std::vector<Resource> was = {Doc("ConfigMap", "c", "x"), Doc("File", "a", "one"),
                               Doc("File", "b", "one", "2")};
  std::vector<Resource> now = was;
  EXPECT_TRUE(SameSplit(was, now));
  now[1] = Doc("File", "a", "two");  // another content: sorts the same
  EXPECT_TRUE(SameSplit(was, now));
  now[2] = Doc("File", "b", "one", "-1");  // another wave
  EXPECT_FALSE(SameSplit(was, now));
  now = was;
  now[1] = Doc("File", "a", "one", "", "PostSync");  // becomes a hook
  EXPECT_FALSE(SameSplit(was, now));
  now[1] = Doc("File", "a", "one", "", "Sometimes");  // a hook that does not parse
  EXPECT_FALSE(SameSplit(was, now));
  now = {was[0], was[2], was[1]};  // other positions
  EXPECT_FALSE(SameSplit(was, now));
  now = {was[0], was[1]};
  EXPECT_FALSE(SameSplit(was, now));
}

TEST(PassDeltaTest, NeedsUnsealAfterLooksAtWhatChanged) {
  std::vector<Resource> was = {Doc("File", "a", "one"), Doc("File", "b", "one")};
  std::vector<Resource> now = was;
  EXPECT_FALSE(NeedsUnsealAfter(&was, false, now));
  // At the same position, a resource that now needs the unseal stage.
  now[1] = Doc("Secret", "b", "one");
  EXPECT_TRUE(NeedsUnsealAfter(&was, false, now));
  now[1] = was[1];
  now[1].mutable_body().Set("sops", Value::EmptyObject()).Set("version", "3.8.1");
  EXPECT_TRUE(NeedsUnsealAfter(&was, false, now));
  now[1] = Doc("File", "b", "two");
  EXPECT_FALSE(NeedsUnsealAfter(&was, false, now));
  EXPECT_FALSE(NeedsUnsealAfter(nullptr, false, now));
  now.push_back(Doc("Secret", "s", "x"));
  EXPECT_TRUE(NeedsUnsealAfter(&was, false, now));
  // A last set that needed it is looked at in full: the Secret may be gone.
  std::vector<Resource> with_secret = now;
  now.pop_back();
  EXPECT_FALSE(NeedsUnsealAfter(&with_secret, true, now));
  EXPECT_TRUE(NeedsUnsealAfter(&with_secret, true, with_secret));
}

TEST(PassDeltaTest, InventoryFinderFollowsTheInventoryAndFindsWhatMoved) {
  std::vector<target::InventoryEntry> inventory;
  auto id = [](int i) {
    return ResourceId{"local.plumbline.dev", "File", "", "f" + std::to_string(i)};
  };
  // Apply order 0..99, except: 7 no longer desired (a gap), 3 and 50 applied again since
  // (sorted last).
  for (int i = 0; i < 100; ++i)
    if (i != 3 && i != 50) inventory.push_back({.id = id(i)});
  inventory.push_back({.id = id(3)});
  inventory.push_back({.id = id(50)});
  auto where = [&](const ResourceId& want) {
    for (size_t k = 0; k < inventory.size(); ++k)
      if (inventory[k].id == want) return k;
    return IdIndex::kNone;
  };
  {
    InventoryFinder finder(inventory);
    for (int i = 0; i < 100; ++i) {
      if (i == 7) continue;
      EXPECT_EQ(finder.Find(id(i)), where(id(i))) << i;
    }
    EXPECT_FALSE(finder.indexed()) << "gaps and moved entries are found near where expected";
    EXPECT_EQ(finder.Find(id(1000)), IdIndex::kNone);  // a new resource: not owned
    EXPECT_TRUE(finder.indexed());
  }
  {
    // Another order altogether: every answer is still right.
    InventoryFinder finder(inventory);
    for (int i = 99; i >= 0; --i) EXPECT_EQ(finder.Find(id(i)), where(id(i))) << i;
    EXPECT_TRUE(finder.indexed());
  }
  std::vector<target::InventoryEntry> none;
  EXPECT_EQ(InventoryFinder(none).Find(id(1)), IdIndex::kNone);
}

}  // namespace
}  // namespace plumb::engine
