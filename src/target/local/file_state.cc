#include "target/local/file_state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/fs.h"

namespace plumb::target::local {
namespace {

Status Errno(const std::string& what, const std::string& path) {
  int e = errno;
  std::string msg = what + " " + path + ": " + std::strerror(e);
  if (e == EACCES || e == EPERM) return PermissionDenied(msg);
  return Unavailable(msg);
}

}  // namespace

const char* FileTypeName(FileState::Type t) {
  switch (t) {
    case FileState::Type::kAbsent:
      return "absent";
    case FileState::Type::kRegular:
      return "file";
    case FileState::Type::kDirectory:
      return "directory";
    case FileState::Type::kSymlink:
      return "symlink";
    case FileState::Type::kOther:
      return "special file";
  }
  return "unknown";
}

FileStamp FileStamp::Of(const struct stat& st) {
  return {st.st_dev,
          st.st_ino,
          st.st_size,
          int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec,
          int64_t{st.st_ctim.tv_sec} * 1000000000 + st.st_ctim.tv_nsec,
          st.st_mode};
}

FileStamp FileStamp::At(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 ? Of(st) : FileStamp{};
}

Result<FileState> ReadFileState(const std::string& path) {
  FileState state;
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return state;
    return Errno("stat", path);
  }
  if (S_ISLNK(st.st_mode)) {
    state.type = FileState::Type::kSymlink;
    return state;
  }
  if (S_ISDIR(st.st_mode)) {
    state.type = FileState::Type::kDirectory;
    return state;
  }
  if (!S_ISREG(st.st_mode)) {
    state.type = FileState::Type::kOther;
    return state;
  }
  // O_NOFOLLOW: the entry may have been swapped for a symlink since lstat.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return state;
    if (errno == ELOOP) {
      state.type = FileState::Type::kSymlink;
      return state;
    }
    return Errno("open", path);
  }
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    state.type = FileState::Type::kOther;
    return state;
  }
  state.type = FileState::Type::kRegular;
  state.mode = static_cast<int>(st.st_mode & 07777);
  state.content.reserve(static_cast<size_t>(st.st_size));
  Status read = fs::ReadAll(fd, path, &state.content);
  ::close(fd);
  if (!read.ok()) return read;
  return state;
}

Status RemoveFileEntry(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return Status::Ok();
    return Errno("stat", path);
  }
  if (S_ISDIR(st.st_mode)) {
    return FailedPrecondition(path + " is a directory now; plumbline removes only files");
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("remove", path);
  return Status::Ok();
}

}  // namespace plumb::target::local
