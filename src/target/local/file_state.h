// target/local internal: what is at a managed path right now, read without following a
// symlink at the final component. Thread-safe (no shared state).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "core/status.h"

struct stat;

namespace plumb::target::local {

struct FileState {
  enum class Type { kAbsent, kRegular, kDirectory, kSymlink, kOther };
  Type type = Type::kAbsent;
  int mode = 0;         // permission bits (07777), for regular files
  std::string content;  // for regular files
};

// What a stat says of a file. Two equal stamps mean it was not touched in between:
// ctime moves on every write or chmod and cannot be set back. ino 0 = no stamp.
struct FileStamp {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  mode_t mode = 0;
  static FileStamp Of(const struct stat& st);
  // The stamp of what is at `path` now (lstat); ino 0 when nothing is there.
  static FileStamp At(const std::string& path);
  bool operator==(const FileStamp&) const = default;
};

const char* FileTypeName(FileState::Type t);  // "absent", "file", "directory", "symlink", ...

// Reads the state at `path`. Errors (other than absence) are Unavailable/PermissionDenied
// naming the path.
Result<FileState> ReadFileState(const std::string& path);

// Removes the directory entry at `path` (a file or a symlink, never a directory).
// OK when already absent.
Status RemoveFileEntry(const std::string& path);

}  // namespace plumb::target::local
