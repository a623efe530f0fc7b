#include "core/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "core/strings.h"

namespace plumb::fs {
namespace {

// Writes all of `content` to `fd` (again after EINTR or a short write); false with errno
// set on an error.
bool WriteAll(int fd, const std::string& content) {
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

Status Errno(const std::string& what, const std::string& path) {
  int e = errno;
  Code code = e == ENOENT                   ? Code::kNotFound
              : (e == EACCES || e == EPERM) ? Code::kPermissionDenied
                                            : Code::kUnavailable;
  return Status(code, what + " " + path + ": " + std::strerror(e));
}
}  // namespace

Status ReadAll(int fd, const std::string& path, std::string* out) {
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("read", path);
    }
    if (n == 0) return Status::Ok();
    out->append(buf, static_cast<size_t>(n));
  }
}

Result<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("open", path);
  std::string out;
  Status s = ReadAll(fd, path, &out);
  ::close(fd);
  if (!s.ok()) return s;
  return out;
}

Status WriteFileAtomic(const std::string& path, const std::string& content, int mode, bool sync) {
  std::string tmp = Dirname(path) + "/.plumb-tmp-" + Basename(path) + "." + RandomHex(6);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("create", tmp);
  if (!WriteAll(fd, content)) {
    Status s = Errno("write", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  }
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0 || (sync && ::fsync(fd) != 0)) {
    Status s = Errno("fchmod/fsync", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = Errno("rename to", path);
    ::unlink(tmp.c_str());
    return s;
  }
  return Status::Ok();
}

Status CreateWhole(const std::string& path,
                   const std::function<Status(const std::string& tmp)>& fill) {
  const std::string dir = Dirname(path);
  const std::string tmp = dir + "/.plumb-tmp-" + Basename(path) + "." + UniqueSuffix();
  auto remove_tmp = [&tmp] {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"})
      (void)::unlink((tmp + suffix).c_str());
  };
  Status filled = fill(tmp);
  if (filled.ok()) filled = SyncPath(tmp);
  if (!filled.ok()) {
    remove_tmp();
    return filled;
  }
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) != 0) {
    Status s = errno == EEXIST ? Status::Ok() : Errno("rename to", path);
    remove_tmp();
    return s;
  }
  remove_tmp();  // what SQLite may have left beside it (none when it closed cleanly)
  return SyncPath(dir);
}

Status SyncFilesystem(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("open", path);
  int rc = ::syncfs(fd);
  ::close(fd);
  if (rc != 0) return Errno("syncfs", path);
  return Status::Ok();
}

Status SyncPath(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Errno("open", path);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("fsync", path);
  return Status::Ok();
}

Result<int> OpenRoot(const std::string& path) {
  int fd = ::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open", path);
  return fd;
}

std::string UniqueSuffix() {
  static const std::string prefix = RandomHex(4);
  static std::atomic<uint64_t> counter{0};
  return prefix + std::to_string(counter.fetch_add(1));
}

namespace {

std::string TempName(const std::string& base) {
  return ".plumb-tmp-" + base + "." + UniqueSuffix();
}

int OpenBeneath(int root_fd, const std::string& rel, int flags, int mode) {
  struct open_how how = {};
  how.flags = static_cast<uint64_t>(flags);
  how.mode = static_cast<uint64_t>(mode);
  how.resolve = RESOLVE_BENEATH;
  return static_cast<int>(::syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof how));
}

}  // namespace

