#include "target/target.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "core/fs.h"
#include "target/local/local_target.h"
#include "target/local/local_target_test_util.h"

namespace plumb::target {
namespace {

// Overwrites the start of `path` with `text` in place (same size when `text` is as long
// as the content) and puts its access and modification times back: an edit that size
// and mtime alone cannot see.
void OverwriteKeepingSizeAndTimes(const std::string& path, const char* text) {
  struct stat before;
  ASSERT_EQ(::stat(path.c_str(), &before), 0);
  FILE* out = std::fopen(path.c_str(), "r+");
  ASSERT_NE(out, nullptr);
  std::fputs(text, out);
  std::fclose(out);
  timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

TEST(NamesTest, HealthAndChangeNames) {
  EXPECT_STREQ(HealthName(HealthStatus::kProgressing), "Progressing");
  EXPECT_STREQ(HealthName(HealthStatus::kMissing), "Missing");
  EXPECT_STREQ(ChangeKindName(ChangeKind::kConfigured), "configured");
  EXPECT_STREQ(ChangeKindName(ChangeKind::kSkipped), "skipped");
  EXPECT_EQ(WorseHealth(HealthStatus::kHealthy, HealthStatus::kUnknown), HealthStatus::kUnknown);
  EXPECT_EQ(WorseHealth(HealthStatus::kMissing, HealthStatus::kDegraded), HealthStatus::kDegraded);
  EXPECT_EQ(WorseHealth(HealthStatus::kProgressing, HealthStatus::kMissing),
            HealthStatus::kMissing);
  EXPECT_EQ(WorseHealth(HealthStatus::kSuspended, HealthStatus::kProgressing),
            HealthStatus::kProgressing);
  EXPECT_EQ(WorseHealth(HealthStatus::kUnknown, HealthStatus::kSuspended),
            HealthStatus::kSuspended);
}

TEST_F(LocalTargetTest, HandlesOnlyTheLocalKinds) {
  for (const char* kind : {"File", "ConfigMap", "Secret", "Process", "Job"})
    EXPECT_TRUE(target_->Handles({"local.plumbline.dev", kind, "", "x"})) << kind;
  EXPECT_FALSE(target_->Handles({"local.plumbline.dev", "Deployment", "", "x"}));
  EXPECT_FALSE(target_->Handles({"", "ConfigMap", "default", "x"}));
}

TEST_F(LocalTargetTest, ApplyObserveUnchangedConfigureRemove) {
  const std::string path = allowed_ + "/etc/motd";
  Resource f = FileRes("motd", path, "hello\n");
  auto expected = target_->Expected(ctx_, f);
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();
  EXPECT_EQ(expected->FindPath({"spec", "mode"})->as_string(), "0644");
  EXPECT_EQ(expected->FindPath({"spec", "path"})->as_string(), path);

  EXPECT_FALSE(ObserveOne(f.id()).exists);
  auto c = Apply(f);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kind, ChangeKind::kCreated);
  EXPECT_EQ(Read(path), "hello\n");
  EXPECT_EQ(ModeOf(path), 0644);

  LiveObject live = ObserveOne(f.id());
  EXPECT_TRUE(live.exists);
  EXPECT_EQ(live.body, *expected);
  EXPECT_EQ(target_->AssessHealth(ctx_, live).status, HealthStatus::kHealthy);

  c = Apply(f);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->kind, ChangeKind::kUnchanged);

  c = Apply(FileRes("motd", path, "hello again\n", "0600"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->kind, ChangeKind::kConfigured);
  EXPECT_EQ(c->message, "content, mode 0644 -> 0600");
  EXPECT_EQ(Read(path), "hello again\n");
  EXPECT_EQ(ModeOf(path), 0600);

  auto inv = target_->Inventory("web");
  ASSERT_TRUE(inv.ok());
  ASSERT_EQ(inv->size(), 1u);
  EXPECT_EQ((*inv)[0].id, f.id());
  EXPECT_EQ((*inv)[0].applied_hash.Hex().size(), 64u);
  EXPECT_TRUE(target_->Flush().ok());

  c = target_->Remove(ctx_, f.id());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kind, ChangeKind::kDeleted);
  EXPECT_FALSE(fs::Exists(path));
  EXPECT_TRUE(target_->Inventory("web")->empty());
  live = ObserveOne(f.id());
  EXPECT_FALSE(live.exists);
  EXPECT_EQ(target_->AssessHealth(ctx_, live).status, HealthStatus::kMissing);
  c = target_->Remove(ctx_, f.id());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->kind, ChangeKind::kUnchanged);
}

