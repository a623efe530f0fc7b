// The local target's write path against the real file system: the checks the fast route
// (openat2 below the allowed directory, no read-back) must keep, inventory in memory, and
// the durable Flush.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "core/fs.h"
#include "target/local/local_target_test_util.h"

namespace plumb::target {
namespace {

TEST_F(LocalTargetTest, ASymlinkSwappedIntoADirectoryBetweenTwoAppliesIsRefused) {
  // The first apply opens and uses allowed/d; then d (and, deeper, an intermediate p) is
  // moved aside and replaced by a symlink leading outside, in the same reconcile.
  ASSERT_TRUE(Apply(FileRes("a", allowed_ + "/d/a", "1")).ok());
  ASSERT_TRUE(Apply(FileRes("pa", allowed_ + "/p/q/a", "1")).ok());
  ASSERT_EQ(::rename((allowed_ + "/d").c_str(), (allowed_ + "/d.old").c_str()), 0);
  ASSERT_EQ(::symlink(outside_.c_str(), (allowed_ + "/d").c_str()), 0);
  ASSERT_TRUE(fs::MakeDirs(outside_ + "/q").ok());
  ASSERT_EQ(::rename((allowed_ + "/p").c_str(), (allowed_ + "/p.old").c_str()), 0);
  ASSERT_EQ(::symlink(outside_.c_str(), (allowed_ + "/p").c_str()), 0);

  auto b = Apply(FileRes("b", allowed_ + "/d/b", "pwned"));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Code::kPermissionDenied) << b.status().ToString();
  auto pb = Apply(FileRes("pb", allowed_ + "/p/q/b", "pwned"));
  ASSERT_FALSE(pb.ok());
  EXPECT_EQ(pb.status().code(), Code::kPermissionDenied) << pb.status().ToString();
  EXPECT_FALSE(fs::Exists(outside_ + "/b"));
  EXPECT_FALSE(fs::Exists(outside_ + "/q/b"));
  EXPECT_FALSE(fs::Exists(allowed_ + "/d.old/b"));
  EXPECT_FALSE(fs::Exists(allowed_ + "/p.old/q/b"));
  // Refused objects are not in the inventory.
  auto inv = target_->Inventory("web");
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->size(), 2u);
  EXPECT_TRUE(target_->Flush().ok());
}

TEST_F(LocalTargetTest, WhatAppearsAtAPathObservedEmptyIsStillHandled) {
  // The apply of a new File trusts the observation that found its path empty; what
  // appears there in between is replaced (a file) or reported (a directory).
  std::vector<Resource> desired = {FileRes("f", allowed_ + "/f", "mine\n"),
                                   FileRes("g", allowed_ + "/g", "mine\n")};
  ctx_.desired = &desired;
  auto live = target_->Observe(ctx_, {desired[0].id(), desired[1].id()});
  ASSERT_TRUE(live.ok());
  EXPECT_FALSE((*live)[0].exists);
  EXPECT_FALSE((*live)[1].exists);
  ASSERT_TRUE(fs::MakeDirs(allowed_ + "/f").ok());
  ASSERT_TRUE(fs::WriteFileAtomic(allowed_ + "/g", "theirs\n").ok());
  auto f = Apply(desired[0]);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), Code::kFailedPrecondition) << f.status().ToString();
  EXPECT_TRUE(fs::IsDirectory(allowed_ + "/f"));
  auto g = Apply(desired[1]);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(Read(allowed_ + "/g"), "mine\n");
  auto inv = target_->Inventory("web");
  ASSERT_TRUE(inv.ok());
  ASSERT_EQ(inv->size(), 1u);
  EXPECT_EQ((*inv)[0].id, desired[1].id());
}

TEST_F(LocalTargetTest, ModesAreExactWhateverTheUmask) {
  const mode_t old = ::umask(077);
  for (const char* mode : {"0644", "0600", "0664", "0755", "0444"}) {
    const std::string path = allowed_ + "/m" + mode;
    ASSERT_TRUE(Apply(FileRes(std::string("m") + mode, path, "x", mode)).ok());
    EXPECT_EQ(ModeOf(path), static_cast<int>(std::stoi(mode, nullptr, 8))) << mode;
  }
  ::umask(old);
}

TEST_F(LocalTargetTest, InventoryInMemoryIsWhatTheDatabaseSays) {
  Resource a = FileRes("a", allowed_ + "/a", "1");
  Resource b = FileRes("b", allowed_ + "/b", "2");
  Resource c = Make("ConfigMap", "c", Obj({{"data", Obj({{"k", "v"}})}}));
  ASSERT_TRUE(Apply(a).ok());
  ASSERT_TRUE(Apply(b).ok());
  ASSERT_TRUE(Apply(c).ok());
  ASSERT_TRUE(Apply(FileRes("a", allowed_ + "/a", "changed")).ok());  // orders last now
  ASSERT_TRUE(target_->Remove(ctx_, b.id()).ok());
  ASSERT_TRUE(target_->Apply({.app = "api"}, FileRes("z", allowed_ + "/z", "x")).ok());
  auto before = target_->Inventory("web");
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->size(), 2u);
  EXPECT_EQ((*before)[0].id, c.id());
  EXPECT_EQ((*before)[1].id, a.id());
  Open();  // reads local.db
  auto after = target_->Inventory("web");
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), before->size());
  for (size_t i = 0; i < after->size(); ++i) {
    EXPECT_EQ((*after)[i].id, (*before)[i].id);
    EXPECT_EQ((*after)[i].order, (*before)[i].order);
    EXPECT_EQ((*after)[i].applied_hash, (*before)[i].applied_hash);
  }
  EXPECT_EQ(target_->Inventory("api")->size(), 1u);
}

TEST_F(LocalTargetTest, FlushMakesFewOrManyWritesDurable) {
  // A few files: fsynced one by one (a file removed by hand meanwhile is no error).
  ASSERT_TRUE(Apply(FileRes("a", allowed_ + "/a", "1")).ok());
  ASSERT_TRUE(Apply(FileRes("b", allowed_ + "/b", "2")).ok());
  ASSERT_EQ(::unlink((allowed_ + "/b").c_str()), 0);
  EXPECT_TRUE(target_->Flush().ok());
  // Many: one syncfs.
  for (int i = 0; i < 70; ++i) {
    const std::string n = "n" + std::to_string(i);
    ASSERT_TRUE(Apply(FileRes(n, allowed_ + "/many/" + n, n)).ok());
  }
  EXPECT_TRUE(target_->Flush().ok());
  EXPECT_EQ(Read(allowed_ + "/many/n69"), "n69");
}

}  // namespace
}  // namespace plumb::target
