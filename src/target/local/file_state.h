// target/local internal: what is at a managed path right now, read without following a
// symlink at the final component. Thread-safe (no shared state).
#pragma once

#include <string>

#include "core/status.h"

namespace plumb::target::local {

struct FileState {
  enum class Type { kAbsent, kRegular, kDirectory, kSymlink, kOther };
  Type type = Type::kAbsent;
  int mode = 0;         // permission bits (07777), for regular files
  std::string content;  // for regular files
};

const char* FileTypeName(FileState::Type t);  // "absent", "file", "directory", "symlink", ...

// Reads the state at `path`. Errors (other than absence) are Unavailable/PermissionDenied
// naming the path.
Result<FileState> ReadFileState(const std::string& path);

// Removes the directory entry at `path` (a file or a symlink, never a directory).
// OK when already absent.
Status RemoveFileEntry(const std::string& path);

}  // namespace plumb::target::local