TEST_F(LocalTargetTest, ObserveSeesSameSizeEditsWithTheOldMtime) {
  // Observe skips re-reading a file whose stat is unchanged since it was verified; an
  // edit that keeps size and mtime still changes ctime and must be seen.
  const std::string path = allowed_ + "/same-size";
  Resource f = FileRes("same", path, "aaaa\n");
  ASSERT_TRUE(Apply(f).ok());
  ASSERT_TRUE(ObserveOne(f.id()).exists);  // verified now
  ASSERT_TRUE(ObserveOne(f.id()).exists);  // and answered from the stat cache
  ASSERT_NO_FATAL_FAILURE(OverwriteKeepingSizeAndTimes(path, "bbbb\n"));
  LiveObject live = ObserveOne(f.id());
  ASSERT_TRUE(live.exists);
  EXPECT_EQ(live.body.FindPath({"spec", "content"})->as_string(), "bbbb\n");
}

TEST_F(LocalTargetTest, UnchangedSinceAppliedOnlyWhileTheFileIsAsVerified) {
  // What a no-op plan trusts instead of reading the file: it must turn false on a hand
  // edit (even one that keeps size and mtime), a chmod and a delete.
  const std::string path = allowed_ + "/as-applied";
  Resource f = FileRes("asap", path, "aaaa\n");
  Resource cm = Make("ConfigMap", "settings", Obj({{"data", Obj({{"k", "v"}})}}));
  ResourceId never{"local.plumbline.dev", "File", "", "never-applied"};
  auto unchanged = [&]() { return target_->UnchangedSinceApplied(ctx_, {f.id(), cm.id(), never}); };
  EXPECT_EQ(unchanged(), (std::vector<bool>{false, false, false}));
  ASSERT_TRUE(Apply(f).ok());
  ASSERT_TRUE(Apply(cm).ok());
  // The apply read back what it wrote and stamped it: verified without an Observe.
  EXPECT_EQ(unchanged(), (std::vector<bool>{true, true, false}));
  ASSERT_TRUE(ObserveOne(f.id()).exists);  // and an Observe keeps it so
  EXPECT_EQ(unchanged(), (std::vector<bool>{true, true, false}));
  EXPECT_TRUE(target_->ExpectedIsPure(ctx_, f));
  EXPECT_TRUE(target_->ExpectedIsPure(ctx_, cm));
  EXPECT_FALSE(target_->ExpectedIsPure(
      ctx_,
      Make("File", "from-cm",
           Obj({{"spec", Obj({{"path", allowed_ + "/x"},
                              {"fromConfigMap", Obj({{"name", "settings"}, {"key", "k"}})}})}}))));

  ASSERT_NO_FATAL_FAILURE(OverwriteKeepingSizeAndTimes(path, "bbbb\n"));
  EXPECT_FALSE(unchanged()[0]) << "a same-size edit with the old mtime";

  ASSERT_TRUE(Apply(f).ok());  // healed
  ASSERT_TRUE(ObserveOne(f.id()).exists);
  EXPECT_TRUE(unchanged()[0]);
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_FALSE(unchanged()[0]) << "a chmod";

  ASSERT_TRUE(Apply(f).ok());
  ASSERT_TRUE(ObserveOne(f.id()).exists);
  EXPECT_TRUE(unchanged()[0]);
  ASSERT_EQ(::unlink(path.c_str()), 0);
  EXPECT_FALSE(unchanged()[0]) << "a delete";
}

