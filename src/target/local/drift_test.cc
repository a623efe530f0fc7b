// Drift detection of the local target against the real file system (inotify + rescan).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/fs.h"
#include "core/strings.h"
#include "target/local/local_target_test_util.h"
#include "target/local/managed_files.h"

namespace plumb::target {
namespace {

class DriftRecorder {
 public:
  void Record(const std::string& app, const ResourceId& id) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(app + " " + id.ToString());
    cv_.notify_all();
  }
  // Waits (up to 10 s) until `event` has been recorded `times` times in total.
  bool WaitFor(const std::string& event, int times = 1) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return Count(event) >= times; });
  }
  int CountOf(const std::string& event) {
    std::lock_guard<std::mutex> lock(mu_);
    return Count(event);
  }

 private:
  int Count(const std::string& event) const {
    int n = 0;
    for (const auto& e : events_) n += e == event;
    return n;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> events_;
};

TEST_F(LocalTargetTest, DriftIsReportedForEditsChmodAndDeleteButNotOwnWrites) {
  const std::string path = allowed_ + "/watched";
  const std::string other = allowed_ + "/sub/other";
  ASSERT_TRUE(Apply(FileRes("watched", path, "v1\n")).ok());
  ASSERT_TRUE(Apply(FileRes("other", other, "o1\n")).ok());
  DriftRecorder rec;
  target_->Watch([&](const std::string& app, const ResourceId& id) { rec.Record(app, id); });
  const std::string w = "web File/watched", o = "web File/other";

  // Own writes (content and mode changes, a move-in via rename) are not drift. The
  // external edit of `other` afterwards is a barrier: once it is reported, events of the
  // own writes before it have been looked at too.
  ASSERT_TRUE(Apply(FileRes("watched", path, "v2\n")).ok());
  ASSERT_TRUE(Apply(FileRes("watched", path, "v2\n", "0600")).ok());
  ASSERT_TRUE(fs::WriteFileAtomic(other, "edited by hand\n").ok());
  ASSERT_TRUE(rec.WaitFor(o));
  EXPECT_EQ(rec.CountOf(w), 0);

  // An edit in place.
  {
    FILE* f = std::fopen(path.c_str(), "a");
    ASSERT_NE(f, nullptr);
    std::fputs("appended\n", f);
    std::fclose(f);
  }
  ASSERT_TRUE(rec.WaitFor(w, 1));
  // Heal it, then chmod.
  ASSERT_TRUE(Apply(FileRes("watched", path, "v2\n", "0600")).ok());
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
  ASSERT_TRUE(rec.WaitFor(w, 2));
  // Heal it, then delete.
  ASSERT_TRUE(Apply(FileRes("watched", path, "v2\n", "0600")).ok());
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_TRUE(rec.WaitFor(w, 3));

  // Removing a managed file is not drift either (barrier again).
  ASSERT_TRUE(Apply(FileRes("watched", path, "v3\n")).ok());
  ASSERT_TRUE(target_->Remove(ctx_, FileRes("watched", path, "").id()).ok());
  ASSERT_TRUE(Apply(FileRes("other", other, "o1\n")).ok());
  ASSERT_EQ(::chmod(other.c_str(), 0600), 0);
  ASSERT_TRUE(rec.WaitFor(o, 2));
  EXPECT_EQ(rec.CountOf(w), 3);
  target_.reset();  // stops the watcher thread cleanly
}

TEST_F(LocalTargetTest, RescanFindsDriftInotifyCouldNotSee) {
  Open({}, Duration(100));
  const std::string path = allowed_ + "/dir/f";
  ASSERT_TRUE(Apply(FileRes("f", path, "x")).ok());
  // Changed before anyone watched: only the rescan can notice.
  ASSERT_TRUE(fs::WriteFileAtomic(path, "changed").ok());
  DriftRecorder rec;
  target_->Watch([&](const std::string& app, const ResourceId& id) { rec.Record(app, id); });
  ASSERT_TRUE(rec.WaitFor("web File/f"));
  // The directory removed and made again: the watch is gone, the rescan re-adds it.
  ASSERT_TRUE(Apply(FileRes("f", path, "x")).ok());
  ASSERT_TRUE(fs::RemoveAll(allowed_ + "/dir").ok());
  ASSERT_TRUE(rec.WaitFor("web File/f", 2));
}

