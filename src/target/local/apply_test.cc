// The local target's write path against the real file system: the checks the fast route
// (openat2 below the allowed directory, no read-back) must keep, inventory in memory, and
// the durable Flush.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/fs.h"
#include "target/local/file_writer.h"
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

TEST_F(LocalTargetTest, APathAnotherObjectManagesIsRefusedNamingItsOwner) {
  ASSERT_TRUE(Apply(FileRes("a", allowed_ + "/shared", "a\n")).ok());
  auto b = Apply(FileRes("b", allowed_ + "/shared", "b\n"));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Code::kAlreadyExists);
  EXPECT_NE(b.status().message().find("already managed by File/a of Application web"),
            std::string::npos)
      << b.status().message();
  ctx_.app = "other";  // the same object name in another Application is another owner
  auto other = Apply(FileRes("a", allowed_ + "/shared", "other\n"));
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("of Application web"), std::string::npos)
      << other.status().message();
  auto content = fs::ReadFile(allowed_ + "/shared");
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(*content, "a\n");
  ctx_.app = "web";
  EXPECT_TRUE(Apply(FileRes("a", allowed_ + "/shared", "a2\n")).ok());  // its owner may
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

TEST_F(LocalTargetTest, ManyWritesStartTheirWritebackEarlyAndFlushStillMakesThemDurable) {
  // More than local::FileWriter::kEarlyWritebackFiles files, in place and staged: the early
  // writeback runs beside the applies and Flush() waits for it; the next reconcile's few
  // files are fsynced as usual.
  const size_t n = local::FileWriter::kEarlyWritebackFiles + 16;
  ASSERT_TRUE(fs::MakeDirs(allowed_ + "/here").ok());
  for (size_t i = 0; i < n; ++i) {
    const std::string k = std::to_string(i);
    const std::string dir = i % 2 ? "/here/" : "/new/";
    ASSERT_TRUE(Apply(FileRes("f" + k, allowed_ + dir + k, k)).ok());
  }
  EXPECT_TRUE(target_->Flush().ok());
  EXPECT_EQ(Read(allowed_ + "/new/0"), "0");
  EXPECT_EQ(Read(allowed_ + "/here/" + std::to_string(n - 1)), std::to_string(n - 1));
  ASSERT_TRUE(Apply(FileRes("again", allowed_ + "/here/again", "again")).ok());
  EXPECT_TRUE(target_->Flush().ok());
  EXPECT_EQ(Read(allowed_ + "/here/again"), "again");
}

int FailingSyncfs(int) {
  errno = EIO;
  return -1;
}

TEST_F(LocalTargetTest, AnEarlyWritebackErrorIsSyncsError) {
  // Since Linux 5.8 a write-back error is reported once to each descriptor open before
  // it: when the early syncfs has seen it, the final syncfs on a new descriptor returns 0.
  // So the early one's error must fail Sync(), or the files would count as durable.
  local::FileWriter w({allowed_}, root_ + "/state", true);
  w.SetEarlySyncfsForTest(FailingSyncfs);
  for (size_t i = 0; i <= local::FileWriter::kEarlyWritebackFiles; ++i) {
    auto r = w.Write(allowed_ + "/f" + std::to_string(i), "x", 0644);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  Status s = w.Sync();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("early writeback"), std::string::npos) << s.ToString();
  EXPECT_NE(s.ToString().find(std::strerror(EIO)), std::string::npos) << s.ToString();
  // Reported once: the next reconcile's Sync() is clean.
  ASSERT_TRUE(w.Write(allowed_ + "/again", "y", 0644).ok());
  EXPECT_TRUE(w.Sync().ok());
}