TEST_F(LocalTargetTest, RemoveOfAMissingFileIsDeletedAndUnrecordedFilesAreNeverTouched) {
  const std::string path = allowed_ + "/a";
  Resource f = FileRes("a", path, "x");
  ASSERT_TRUE(Apply(f).ok());
  ASSERT_EQ(::unlink(path.c_str()), 0);
  auto c = target_->Remove(ctx_, f.id());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->kind, ChangeKind::kDeleted);

  // A file plumbline never applied (another app's view, or just there) stays.
  const std::string other = allowed_ + "/b";
  ASSERT_TRUE(fs::WriteFileAtomic(other, "mine").ok());
  c = target_->Remove(ctx_, FileRes("b", other, "").id());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->kind, ChangeKind::kUnchanged);
  EXPECT_EQ(Read(other), "mine");
}

TEST_F(LocalTargetTest, FailedRemoveKeepsTheInventoryRow) {
  const std::string path = allowed_ + "/d/file";
  Resource f = FileRes("f", path, "x");
  ASSERT_TRUE(Apply(f).ok());
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_EQ(::mkdir(path.c_str(), 0755), 0);  // now a directory: not ours to remove
  auto c = target_->Remove(ctx_, f.id());
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(target_->Inventory("web")->size(), 1u);
  EXPECT_TRUE(fs::IsDirectory(path));
}

