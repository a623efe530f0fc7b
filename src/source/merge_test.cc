// RepoCache::Merge, AheadBehind, Log, DiffText and CommitPathFrom against repositories
// made with the real git CLI: what plumbline writes, git must read back as a merge.
#include <gtest/gtest.h>

#include "core/fs.h"
#include "source/git_test_util.h"
#include "source/source.h"

namespace plumb::source {
namespace {

using testing::CommitAll;
using testing::Git;
using testing::NewTempDir;
using testing::WriteFile;

// A bare remote with branches staging and production at one first commit, and a clone.
class MergeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = NewTempDir("plumb-merge-test-");
    bare_ = tmp_.path() + "/remote.git";
    ASSERT_TRUE(fs::MakeDirs(bare_).ok());
    Git(bare_, {"init", "-q", "--bare"});
    work_ = tmp_.path() + "/work";
    Git(tmp_.path(), {"clone", "-q", bare_, work_});
    WriteFile(work_, "app/config.yaml", "version: 1\n");
    WriteFile(work_, "app/other.yaml", "other: 1\n");
    base_ = CommitAll(work_, "base");
    Git(work_, {"push", "-q", "origin", "main:staging", "main:production"});
    cache_ = std::make_unique<RepoCache>(tmp_.path() + "/cache");
  }

  // Commits `content` to `file` on `branch` in the clone and pushes; returns the commit.
  std::string CommitOn(const std::string& branch, const std::string& file,
                       const std::string& content) {
    Git(work_, {"fetch", "-q", "origin"});
    Git(work_, {"checkout", "-q", "-B", branch, "origin/" + branch});
    WriteFile(work_, file, content);
    std::string id = CommitAll(work_, "change " + file + " on " + branch);
    Git(work_, {"push", "-q", "origin", branch});
    return id;
  }

  std::string RemoteHead(const std::string& branch) {
    return Git(bare_, {"rev-parse", "refs/heads/" + branch});
  }

  std::string ShowFile(const std::string& branch, const std::string& file) {
    return Git(bare_, {"show", "refs/heads/" + branch + ":" + file});
  }

  MergeRequest Request(const std::string& commit) {
    return MergeRequest{.into = "production",
                        .commit = commit,
                        .message = "Promote " + commit.substr(0, 7),
                        .author = {.name = "Promoter", .email = "p@x"}};
  }

  fs::TempDir tmp_;
  std::string bare_, work_, base_;
  std::unique_ptr<RepoCache> cache_;
};

TEST_F(MergeTest, FastForwardsWhenTheBranchHasNoCommitsOfItsOwn) {
  std::string s1 = CommitOn("staging", "app/config.yaml", "version: 2\n");
  auto r = cache_->Merge(bare_, Request("staging"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, "FastForward");
  EXPECT_EQ(r->previous_head, base_);
  EXPECT_EQ(r->new_head, s1);
  EXPECT_EQ(r->commit, s1);
  EXPECT_EQ(r->ahead, 1u);
  EXPECT_EQ(r->behind, 0u);
  EXPECT_EQ(RemoteHead("production"), s1);
  EXPECT_EQ(*cache_->Resolve(bare_, "production"), s1);

  auto again = cache_->Merge(bare_, Request(s1));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->outcome, "UpToDate");
  EXPECT_EQ(again->new_head, s1);
}

TEST_F(MergeTest, WritesAMergeCommitWhenTheBranchHasItsOwnCommits) {
  std::string s1 = CommitOn("staging", "app/config.yaml", "version: 2\n");
  std::string p1 = CommitOn("production", "app/other.yaml", "other: prod\n");
  auto r = cache_->Merge(bare_, Request(s1));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, "MergeCommit");
  EXPECT_EQ(r->ahead, 1u);
  EXPECT_EQ(r->behind, 1u);
  EXPECT_EQ(RemoteHead("production"), r->new_head);
  EXPECT_EQ(Git(bare_, {"log", "-1", "--format=%P|%s|%an", "production"}),
            p1 + " " + s1 + "|Promote " + s1.substr(0, 7) + "|Promoter");
  EXPECT_EQ(ShowFile("production", "app/config.yaml"), "version: 2");
  EXPECT_EQ(ShowFile("production", "app/other.yaml"), "other: prod");
  // git itself sees staging as merged.
  EXPECT_EQ(Git(bare_, {"branch", "--merged", "production", "--format=%(refname:short)"}),
            "production\nstaging");
}