Result<WrittenFile> WriteFileBeneath(int root_fd, const std::string& rel,
                                     const std::string& display, const std::string& content,
                                     int mode, bool exclusive) {
  // The parent directory is resolved once, beneath the root; the temp file, the rename
  // and a clean-up then name entries of that directory only, so no lookup after this
  // one can be sent elsewhere by a symlink swapped into the way meanwhile.
  const std::string dir = Dirname(rel);
  const std::string base = Basename(rel);
  const bool in_root = rel.find('/') == std::string::npos;
  int dir_fd = in_root ? root_fd : OpenBeneath(root_fd, dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
  if (dir_fd < 0) {
    const int e = errno;
    if (e == ENOSYS) return Unimplemented("openat2: not offered by this kernel");
    if (e == EXDEV || e == ELOOP || e == EAGAIN)
      return PermissionDenied("create " + display + ": the way leads out of its allowed " +
                              "directory or through a symlink (" + std::strerror(e) + ")");
    return Errno("open the directory of", display);
  }
  const int create_mode = mode & ~022;
  if (exclusive) {
    int fd = ::openat(dir_fd, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                      create_mode);
    if (fd >= 0) {
      auto fail = [&](const char* what) {
        Status s = Errno(what, display);
        ::close(fd);
        (void)::unlinkat(dir_fd, base.c_str(), 0);
        if (!in_root) ::close(dir_fd);
        return s;
      };
      if (!WriteAll(fd, content)) return fail("write");
      WrittenFile out;
      if (create_mode != mode && ::fchmod(fd, static_cast<mode_t>(mode)) != 0) return fail("chmod");
      if (::fstat(fd, &out.st) != 0) return fail("stat");
      if (static_cast<int>(out.st.st_mode & 07777) != mode) {
        // The umask took more than group/other write: chmod to the exact mode.
        if (::fchmod(fd, static_cast<mode_t>(mode)) != 0 || ::fstat(fd, &out.st) != 0)
          return fail("chmod");
      }
      // Nobody else could open it by this name before it was complete (see exclusive).
      out.untouched = out.st.st_size == static_cast<off_t>(content.size());
      ::close(fd);
      if (!in_root) ::close(dir_fd);
      return out;
    }
    if (errno != EEXIST) {
      Status s = Errno("create", display);
      if (!in_root) ::close(dir_fd);
      return s;
    }
    // The name is taken after all: replace it the usual way.
  }
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    tmp = TempName(base);
    fd = ::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  create_mode);
    if (fd >= 0) break;
    if (errno == EEXIST && attempt < 3) continue;  // someone took the name: another one
    Status s = Errno("create temp file for", display);
    if (!in_root) ::close(dir_fd);
    return s;
  }
  auto fail = [&](const char* what) {
    Status s = Errno(what, display);
    ::close(fd);
    (void)::unlinkat(dir_fd, tmp.c_str(), 0);
    if (!in_root) ::close(dir_fd);
    return s;
  };
  if (!WriteAll(fd, content)) return fail("write");
  WrittenFile out;
  struct stat before;
  if (::fstat(fd, &before) != 0) return fail("stat");
  if (static_cast<int>(before.st_mode & 07777) != mode) {
    if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) return fail("chmod");
    before.st_mode = (before.st_mode & ~07777) | static_cast<mode_t>(mode);
  }
  if (::renameat(dir_fd, tmp.c_str(), dir_fd, base.c_str()) != 0) return fail("rename to");
  if (::fstat(fd, &out.st) == 0) {
    out.untouched = out.st.st_ino == before.st_ino && out.st.st_dev == before.st_dev &&
                    out.st.st_size == static_cast<off_t>(content.size()) &&
                    out.st.st_size == before.st_size && out.st.st_mode == before.st_mode &&
                    out.st.st_mtim.tv_sec == before.st_mtim.tv_sec &&
                    out.st.st_mtim.tv_nsec == before.st_mtim.tv_nsec;
  }
  ::close(fd);
  if (!in_root) ::close(dir_fd);
  return out;
}

Result<int> OpenDirBeneath(int root_fd, const std::string& rel, bool no_symlinks) {
  struct open_how how = {};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | (no_symlinks ? RESOLVE_NO_SYMLINKS : 0);
  int fd = static_cast<int>(::syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof how));
  if (fd >= 0) return fd;
  const int e = errno;
  if (e == ENOSYS) return Unimplemented("openat2: not offered by this kernel");
  if (e == EXDEV || e == ELOOP || e == EAGAIN)
    return PermissionDenied("open " + rel + ": the way leads out of its allowed directory or " +
                            "through a symlink (" + std::strerror(e) + ")");
  return Errno("open", rel);
}