TEST_F(LocalTargetTest, ChangedPathRemovesTheOldFile) {
  ASSERT_TRUE(Apply(FileRes("f", allowed_ + "/old", "x")).ok());
  auto c = Apply(FileRes("f", allowed_ + "/sub/new", "x"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kind, ChangeKind::kCreated);
  EXPECT_FALSE(fs::Exists(allowed_ + "/old"));
  EXPECT_EQ(Read(allowed_ + "/sub/new"), "x");
}

TEST_F(LocalTargetTest, TwoOwnersForOnePathAreRefused) {
  ASSERT_TRUE(Apply(FileRes("f", allowed_ + "/shared", "x")).ok());
  AppContext other{.app = "api"};
  auto c = target_->Apply(other, FileRes("g", allowed_ + "/shared", "y"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(Read(allowed_ + "/shared"), "x");
}

TEST_F(LocalTargetTest, RelativePathsResolveUnderTheLocalRoot) {
  ctx_.local_root = allowed_ + "/app";
  Resource f = FileRes("conf", "conf/./app.ini", "k=v\n");
  auto c = Apply(f);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(Read(allowed_ + "/app/conf/app.ini"), "k=v\n");

  ctx_.local_root = "";
  auto e = target_->Expected(ctx_, f);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), Code::kInvalidArgument);
  EXPECT_NE(e.status().message().find("spec.path"), std::string::npos);
}

TEST_F(LocalTargetTest, PathsOutsideTheAllowedDirectoriesAreRefused) {
  auto expect_denied = [&](const std::string& path) {
    auto c = Apply(FileRes("x", path, "pwned"));
    ASSERT_FALSE(c.ok()) << path;
    EXPECT_EQ(c.status().code(), Code::kPermissionDenied) << c.status().ToString();
  };
  expect_denied(allowed_ + "/../outside/escape");
  expect_denied(outside_ + "/abs");
  expect_denied(allowed_);  // the directory itself is not a file under it
  ctx_.local_root = allowed_;
  expect_denied("../outside/rel");
  // A symlinked directory inside the allowed one that points outside.
  ASSERT_EQ(::symlink(outside_.c_str(), (allowed_ + "/link").c_str()), 0);
  expect_denied(allowed_ + "/link/escape");
  expect_denied(allowed_ + "/link/deeper/escape");
  EXPECT_FALSE(fs::Exists(outside_ + "/escape"));
  EXPECT_FALSE(fs::Exists(outside_ + "/deeper"));
  EXPECT_FALSE(fs::Exists(outside_ + "/abs"));
  EXPECT_FALSE(fs::Exists(outside_ + "/rel"));

  // A symlink that stays inside is fine.
  ASSERT_TRUE(fs::MakeDirs(allowed_ + "/real").ok());
  ASSERT_EQ(::symlink((allowed_ + "/real").c_str(), (allowed_ + "/inner").c_str()), 0);
  EXPECT_TRUE(Apply(FileRes("y", allowed_ + "/inner/ok", "fine")).ok());
  EXPECT_EQ(Read(allowed_ + "/real/ok"), "fine");
}

TEST_F(LocalTargetTest, WithoutAllowPathNoFileIsWritten) {
  target_.reset();
  auto t = local::NewLocalTarget({.state_dir = root_ + "/state2"});
  ASSERT_TRUE(t.ok());
  auto c = (*t)->Apply(ctx_, FileRes("x", allowed_ + "/f", "x"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kPermissionDenied);
  EXPECT_NE(c.status().message().find("no --allow-path given: plumbline writes no files"),
            std::string::npos);
  EXPECT_FALSE(fs::Exists(allowed_ + "/f"));
}

TEST_F(LocalTargetTest, ReplacesASymlinkAtThePathInsteadOfWritingThroughIt) {
  const std::string secret = outside_ + "/passwd";
  ASSERT_TRUE(fs::WriteFileAtomic(secret, "root:x:0:0\n").ok());
  const std::string path = allowed_ + "/f";
  ASSERT_EQ(::symlink(secret.c_str(), path.c_str()), 0);
  LiveObject before = ObserveOne(FileRes("f", path, "").id());
  EXPECT_FALSE(before.exists);  // not in the inventory and not desired: not looked at
  ctx_.desired = nullptr;
  auto c = Apply(FileRes("f", path, "mine\n"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kind, ChangeKind::kConfigured);
  EXPECT_EQ(c->message, "replaced a symlink");
  EXPECT_EQ(Read(secret), "root:x:0:0\n");
  struct stat st;
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(Read(path), "mine\n");
}

TEST_F(LocalTargetTest, ObserveShowsANonRegularFileAsDifferent) {
  const std::string path = allowed_ + "/f";
  Resource f = FileRes("f", path, "x");
  ASSERT_TRUE(Apply(f).ok());
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_EQ(::symlink("/etc/hostname", path.c_str()), 0);
  LiveObject live = ObserveOne(f.id());
  EXPECT_TRUE(live.exists);
  EXPECT_NE(live.body, *target_->Expected(ctx_, f));
  EXPECT_EQ(live.body.FindPath({"spec", "type"})->as_string(), "symlink");
  EXPECT_EQ(target_->AssessHealth(ctx_, live).status, HealthStatus::kDegraded);
}

TEST_F(LocalTargetTest, ContentFromAConfigMapInTheDesiredSet) {
  std::vector<Resource> desired = {
      Make("ConfigMap", "settings", Obj({{"data", Obj({{"app.ini", "port=8080\n"}})}})),
  };
  ctx_.desired = &desired;
  Value spec = Obj({{"path", allowed_ + "/app.ini"},
                    {"fromConfigMap", Obj({{"name", "settings"}, {"key", "app.ini"}})}});
  auto c = Apply(Make("File", "ini", Obj({{"spec", spec}})));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(Read(allowed_ + "/app.ini"), "port=8080\n");

  spec.Set("fromConfigMap", Obj({{"name", "settings"}, {"key", "nope"}}));
  auto e = target_->Expected(ctx_, Make("File", "ini", Obj({{"spec", spec}})));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), Code::kInvalidArgument);
  EXPECT_NE(e.status().message().find("ConfigMap settings has no key \"nope\""), std::string::npos)
      << e.status().message();

  spec.Set("fromConfigMap", Obj({{"name", "missing"}, {"key", "k"}}));
  e = target_->Expected(ctx_, Make("File", "ini", Obj({{"spec", spec}})));
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("ConfigMap missing is not in the desired set"),
            std::string::npos)
      << e.status().message();
}