// Returns once the watcher watches `dir`: a file applied there and edited by hand was
// reported (watches are added by the watcher thread, after the apply that made `dir`).
void WaitUntilWatched(Target* target, const AppContext& ctx, DriftRecorder* rec,
                      const std::string& dir) {
  const std::string probe = dir + "/probe";
  ASSERT_TRUE(target->Apply(ctx, FileRes("probe", probe, "p\n")).ok());
  (void)target->UnchangedSinceApplied(
      ctx, std::vector<resource::ResourceId>{});  // a new directory is in place after it
  const std::string event = ctx.app + " File/probe";
  const int seen = rec->CountOf(event);
  for (int i = 0;; ++i) {
    ASSERT_LT(i, 6) << dir << " is never watched";
    ASSERT_TRUE(fs::WriteFileAtomic(probe, "edited " + std::to_string(i) + "\n").ok());
    if (rec->WaitFor(event, seen + 1)) break;
  }
}

TEST_F(LocalTargetTest, AnEditRightAfterTheApplyIsNeverTakenForWhatWasApplied) {
  // The apply stamps what it wrote without reading it back, and a no-op plan trusts the
  // watcher instead of a stat: an edit by another writer right after the write (same
  // size, so only the inode's times and the watcher tell) must still show.
  DriftRecorder rec;
  target_->Watch([&](const std::string& app, const ResourceId& id) { rec.Record(app, id); });
  const std::string path = allowed_ + "/race/f";
  WaitUntilWatched(target_.get(), ctx_, &rec, allowed_ + "/race");
  for (int i = 0; i < 20; ++i) {
    // A content of its own per round, so each edit is a new drifted state.
    Resource f = FileRes("f", path, "v" + std::to_string(10 + i) + "\n");
    ASSERT_TRUE(Apply(f).ok());
    // Known unchanged, twice (the second answer may come from the watcher alone).
    EXPECT_TRUE(target_->UnchangedSinceApplied(ctx_, {f.id()})[0] ||
                ObserveOne(f.id()).body == *target_->Expected(ctx_, f));
    (void)target_->UnchangedSinceApplied(ctx_, {f.id()});
    {
      FILE* out = std::fopen(path.c_str(), "r+");
      ASSERT_NE(out, nullptr);
      std::fputs("XXX\n", out);
      std::fclose(out);
    }
    EXPECT_FALSE(target_->UnchangedSinceApplied(ctx_, {f.id()})[0]) << i;
    LiveObject live = ObserveOne(f.id());
    EXPECT_EQ(live.body.FindPath({"spec", "content"})->as_string(), "XXX\n") << i;
    ASSERT_TRUE(rec.WaitFor("web File/f", i + 1)) << i;
  }
  target_.reset();
}

TEST_F(LocalTargetTest, UnchangedSinceAppliedFromTheWatcherOnlyWhileItWatches) {
  DriftRecorder rec;
  target_->Watch([&](const std::string& app, const ResourceId& id) { rec.Record(app, id); });
  const std::string path = allowed_ + "/w/f";
  Resource f = FileRes("f", path, "one\n");
  ASSERT_TRUE(Apply(f).ok());
  WaitUntilWatched(target_.get(), ctx_, &rec, allowed_ + "/w");
  ASSERT_TRUE(ObserveOne(f.id()).exists);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(target_->UnchangedSinceApplied(ctx_, {f.id()})[0]);
  // The directory moved away and replaced by one holding another file: the watch no
  // longer stands for the path, so the answer comes from a stat again.
  ASSERT_EQ(::rename((allowed_ + "/w").c_str(), (allowed_ + "/w.old").c_str()), 0);
  ASSERT_TRUE(fs::MakeDirs(allowed_ + "/w").ok());
  ASSERT_TRUE(fs::WriteFileAtomic(path, "two\n").ok());
  EXPECT_FALSE(target_->UnchangedSinceApplied(ctx_, {f.id()})[0]);
  ASSERT_TRUE(rec.WaitFor("web File/f"));
  // Healed: known unchanged again.
  ASSERT_TRUE(Apply(f).ok());
  ASSERT_TRUE(ObserveOne(f.id()).exists);
  EXPECT_TRUE(target_->UnchangedSinceApplied(ctx_, {f.id()})[0]);
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_FALSE(target_->UnchangedSinceApplied(ctx_, {f.id()})[0]) << "a chmod";
  target_.reset();
}

