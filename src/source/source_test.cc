#include "source/source.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include "core/fs.h"
#include "core/strings.h"
#include "source/git_test_util.h"

namespace plumb::source {
namespace {

using testing::CommitAll;
using testing::Git;
using testing::InitRepo;
using testing::NewTempDir;
using testing::WriteFile;

void Symlink(const std::string& target, const std::string& link) {
  std::error_code ec;
  std::filesystem::create_symlink(target, link, ec);
  ASSERT_FALSE(ec) << link << ": " << ec.message();
}

const TreeFile* FindFile(const std::vector<TreeFile>& files, const std::string& path) {
  for (const auto& f : files) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

std::vector<std::string> Paths(const std::vector<TreeFile>& files) {
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(f.path);
  return out;
}

class SourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = NewTempDir("plumb-source-test-");
    repo_ = tmp_.path() + "/repo";
    cache_ = std::make_unique<RepoCache>(tmp_.path() + "/cache");
  }

  fs::TempDir tmp_;
  std::string repo_;
  std::unique_ptr<RepoCache> cache_;
};

TEST_F(SourceTest, ResolvesBranchesTagsAndIds) {
  InitRepo(repo_);
  WriteFile(repo_, "a.txt", "one\n");
  std::string c1 = CommitAll(repo_, "first");
  Git(repo_, {"tag", "-a", "v1", "-m", "annotated v1"});
  Git(repo_, {"tag", "light"});
  Git(repo_, {"checkout", "-q", "-b", "feature"});
  WriteFile(repo_, "b.txt", "feature\n");
  std::string c2 = CommitAll(repo_, "on feature");
  Git(repo_, {"checkout", "-q", "main"});
  WriteFile(repo_, "c.txt", "main\n");
  CommitAll(repo_, "on main");
  Git(repo_, {"merge", "-q", "--no-ff", "-m", "merge feature", "feature"});
  std::string merge = Git(repo_, {"rev-parse", "HEAD"});

  auto fetched = cache_->Fetch(repo_);
  ASSERT_TRUE(fetched.ok()) << fetched.status().ToString();
  EXPECT_FALSE(fetched->skipped);
  EXPECT_TRUE(fs::IsDirectory(cache_->MirrorPath(repo_)));
  EXPECT_TRUE(EndsWith(cache_->MirrorPath(repo_), Sha256Hex(repo_).substr(0, 16) + ".git"));

  EXPECT_EQ(*cache_->Resolve(repo_, "main"), merge);
  EXPECT_EQ(*cache_->Resolve(repo_, "feature"), c2);
  EXPECT_EQ(*cache_->Resolve(repo_, "v1"), c1);  // annotated, peeled
  EXPECT_EQ(*cache_->Resolve(repo_, "light"), c1);
  EXPECT_EQ(*cache_->Resolve(repo_, "refs/tags/v1"), c1);
  EXPECT_EQ(*cache_->Resolve(repo_, "refs/heads/main"), merge);
  EXPECT_EQ(*cache_->Resolve(repo_, c2), c2);
  EXPECT_EQ(*cache_->Resolve(repo_, c2.substr(0, 8)), c2);
  auto missing = cache_->Resolve(repo_, "nope");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);

  auto info = cache_->GetCommit(repo_, merge);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->id, merge);
  EXPECT_EQ(info->author_name, "Test Author");
  EXPECT_EQ(info->author_email, "author@example.com");
  EXPECT_EQ(info->Summary(), "merge feature");
  EXPECT_GT(info->time_unix, 1600000000);

  EXPECT_TRUE(*cache_->IsAncestor(repo_, c1, merge));
  EXPECT_TRUE(*cache_->IsAncestor(repo_, c2, merge));
  EXPECT_TRUE(*cache_->IsAncestor(repo_, merge, merge));
  EXPECT_FALSE(*cache_->IsAncestor(repo_, merge, c2));

  auto files = cache_->ListFiles(repo_, merge, "");
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(Paths(*files), (std::vector<std::string>{"a.txt", "b.txt", "c.txt"}));
}

