// render (internal): listing a directory on disk for `plumb render DIR`, with symlinks
// resolved and confined to the directory, hidden entries skipped.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace plumb::render::internal {

struct DiskFile {
  std::string path;       // relative to the listed directory, '/'-separated
  std::string real_path;  // absolute, symlinks resolved
};

// Every regular file under `root` (an absolute, symlink-free path), sorted by path,
// skipping names that start with '.'. A symlink whose target (after realpath) lies
// outside `root`, or that loops, is PermissionDenied "LINK is a symlink to TARGET,
// outside ROOT"; a dangling one is NotFound. More than `max_files` is InvalidArgument.
Result<std::vector<DiskFile>> ListDirectory(const std::string& root, size_t max_files);

}  // namespace plumb::render::internal
