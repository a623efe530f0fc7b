#include "server/logs.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "resource/resource.h"

namespace plumb::server {

namespace {
constexpr size_t kChunk = size_t{64} * 1024;
constexpr int kMaxRotated = 1000;  // path.1 ... path.1000 at most

Status ErrnoStatus(const std::string& what, const std::string& path) {
  return Unavailable(what + " " + path + ": " + std::strerror(errno));
}

// The last `n` lines of one file. `exists` false (and nothing read) when it is missing.
// `partial_counts`: a last line without '\n' is a line.
Status LastLinesOf(const std::string& path, size_t n, bool partial_counts,
                   std::vector<std::string>* out, uint64_t* inode, uint64_t* end_offset,
                   bool* exists) {
  *exists = false;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? Status::Ok() : ErrnoStatus("cannot open", path);
  *exists = true;
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    Status s = ErrnoStatus("cannot stat", path);
    ::close(fd);
    return s;
  }
  *inode = st.st_ino;
  // Read backwards until n+1 newlines are in hand (the first line may be cut) or the
  // start of the file.
  off_t pos = st.st_size;
  std::string tail;
  size_t newlines = 0;
  std::string buf;
  while (pos > 0 && newlines <= n) {
    size_t len = static_cast<size_t>(std::min<off_t>(pos, kChunk));
    pos -= static_cast<off_t>(len);
    buf.resize(len);
    ssize_t got = ::pread(fd, buf.data(), len, pos);
    if (got < 0) {
      Status s = ErrnoStatus("cannot read", path);
      ::close(fd);
      return s;
    }
    buf.resize(static_cast<size_t>(got));
    newlines += static_cast<size_t>(std::count(buf.begin(), buf.end(), '\n'));
    tail.insert(0, buf);
  }
  ::close(fd);
  size_t last_nl = tail.rfind('\n');
  std::string partial = last_nl == std::string::npos ? tail : tail.substr(last_nl + 1);
  *end_offset = static_cast<uint64_t>(pos) + (last_nl == std::string::npos ? 0 : last_nl + 1);
  std::vector<std::string> lines;
  size_t start = 0;
  if (last_nl != std::string::npos) {
    while (start <= last_nl) {
      size_t nl = tail.find('\n', start);
      lines.push_back(tail.substr(start, nl - start));
      start = nl + 1;
    }
    if (pos > 0 && !lines.empty()) lines.erase(lines.begin());  // cut by the window
  }
  if (partial_counts && !partial.empty()) lines.push_back(partial);
  if (lines.size() > n) lines.erase(lines.begin(), lines.end() - static_cast<ptrdiff_t>(n));
  out->insert(out->begin(), lines.begin(), lines.end());
  return Status::Ok();
}

bool SameAddress(const sockaddr_storage& a, const std::string& addr, int port) {
  char text[INET6_ADDRSTRLEN] = "";
  int p = -1;
  if (a.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    p = ntohs(in->sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    p = ntohs(in6->sin6_port);
  } else {
    return false;
  }
  return p == port && addr == text;
}
}  // namespace

Result<LogTail> TailLog(const std::string& path, size_t n, bool include_partial) {
  LogTail t;
  bool exists = false;
  RETURN_IF_ERROR(LastLinesOf(path, n, include_partial, &t.lines, &t.inode, &t.offset, &exists));
  for (int i = 1; i <= kMaxRotated && t.lines.size() < n; ++i) {
    uint64_t inode = 0, offset = 0;
    RETURN_IF_ERROR(LastLinesOf(path + "." + std::to_string(i), n - t.lines.size(), true, &t.lines,
                                &inode, &offset, &exists));
    if (!exists) break;
  }
  return t;
}

std::string MaskValues(std::string line, const std::vector<std::string>& values) {
  for (const std::string& v : values) {
    if (v.size() < kMinMaskedLength) continue;
    for (size_t at = line.find(v); at != std::string::npos; at = line.find(v, at)) {
      line.replace(at, v.size(), resource::kMaskedValue);
      at += std::strlen(resource::kMaskedValue);
    }
  }
  return line;
}

LogFollower::LogFollower(std::vector<Source> sources) {
  states_.reserve(sources.size());
  for (auto& src : sources) {
    states_.push_back(State{.source = std::move(src)});
    Open(states_.back(), /*continue_at_offset=*/true);
  }
}

LogFollower::~LogFollower() {
  for (auto& s : states_)
    if (s.fd >= 0) ::close(s.fd);
}

void LogFollower::Open(State& s, bool continue_at_offset) {
  s.fd = ::open(s.source.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (s.fd < 0) return;  // not written yet: tried again at the next poll
  struct stat st;
  uint64_t inode = ::fstat(s.fd, &st) == 0 ? st.st_ino : 0;
  // The file TailLog read is still there: go on after what it showed. Otherwise the
  // file is new since (rotated in between): all of it is new.
  if (!continue_at_offset || inode != s.source.inode) s.source.offset = 0;
  s.source.inode = inode;
  s.partial.clear();
}

void LogFollower::Drain(State& s, size_t max_bytes, std::vector<std::string>* out) {
  if (s.fd < 0) return;
  std::string buf;
  size_t total = 0;
  while (total < max_bytes) {
    buf.resize(kChunk);
    ssize_t got = ::pread(s.fd, buf.data(), buf.size(), static_cast<off_t>(s.source.offset));
    if (got <= 0) break;
    s.source.offset += static_cast<uint64_t>(got);
    total += static_cast<size_t>(got);
    s.partial.append(buf.data(), static_cast<size_t>(got));
  }
  size_t start = 0;
  for (size_t nl = s.partial.find('\n'); nl != std::string::npos;
       nl = s.partial.find('\n', start)) {
    out->push_back(s.source.prefix + s.partial.substr(start, nl - start));
    start = nl + 1;
  }
  s.partial.erase(0, start);
}

std::vector<std::string> LogFollower::Poll(size_t max_bytes) {
  std::vector<std::string> out;
  for (auto& s : states_) {
    if (s.fd < 0) Open(s, /*continue_at_offset=*/false);
    Drain(s, max_bytes, &out);
    if (s.fd < 0) continue;
    struct stat st;
    if (::stat(s.source.path.c_str(), &st) != 0) continue;  // mid-rotation: look again later
    if (st.st_ino != s.source.inode) {
      Drain(s, max_bytes, &out);  // what was written before the rename
      if (!s.partial.empty()) out.push_back(s.source.prefix + s.partial);
      ::close(s.fd);
      Open(s, /*continue_at_offset=*/false);
      Drain(s, max_bytes, &out);
    } else if (static_cast<uint64_t>(st.st_size) < s.source.offset) {
      s.source.offset = 0;  // truncated in place
      s.partial.clear();
      Drain(s, max_bytes, &out);
    }
  }
  return out;
}

int FindConnectionSocket(const std::string& local_addr, int local_port,
                         const std::string& remote_addr, int remote_port) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return -1;
  int found = -1;
  while (dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    long fd = std::strtol(e->d_name, &end, 10);
    if (*e->d_name == '\0' || *end != '\0' || fd == ::dirfd(dir)) continue;
    struct stat st;
    if (::fstat(static_cast<int>(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_storage local{}, peer{};
    socklen_t llen = sizeof local, plen = sizeof peer;
    if (::getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local), &llen) != 0 ||
        ::getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &plen) != 0)
      continue;
    if (SameAddress(local, local_addr, local_port) && SameAddress(peer, remote_addr, remote_port)) {
      found = static_cast<int>(fd);
      break;
    }
  }
  ::closedir(dir);
  return found;
}

bool PeerClosed(int fd) {
  pollfd p{.fd = fd, .events = POLLIN | POLLRDHUP, .revents = 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
  char c;
  return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

}  // namespace plumb::server
