// source (internal): the mirrors behind RepoCache, shared by repo_cache.cc (fetch, reads,
// path commits) and merge.cc (merges, ancestry, logs, diffs). Not for other modules.
#pragma once

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/fs.h"
#include "core/strings.h"
#include "source/git_util.h"
#include "source/local_seed.h"
#include "source/source.h"
#include "source/write.h"

namespace plumb::source {

using internal::CommitPtr;
using internal::GitError;
using internal::OidHex;
using internal::ReferencePtr;
using internal::RemotePtr;
using internal::RepoPtr;
using internal::TreePtr;

namespace internal {

inline constexpr const char* kHeadsSpec = "+refs/heads/*:refs/heads/*";
inline constexpr const char* kTagsSpec = "+refs/tags/*:refs/tags/*";

// One mirror. `mu` serialises every operation on it.
struct Mirror {
  std::mutex mu;
  std::string url;
  std::string path;
  RepoPtr repo;               // GUARDED_BY(mu); open once, kept open
  bool fetched = false;       // GUARDED_BY(mu); a fetch succeeded in this process
  int64_t last_fetch_ms = 0;  // GUARDED_BY(mu); MonotonicMillis of that fetch
  // A second handle on the same directory for the long reads of the secret scan (a libgit2
  // repository object is used by one thread at a time): they hold side_mu, not mu, so a
  // render reads the mirror meanwhile. Objects are immutable and a fetch only adds packs
  // (libgit2 looks again on a miss), so the two handles never disagree on what they share.
  // Reset (under mu, then side_mu) whenever `repo` is opened anew.
  std::mutex side_mu;  // taken after mu, never before it
  RepoPtr side_repo;   // GUARDED_BY(side_mu)
};

// Peels the reference named `name` to a commit; NotFound when there is no such ref.
inline Result<CommitPtr> PeelRef(git_repository* repo, const std::string& name) {
  git_reference* ref = nullptr;
  int rc = git_reference_lookup(&ref, repo, name.c_str());
  if (rc == GIT_ENOTFOUND || rc == GIT_EINVALIDSPEC) return NotFound(name + " not found");
  if (rc != 0) return GitError(rc, "reading " + name);
  ReferencePtr owned(ref);
  git_object* obj = nullptr;
  rc = git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT);
  if (rc != 0) return GitError(rc, name + " does not point at a commit");
  return CommitPtr(reinterpret_cast<git_commit*>(obj));
}

// Resolves a branch, tag, "refs/..." or a (possibly abbreviated) commit id.
inline Result<CommitPtr> ResolveCommit(git_repository* repo, const std::string& ref,
                                       const std::string& url) {
  if (IsFullHex(ref)) {
    auto c = internal::LookupCommitById(repo, ref);
    if (c.ok() || c.status().code() != Code::kNotFound) return c;
  }
  std::vector<std::string> names;
  if (StartsWith(ref, "refs/")) {
    names = {ref};
  } else {
    names = {"refs/heads/" + ref, "refs/tags/" + ref};
  }
  for (const auto& name : names) {
    auto c = PeelRef(repo, name);
    if (c.ok() || c.status().code() != Code::kNotFound) return c;
  }
  if (!ref.empty() && !StartsWith(ref, "refs/")) {
    auto c = internal::LookupCommitById(repo, ref);
    if (c.ok() || c.status().code() != Code::kNotFound) return c;
  }
  return NotFound("ref " + ref + " not found in " + internal::RedactUrl(url));
}

// For a URL naming a local path (absolute, relative or file://), that path.
inline std::string LocalPath(const std::string& url) {
  if (StartsWith(url, "file://")) return url.substr(7);
  if (url.find("://") != std::string::npos) return "";
  if (!StartsWith(url, "/") && !StartsWith(url, ".") && url.find(':') != std::string::npos) {
    return "";  // scp-like "host:path"
  }
  return url;
}

inline std::string NormalizeTreePath(const std::string& path) {
  std::string p = fs::NormalizePath(path);
  if (p == "." || p == "/") return "";
  if (!p.empty() && p[0] == '/') p.erase(0, 1);
  return p;
}

}  // namespace internal

using internal::kHeadsSpec;
using internal::kTagsSpec;
using internal::LocalPath;
using internal::Mirror;
using internal::NormalizeTreePath;
using internal::PeelRef;
using internal::ResolveCommit;

struct RepoCache::Impl {
  std::string dir;
  std::mutex mu;
  std::map<std::string, std::unique_ptr<Mirror>> mirrors;  // GUARDED_BY(mu)

  // Every use of a mirror starts here: libgit2 is initialised by then (a start that
  // initialises it on a thread of its own waits here, not in RepoCache's constructor).
  Mirror* Get(const std::string& url, const std::string& path) {
    internal::EnsureLibgit2();
    std::lock_guard<std::mutex> lock(mu);
    auto& m = mirrors[url];
    if (!m) {
      m = std::make_unique<Mirror>();
      m->url = url;
      m->path = path;
    }
    return m.get();
  }

