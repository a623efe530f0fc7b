// source (internal): reading a tree at a commit with symlinks resolved, and writing it
// out as real files (for kustomize).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "source/git_util.h"
#include "source/source.h"

namespace plumb::source::internal {

// How many symlinks one lookup may follow before it counts as a loop.
inline constexpr int kMaxLinkHops = 8;
// A tree listing larger than this is refused (symlinked directories multiply files).
inline constexpr size_t kMaxListedFiles = 2000000;

// Every file under `path` of `root` (see RepoCache::ListFiles for the contract),
// sorted by path. `path` is normalised by the caller ("" for the root).
Result<std::vector<TreeFile>> ListTreeFiles(git_repository* repo, git_tree* root,
                                            const std::string& path);

// Writes `files` (as listed from `repo`) under `dest`, creating directories; modes
// 0755 for executables, 0644 otherwise.
Status WriteTreeFiles(git_repository* repo, const std::vector<TreeFile>& files,
                      const std::string& dest);

}  // namespace plumb::source::internal
