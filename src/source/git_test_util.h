// source (tests only): building repositories with the real `git` CLI, so the tests check
// libgit2's reading against what git itself wrote. Used by source_test and render_test.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/fs.h"
#include "core/subprocess.h"

namespace plumb::source::testing {

// Runs `git ARGS` in `dir` with a fixed identity; fails the test on a non-zero exit.
// Returns stdout without the trailing newline. `env` ("K=V") is added to the environment
// (e.g. GNUPGHOME for signing).
inline std::string Git(const std::string& dir, const std::vector<std::string>& args,
                       const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv = {"git",
                                   "-c",
                                   "init.defaultBranch=main",
                                   "-c",
                                   "core.autocrlf=false",
                                   "-c",
                                   "protocol.file.allow=always"};
  argv.insert(argv.end(), args.begin(), args.end());
  SubprocessOptions opts;
  opts.working_dir = dir;
  opts.extra_env = {"GIT_AUTHOR_NAME=Test Author",    "GIT_AUTHOR_EMAIL=author@example.com",
                    "GIT_COMMITTER_NAME=Test Author", "GIT_COMMITTER_EMAIL=author@example.com",
                    "GIT_CONFIG_NOSYSTEM=1",          "GIT_CONFIG_GLOBAL=/dev/null",
                    "GIT_TERMINAL_PROMPT=0"};
  opts.extra_env.insert(opts.extra_env.end(), env.begin(), env.end());
  auto r = RunSubprocess(argv, opts);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return "";
  std::string cmd;
  for (const auto& a : args) cmd += " " + a;
  EXPECT_EQ(r->exit_code, 0) << "git" << cmd << " in " << dir << ":\n" << r->err << r->out;
  std::string out = r->out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// Writes `content` to DIR/REL, creating parent directories.
inline void WriteFile(const std::string& dir, const std::string& rel, const std::string& content,
                      int mode = 0644) {
  std::string full = dir + "/" + rel;
  ASSERT_TRUE(fs::MakeDirs(fs::Dirname(full)).ok());
  ASSERT_TRUE(fs::WriteFileAtomic(full, content, mode).ok()) << full;
}

// A fresh temp directory removed at the end of the test.
inline fs::TempDir NewTempDir(const std::string& prefix = "plumb-test-") {
  auto d = fs::MakeTempDir(prefix);
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  return fs::TempDir(d.ok() ? *d : std::string());
}

// `git init` of DIR (created) on branch main.
inline void InitRepo(const std::string& dir) {
  ASSERT_TRUE(fs::MakeDirs(dir).ok());
  Git(dir, {"init", "-q"});
}

// Stages everything and commits; returns the new commit id.
inline std::string CommitAll(const std::string& dir, const std::string& message) {
  Git(dir, {"add", "-A"});
  Git(dir, {"commit", "-q", "--allow-empty", "-m", message});
  return Git(dir, {"rev-parse", "HEAD"});
}

}  // namespace plumb::source::testing