  // Opens the mirror (creating it when `create`); NotFound when absent otherwise.
  Status Open(Mirror* m, bool create) {
    if (m->repo) return Status::Ok();
    internal::EnsureLibgit2();
    {
      std::lock_guard<std::mutex> side(m->side_mu);
      m->side_repo.reset();
    }
    git_repository* repo = nullptr;
    if (fs::Exists(m->path)) {
      int rc = git_repository_open_bare(&repo, m->path.c_str());
      if (rc == 0) {
        m->repo.reset(repo);
        return Status::Ok();
      }
      if (!create) return GitError(rc, "opening mirror " + m->path);
      RETURN_IF_ERROR(fs::RemoveAll(m->path));  // a broken mirror is only a cache
    } else if (!create) {
      return NotFound(internal::RedactUrl(m->url) + " has not been fetched");
    }
    RETURN_IF_ERROR(fs::MakeDirs(dir));
    int rc = git_repository_init(&repo, m->path.c_str(), /*is_bare=*/1);
    if (rc != 0) return GitError(rc, "creating mirror " + m->path);
    m->repo.reset(repo);
    git_remote* remote = nullptr;
    rc = git_remote_create_with_fetchspec(&remote, repo, "origin", m->url.c_str(), kHeadsSpec);
    if (rc == 0) {
      git_remote_free(remote);
      rc = git_remote_add_fetch(repo, "origin", kTagsSpec);
    }
    if (rc != 0) {
      Status s = GitError(rc, "configuring mirror of " + internal::RedactUrl(m->url), m->url);
      m->repo.reset();
      (void)fs::RemoveAll(m->path);
      return s;
    }
    return Status::Ok();
  }

  Status FetchLocked(Mirror* m) {
    std::string local = LocalPath(m->url);
    if (!local.empty() && !fs::Exists(local)) {
      return NotFound("fetch " + m->url + ": no such repository");
    }
    bool existed = fs::Exists(m->path);
    RETURN_IF_ERROR(Open(m, /*create=*/true));
    if (!existed && !local.empty()) (void)internal::SeedObjects(local, m->path);
    git_remote* remote = nullptr;
    int rc = git_remote_lookup(&remote, m->repo.get(), "origin");
    if (rc != 0) return GitError(rc, "mirror of " + internal::RedactUrl(m->url), m->url);
    RemotePtr owned(remote);
    git_fetch_options opts = GIT_FETCH_OPTIONS_INIT;
    opts.prune = GIT_FETCH_PRUNE;
    opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;  // the tags refspec fetches them all
    internal::RemotePayload payload;
    internal::SetRemoteCallbacks(&opts.callbacks, &payload);
    rc = git_remote_fetch(remote, nullptr, &opts, "plumb fetch");
    if (rc != 0) {
      Status s = internal::RemoteError(rc, "fetch " + internal::RedactUrl(m->url), m->url);
      if (!existed) {  // leave no empty mirror behind a failed first clone
        owned.reset();
        m->repo.reset();
        (void)fs::RemoveAll(m->path);
      }
      return s;
    }
    m->fetched = true;
    m->last_fetch_ms = MonotonicMillis();
    return Status::Ok();
  }

  // Pushes `commit` to `branch` of the remote (never forced), then moves the mirror's
  // branch. Pushed from a private ref so the mirror's branch moves only once the remote
  // took it.
  Status PushBranchLocked(Mirror* m, const std::string& branch, const git_oid& commit) {
    git_repository* repo = m->repo.get();
    std::string branch_ref = "refs/heads/" + branch;
    std::string push_ref = "refs/plumb-push/" + branch;
    git_reference* tmp = nullptr;
    int rc = git_reference_create(&tmp, repo, push_ref.c_str(), &commit, 1, "plumb push");
    if (rc != 0) return GitError(rc, "creating " + push_ref);
    git_reference_free(tmp);
    Status pushed = internal::PushToOrigin(repo, {push_ref + ":" + branch_ref}, m->url);
    git_reference* del = nullptr;
    if (git_reference_lookup(&del, repo, push_ref.c_str()) == 0) {
      (void)git_reference_delete(del);
      git_reference_free(del);
    }
    RETURN_IF_ERROR(pushed);
    git_reference* moved = nullptr;
    rc = git_reference_create(&moved, repo, branch_ref.c_str(), &commit, 1, "plumb push");
    if (rc != 0) return GitError(rc, "updating mirror " + branch_ref);
    git_reference_free(moved);
    return Status::Ok();
  }

  // Opens the mirror of `url` (under its lock, released on return) and locks its side
  // handle (Mirror::side_repo), opened here when needed; `side` holds side_mu on return.
  Result<git_repository*> OpenSideForRead(const std::string& url, const std::string& path,
                                          std::unique_lock<std::mutex>* side) {
    Mirror* m = Get(url, path);
    std::string dir;
    {
      std::lock_guard<std::mutex> lock(m->mu);
      RETURN_IF_ERROR(Open(m, /*create=*/false));
      dir = m->path;
    }
    *side = std::unique_lock<std::mutex>(m->side_mu);
    if (!m->side_repo) {
      git_repository* repo = nullptr;
      int rc = git_repository_open_bare(&repo, dir.c_str());
      if (rc != 0) return GitError(rc, "opening mirror " + dir);
      m->side_repo.reset(repo);
    }
    return m->side_repo.get();
  }

  // Locks and opens the mirror of `url` for a read; `lock` holds it on return.
  Result<Mirror*> OpenForRead(const std::string& url, const std::string& path,
                              std::unique_lock<std::mutex>* lock) {
    Mirror* m = Get(url, path);
    *lock = std::unique_lock<std::mutex>(m->mu);
    RETURN_IF_ERROR(Open(m, /*create=*/false));
    return m;
  }
};

}  // namespace plumb::source
