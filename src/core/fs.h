// core: file-system helpers. All return Status naming the path on error.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace plumb::fs {

Result<std::string> ReadFile(const std::string& path);
// Reads `fd` to its end into `out` (appending); `path` names it in errors. Does not close.
Status ReadAll(int fd, const std::string& path, std::string* out);
// Writes `content` to a temp file in the same directory, then renames over `path`.
// With `sync`, fsyncs the file before the rename (callers that batch durability pass
// false and call SyncFilesystem once). `mode` is applied before the rename.
Status WriteFileAtomic(const std::string& path, const std::string& content, int mode = 0644,
                       bool sync = false);
// Creates the file `path` whole or not at all, durably, with two syncs however it is
// built: `fill(tmp)` makes it at a temp name in the same directory (a new SQLite database
// built with no sync per statement, for example); that file is fsynced, renamed to `path`
// (never over an existing one: when `path` appeared meanwhile, the temp file is removed
// and the one there is kept; OK), and the directory is fsynced. A kill or power loss at
// any point leaves no `path` or the complete one. `fill`'s error is returned, the temp
// file removed (with SQLite's "-wal"/"-shm"/"-journal" files beside it).
Status CreateWhole(const std::string& path,
                   const std::function<Status(const std::string& tmp)>& fill);
// fsync of the file system holding `path` (syncfs), once per batch of writes.
Status SyncFilesystem(const std::string& path);
// fsync of one file or directory (opened read-only).
Status SyncPath(const std::string& path);

// A name part no other writer predicts: a random prefix drawn once per process and a
// counter (RandomHex per name cost a getpid each, in RAND_bytes). For temp and staging names.
std::string UniqueSuffix();

// Opens the directory `path` (following symlinks in it) as the root of WriteFileBeneath:
// an O_PATH descriptor the caller closes. Errors name the path.
Result<int> OpenRoot(const std::string& path);

// A file written by WriteFileBeneath: its stat taken after the rename (a rename moves
// ctime), and whether that stat shows the inode exactly as this process left it before
// the rename (same inode, size, mtime and mode), i.e. nobody wrote or chmod-ed it between.
struct WrittenFile {
  struct stat st = {};
  bool untouched = false;
};

// Writes `content` atomically to `rel` (relative, normalised, no "..") below the
// directory `root_fd`: its directory is opened with openat2(RESOLVE_BENEATH) — no "..",
// absolute symlink or symlink leading out of the root on the way — and the temp file is
// created in, and renamed within, that open directory, so no later lookup can be
// redirected by a symlink swapped in meanwhile. Created with `mode` minus group/other write bits
// (so nobody but the owner can write the temp file), and fchmod-ed only when the umask or those
// bits make the result differ from `mode`. No fsync (callers batch durability). `display` names the
// file in errors. Errors: NotFound when a directory on the way is missing;
// PermissionDenied when the way leads out of the root or through a symlink the kernel
// refuses; Unimplemented when the kernel has no openat2; otherwise Unavailable (or
// PermissionDenied for EACCES), with the temp file removed.
//
// `exclusive`: the caller knows nobody can see or hold a name in that directory yet (a
// staging directory of its own, not yet renamed into place): the file is created at its
// name at once (O_EXCL, no temp file and no rename), and written and chmod-ed before its
// stamp is taken; a name already taken there falls back to the temp file and rename. A
// `rel` with no directory part writes in `root_fd` itself (no openat2).
Result<WrittenFile> WriteFileBeneath(int root_fd, const std::string& rel,
                                     const std::string& display, const std::string& content,
                                     int mode, bool exclusive = false);
// Opens the directory `rel` (relative, normalised; "." for the root itself) below
// `root_fd` with openat2(RESOLVE_BENEATH), as an O_PATH descriptor the caller closes; with
// `no_symlinks`, no symlink at all on the way. NotFound when missing; PermissionDenied when
// the way leads out or through a refused symlink; Unimplemented without openat2;
// Unavailable otherwise (a file on the way: ENOTDIR).
Result<int> OpenDirBeneath(int root_fd, const std::string& rel, bool no_symlinks = false);
// Removes the entry `name` of the directory `dir_fd` and, when it is a directory, what it
// holds, never following a symlink (a symlink inside is removed, not what it points to).
// An entry already gone is OK. `display` names it in errors.
Status RemoveTreeAt(int dir_fd, const std::string& name, const std::string& display);
Status MakeDirs(const std::string& path, int mode = 0755);
Status RemoveAll(const std::string& path);
bool Exists(const std::string& path);
bool IsDirectory(const std::string& path);

// Lexically normalises a path: collapses "//", "." and ".." (never above root for an
// absolute path). "a/../../b" stays relative as "../b".
std::string NormalizePath(const std::string& path);
// Joins `base` and `rel`; an absolute `rel` is returned as is.
std::string JoinPath(const std::string& base, const std::string& rel);
// True when normalised `path` equals `dir` or lies below it (lexically).
bool IsUnder(const std::string& path, const std::string& dir);
std::string Dirname(const std::string& path);
std::string Basename(const std::string& path);

// The names in directory `dir` (without "." and ".."), sorted. An error naming the
// directory when it cannot be read (NotFound when missing).
Result<std::vector<std::string>> ListDir(const std::string& dir);

// A fresh private directory under $TMPDIR (or /tmp); the caller removes it.
Result<std::string> MakeTempDir(const std::string& prefix);

// Removes the directory tree when it goes out of scope.
class TempDir {
 public:
  TempDir() = default;
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  TempDir(TempDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempDir& operator=(TempDir&& o) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace plumb::fs