TEST_F(LocalTargetTest, ANewDirectoryAppearsWholeWithEveryFileComplete) {
  // New Files in directories that do not exist yet are written into a staging directory
  // beside the first missing one and renamed into place when the target is next asked
  // anything: nobody ever sees the directory with some of its files, or a file half
  // written, and no temp file is left.
  const mode_t old_umask = ::umask(022);
  std::vector<Resource> desired;
  for (int i = 0; i < 5; ++i)
    desired.push_back(FileRes("n" + std::to_string(i), allowed_ + "/new/sub/f" + std::to_string(i),
                              "content " + std::to_string(i) + "\n", i == 4 ? "0600" : "0644"));
  desired.push_back(FileRes("deep", allowed_ + "/new/sub/x/y/deep", "deep\n"));
  desired.push_back(FileRes("top", allowed_ + "/new/top", "top\n"));
  for (const Resource& r : desired) {
    auto c = target_->Apply(ctx_, r);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->kind, ChangeKind::kCreated);
    EXPECT_FALSE(fs::Exists(allowed_ + "/new"));  // not yet: staged
  }
  auto names = fs::ListDir(allowed_);
  ASSERT_TRUE(names.ok());
  ASSERT_EQ(names->size(), 1u);
  EXPECT_EQ((*names)[0].rfind(".plumb-tmp-new.", 0), 0u) << (*names)[0];
  // The next question to the target puts the directory in place.
  std::vector<ResourceId> ids;
  for (const Resource& r : desired) ids.push_back(r.id());
  ctx_.desired = &desired;
  auto live = target_->Observe(ctx_, ids);
  ASSERT_TRUE(live.ok());
  for (const LiveObject& l : *live) EXPECT_TRUE(l.exists) << l.id.ToString();
  EXPECT_EQ(*fs::ListDir(allowed_), std::vector<std::string>{"new"});
  for (int i = 0; i < 5; ++i) {
    const std::string path = allowed_ + "/new/sub/f" + std::to_string(i);
    EXPECT_EQ(Read(path), "content " + std::to_string(i) + "\n");
    EXPECT_EQ(ModeOf(path), i == 4 ? 0600 : 0644);
  }
  EXPECT_EQ(Read(allowed_ + "/new/sub/x/y/deep"), "deep\n");
  EXPECT_EQ(Read(allowed_ + "/new/top"), "top\n");
  EXPECT_EQ(ModeOf(allowed_ + "/new"), 0755);
  EXPECT_EQ(ModeOf(allowed_ + "/new/sub/x"), 0755);
  // Known unchanged as written (the stamp taken in the staging directory still holds).
  auto same = target_->UnchangedSinceApplied(ctx_, ids);
  for (size_t i = 0; i < same.size(); ++i) EXPECT_TRUE(same[i]) << ids[i].ToString();
  EXPECT_TRUE(target_->Flush().ok());
  EXPECT_EQ(Read(root_ + "/state/local.stages"), "");
  ::umask(old_umask);
}

TEST_F(LocalTargetTest, AStagedFileThatCannotBeWrittenFailsItsApplicationAndKeepsItsRow) {
  // Staged files are written on the file writer's thread: one that fails there (here a
  // File below another File's path) is reported by Settle, with the write's error, and is
  // not put in place; the rest of its directory is, and both rows stay (the next pass
  // writes it again, or says again why it cannot).
  Resource a = FileRes("a", allowed_ + "/new/x", "a file\n");
  Resource b = FileRes("b", allowed_ + "/new/x/y", "below a file\n");
  ASSERT_TRUE(target_->Apply(ctx_, a).ok());
  ASSERT_TRUE(target_->Apply(ctx_, b).ok());  // queued: its write is not done yet
  Status settled = target_->Settle(ctx_);
  EXPECT_FALSE(settled.ok());
  EXPECT_NE(settled.message().find(allowed_ + "/new/x/y"), std::string::npos) << settled.ToString();
  EXPECT_TRUE(target_->Settle(ctx_).ok());  // said once
  EXPECT_TRUE(target_->Flush().ok());
  EXPECT_EQ(Read(allowed_ + "/new/x"), "a file\n");
  EXPECT_EQ(*fs::ListDir(allowed_), std::vector<std::string>{"new"});  // no staging left
  EXPECT_EQ(Read(root_ + "/state/local.stages"), "");
  auto inv = target_->Inventory("web");
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->size(), 2u);
}

TEST_F(LocalTargetTest, AFailedStagedWriteLosesItsOwnFileNotTheOnesBeneathItsPath) {
  // y first, then a File at y's directory: x's write fails (a directory is there); y is put
  // in place and stays managed (another Application cannot take its path), x is lost.
  Resource y = FileRes("y", allowed_ + "/new/x/y", "below\n");
  Resource x = FileRes("x", allowed_ + "/new/x", "a file where a directory is\n");
  ASSERT_TRUE(target_->Apply(ctx_, y).ok());
  ASSERT_TRUE(target_->Apply(ctx_, x).ok());
  Status settled = target_->Settle(ctx_);
  EXPECT_FALSE(settled.ok());
  EXPECT_NE(settled.message().find(allowed_ + "/new/x"), std::string::npos) << settled.ToString();
  EXPECT_TRUE(target_->Flush().ok());
  EXPECT_EQ(Read(allowed_ + "/new/x/y"), "below\n");
  AppContext other{.app = "other"};
  auto taken = target_->Apply(other, FileRes("z", allowed_ + "/new/x/y", "taken\n"));
  EXPECT_FALSE(taken.ok());
  EXPECT_NE(taken.status().message().find("already managed"), std::string::npos)
      << taken.status().ToString();
  EXPECT_EQ(Read(allowed_ + "/new/x/y"), "below\n");
}

