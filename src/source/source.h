// source: git through libgit2. One bare mirror per repository URL under a cache
// directory, fetched at most once per interval however many Applications follow it;
// resolve branch/tag/commit; read a subtree at a commit (symlinks resolved, never
// outside the subtree); changed paths between commits; write commits and push
// (rollback, promotion); create repositories (plumb init).
//
// Thread-safety: every RepoCache method may be called from several threads; calls on
// one URL are serialised by a per-URL lock, calls on different URLs run in parallel.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace plumb::source {

struct CommitInfo {
  std::string id;  // 40 hex
  std::string author_name;
  std::string author_email;
  int64_t time_unix = 0;        // author time, seconds
  std::string message;          // full message
  std::string Summary() const;  // first line
};

// One file of a tree at a commit, after symlink resolution.
struct TreeFile {
  std::string path;         // relative to the repository root, '/'-separated
  std::string blob_id;      // 40 hex; the content's git blob id (the symlink target's, for links)
  uint32_t mode = 0100644;  // 0100644 or 0100755 (a resolved symlink reports its target's)
  std::string via_symlink;  // non-empty when `path` is a symlink: the link's literal target
};

struct Signature {
  std::string name = "plumbline";
  std::string email = "plumbline@localhost";
};

// Everything the operator knows about a fetch of a repository.
struct FetchStats {
  int64_t duration_ms = 0;
  bool skipped = false;  // fetched recently enough (max_age), nothing done
};

class RepoCache {
 public:
  // `dir` holds the mirrors (created if missing): DIR/<first 16 hex of sha256(url)>.git.
  explicit RepoCache(std::string dir);
  ~RepoCache();
  RepoCache(const RepoCache&) = delete;
  RepoCache& operator=(const RepoCache&) = delete;

  // Clones the mirror on first use, then fetches all branches and tags (force, prune).
  // A fetch younger than `max_age` is skipped. Errors: Unavailable (network, remote
  // down: transient), NotFound (no such repository), with the URL named.
  Result<FetchStats> Fetch(const std::string& url, Duration max_age = Duration(0));

  // Resolves `ref` against the mirror: a branch name, a tag name ("v1.2"), "refs/...",
  // or a full/abbreviated commit id. Returns the commit id (tags peeled). NotFound
  // names the ref and URL. Does not fetch.
  Result<std::string> Resolve(const std::string& url, const std::string& ref);

  Result<CommitInfo> GetCommit(const std::string& url, const std::string& commit);

  // Lists every file under `path` ("" or "." for the root) at `commit`, recursively,
  // sorted by path. Symlinks are resolved: a link whose target stays inside `path` is
  // reported as the target file (under the link's own path; a link to a directory
  // yields that directory's files); a link leading outside `path` (or a loop) is a
  // PermissionDenied error naming the link and its target. Submodules are skipped.
  // NotFound when `path` does not exist at that commit.
  Result<std::vector<TreeFile>> ListFiles(const std::string& url, const std::string& commit,
                                          const std::string& path);

  // The content of a blob. NotFound when absent.
  Result<std::string> ReadBlob(const std::string& url, const std::string& blob_id);

  // Writes the whole tree of `commit` (files with their modes; symlinks that stay inside
  // the tree materialised as copies; links leading outside are errors) into `dest`,
  // which must exist and be empty. For tools like kustomize that need real files.
  Status Checkout(const std::string& url, const std::string& commit, const std::string& dest);

  // Paths (files) that differ between two commits, sorted. `from` may be "" (everything).
  Result<std::vector<std::string>> ChangedPaths(const std::string& url, const std::string& from,
                                                const std::string& to);

  // Whether `ancestor` is an ancestor of (or equal to) `descendant`.
  Result<bool> IsAncestor(const std::string& url, const std::string& ancestor,
                          const std::string& descendant);

  // Rollback: writes one new commit on `branch` (on top of its current head in the
  // remote) whose tree equals the head's tree except that `path` ("" = whole tree)
  // equals its content at `revision`; pushes it to the remote `url` (a bare repository
  // for local paths) and updates the mirror. Returns the new commit id. If the path
  // already equals the revision's content, returns FailedPrecondition "nothing to roll
  // back". Aborted when the remote moved during the push (retry).
  Result<std::string> CommitPathFromRevision(const std::string& url, const std::string& branch,
                                             const std::string& path, const std::string& revision,
                                             const std::string& message, const Signature& author);

  // Image automation: writes one commit on `branch` whose tree is `parent`'s with each
  // path of `files` holding the new content (existing files keep their mode; new ones are
  // 0100644), pushes it to `url` and updates the mirror. `parent` is the branch head the
  // caller read the files at: Aborted when the branch has moved since (read again and
  // retry). FailedPrecondition "nothing to commit" when the tree would not change.
  // Returns the new commit id.
  Result<std::string> CommitFiles(const std::string& url, const std::string& branch,
                                  const std::string& parent,
                                  const std::map<std::string, std::string>& files,
                                  const std::string& message, const Signature& author);

  // The directory holding the mirror of `url` (for diagnostics).
  std::string MirrorPath(const std::string& url) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The git blob id (sha1 of "blob <len>\0<content>") of some bytes, as `git hash-object`.
std::string GitBlobId(const std::string& content);

// plumb init: creates a bare repository at `bare_dir` and a working clone at `work_dir`
// holding `files` (path -> content) in one commit on branch `branches[0]`; every other
// name in `branches` is created at that commit; all are pushed to the bare repository
// and the clone tracks them (origin = bare_dir). Fails with AlreadyExists if either
// directory exists and is not empty.
Status InitRepository(const std::string& bare_dir, const std::string& work_dir,
                      const std::map<std::string, std::string>& files,
                      const std::vector<std::string>& branches, const std::string& message,
                      const Signature& author);

}  // namespace plumb::source