TEST_F(LocalTargetTest, AnAncestorRenamedAwayIsNotTakenForTheWatchedDirectory) {
  DriftRecorder rec;
  target_->Watch([&](const std::string& app, const ResourceId& id) { rec.Record(app, id); });
  const std::string path = allowed_ + "/app/conf/f";
  Resource f = FileRes("f", path, "one\n");
  ASSERT_TRUE(Apply(f).ok());
  WaitUntilWatched(target_.get(), ctx_, &rec, allowed_ + "/app/conf");
  ASSERT_TRUE(ObserveOne(f.id()).exists);
  EXPECT_TRUE(target_->UnchangedSinceApplied(ctx_, {f.id()})[0]);
  // The parent moves away; a new app/conf/f appears. The watched conf inode saw no event
  // of its own (its parent moved, not it), so only asking the kernel again tells.
  ASSERT_EQ(::rename((allowed_ + "/app").c_str(), (allowed_ + "/app.old").c_str()), 0);
  ASSERT_TRUE(fs::MakeDirs(allowed_ + "/app/conf").ok());
  ASSERT_TRUE(fs::WriteFileAtomic(path, "two\n").ok());
  EXPECT_FALSE(target_->UnchangedSinceApplied(ctx_, {f.id()})[0]);
  // The new directory is watched from now on: an edit there is seen without a rescan.
  ASSERT_TRUE(Apply(f).ok());
  ASSERT_TRUE(ObserveOne(f.id()).exists);
  EXPECT_TRUE(target_->UnchangedSinceApplied(ctx_, {f.id()})[0]);
  ASSERT_TRUE(fs::WriteFileAtomic(path, "three\n").ok());
  EXPECT_FALSE(target_->UnchangedSinceApplied(ctx_, {f.id()})[0]);
  target_.reset();
}

TEST(ManagedFileTest, ADigestKeptAsBytesIsTheHexItWasGiven) {
  const std::string sha = Sha256Hex("hello\n");
  local::HexDigest d(sha);
  EXPECT_TRUE(d.Is(sha));
  EXPECT_EQ(d.Hex(), sha);
  EXPECT_FALSE(d.Is(Sha256Hex("hello")));
  EXPECT_FALSE(d.Is(sha.substr(0, 32)));       // a shorter digest with the same start
  local::HexDigest secret(sha.substr(0, 32));  // SecretContentDigest's length
  EXPECT_TRUE(secret.Is(sha.substr(0, 32)));
  EXPECT_FALSE(secret.Is(sha));
  // Text that is not a digest equals nothing, not even itself.
  for (const std::string& bad : {std::string("xyz1"), std::string("abc"), std::string(66, 'a')}) {
    local::HexDigest b(bad);
    EXPECT_FALSE(b.Is(bad)) << bad;
    EXPECT_FALSE(b == local::HexDigest(bad)) << bad;
    EXPECT_FALSE(b.Is(sha)) << bad;
    EXPECT_EQ(b.Hex(), "?");
  }
}

TEST(ManagedFileTest, TheOwnerKeyGivesBackItsApplicationAndObject) {
  resource::ResourceId id{"local.plumbline.dev", "File", "default", "dir/with/slashes"};
  local::ManagedFile f{.owner = local::ManagedFile::OwnerKey("web", id)};
  EXPECT_EQ(f.app(), "web");
  EXPECT_EQ(f.id(), id);
  EXPECT_NE(f.owner, local::ManagedFile::OwnerKey("web2", id));
  EXPECT_NE(f.owner, local::ManagedFile::OwnerKey("we", id));
}

