#include "render/render.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "core/fs.h"
#include "core/strings.h"
#include "source/git_test_util.h"
#include "source/source.h"

namespace plumb::render {
namespace {

using source::testing::CommitAll;
using source::testing::Git;
using source::testing::InitRepo;
using source::testing::NewTempDir;
using source::testing::WriteFile;

void Symlink(const std::string& target, const std::string& link) {
  std::error_code ec;
  std::filesystem::create_symlink(target, link, ec);
  ASSERT_FALSE(ec) << link << ": " << ec.message();
}

std::string File(const std::string& name, const std::string& extra = "") {
  return "apiVersion: local.plumbline.dev/v1\nkind: File\nmetadata:\n  name: " + name + "\n" +
         extra;
}

std::vector<std::string> Names(const RenderOutput& out) {
  std::vector<std::string> names;
  for (const auto& r : out.resources) names.push_back(r.id().ToString());
  return names;
}

class RenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = NewTempDir("plumb-render-test-");
    repo_ = tmp_.path() + "/repo";
    InitRepo(repo_);
    repos_ = std::make_unique<source::RepoCache>(tmp_.path() + "/cache");
  }

  std::string Commit(const std::string& message) {
    std::string c = CommitAll(repo_, message);
    Status s = repos_->Fetch(repo_).status();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return c;
  }

  fs::TempDir tmp_;
  std::string repo_;
  std::unique_ptr<source::RepoCache> repos_;
};

TEST_F(RenderTest, PlainFilesInPathOrderWithOrigins) {
  WriteFile(repo_, "apps/web/a.yaml", File("a1") + "---\n# comment\n" + File("a2"));
  WriteFile(repo_, "apps/web/b.json",
            R"([{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b1"}},)"
            R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b2","namespace":"x"}}])");
  WriteFile(repo_, "apps/web/c/list.yml",
            "apiVersion: v1\nkind: List\nitems:\n- " +
                std::string("{apiVersion: v1, kind: Secret, metadata: {name: s1}}\n") +
                "- {apiVersion: v1, kind: Secret, metadata: {name: s2}}\n");
  WriteFile(repo_, "apps/web/.hidden/broken.yaml", "a: [\n");
  WriteFile(repo_, "apps/web/.dot.yaml", "a: [\n");
  WriteFile(repo_, "apps/web/README.md", "not yaml: [\n");
  WriteFile(repo_, "apps/other/x.yaml", File("other"));
  std::string c = Commit("plain");

  Renderer renderer(repos_.get(), RenderOptions{.default_namespace = "default"});
  auto out = renderer.Render(repo_, c, "apps/web");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Names(*out),
            (std::vector<std::string>{"File/default/a1", "File/default/a2", "ConfigMap/default/b1",
                                      "ConfigMap/x/b2", "Secret/default/s1", "Secret/default/s2"}));
  EXPECT_EQ(out->resources[0].origin().ToString(), "apps/web/a.yaml:1");
  EXPECT_EQ(out->resources[1].origin().ToString(), "apps/web/a.yaml:7");
  EXPECT_EQ(out->resources[2].origin().file, "apps/web/b.json");
  EXPECT_EQ(out->resources[4].origin().file, "apps/web/c/list.yml");
  EXPECT_EQ(out->stats.files, 3u);
  EXPECT_EQ(out->stats.parsed, 3u);
  EXPECT_FALSE(out->stats.kustomize);

  auto root = renderer.Render(repo_, c, "apps/other/");
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  EXPECT_EQ(Names(*root), (std::vector<std::string>{"File/default/other"}));
  EXPECT_EQ(renderer.Render(repo_, c, "apps/none").status().code(), Code::kNotFound);
}