TEST_F(SourceTest, ReadsFilesModesAndSymlinksInside) {
  InitRepo(repo_);
  WriteFile(repo_, "app/deploy.yaml", "kind: X\n");
  WriteFile(repo_, "app/run.sh", "#!/bin/sh\necho hi\n", 0755);
  WriteFile(repo_, "app/conf/one.yaml", "one: 1\n");
  WriteFile(repo_, "app/conf/two.yaml", "two: 2\n");
  std::string big(5 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
  WriteFile(repo_, "app/big.bin", big);
  Symlink("deploy.yaml", repo_ + "/app/link.yaml");
  Symlink("conf", repo_ + "/app/confdir");
  Symlink("run.sh", repo_ + "/app/run-link");
  WriteFile(repo_, "other/x.yaml", "x: 1\n");
  std::string c = CommitAll(repo_, "files");
  ASSERT_TRUE(cache_->Fetch(repo_).ok());

  auto files = cache_->ListFiles(repo_, c, "app");
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(Paths(*files), (std::vector<std::string>{
                               "app/big.bin", "app/conf/one.yaml", "app/conf/two.yaml",
                               "app/confdir/one.yaml", "app/confdir/two.yaml", "app/deploy.yaml",
                               "app/link.yaml", "app/run-link", "app/run.sh"}));
  const TreeFile* link = FindFile(*files, "app/link.yaml");
  const TreeFile* target = FindFile(*files, "app/deploy.yaml");
  ASSERT_TRUE(link && target);
  EXPECT_EQ(link->blob_id, target->blob_id);
  EXPECT_EQ(link->via_symlink, "deploy.yaml");
  EXPECT_EQ(target->via_symlink, "");
  EXPECT_EQ(target->blob_id, Git(repo_, {"rev-parse", c + ":app/deploy.yaml"}));
  EXPECT_EQ(FindFile(*files, "app/run.sh")->mode, 0100755u);
  EXPECT_EQ(FindFile(*files, "app/run-link")->mode, 0100755u);
  EXPECT_EQ(FindFile(*files, "app/deploy.yaml")->mode, 0100644u);
  EXPECT_EQ(FindFile(*files, "app/confdir/one.yaml")->blob_id,
            FindFile(*files, "app/conf/one.yaml")->blob_id);

  auto blob = cache_->ReadBlob(repo_, FindFile(*files, "app/big.bin")->blob_id);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(*blob, big);
  EXPECT_EQ(*cache_->ReadBlob(repo_, link->blob_id), "kind: X\n");
  EXPECT_EQ(cache_->ReadBlob(repo_, std::string(40, '0')).status().code(), Code::kNotFound);

  EXPECT_EQ(Paths(*cache_->ListFiles(repo_, c, "./other/")),
            (std::vector<std::string>{"other/x.yaml"}));
  EXPECT_EQ(cache_->ListFiles(repo_, c, "missing").status().code(), Code::kNotFound);

  auto checkout_dir = tmp_.path() + "/checkout";
  ASSERT_TRUE(fs::MakeDirs(checkout_dir).ok());
  Status s = cache_->Checkout(repo_, c, checkout_dir);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(*fs::ReadFile(checkout_dir + "/app/link.yaml"), "kind: X\n");
  EXPECT_EQ(*fs::ReadFile(checkout_dir + "/app/confdir/two.yaml"), "two: 2\n");
  EXPECT_EQ(*fs::ReadFile(checkout_dir + "/app/big.bin"), big);
  struct stat st;
  ASSERT_EQ(::lstat((checkout_dir + "/app/link.yaml").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  ASSERT_EQ(::stat((checkout_dir + "/app/run.sh").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  ASSERT_EQ(::stat((checkout_dir + "/other/x.yaml").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_EQ(cache_->Checkout(repo_, c, checkout_dir).code(), Code::kFailedPrecondition);
}

TEST_F(SourceTest, RefusesSymlinksLeavingThePathAndLoops) {
  InitRepo(repo_);
  WriteFile(repo_, "good/a.yaml", "a: 1\n");
  WriteFile(repo_, "apps/shared/s.yaml", "s: 1\n");
  WriteFile(repo_, "apps/web/x.yaml", "x: 1\n");
  Symlink("../shared/s.yaml", repo_ + "/apps/web/shared.yaml");
  WriteFile(repo_, "evil/x.yaml", "x: 1\n");
  Symlink("../../etc/passwd", repo_ + "/evil/passwd.yaml");
  WriteFile(repo_, "abs/x.yaml", "x: 1\n");
  Symlink("/etc/passwd", repo_ + "/abs/passwd.yaml");
  ASSERT_TRUE(fs::MakeDirs(repo_ + "/loop").ok());
  Symlink("b", repo_ + "/loop/a");
  Symlink("a", repo_ + "/loop/b");
  ASSERT_TRUE(fs::MakeDirs(repo_ + "/dirloop/sub").ok());
  WriteFile(repo_, "dirloop/sub/f.yaml", "f: 1\n");
  Symlink("..", repo_ + "/dirloop/sub/up");
  WriteFile(repo_, "dangling/x.yaml", "x: 1\n");
  Symlink("nothing-here", repo_ + "/dangling/y.yaml");
  std::string c = CommitAll(repo_, "links");
  ASSERT_TRUE(cache_->Fetch(repo_).ok());

  EXPECT_TRUE(cache_->ListFiles(repo_, c, "good").ok());
  auto web = cache_->ListFiles(repo_, c, "apps/web");
  EXPECT_EQ(web.status().code(), Code::kPermissionDenied);
  EXPECT_NE(web.status().message().find(
                "apps/web/shared.yaml is a symlink to ../shared/s.yaml, outside apps/web"),
            std::string::npos)
      << web.status().message();
  // From apps, the same link stays inside and resolves.
  auto apps = cache_->ListFiles(repo_, c, "apps");
  ASSERT_TRUE(apps.ok()) << apps.status().ToString();
  EXPECT_EQ(FindFile(*apps, "apps/web/shared.yaml")->blob_id,
            FindFile(*apps, "apps/shared/s.yaml")->blob_id);

  auto evil = cache_->ListFiles(repo_, c, "evil");
  EXPECT_EQ(evil.status().code(), Code::kPermissionDenied);
  EXPECT_NE(evil.status().message().find("evil/passwd.yaml is a symlink to ../../etc/passwd"),
            std::string::npos)
      << evil.status().message();
  EXPECT_EQ(cache_->ListFiles(repo_, c, "abs").status().code(), Code::kPermissionDenied);
  auto loop = cache_->ListFiles(repo_, c, "loop");
  EXPECT_EQ(loop.status().code(), Code::kPermissionDenied);
  EXPECT_NE(loop.status().message().find("loop"), std::string::npos) << loop.status().message();
  auto dirloop = cache_->ListFiles(repo_, c, "dirloop");
  EXPECT_EQ(dirloop.status().code(), Code::kPermissionDenied) << dirloop.status().ToString();
  auto dangling = cache_->ListFiles(repo_, c, "dangling");
  EXPECT_EQ(dangling.status().code(), Code::kNotFound);
  EXPECT_NE(dangling.status().message().find("dangling/y.yaml is a symlink to nothing-here"),
            std::string::npos);

  std::string dest = tmp_.path() + "/out";
  ASSERT_TRUE(fs::MakeDirs(dest).ok());
  EXPECT_EQ(cache_->Checkout(repo_, c, dest).code(), Code::kPermissionDenied);
}

TEST_F(SourceTest, AddedBetweenGivesTheTextOfFilesAddedWhole) {
  // A file added whole comes with its text (the scan does not read it again): exactly the
  // blob's bytes, with or without a last newline, with CRLF; a binary or empty file is left
  // out; a changed file's lines come without text. (Added files are read from their blobs,
  // changed ones through their patch: the lines are counted as the diff counts them.)
  InitRepo(repo_);
  WriteFile(repo_, "app/a.yaml", "a: 1\nb: 2\n");
  WriteFile(repo_, "app/no-newline.txt", "one\ntwo");
  WriteFile(repo_, "app/crlf.txt", "x\r\ny\r\n\r\n");
  WriteFile(repo_, "app/bin.dat", std::string("a\0b\n", 4));
  WriteFile(repo_, "app/empty.txt", "");  // adds no line
  WriteFile(repo_, "other/o.yaml", "o: 1\n");
  std::string c1 = CommitAll(repo_, "one");
  ASSERT_TRUE(cache_->Fetch(repo_).ok());
  auto added = cache_->AddedBetween(repo_, "", c1, "app/");
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  ASSERT_EQ(added->size(), 3u);
  for (const AddedLines& f : *added) {
    EXPECT_TRUE(f.has_text) << f.path;
    EXPECT_EQ(f.text, *cache_->ReadBlob(repo_, f.blob_id)) << f.path;
  }
  EXPECT_EQ((*added)[0].path, "app/a.yaml");
  EXPECT_EQ((*added)[0].lines, (std::vector<int>{1, 2}));
  EXPECT_EQ((*added)[1].lines, (std::vector<int>{1, 2, 3}));  // crlf.txt
  EXPECT_EQ((*added)[2].lines, (std::vector<int>{1, 2}));     // no-newline.txt

  WriteFile(repo_, "app/a.yaml", "a: 1\nb: 3\n");
  std::string c2 = CommitAll(repo_, "two");
  ASSERT_TRUE(cache_->Fetch(repo_).ok());
  added = cache_->AddedBetween(repo_, c1, c2, "app/");
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  ASSERT_EQ(added->size(), 1u);
  EXPECT_EQ((*added)[0].lines, std::vector<int>{2});
  EXPECT_FALSE((*added)[0].has_text);
}

TEST_F(SourceTest, AddedBetweenTellsABoundOfItsTextBeforeReadingAndLetsOtherReadsRun) {
  InitRepo(repo_);
  WriteFile(repo_, "app/a.yaml", "a: 1\nb: 2\n");             // 10 bytes
  WriteFile(repo_, "app/bin.dat", std::string("a\0b\n", 4));  // 4 (binary: no text)
  WriteFile(repo_, "other/o.yaml", "o: 1\n");                 // not under app/
  std::string c1 = CommitAll(repo_, "one");
  ASSERT_TRUE(cache_->Fetch(repo_).ok());
  std::vector<uint64_t> told;
  std::vector<std::string> read_while_told;
  auto added = cache_->AddedBetween(repo_, "", c1, "app/", [&](uint64_t bound) {
    told.push_back(bound);
    // The main handle is free meanwhile (the scan reads through the side handle): a render
    // reading the same mirror from here does not wait for the scan to finish.
    auto files = cache_->ListFiles(repo_, c1, "app");
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    for (const auto& f : *files) read_while_told.push_back(*cache_->ReadBlob(repo_, f.blob_id));
  });
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  ASSERT_EQ(told, std::vector<uint64_t>{14});
  EXPECT_EQ(read_while_told.size(), 2u);
  size_t text = 0;
  for (const AddedLines& f : *added) text += f.text.size();
  EXPECT_LE(text, told[0]);

  // A second commit: the bound counts only what the diff adds to (the changed file's blob).
  WriteFile(repo_, "app/a.yaml", "a: 1\nb: 3\nc: 4\n");  // 15 bytes
  std::string c2 = CommitAll(repo_, "two");
  ASSERT_TRUE(cache_->Fetch(repo_).ok());
  told.clear();
  added = cache_->AddedBetween(repo_, c1, c2, "app/", [&](uint64_t b) { told.push_back(b); });
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(told, std::vector<uint64_t>{15});
}

TEST_F(SourceTest, FetchSeesNewCommitsAndChangedPaths) {
  InitRepo(repo_);
  WriteFile(repo_, "a.yaml", "a: 1\n");
  WriteFile(repo_, "dir/b.yaml", "b: 1\n");
  WriteFile(repo_, "dir/c.yaml", "c: 1\n");
  std::string c1 = CommitAll(repo_, "one");
  ASSERT_TRUE(cache_->Fetch(repo_).ok());
  EXPECT_EQ(*cache_->Resolve(repo_, "main"), c1);

  WriteFile(repo_, "dir/b.yaml", "b: 2\n");
  Git(repo_, {"rm", "-q", "dir/c.yaml"});
  WriteFile(repo_, "new.yaml", "n: 1\n");
  Git(repo_, {"mv", "a.yaml", "renamed.yaml"});
  std::string c2 = CommitAll(repo_, "two");
  Git(repo_, {"tag", "v2"});

  auto skipped = cache_->Fetch(repo_, Duration(3600000));
  ASSERT_TRUE(skipped.ok());
  EXPECT_TRUE(skipped->skipped);
  EXPECT_EQ(*cache_->Resolve(repo_, "main"), c1);
  auto fetched = cache_->Fetch(repo_);
  ASSERT_TRUE(fetched.ok()) << fetched.status().ToString();
  EXPECT_FALSE(fetched->skipped);
  EXPECT_EQ(*cache_->Resolve(repo_, "main"), c2);
  EXPECT_EQ(*cache_->Resolve(repo_, "v2"), c2);

  auto changed = cache_->ChangedPaths(repo_, c1, c2);
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_EQ(*changed, (std::vector<std::string>{"a.yaml", "dir/b.yaml", "dir/c.yaml", "new.yaml",
                                                "renamed.yaml"}));
  EXPECT_EQ(*cache_->ChangedPaths(repo_, "", c2),
            (std::vector<std::string>{"dir/b.yaml", "new.yaml", "renamed.yaml"}));
  EXPECT_TRUE(cache_->ChangedPaths(repo_, c2, c2)->empty());

  // Deleted branches and tags are pruned.
  Git(repo_, {"tag", "-d", "v2"});
  ASSERT_TRUE(cache_->Fetch(repo_).ok());
  EXPECT_EQ(cache_->Resolve(repo_, "v2").status().code(), Code::kNotFound);

  // A second cache over the same directory reopens the mirror without fetching.
  RepoCache again(tmp_.path() + "/cache");
  EXPECT_EQ(*again.Resolve(repo_, "main"), c2);
}

TEST_F(SourceTest, FetchErrorsNameTheUrlWithoutCredentials) {
  auto missing = cache_->Fetch(tmp_.path() + "/no-such-repo");
  EXPECT_EQ(missing.status().code(), Code::kNotFound) << missing.status().ToString();
  EXPECT_NE(missing.status().message().find("no-such-repo"), std::string::npos);
  EXPECT_FALSE(fs::Exists(cache_->MirrorPath(tmp_.path() + "/no-such-repo")));
  EXPECT_EQ(cache_->Resolve(tmp_.path() + "/no-such-repo", "main").status().code(),
            Code::kNotFound);

  std::string url = "http://alice:s3cr3t@127.0.0.1:1/repo.git";
  auto down = cache_->Fetch(url);
  EXPECT_EQ(down.status().code(), Code::kUnavailable) << down.status().ToString();
  EXPECT_TRUE(down.status().transient());
  EXPECT_NE(down.status().message().find("http://127.0.0.1:1/repo.git"), std::string::npos)
      << down.status().message();
  EXPECT_EQ(down.status().message().find("s3cr3t"), std::string::npos);
}

TEST_F(SourceTest, FetchesDifferentUrlsInParallel) {
  std::vector<std::string> repos;
  for (int i = 0; i < 3; ++i) {
    std::string r = tmp_.path() + "/r" + std::to_string(i);
    InitRepo(r);
    WriteFile(r, "f.yaml", "i: " + std::to_string(i) + "\n");
    CommitAll(r, "c");
    repos.push_back(r);
  }
  std::vector<std::thread> threads;
  std::vector<Status> results(6);
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] { results[i] = cache_->Fetch(repos[i % 3]).status(); });
  }
  for (auto& t : threads) t.join();
  for (const auto& s : results) EXPECT_TRUE(s.ok()) << s.ToString();
  for (const auto& r : repos) {
    EXPECT_EQ(*cache_->Resolve(r, "main"), Git(r, {"rev-parse", "HEAD"}));
  }
}

TEST_F(SourceTest, RollbackCommitsOnePathAndPushes) {
  std::string bare = tmp_.path() + "/remote.git";
  ASSERT_TRUE(fs::MakeDirs(bare).ok());
  Git(bare, {"init", "-q", "--bare"});
  std::string work = tmp_.path() + "/work";
  Git(tmp_.path(), {"clone", "-q", bare, work});
  WriteFile(work, "app/config.yaml", "version: 1\n");
  WriteFile(work, "app/old.yaml", "old: true\n");
  WriteFile(work, "other/o.yaml", "other: 1\n");
  std::string v1 = CommitAll(work, "v1");
  WriteFile(work, "app/config.yaml", "version: 2\n");
  Git(work, {"rm", "-q", "app/old.yaml"});
  WriteFile(work, "app/new.yaml", "new: true\n");
  WriteFile(work, "other/o.yaml", "other: 2\n");
  std::string v2 = CommitAll(work, "v2");
  Git(work, {"push", "-q", "origin", "main"});

  auto id = cache_->CommitPathFromRevision(bare, "main", "app", v1.substr(0, 10),
                                           "Rollback app to " + v1.substr(0, 10) + " (by alice)",
                                           Signature{.name = "Rollbot", .email = "rb@x"});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*cache_->Resolve(bare, "main"), *id);
  EXPECT_EQ(Git(bare, {"rev-parse", "refs/heads/main"}), *id);

  Git(work, {"pull", "-q", "--ff-only"});
  EXPECT_EQ(*fs::ReadFile(work + "/app/config.yaml"), "version: 1\n");
  EXPECT_EQ(*fs::ReadFile(work + "/app/old.yaml"), "old: true\n");
  EXPECT_FALSE(fs::Exists(work + "/app/new.yaml"));
  EXPECT_EQ(*fs::ReadFile(work + "/other/o.yaml"), "other: 2\n");
  EXPECT_EQ(Git(work, {"log", "-1", "--format=%s|%an|%ae"}),
            "Rollback app to " + v1.substr(0, 10) + " (by alice)|Rollbot|rb@x");
  EXPECT_EQ(Git(work, {"rev-list", "--count", "HEAD"}), "3");

  auto again = cache_->CommitPathFromRevision(bare, "main", "app", v1, "again", Signature{});
  EXPECT_EQ(again.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(again.status().message().find("nothing to roll back"), std::string::npos);

  // A path absent at the revision is removed; "" rolls back the whole tree.
  auto removed = cache_->CommitPathFromRevision(bare, "main", "app/new-dir", v1, "rm", {});
  EXPECT_EQ(removed.status().code(), Code::kFailedPrecondition);
  auto whole = cache_->CommitPathFromRevision(bare, "main", "", v1, "whole", {});
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  Git(work, {"pull", "-q", "--ff-only"});
  EXPECT_EQ(*fs::ReadFile(work + "/other/o.yaml"), "other: 1\n");
  // A single file.
  auto file = cache_->CommitPathFromRevision(bare, "main", "other/o.yaml", v2, "file", {});
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  Git(work, {"pull", "-q", "--ff-only"});
  EXPECT_EQ(*fs::ReadFile(work + "/other/o.yaml"), "other: 2\n");
  EXPECT_EQ(*fs::ReadFile(work + "/app/config.yaml"), "version: 1\n");
  EXPECT_EQ(cache_->CommitPathFromRevision(bare, "nobranch", "app", v1, "x", {}).status().code(),
            Code::kNotFound);
}

TEST_F(SourceTest, InitRepositoryMakesACloneableBareRepo) {
  std::string bare = tmp_.path() + "/site.git";
  std::string work = tmp_.path() + "/site";
  Status s =
      InitRepository(bare, work, {{"apps/motd.yaml", "kind: File\n"}, {"README.md", "# site\n"}},
                     {"staging", "production"}, "plumb init", Signature{});
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Git(work, {"status", "--porcelain"}), "");
  EXPECT_EQ(Git(work, {"rev-parse", "--abbrev-ref", "HEAD"}), "staging");
  EXPECT_EQ(Git(work, {"rev-parse", "--abbrev-ref", "production@{upstream}"}), "origin/production");
  EXPECT_EQ(Git(work, {"rev-parse", "--abbrev-ref", "staging@{upstream}"}), "origin/staging");
  EXPECT_EQ(Git(bare, {"symbolic-ref", "HEAD"}), "refs/heads/staging");

  std::string clone = tmp_.path() + "/clone";
  Git(tmp_.path(), {"clone", "-q", bare, clone});
  EXPECT_EQ(*fs::ReadFile(clone + "/apps/motd.yaml"), "kind: File\n");
  EXPECT_EQ(Git(clone, {"rev-parse", "--abbrev-ref", "HEAD"}), "staging");
  Git(clone, {"checkout", "-q", "production"});
  EXPECT_EQ(*fs::ReadFile(clone + "/README.md"), "# site\n");
  EXPECT_EQ(Git(clone, {"log", "-1", "--format=%s"}), "plumb init");

  // The work clone pushes like any clone.
  WriteFile(work, "apps/motd.yaml", "kind: File\nv: 2\n");
  CommitAll(work, "edit");
  Git(work, {"push", "-q"});

  EXPECT_EQ(InitRepository(bare, tmp_.path() + "/w2", {}, {"main"}, "x", {}).code(),
            Code::kAlreadyExists);
}

TEST(GitBlobIdTest, MatchesGitHashObject) {
  fs::TempDir tmp = NewTempDir();
  for (std::string content : {std::string(""), std::string("hello\n"), std::string(70000, 'z')}) {
    WriteFile(tmp.path(), "f", content);
    EXPECT_EQ(GitBlobId(content), Git(tmp.path(), {"hash-object", "f"}));
  }
}

}  // namespace
}  // namespace plumb::source