TEST_F(MergeTest, OursRecordsTheMergeWithoutTakingTheChanges) {
  std::string s1 = CommitOn("staging", "app/config.yaml", "version: staging-only\n");
  MergeRequest req = Request(s1);
  req.strategy = MergeStrategy::kOurs;
  auto r = cache_->Merge(bare_, req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, "MergeCommit");  // never a fast-forward: that would take them
  EXPECT_EQ(ShowFile("production", "app/config.yaml"), "version: 1");
  EXPECT_EQ(Git(bare_, {"log", "-1", "--format=%P", "production"}), base_ + " " + s1);
  EXPECT_EQ(Git(bare_, {"rev-parse", "production^{tree}"}),
            Git(bare_, {"rev-parse", base_ + "^{tree}"}));
  // A later promotion brings only what came after.
  std::string s2 = CommitOn("staging", "app/other.yaml", "other: 2\n");
  auto next = cache_->Merge(bare_, Request(s2));
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->outcome, "MergeCommit");
  EXPECT_EQ(next->ahead, 1u);
  EXPECT_EQ(ShowFile("production", "app/config.yaml"), "version: 1");
  EXPECT_EQ(ShowFile("production", "app/other.yaml"), "other: 2");
}

TEST_F(MergeTest, AConflictNamesTheFilesAndChangesNothing) {
  std::string s1 = CommitOn("staging", "app/config.yaml", "version: staging\n");
  CommitOn("staging", "app/new.yaml", "new: 1\n");
  std::string p1 = CommitOn("production", "app/config.yaml", "version: production\n");
  auto r = cache_->Merge(bare_, Request("staging"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, "Conflict");
  EXPECT_EQ(r->conflicts, std::vector<std::string>{"app/config.yaml"});
  EXPECT_EQ(r->new_head, p1);
  EXPECT_EQ(RemoteHead("production"), p1);
  EXPECT_EQ(*cache_->Resolve(bare_, "production"), p1);
}

TEST_F(MergeTest, DryRunPushesNothing) {
  std::string s1 = CommitOn("staging", "app/config.yaml", "version: 2\n");
  MergeRequest req = Request(s1);
  req.dry_run = true;
  auto r = cache_->Merge(bare_, req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, "FastForward");
  EXPECT_EQ(RemoteHead("production"), base_);
  CommitOn("production", "app/other.yaml", "other: prod\n");
  r = cache_->Merge(bare_, req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, "MergeCommit");
  EXPECT_EQ(r->new_head, "");
  EXPECT_EQ(Git(bare_, {"rev-list", "--count", "production"}), "2");
}

TEST_F(MergeTest, UnknownBranchOrCommitIsNotFound) {
  MergeRequest req = Request("staging");
  req.into = "nope";
  EXPECT_EQ(cache_->Merge(bare_, req).status().code(), Code::kNotFound);
  EXPECT_EQ(cache_->Merge(bare_, Request("no-such-branch")).status().code(), Code::kNotFound);
}

TEST_F(MergeTest, AheadBehindLogAndDiffBetweenEnvironments) {
  std::string s1 = CommitOn("staging", "app/config.yaml", "version: 2\n");
  std::string s2 = CommitOn("staging", "app/new.yaml", "new: 1\n");
  CommitOn("production", "app/other.yaml", "other: prod\n");
  ASSERT_TRUE(cache_->Fetch(bare_).ok());
  auto ab = cache_->AheadBehind(bare_, "staging", "production");
  ASSERT_TRUE(ab.ok()) << ab.status().ToString();
  EXPECT_EQ(ab->first, 2u);
  EXPECT_EQ(ab->second, 1u);
  auto log = cache_->Log(bare_, "production", "staging");
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0].id, s2);
  EXPECT_EQ((*log)[1].id, s1);
  auto diff = cache_->DiffText(bare_, "production", "app", "staging", "app");
  ASSERT_TRUE(diff.ok()) << diff.status().ToString();
  EXPECT_NE(diff->find("-version: 1\n+version: 2\n"), std::string::npos) << *diff;
  EXPECT_NE(diff->find("+++ b/new.yaml"), std::string::npos) << *diff;
  EXPECT_NE(diff->find("-other: prod\n+other: 1\n"), std::string::npos) << *diff;
}

TEST_F(MergeTest, CommitPathFromCopiesOneDirectoryOntoAnother) {
  Git(work_, {"checkout", "-q", "main"});
  WriteFile(work_, "envs/staging/app.yaml", "image: v2\n");
  WriteFile(work_, "envs/production/app.yaml", "image: v1\n");
  WriteFile(work_, "envs/production/prod-only.yaml", "x: 1\n");
  std::string c = CommitAll(work_, "envs");
  Git(work_, {"push", "-q", "origin", "main"});
  auto id =
      cache_->CommitPathFrom(bare_, "main", "envs/production", c, "envs/staging", "Promote", {});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(Git(bare_, {"show", "main:envs/production/app.yaml"}), "image: v2");
  EXPECT_EQ(Git(bare_, {"ls-tree", "--name-only", "main", "envs/production/"}),
            "envs/production/app.yaml");
  EXPECT_EQ(Git(bare_, {"show", "main:envs/staging/app.yaml"}), "image: v2");
  auto again =
      cache_->CommitPathFrom(bare_, "main", "envs/production", *id, "envs/staging", "Promote", {});
  EXPECT_EQ(again.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(again.status().message().find("nothing to promote"), std::string::npos);
}

}  // namespace
}  // namespace plumb::source