TEST_F(RenderTest, BrokenYamlNamesFileAndLine) {
  WriteFile(repo_, "app/good.yaml", File("good"));
  WriteFile(repo_, "app/bad.yaml", File("bad") + "spec:\n  content: [unclosed\n  mode: 1\n");
  std::string c = Commit("broken");
  Renderer renderer(repos_.get(), RenderOptions{});
  auto out = renderer.Render(repo_, c, "app");
  EXPECT_EQ(out.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(StartsWith(out.status().message(), "app/bad.yaml:")) << out.status().message();

  WriteFile(repo_, "app/bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n");
  c = Commit("no name");
  out = renderer.Render(repo_, c, "app");
  EXPECT_EQ(out.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(StartsWith(out.status().message(), "app/bad.yaml:1: ")) << out.status().message();
}

TEST_F(RenderTest, DuplicateIdentityNamesBothOrigins) {
  WriteFile(repo_, "app/a.yaml", File("motd"));
  WriteFile(repo_, "app/b.yaml", File("other") + "---\n" + File("motd"));
  std::string c = Commit("dup");
  Renderer renderer(repos_.get(), RenderOptions{});
  auto out = renderer.Render(repo_, c, "app");
  EXPECT_EQ(out.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(out.status().message(), "duplicate resource File/motd: app/a.yaml:1 and app/b.yaml:6");
}

TEST_F(RenderTest, LimitsAreEnforced) {
  WriteFile(repo_, "app/a.yaml", File("a") + "---\n" + File("b") + "---\n" + File("c"));
  WriteFile(repo_, "app/big.yaml", File("big", "data: \"" + std::string(4000, 'x') + "\"\n"));
  std::string c = Commit("limits");
  Renderer few(repos_.get(), RenderOptions{.max_resources = 2});
  EXPECT_EQ(few.Render(repo_, c, "app").status().code(), Code::kInvalidArgument);
  Renderer small(repos_.get(), RenderOptions{.limits = {.max_bytes = 1000}});
  auto out = small.Render(repo_, c, "app");
  EXPECT_EQ(out.status().code(), Code::kInvalidArgument);
  EXPECT_NE(out.status().message().find("app/big.yaml"), std::string::npos)
      << out.status().message();
  Renderer files(repos_.get(), RenderOptions{.max_files = 1});
  EXPECT_EQ(files.Render(repo_, c, "app").status().code(), Code::kInvalidArgument);
}

TEST_F(RenderTest, SymlinkLeavingThePathIsRefused) {
  WriteFile(repo_, "app/a.yaml", File("a"));
  Symlink("../../etc/passwd", repo_ + "/app/passwd.yaml");
  std::string c = Commit("escape");
  Renderer renderer(repos_.get(), RenderOptions{});
  auto out = renderer.Render(repo_, c, "app");
  EXPECT_EQ(out.status().code(), Code::kPermissionDenied);
  EXPECT_NE(out.status().message().find("app/passwd.yaml is a symlink to ../../etc/passwd"),
            std::string::npos)
      << out.status().message();

  auto dir = renderer.RenderDirectory(repo_ + "/app");
  EXPECT_EQ(dir.status().code(), Code::kPermissionDenied) << dir.status().ToString();
  EXPECT_NE(dir.status().message().find("passwd.yaml is a symlink to ../../etc/passwd"),
            std::string::npos);
}

TEST_F(RenderTest, OneChangedFileIsTheOnlyOneParsedAgain) {
  WriteFile(repo_, "app/a.yaml", File("a"));
  WriteFile(repo_, "app/b.yaml", File("b"));
  WriteFile(repo_, "app/c.yaml", File("c"));
  WriteFile(repo_, "app/same.yaml", File("a"));  // same content as a.yaml: one parse
  std::string c1 = Commit("one");
  Renderer renderer(repos_.get(), RenderOptions{.default_namespace = "ns"});
  auto first = renderer.Render(repo_, c1, "app");
  EXPECT_EQ(first.status().code(), Code::kInvalidArgument);  // a and same collide
  Git(repo_, {"rm", "-q", "app/same.yaml"});
  std::string c2 = Commit("two");
  auto second = renderer.Render(repo_, c2, "app");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->stats.parsed, 0u);
  EXPECT_EQ(second->stats.cache_hits, 3u);

  WriteFile(repo_, "app/b.yaml", File("b", "spec:\n  content: new\n"));
  std::string c3 = Commit("three");
  auto third = renderer.Render(repo_, c3, "app");
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  EXPECT_EQ(third->stats.files, 3u);
  EXPECT_EQ(third->stats.parsed, 1u);
  EXPECT_EQ(third->stats.cache_hits, 2u);
  EXPECT_EQ(third->resources[1].body().FindPath({"spec", "content"})->as_string(), "new");
}

TEST_F(RenderTest, CachedFilesFollowChangesDeletesAndMovesWithTheirOwnOrigins) {
  WriteFile(repo_, "app/a.yaml", File("a") + "---\n" + File("a2"));
  WriteFile(repo_, "app/b.yaml", File("b", "spec:\n  content: one\n"));
  WriteFile(repo_, "app/c.yaml", File("c"));
  std::string c1 = Commit("one");
  Renderer renderer(repos_.get(), RenderOptions{});
  ASSERT_TRUE(renderer.Render(repo_, c1, "app").ok());

  // b changes, c is deleted, a's content moves to a new path (same blob, new origin).
  WriteFile(repo_, "app/b.yaml", File("b", "spec:\n  content: two\n"));
  Git(repo_, {"rm", "-q", "app/c.yaml"});
  Git(repo_, {"mv", "app/a.yaml", "app/z.yaml"});
  std::string c2 = Commit("two");
  auto out = renderer.Render(repo_, c2, "app");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Names(*out), (std::vector<std::string>{"File/b", "File/a", "File/a2"}));
  EXPECT_EQ(out->resources[0].body().FindPath({"spec", "content"})->as_string(), "two");
  EXPECT_EQ(out->resources[1].origin().ToString(), "app/z.yaml:1");
  EXPECT_EQ(out->resources[2].origin().ToString(), "app/z.yaml:6");
  EXPECT_EQ(out->stats.parsed, 2u);  // b's new content, a's content at its new path

  // A file that now declares what a cached file already declares is a duplicate.
  WriteFile(repo_, "app/y.yaml", File("b"));
  std::string c3 = Commit("three");
  auto dup = renderer.Render(repo_, c3, "app");
  ASSERT_EQ(dup.status().code(), Code::kInvalidArgument);
  EXPECT_NE(dup.status().message().find("duplicate resource File/b: app/b.yaml:1 and app/y.yaml:1"),
            std::string::npos)
      << dup.status().message();
  // And the cache does not keep the earlier commit alive: rendering it again is the same.
  auto again = renderer.Render(repo_, c1, "app");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(Names(*again), (std::vector<std::string>{"File/a", "File/a2", "File/b", "File/c"}));
  EXPECT_EQ(again->resources[2].body().FindPath({"spec", "content"})->as_string(), "one");
}

class KustomizeTest : public RenderTest {
 protected:
  void WriteBaseAndOverlay() {
    WriteFile(repo_, "base/kustomization.yaml", "resources:\n- cm.yaml\n- deploy.yaml\n");
    WriteFile(repo_, "base/cm.yaml",
              "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n");
    WriteFile(repo_, "base/deploy.yaml",
              "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n"
              "  template:\n    spec:\n      containers:\n      - name: web\n"
              "        image: nginx\n");
    WriteFile(repo_, "overlays/prod/kustomization.yaml",
              "resources:\n- ../../base\nnamePrefix: prod-\nnamespace: prod\n"
              "commonLabels:\n  env: prod\n");
  }
};

TEST_F(KustomizeTest, RendersOverlayWithRealKustomize) {
  WriteBaseAndOverlay();
  std::string c = Commit("kustomize");
  Renderer renderer(repos_.get(), RenderOptions{});
  auto out = renderer.Render(repo_, c, "overlays/prod");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(out->stats.kustomize);
  EXPECT_EQ(Names(*out), (std::vector<std::string>{"ConfigMap/prod/prod-settings",
                                                   "apps/Deployment/prod/prod-web"}));
  for (const auto& r : out->resources) {
    EXPECT_EQ(r.Label("env"), "prod");
    EXPECT_EQ(r.origin().file, "overlays/prod/kustomization.yaml");
    EXPECT_EQ(r.origin().line, 0);
  }

  // The same overlay offline, from a checkout on disk.
  auto dir = renderer.RenderDirectory(repo_ + "/overlays/prod");
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_EQ(Names(*dir), Names(*out));
  EXPECT_EQ(dir->resources[0].origin().file, "kustomization.yaml");
}

TEST_F(KustomizeTest, RefusesRemoteBasesUnlessAllowed) {
  WriteBaseAndOverlay();
  WriteFile(repo_, "overlays/remote/kustomization.yaml",
            "resources:\n- ../../base\n"
            "- github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v3.3.1\n");
  WriteFile(repo_, "nested/base/kustomization.yaml",
            "resources:\n- https://example.com/manifests/app.yaml\n");
  WriteFile(repo_, "nested/top/kustomization.yaml", "resources:\n- ../base\n");
  std::string c = Commit("remote");
  Renderer renderer(repos_.get(), RenderOptions{});
  auto out = renderer.Render(repo_, c, "overlays/remote");
  EXPECT_EQ(out.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(StartsWith(out.status().message(), "overlays/remote/kustomization.yaml: "))
      << out.status().message();
  EXPECT_NE(out.status().message().find("remote base"), std::string::npos);
  auto nested = renderer.Render(repo_, c, "nested/top");
  EXPECT_EQ(nested.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(StartsWith(nested.status().message(), "nested/base/kustomization.yaml: "))
      << nested.status().message();
  EXPECT_EQ(renderer.RenderDirectory(repo_ + "/overlays/remote").status().code(),
            Code::kInvalidArgument);
}

TEST_F(KustomizeTest, KustomizeErrorsNameTheKustomization) {
  WriteFile(repo_, "bad/kustomization.yaml", "resources:\n- missing.yaml\n");
  std::string c = Commit("bad");
  Renderer renderer(repos_.get(), RenderOptions{});
  auto out = renderer.Render(repo_, c, "bad");
  EXPECT_EQ(out.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(StartsWith(out.status().message(), "bad/kustomization.yaml: kustomize failed: "))
      << out.status().message();
  EXPECT_EQ(out.status().message().find("plumb-render-"), std::string::npos)
      << out.status().message();

  Renderer missing(repos_.get(), RenderOptions{.kubectl = tmp_.path() + "/no-kubectl"});
  auto none = missing.Render(repo_, c, "bad");
  EXPECT_EQ(none.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(none.status().message().find("install"), std::string::npos);
}

TEST(CheckKustomizeTest, AcceptsV5AndExplainsOldOrMissing) {
  auto v = CheckKustomize("kubectl");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE(StartsWith(*v, "v5")) << *v;

  fs::TempDir tmp = NewTempDir();
  auto missing = CheckKustomize(tmp.path() + "/kubectl");
  EXPECT_EQ(missing.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(missing.status().message().find("kubectl 1.21 or newer"), std::string::npos);

  WriteFile(tmp.path(), "old-kubectl",
            "#!/bin/sh\necho 'Client Version: v1.20.0'\necho 'Kustomize Version: v2.0.3'\n", 0755);
  auto old = CheckKustomize(tmp.path() + "/old-kubectl");
  EXPECT_EQ(old.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(old.status().message().find("v2.0.3"), std::string::npos);
}

TEST(RenderDirectoryTest, RendersPlainDirectoryWithTheCache) {
  fs::TempDir tmp = NewTempDir();
  WriteFile(tmp.path(), "app/a.yaml", File("a"));
  WriteFile(tmp.path(), "app/sub/b.yaml", File("b"));
  WriteFile(tmp.path(), "shared/c.yaml", File("c"));
  Symlink("sub/b.yaml", tmp.path() + "/app/link.yaml.txt");  // not a manifest name
  Symlink("../shared", tmp.path() + "/app/shared");          // leads outside app
  Renderer renderer(nullptr, RenderOptions{});
  auto out = renderer.RenderDirectory(tmp.path() + "/app");
  EXPECT_EQ(out.status().code(), Code::kPermissionDenied);
  std::filesystem::remove(tmp.path() + "/app/shared");
  Symlink("sub", tmp.path() + "/app/subdir");
  out = renderer.RenderDirectory(tmp.path() + "/app");
  EXPECT_EQ(out.status().code(), Code::kInvalidArgument);  // b twice, via the linked dir
  EXPECT_NE(out.status().message().find("sub/b.yaml:1 and subdir/b.yaml:1"), std::string::npos)
      << out.status().message();
  std::filesystem::remove(tmp.path() + "/app/subdir");
  out = renderer.RenderDirectory(tmp.path() + "/app");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Names(*out), (std::vector<std::string>{"File/a", "File/b"}));
  EXPECT_EQ(out->stats.cache_hits, 2u);  // parsed by the failed attempt above
  EXPECT_EQ(out->resources[1].origin().ToString(), "sub/b.yaml:1");
}

// Many files are parsed on two threads: the output keeps file order, the stats count every
// file, and the error is the first bad file's in path order, whichever thread parsed it.
TEST_F(RenderTest, ManyFilesParsedInParallelKeepOrderAndFirstError) {
  char name[32];
  for (int i = 0; i < 600; ++i) {
    std::snprintf(name, sizeof name, "m/f%04d.yaml", i);
    WriteFile(repo_, name, File("f" + std::to_string(i)));
  }
  std::string good = Commit("many");
  Renderer renderer(repos_.get(), RenderOptions{.default_namespace = "default"});
  auto out = renderer.Render(repo_, good, "m");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->resources.size(), 600u);
  for (int i = 0; i < 600; ++i) {
    std::snprintf(name, sizeof name, "m/f%04d.yaml:1", i);
    EXPECT_EQ(out->resources[i].origin().ToString(), name);
    EXPECT_EQ(out->resources[i].id().name, "f" + std::to_string(i));
  }
  EXPECT_EQ(out->stats.parsed, 600u);
  EXPECT_EQ(out->stats.cache_hits, 0u);

  // One bad file late in the order.
  WriteFile(repo_, "m/f0450.yaml", "a: [\n");
  std::string late = Commit("late error");
  Renderer fresh(repos_.get(), RenderOptions{.default_namespace = "default"});
  auto bad = fresh.Render(repo_, late, "m");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("m/f0450.yaml"), std::string::npos)
      << bad.status().ToString();
  // And an earlier one: the first in path order is reported, every time.
  WriteFile(repo_, "m/f0100.yaml", "b: {\n");
  std::string both = Commit("two errors");
  Renderer third(repos_.get(), RenderOptions{.default_namespace = "default"});
  for (int run = 0; run < 3; ++run) {
    auto twice = third.Render(repo_, both, "m");
    ASSERT_FALSE(twice.ok());
    EXPECT_NE(twice.status().message().find("m/f0100.yaml"), std::string::npos)
        << twice.status().ToString();
  }
  // Duplicates across files parsed by different threads are still found.
  WriteFile(repo_, "m/f0100.yaml", File("f1"));
  WriteFile(repo_, "m/f0450.yaml", File("f2"));
  WriteFile(repo_, "m/f0500.yaml", File("f1"));
  std::string dup = Commit("duplicate");
  auto d = third.Render(repo_, dup, "m");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("duplicate resource"), std::string::npos)
      << d.status().ToString();
}

}  // namespace
}  // namespace plumb::render