TEST_F(LocalTargetTest, FileModeForms) {
  auto mode_of = [&](Value mode) -> std::string {
    auto e = target_->Expected(ctx_, FileRes("m", allowed_ + "/m", "", mode));
    return e.ok() ? e->FindPath({"spec", "mode"})->as_string() : e.status().message();
  };
  EXPECT_EQ(mode_of("0644"), "0644");
  EXPECT_EQ(mode_of("644"), "0644");
  EXPECT_EQ(mode_of("0o600"), "0600");
  EXPECT_EQ(mode_of(420), "0644");  // YAML 1.1 reads 0644 as 420
  EXPECT_EQ(mode_of(493), "0755");
  EXPECT_EQ(mode_of("0000"), "0000");
  EXPECT_EQ(mode_of("abc"), "test.yaml:1: spec.mode: \"abc\" is not a file mode (use \"0644\")");
  EXPECT_NE(mode_of("0888").find("is not a file mode"), std::string::npos);
  EXPECT_NE(mode_of(4095).find("is not a file mode"), std::string::npos);  // setuid etc.
  EXPECT_NE(mode_of(true).find("is not a file mode"), std::string::npos);
  EXPECT_NE(mode_of(-1).find("is not a file mode"), std::string::npos);
}

TEST_F(LocalTargetTest, FileSpecValidationNamesTheField) {
  auto message = [&](Value spec) {
    auto e = target_->Expected(ctx_, Make("File", "v", Obj({{"spec", spec}})));
    EXPECT_FALSE(e.ok());
    EXPECT_EQ(e.status().code(), Code::kInvalidArgument);
    return e.status().message();
  };
  EXPECT_NE(message(Obj({{"content", "x"}})).find("spec.path"), std::string::npos);
  EXPECT_NE(message(Obj({{"path", allowed_ + "/v"}, {"content", 12}})).find("spec.content"),
            std::string::npos);
  EXPECT_NE(message(Obj({{"path", allowed_ + "/v"}, {"contnet", "x"}})).find("spec.contnet"),
            std::string::npos);
}

TEST_F(LocalTargetTest, ConfigMapsAreStoredAndValidated) {
  Resource cm = Make("ConfigMap", "settings", Obj({{"data", Obj({{"color", "blue"}})}}));
  auto c = Apply(cm);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kind, ChangeKind::kCreated);
  EXPECT_EQ(Apply(cm)->kind, ChangeKind::kUnchanged);
  LiveObject live = ObserveOne(cm.id());
  EXPECT_TRUE(live.exists);
  EXPECT_EQ(live.body.FindPath({"data", "color"})->as_string(), "blue");
  EXPECT_EQ(target_->AssessHealth(ctx_, live).status, HealthStatus::kHealthy);
  EXPECT_EQ(Apply(Make("ConfigMap", "settings", Obj({{"data", Obj({{"color", "red"}})}})))->kind,
            ChangeKind::kConfigured);

  auto bad = target_->Expected(ctx_, Make("ConfigMap", "n", Obj({{"data", Obj({{"port", 80}})}})));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("data.port: must be a string"), std::string::npos);

  EXPECT_EQ(target_->Remove(ctx_, cm.id())->kind, ChangeKind::kDeleted);
  EXPECT_FALSE(ObserveOne(cm.id()).exists);
}

TEST_F(LocalTargetTest, InventorySurvivesReopeningTheDatabase) {
  Resource a = FileRes("a", allowed_ + "/a", "1");
  Resource cm = Make("ConfigMap", "c", Obj({{"data", Obj({{"k", "v"}})}}));
  Resource b = FileRes("b", allowed_ + "/b", "2");
  ASSERT_TRUE(Apply(a).ok());
  ASSERT_TRUE(Apply(cm).ok());
  ASSERT_TRUE(Apply(b).ok());
  Open();
  auto inv = target_->Inventory("web");
  ASSERT_TRUE(inv.ok());
  ASSERT_EQ(inv->size(), 3u);
  EXPECT_EQ((*inv)[0].id, a.id());
  EXPECT_EQ((*inv)[1].id, cm.id());
  EXPECT_EQ((*inv)[2].id, b.id());
  EXPECT_LT((*inv)[0].order, (*inv)[2].order);
  EXPECT_TRUE(target_->Inventory("other")->empty());
  EXPECT_TRUE(ObserveOne(cm.id()).exists);
  EXPECT_EQ(Apply(b)->kind, ChangeKind::kUnchanged);
  // The path index came back too: another app cannot take the path.
  EXPECT_EQ(target_->Apply({.app = "api"}, FileRes("z", allowed_ + "/a", "x")).status().code(),
            Code::kAlreadyExists);
  // And a later apply orders after everything before the restart.
  ASSERT_TRUE(Apply(FileRes("a", allowed_ + "/a", "changed")).ok());
  inv = target_->Inventory("web");
  EXPECT_EQ(inv->back().id, a.id());
}