Status RemoveTreeAt(int dir_fd, const std::string& name, const std::string& display) {
  int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::Ok();
    if (errno != ENOTDIR && errno != ELOOP) return Errno("open", display);
    // A file or a symlink: the entry itself.
    if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT)
      return Errno("remove", display);
    return Status::Ok();
  }
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    Status s = Errno("read", display);
    ::close(fd);
    return s;
  }
  Status first;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  for (const std::string& n : names) {
    Status s = RemoveTreeAt(::dirfd(d), n, display + "/" + n);
    if (!s.ok() && first.ok()) first = s;
  }
  ::closedir(d);
  if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT && first.ok())
    first = Errno("remove", display);
  return first;
}

Status MakeDirs(const std::string& path, int mode) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return Unavailable("mkdir " + path + ": " + ec.message());
  (void)mode;
  return Status::Ok();
}

Status RemoveAll(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return Unavailable("remove " + path + ": " + ec.message());
  return Status::Ok();
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

Result<std::vector<std::string>> ListDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Errno("cannot read", dir);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

namespace {
// Whether NormalizePath(path) would return `path` itself: not empty, no empty, "." or ".."
// component, no trailing slash (but "/"). Most paths are: a plan checks two or three per
// File, and splitting and joining each was 8% of a cold sync's CPU.
bool IsNormalPath(std::string_view path) {
  if (path.empty()) return false;
  if (path == "/") return true;
  if (path.back() == '/') return false;
  for (size_t i = path[0] == '/' ? 1 : 0; i <= path.size();) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view part = path.substr(i, j - i);
    if (part.empty() || part == "." || part == "..") return false;
    i = j + 1;
  }
  return true;
}
}  // namespace

std::string NormalizePath(const std::string& path) {
  if (IsNormalPath(path)) return path;
  bool abs = !path.empty() && path[0] == '/';
  std::vector<std::string> out;
  for (auto& part : Split(path, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!out.empty() && out.back() != "..")
        out.pop_back();
      else if (!abs)
        out.push_back("..");
      continue;
    }
    out.push_back(part);
  }
  std::string joined = Join(out, "/");
  if (abs) return "/" + joined;
  return joined.empty() ? "." : joined;
}

std::string JoinPath(const std::string& base, const std::string& rel) {
  if (!rel.empty() && rel[0] == '/') return NormalizePath(rel);
  if (base.empty()) return NormalizePath(rel);
  return NormalizePath(base + "/" + rel);
}

bool IsUnder(const std::string& path, const std::string& dir) {
  if (IsNormalPath(path) && IsNormalPath(dir)) {  // the same answer without two copies
    if (dir == "/") return path[0] == '/';
    return path.size() >= dir.size() && path.compare(0, dir.size(), dir) == 0 &&
           (path.size() == dir.size() || path[dir.size()] == '/');
  }
  std::string p = NormalizePath(path), d = NormalizePath(dir);
  if (d == "/") return p[0] == '/';
  return p == d || StartsWith(p, d + "/");
}

std::string Dirname(const std::string& path) {
  size_t pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

std::string Basename(const std::string& path) {
  size_t pos = path.find_last_of('/');
  return pos == std::string::npos ? path : path.substr(pos + 1);
}

Result<std::string> MakeTempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) return Errno("mkdtemp", templ);
  return std::string(buf.data());
}

TempDir& TempDir::operator=(TempDir&& o) noexcept {
  if (this != &o) {
    if (!path_.empty()) (void)RemoveAll(path_);
    path_ = std::move(o.path_);
    o.path_.clear();
  }
  return *this;
}

TempDir::~TempDir() {
  if (!path_.empty()) (void)RemoveAll(path_);
}

}  // namespace plumb::fs