TEST_F(LocalTargetTest, ADirectoryThatAppearsBeforeTheStagedOneIsPutInPlaceTakesItsFiles) {
  ASSERT_TRUE(target_->Apply(ctx_, FileRes("a", allowed_ + "/d/a", "mine a\n")).ok());
  ASSERT_TRUE(target_->Apply(ctx_, FileRes("b", allowed_ + "/d/s/b", "mine b\n")).ok());
  // Someone makes d (with a file of theirs, and a file at one of our names) meanwhile.
  ASSERT_TRUE(fs::MakeDirs(allowed_ + "/d/s").ok());
  ASSERT_TRUE(fs::WriteFileAtomic(allowed_ + "/d/theirs", "theirs\n").ok());
  ASSERT_TRUE(fs::WriteFileAtomic(allowed_ + "/d/a", "someone's a\n").ok());
  EXPECT_TRUE(target_->Flush().ok());
  EXPECT_EQ(Read(allowed_ + "/d/a"), "mine a\n");
  EXPECT_EQ(Read(allowed_ + "/d/s/b"), "mine b\n");
  EXPECT_EQ(Read(allowed_ + "/d/theirs"), "theirs\n");
  EXPECT_EQ(*fs::ListDir(allowed_), std::vector<std::string>{"d"});
}

TEST_F(LocalTargetTest, ASymlinkAtTheNameOfAStagedDirectoryIsNotWrittenThrough) {
  Resource a = FileRes("a", allowed_ + "/d/a", "mine\n");
  ASSERT_TRUE(target_->Apply(ctx_, a).ok());
  ASSERT_EQ(::symlink(outside_.c_str(), (allowed_ + "/d").c_str()), 0);
  // Another Application's call puts the staged directory in place (or fails to): the
  // error is this Application's, given once to its Settle — which the engine calls
  // before pruning, so a lost file never has its predecessor pruned.
  AppContext other{.app = "other"};
  EXPECT_TRUE(target_->Settle(other).ok());
  Status settled = target_->Settle(ctx_);
  EXPECT_FALSE(settled.ok());
  EXPECT_NE(settled.message().find(allowed_ + "/d"), std::string::npos) << settled.ToString();
  EXPECT_TRUE(target_->Settle(ctx_).ok());
  EXPECT_TRUE(target_->Flush().ok());
  EXPECT_FALSE(fs::Exists(outside_ + "/a"));
  EXPECT_EQ(*fs::ListDir(allowed_), std::vector<std::string>{"d"});  // no staging left
  // The row stays: once the symlink is gone, the next pass writes the file.
  ASSERT_EQ(::unlink((allowed_ + "/d").c_str()), 0);
  std::vector<Resource> desired = {a};
  ctx_.desired = &desired;
  EXPECT_FALSE(ObserveOne(a.id()).exists);
  ASSERT_TRUE(target_->Apply(ctx_, a).ok());
  EXPECT_TRUE(target_->Flush().ok());
  EXPECT_EQ(Read(allowed_ + "/d/a"), "mine\n");
}

