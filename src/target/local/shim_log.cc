// RotatingLog: the program's output files under DIR/log (see shim_internal.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/log.h"
#include "target/local/shim_internal.h"

namespace plumb::target::local {

RotatingLog::~RotatingLog() {
  if (fd_ >= 0) ::close(fd_);
}

void RotatingLog::Write(const char* data, size_t n) {
  while (n > 0) {
    if (!Open()) return;
    size_t take = n;
    if (max_ > 0) {
      if (static_cast<int64_t>(n) > max_ - size_ && size_ > 0) {
        Rotate();
        continue;
      }
      if (static_cast<int64_t>(take) > max_) {
        take = static_cast<size_t>(max_);
        if (const void* nl = ::memrchr(data, '\n', take))
          take = static_cast<size_t>(static_cast<const char*>(nl) - data) + 1;
      }
    }
    WriteAll(data, take);
    size_ += static_cast<int64_t>(take);
    data += take;
    n -= take;
  }
}

std::string RotatingLog::Path(int i) const {
  return i == 0 ? dir_ + "/current" : dir_ + "/current." + std::to_string(i);
}

bool RotatingLog::Open() {
  if (fd_ >= 0) return true;
  fd_ = ::open(Path(0).c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd_ < 0) {
    Warn("open " + Path(0));
    return false;
  }
  struct stat st;
  size_ = ::fstat(fd_, &st) == 0 ? st.st_size : 0;
  return true;
}

void RotatingLog::Rotate() {
  ::close(fd_);
  fd_ = -1;
  size_ = 0;
  if (files_ <= 0) {
    ::unlink(Path(0).c_str());
    return;
  }
  for (int i = files_ - 1; i >= 1; --i) ::rename(Path(i).c_str(), Path(i + 1).c_str());
  if (::rename(Path(0).c_str(), Path(1).c_str()) != 0) Warn("rotate " + Path(0));
}

void RotatingLog::WriteAll(const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd_, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      Warn("write " + Path(0));
      return;
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
}

void RotatingLog::Warn(const std::string& what) {
  if (warned_) return;
  warned_ = true;
  log::Error("program output dropped", {{"what", what}, {"error", std::strerror(errno)}});
}

}  // namespace plumb::target::local