TEST_F(LocalTargetTest, AFileKnownUnchangedAtTheLastAskIsAskedAgainOnceAnythingTouchesIt) {
  // As the engine asks: the inventory, then the ids in its apply order. From the second
  // ask on, a File known unchanged at the last one is answered from that answer unless
  // the watcher (or a write) touched it since: each kind of hand edit must still show.
  DriftRecorder rec;
  target_->Watch([&](const std::string& app, const ResourceId& id) { rec.Record(app, id); });
  std::vector<Resource> files;
  std::vector<ResourceId> ids;
  for (int i = 0; i < 40; ++i) {
    const std::string n = std::to_string(i);
    files.push_back(FileRes("f" + n, allowed_ + "/k/f" + n, "v" + n + "\n"));
    ASSERT_TRUE(Apply(files.back()).ok());
    ids.push_back(files.back().id());
  }
  WaitUntilWatched(target_.get(), ctx_, &rec, allowed_ + "/k");
  auto ask = [&] {
    auto inv = target_->InventoryOf(ctx_);
    EXPECT_TRUE(inv.ok() && *inv && (*inv)->size() >= files.size());  // and the probe
    return target_->UnchangedSinceApplied(ctx_, ids);
  };
  auto expect = [&](const std::set<int>& changed, const std::string& when) {
    std::vector<bool> got = ask();
    ASSERT_EQ(got.size(), files.size());
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_EQ(got[i], !changed.count(static_cast<int>(i))) << "f" << i << " " << when;
  };
  expect({}, "first ask");
  expect({}, "second ask");
  const std::shared_ptr<const std::vector<InventoryEntry>> before = *target_->InventoryOf(ctx_);
  std::vector<std::pair<ResourceId, int>> was;
  for (const InventoryEntry& e : *before) was.emplace_back(e.id, e.order);
  // Same size (only the inode's times tell), a chmod, a delete, a symlink in its place.
  {
    FILE* out = std::fopen((allowed_ + "/k/f3").c_str(), "r+");
    ASSERT_NE(out, nullptr);
    std::fputs("x3\n", out);
    std::fclose(out);
  }
  ASSERT_EQ(::chmod((allowed_ + "/k/f7").c_str(), 0600), 0);
  ASSERT_EQ(::unlink((allowed_ + "/k/f11").c_str()), 0);
  ASSERT_EQ(::unlink((allowed_ + "/k/f15").c_str()), 0);
  ASSERT_EQ(::symlink("f16", (allowed_ + "/k/f15").c_str()), 0);
  expect({3, 7, 11, 15}, "after the edits");
  expect({3, 7, 11, 15}, "asked again");
  // Healed (their rows unchanged), then one changed in git: its row is written again and
  // goes last in the inventory, while it is asked for where it was.
  for (int i : {3, 7, 11, 15}) ASSERT_TRUE(Apply(files[i]).ok());
  expect({}, "healed");
  expect({}, "healed, asked again");
  files[5] = FileRes("f5", allowed_ + "/k/f5", "v5, changed\n");
  ASSERT_TRUE(Apply(files[5]).ok());
  expect({}, "f5 changed");
  expect({}, "f5 changed, asked again");
  ASSERT_TRUE(fs::WriteFileAtomic(allowed_ + "/k/f20", "v20\n").ok());  // same content
  expect({20}, "rewritten with the same content");
  // A list handed out never changes; the next one is what local.db holds.
  const size_t owned = before->size();
  ASSERT_EQ(owned, was.size());
  for (size_t k = 0; k < owned; ++k) {
    EXPECT_EQ((*before)[k].id, was[k].first) << k;
    EXPECT_EQ((*before)[k].order, was[k].second) << k;
  }
  ASSERT_TRUE(target_->Remove(ctx_, ids[30]).ok());
  auto now = target_->InventoryOf(ctx_);
  ASSERT_TRUE(now.ok());
  ASSERT_TRUE(target_->Flush().ok());
  Open();
  auto reread = target_->InventoryOf(ctx_);
  ASSERT_TRUE(reread.ok());
  ASSERT_EQ((*now)->size(), owned - 1);
  ASSERT_EQ((*reread)->size(), (*now)->size());
  for (size_t k = 0; k < (*now)->size(); ++k) {
    EXPECT_EQ((**now)[k].id, (**reread)[k].id) << k;
    EXPECT_EQ((**now)[k].order, (**reread)[k].order) << k;
    EXPECT_EQ((**now)[k].applied_hash, (**reread)[k].applied_hash) << k;
  }
  EXPECT_EQ((**now)[(*now)->size() - 1].id, ids[5]);
  target_.reset();
}

TEST_F(LocalTargetTest, ApplyOrdersPastTwoToThe31KeepTheInventoryRight) {
  // The apply order grows over the store's life and is kept across restarts; past 2^31 a
  // kept inventory that truncated it to int lost its rows (a row written again was listed
  // twice, and the old entry would be pruned).
  std::vector<Resource> files;
  for (int i = 0; i < 3; ++i) {
    const std::string n = std::to_string(i);
    files.push_back(FileRes("g" + n, allowed_ + "/g" + n, "v" + n + "\n"));
    ASSERT_TRUE(Apply(files.back()).ok());
  }
  ASSERT_TRUE(target_->Flush().ok());
  target_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((root_ + "/state/local.db").c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, "UPDATE objects SET \"order\" = \"order\" + 3000000000", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  Open();
  auto first = target_->InventoryOf(ctx_);
  ASSERT_TRUE(first.ok() && *first);
  ASSERT_EQ((*first)->size(), 3u);
  EXPECT_GT((**first)[0].order, int64_t{3000000000});
  // g1 changes in git: its row is written again and goes last, listed once.
  files[1] = FileRes("g1", allowed_ + "/g1", "v1, changed\n");
  ASSERT_TRUE(Apply(files[1]).ok());
  auto again = target_->InventoryOf(ctx_);
  ASSERT_TRUE(again.ok() && *again);
  ASSERT_EQ((*again)->size(), 3u);
  EXPECT_EQ((*again)->back().id, files[1].id());
  ASSERT_TRUE(target_->Remove(ctx_, files[0].id()).ok());
  auto left = target_->InventoryOf(ctx_);
  ASSERT_TRUE(left.ok() && *left);
  ASSERT_EQ((*left)->size(), 2u);
  EXPECT_EQ((**left)[0].id, files[2].id());
  target_.reset();
}

}  // namespace
}  // namespace plumb::target