// After a restart a File's applied body is read back from local.db only when something
// needs it (an equal Expected() never does): each use must still see it.
TEST_F(LocalTargetTest, AfterARestartEveryUseOfAFileSeesWhatWasApplied) {
  Resource same = FileRes("same", allowed_ + "/same", "1\n");
  Resource edit = FileRes("edit", allowed_ + "/edit", "2\n");
  Resource drift = FileRes("drift", allowed_ + "/drift", "3\n");
  Resource gone = FileRes("gone", allowed_ + "/gone", "4\n");
  Resource moved = FileRes("moved", allowed_ + "/moved", "5\n");
  for (const Resource* r : {&same, &edit, &drift, &gone, &moved}) ASSERT_TRUE(Apply(*r).ok());
  ASSERT_TRUE(target_->Flush().ok());
  Open();
  ASSERT_EQ(target_->Inventory("web")->size(), 5u);

  // Not looked at yet: not known unchanged (the engine then observes it).
  EXPECT_EQ(target_->UnchangedSinceApplied(ctx_, {same.id(), drift.id()}),
            (std::vector<bool>{false, false}));
  // Equal to what was applied: observed as it, a no-op apply.
  auto expected = target_->Expected(ctx_, same);
  ASSERT_TRUE(expected.ok());
  LiveObject live = ObserveOne(same.id());
  EXPECT_TRUE(live.exists);
  EXPECT_EQ(live.body, *expected);
  EXPECT_EQ(target_->AssessHealth(ctx_, live).status, HealthStatus::kHealthy);
  EXPECT_EQ(Apply(same)->kind, ChangeKind::kUnchanged);

  // Changed in git: the live file is still what was applied (with its metadata: owned).
  Resource edited = FileRes("edit", allowed_ + "/edit", "two\n");
  expected = target_->Expected(ctx_, edited);
  ASSERT_TRUE(expected.ok());
  live = ObserveOne(edit.id());
  EXPECT_TRUE(live.exists);
  EXPECT_EQ(live.body.FindPath({"spec", "content"})->as_string(), "2\n");
  EXPECT_NE(live.body.Find("metadata"), nullptr);
  EXPECT_NE(live.body, *expected);
  auto c = Apply(edited);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kind, ChangeKind::kConfigured);
  EXPECT_EQ(c->message, "content");
  EXPECT_EQ(Read(allowed_ + "/edit"), "two\n");

  // Edited by hand, observed before any Expected(): drift, and degraded.
  ASSERT_TRUE(fs::WriteFileAtomic(allowed_ + "/drift", "changed\n", 0644, false).ok());
  live = ObserveOne(drift.id());
  EXPECT_TRUE(live.exists);
  EXPECT_EQ(live.body.FindPath({"spec", "content"})->as_string(), "changed\n");
  EXPECT_EQ(target_->AssessHealth(ctx_, live).status, HealthStatus::kDegraded);
  c = Apply(drift);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->kind, ChangeKind::kConfigured);
  EXPECT_EQ(Read(allowed_ + "/drift"), "3\n");

  // Pruned: the path comes from the row.
  c = target_->Remove(ctx_, gone.id());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kind, ChangeKind::kDeleted);
  EXPECT_FALSE(fs::Exists(allowed_ + "/gone"));

  // A new path: the old file (from the row) is removed.
  c = Apply(FileRes("moved", allowed_ + "/moved2", "5\n"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->message, "wrote " + allowed_ + "/moved2, moved from " + allowed_ + "/moved");
  EXPECT_FALSE(fs::Exists(allowed_ + "/moved"));
  EXPECT_EQ(Read(allowed_ + "/moved2"), "5\n");
  EXPECT_EQ(target_->Inventory("web")->size(), 4u);
}

}  // namespace
}  // namespace plumb::target