TEST_F(LocalTargetTest, StagingDirectoriesLeftByAKilledProcessAreRemovedAtTheNextStart) {
  // A process killed before its staging directories were put in place leaves them; the
  // next start removes them (and only them), and the next reconcile writes the files.
  ASSERT_TRUE(fs::MakeDirs(allowed_ + "/keep").ok());
  ASSERT_TRUE(fs::WriteFileAtomic(allowed_ + "/.plumb-tmp-not-ours", "x").ok());
  Resource a = FileRes("a", allowed_ + "/keep/new/a", "a\n");
  Resource b = FileRes("b", allowed_ + "/other/b", "b\n");
  ASSERT_TRUE(target_->Apply(ctx_, a).ok());
  ASSERT_TRUE(target_->Apply(ctx_, b).ok());
  // What a kill -9 leaves: copy the staging directories aside before the target puts them
  // in place on destruction, then bring them back.
  std::vector<std::string> staged;
  for (const std::string& dir : {allowed_, allowed_ + "/keep"}) {
    const std::vector<std::string> names = fs::ListDir(dir).value();
    for (const std::string& n : names)
      if (n.rfind(".plumb-tmp-", 0) == 0 && fs::IsDirectory(dir + "/" + n))
        staged.push_back(dir + "/" + n);
  }
  ASSERT_EQ(staged.size(), 2u);
  const std::string record = *fs::ReadFile(root_ + "/state/local.stages");
  for (size_t i = 0; i < staged.size(); ++i)
    ASSERT_EQ(::rename(staged[i].c_str(), (outside_ + "/s" + std::to_string(i)).c_str()), 0);
  target_.reset();
  ASSERT_TRUE(fs::RemoveAll(allowed_ + "/keep/new").ok());
  ASSERT_TRUE(fs::RemoveAll(allowed_ + "/other").ok());
  for (size_t i = 0; i < staged.size(); ++i)
    ASSERT_EQ(::rename((outside_ + "/s" + std::to_string(i)).c_str(), staged[i].c_str()), 0);
  ASSERT_TRUE(fs::WriteFileAtomic(root_ + "/state/local.stages", record, 0600).ok());

  Open();
  for (const std::string& s : staged) EXPECT_FALSE(fs::Exists(s)) << s;
  EXPECT_TRUE(fs::Exists(allowed_ + "/.plumb-tmp-not-ours"));
  EXPECT_TRUE(fs::IsDirectory(allowed_ + "/keep"));
  EXPECT_EQ(Read(root_ + "/state/local.stages"), "");
  std::vector<Resource> desired = {a, b};
  ctx_.desired = &desired;
  EXPECT_FALSE(ObserveOne(a.id()).exists);
  auto inv = target_->Inventory("web");
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->size(), 2u);  // the rows were recorded before the files
}

// What a kill -9 at this moment leaves of local.db: its files (the database and its WAL,
// which hold every committed row; SQLite rebuilds the -shm index) and the journal.
std::map<std::string, std::string> KillSnapshot(const std::string& state) {
  std::map<std::string, std::string> files;
  for (const char* f : {"local.db", "local.db-wal", "local.db.pending"})
    if (auto text = fs::ReadFile(state + "/" + f); text.ok()) files[f] = *text;
  return files;
}

void RestoreKillSnapshot(const std::string& state,
                         const std::map<std::string, std::string>& files) {
  for (const char* f : {"local.db", "local.db-wal", "local.db-shm", "local.db.pending"})
    ASSERT_TRUE(fs::RemoveAll(state + "/" + f).ok());
  for (const auto& [name, text] : files)
    ASSERT_TRUE(fs::WriteFileAtomic(state + "/" + name, text, 0600).ok());
}

TEST_F(LocalTargetTest, StagedFilesRowsSurviveAKillRightAfterTheyAppear) {
  // Nothing of a staged file is visible, nor journaled one write each, before Settle; once
  // it puts them in place, their rows are committed to local.db or in its journal: a kill -9
  // loses none of them. The journal is empty after the Flush.
  std::vector<Resource> files;
  for (int i = 0; i < 50; ++i)
    files.push_back(FileRes("k" + std::to_string(i),
                            allowed_ + "/d" + std::to_string(i % 3) + "/k" + std::to_string(i),
                            "k" + std::to_string(i) + "\n"));
  for (const Resource& r : files) ASSERT_TRUE(target_->Apply(ctx_, r).ok());
  EXPECT_FALSE(fs::Exists(allowed_ + "/d0/k48"));  // staged
  EXPECT_EQ(Read(root_ + "/state/local.db.pending").find(files[48].id().Key()), std::string::npos);
  ASSERT_TRUE(target_->Settle(ctx_).ok());
  const auto killed = KillSnapshot(root_ + "/state");
  ASSERT_TRUE(target_->Flush().ok());
  EXPECT_EQ(Read(root_ + "/state/local.db.pending"), "");
  target_.reset();
  RestoreKillSnapshot(root_ + "/state", killed);

  Open();
  auto inv = target_->Inventory("web");
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->size(), files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    EXPECT_TRUE(fs::Exists(allowed_ + "/d" + std::to_string(i % 3) + "/k" + std::to_string(i)));
    bool found = false;
    for (const auto& e : *inv) found |= e.id == files[i].id();
    EXPECT_TRUE(found) << i;
  }
}

