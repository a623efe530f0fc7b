// source (internal): libgit2 plumbing shared by the source module's files: one-time
// library init, owning handles for libgit2 objects, error mapping, URL redaction.
// Not part of the module's public contract; other modules include source.h only.
#pragma once

#include <git2.h>

#include <memory>
#include <string>

#include "core/status.h"

namespace plumb::source::internal {

// Calls git_libgit2_init exactly once per process (thread-safe). Never shut down:
// handles may outlive any one caller.
void EnsureLibgit2();

template <typename T, void (*Free)(T*)>
struct GitDeleter {
  void operator()(T* p) const {
    if (p != nullptr) Free(p);
  }
};
template <typename T, void (*Free)(T*)>
using GitPtr = std::unique_ptr<T, GitDeleter<T, Free>>;

using RepoPtr = GitPtr<git_repository, git_repository_free>;
using ObjectPtr = GitPtr<git_object, git_object_free>;
using CommitPtr = GitPtr<git_commit, git_commit_free>;
using TreePtr = GitPtr<git_tree, git_tree_free>;
using TreeEntryPtr = GitPtr<git_tree_entry, git_tree_entry_free>;
using BlobPtr = GitPtr<git_blob, git_blob_free>;
using ReferencePtr = GitPtr<git_reference, git_reference_free>;
using RemotePtr = GitPtr<git_remote, git_remote_free>;
using DiffPtr = GitPtr<git_diff, git_diff_free>;
using IndexPtr = GitPtr<git_index, git_index_free>;
using SignaturePtr = GitPtr<git_signature, git_signature_free>;

// The last libgit2 error for a failed call returning `rc`, as a Status whose message
// is "WHAT: libgit2's message". GIT_ENOTFOUND -> NotFound, GIT_EAUTH ->
// Unauthenticated, non-fast-forward / locked / modified -> Aborted, network, HTTP,
// TLS and SSH failures -> Unavailable, everything else -> Internal. Any occurrence of
// `url` in libgit2's message is replaced by its redacted form.
Status GitError(int rc, const std::string& what, const std::string& url = "");

// Like GitError, for remote operations (fetch/push): additionally reads "not found"
// style answers (no such local path, HTTP 404, "repository not found") as NotFound and
// other transport failures as Unavailable.
Status RemoteError(int rc, const std::string& what, const std::string& url);

// `url` without credentials: "https://user:token@host/x" -> "https://host/x". Any
// userinfo is dropped for http(s); for other schemes only a "user:password" pair.
std::string RedactUrl(const std::string& url);

std::string OidHex(const git_oid& oid);

// Whether `s` is a full object id: 40 hex digits.
bool IsFullHex(const std::string& s);

// The content of blob `blob_id` (40 hex) in `repo`; NotFound for a malformed id, the
// GitError of the lookup otherwise.
Result<std::string> ReadBlobContent(git_repository* repo, const std::string& blob_id);

// Finds a commit by full or abbreviated (>= 4) hex id. NotFound otherwise.
Result<CommitPtr> LookupCommitById(git_repository* repo, const std::string& hex);

// The tree of `commit`.
Result<TreePtr> CommitTree(git_commit* commit);

// State of one remote operation, shared with its callbacks; must outlive it.
struct RemotePayload {
  int credential_attempts = 0;
  std::string rejected;  // "REF: reason" for each ref the remote refused on push
};

// Remote callbacks for every remote operation: credentials from the URL's userinfo
// (libgit2 does this for HTTP itself) or, once, an SSH agent, nothing interactive;
// on push, refused refs are recorded in `payload->rejected`.
void SetRemoteCallbacks(git_remote_callbacks* callbacks, RemotePayload* payload);

}  // namespace plumb::source::internal
