// source (internal): writing to repositories: trees built in memory, commits, pushes.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "source/git_util.h"
#include "source/source.h"

namespace plumb::source::internal {

// The id of a tree equal to `head` except that `path` ("" = the whole tree) holds what
// `source_path` (default: `path`) holds in `revision` (removed when absent there).
// Written to `repo`'s object store.
Result<git_oid> TreeWithPathFrom(git_repository* repo, git_tree* head, git_tree* revision,
                                 const std::string& path, const std::string& source_path = "");

// Three-way merge of `theirs` into `ours` in memory. On success the merged tree's id;
// when files conflict, FailedPrecondition and `conflicts` holds their paths (sorted).
Result<git_oid> MergeTrees(git_repository* repo, git_commit* ours, git_commit* theirs,
                           std::vector<std::string>* conflicts);

// Creates a commit of `tree` with `parents` (not moving any ref), authored and committed
// by `author`, signed (gpgsig) when `author.signing_key` is set; returns its id.
Result<git_oid> WriteCommit(git_repository* repo, const git_oid& tree,
                            const std::vector<const git_commit*>& parents,
                            const std::string& message, const Signature& author);

// Pushes `refspecs` ("refs/heads/a:refs/heads/a", never forced) to remote "origin" of
// `repo` at `url` (used in messages only). A non-fast-forward or a ref the remote
// rejects is Aborted; transport failures as RemoteError.
Status PushToOrigin(git_repository* repo, const std::vector<std::string>& refspecs,
                    const std::string& url);

}  // namespace plumb::source::internal