TEST_F(LocalTargetTest, WaitStartedReturnsOnceEveryReplicaAnApplyWantsIsLaunched) {
  // Apply hands a Process to the supervisor, which launches its replicas on its own thread:
  // a process about to end (plumb run --once) waits for them, or they never run.
  Value command(resource::Array{Value("/bin/sh"), Value("-c"), Value("exec sleep 60")});
  Resource process = Make(
      "Process", "web",
      Obj({{"spec",
            Obj({{"command", command}, {"replicas", 3}, {"terminationGracePeriodSeconds", 1}})}}));
  std::vector<Resource> desired = {process};
  ctx_.desired = &desired;
  target_.reset();
  auto t = local::NewLocalTarget({.state_dir = root_ + "/state",
                                  .allow_paths = {allowed_},
                                  .durable = true,
                                  .shim_exe = PLUMB_SHIM_TEST_HELPER});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  target_ = std::move(t).value();
  ASSERT_TRUE(Apply(process).ok());
  target_->WaitStarted();
  auto running = target_->Running("web", process.id());
  ASSERT_TRUE(running.ok()) << running.status().ToString();
  ASSERT_EQ(running->replica_status.size(), 3u);
  for (const auto& r : running->replica_status) {
    EXPECT_NE(r.state, "Starting") << r.name;  // its shim reported: launched
    EXPECT_GT(r.pid, 0) << r.name;
  }
  // Stop them, and wait until their shims are gone.
  ASSERT_TRUE(target_->Remove(ctx_, process.id()).ok());
  EXPECT_EQ(WaitNoReplicas(root_ + "/state"), 0);
}

TEST_F(LocalTargetTest, ADirectoryReplacedBetweenTwoPlansIsNoticed) {
  // A plan looks at a File's directory once (DirCache); the next plan, or any apply in
  // between, looks again: a directory swapped for a symlink leading out is refused then.
  ASSERT_TRUE(fs::MakeDirs(allowed_ + "/d").ok());
  const Resource a = FileRes("a", allowed_ + "/d/a", "1");
  const Resource b = FileRes("b", allowed_ + "/d/b", "2");
  auto swap_d = [&] {
    ASSERT_TRUE(fs::RemoveAll(allowed_ + "/d").ok());
    ASSERT_EQ(::symlink(outside_.c_str(), (allowed_ + "/d").c_str()), 0);
  };
  auto unswap_d = [&] {
    ASSERT_EQ(::unlink((allowed_ + "/d").c_str()), 0);
    ASSERT_TRUE(fs::MakeDirs(allowed_ + "/d").ok());
  };
  // Between two plans.
  ASSERT_TRUE(target_->Inventory("web").ok());
  EXPECT_TRUE(target_->Expected(ctx_, a).ok());
  EXPECT_TRUE(target_->Expected(ctx_, b).ok());  // from what the plan saw
  swap_d();
  ASSERT_TRUE(target_->Inventory("web").ok());  // the next plan
  auto refused = target_->Expected(ctx_, a);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kPermissionDenied) << refused.status().ToString();
  // Within one plan, after an apply of another kind.
  unswap_d();
  ASSERT_TRUE(target_->Inventory("web").ok());
  EXPECT_TRUE(target_->Expected(ctx_, a).ok());
  swap_d();
  ASSERT_TRUE(
      target_->Apply(ctx_, Make("ConfigMap", "cm", Obj({{"data", Obj({{"k", "v"}})}}))).ok());
  refused = target_->Expected(ctx_, b);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kPermissionDenied) << refused.status().ToString();
  // And at Flush.
  unswap_d();
  ASSERT_TRUE(target_->Inventory("web").ok());
  EXPECT_TRUE(target_->Expected(ctx_, b).ok());
  swap_d();
  ASSERT_TRUE(target_->Flush().ok());
  EXPECT_FALSE(target_->Expected(ctx_, a).ok());
  EXPECT_FALSE(fs::Exists(outside_ + "/a"));
  EXPECT_FALSE(fs::Exists(outside_ + "/b"));
}

}  // namespace
}  // namespace plumb::target
