#include "target/local/probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/subprocess.h"

namespace plumb::target::local {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Waits for `events` on fd until the deadline; false on timeout.
bool WaitFor(int fd, short events, int64_t deadline_ms) {
  while (true) {
    int64_t left = deadline_ms - NowMs();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

// Connects to 127.0.0.1:port within the deadline. -1 with `why` set on failure.
int Connect(int port, int64_t deadline_ms, std::string* why) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *why = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const std::string where = "127.0.0.1:" + std::to_string(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      *why = where + ": " + std::strerror(errno);
      ::close(fd);
      return -1;
    }
    if (!WaitFor(fd, POLLOUT, deadline_ms)) {
      *why = where + ": connect timed out";
      ::close(fd);
      return -1;
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      *why = where + ": " + std::strerror(err);
      ::close(fd);
      return -1;
    }
  }
  return fd;
}

ProbeResult HttpGet(const Probe& probe, int port, int64_t deadline_ms) {
  std::string why;
  Fd fd(Connect(port, deadline_ms, &why));
  if (fd.get() < 0) return {false, why};
  const std::string where = ":" + std::to_string(port) + probe.path;
  std::string req = "GET " + probe.path + " HTTP/1.0\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nUser-Agent: plumb-probe/1\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  size_t sent = 0;
  while (sent < req.size()) {
    if (!WaitFor(fd.get(), POLLOUT, deadline_ms)) return {false, where + ": timed out"};
    ssize_t n = ::send(fd.get(), req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      return {false, where + ": " + std::strerror(errno)};
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string head;
  while (head.find("\r\n") == std::string::npos && head.size() < 4096) {
    if (!WaitFor(fd.get(), POLLIN, deadline_ms)) return {false, where + ": timed out"};
    char buf[1024];
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return {false, where + ": " + std::strerror(errno)};
    }
    head.append(buf, static_cast<size_t>(n));
  }
  // "HTTP/1.1 200 OK"
  int code = 0;
  if (head.compare(0, 5, "HTTP/") == 0) {
    size_t sp = head.find(' ');
    if (sp != std::string::npos) code = std::atoi(head.c_str() + sp + 1);
  }
  if (code == 0) return {false, where + ": no HTTP answer"};
  if (code >= 200 && code < 400) return {true, ""};
  return {false, "HTTP " + std::to_string(code) + " from " + where};
}

}  // namespace

ProbeResult RunProbe(const Probe& probe, int port,
                     const std::vector<std::pair<std::string, std::string>>& env,
                     const std::string& working_dir) {
  const int64_t deadline = NowMs() + probe.timeout.count();
  switch (probe.kind) {
    case Probe::Kind::kHttpGet:
      return HttpGet(probe, port, deadline);
    case Probe::Kind::kTcpSocket: {
      std::string why;
      Fd fd(Connect(port, deadline, &why));
      return fd.get() >= 0 ? ProbeResult{true, ""} : ProbeResult{false, why};
    }
    case Probe::Kind::kExec: {
      SubprocessOptions opts;
      opts.timeout = probe.timeout;
      opts.working_dir = working_dir;
      opts.max_output = 1 << 20;
      for (const auto& [k, v] : env) opts.extra_env.push_back(k + "=" + v);
      auto r = RunSubprocess(probe.exec, opts);
      if (!r.ok()) return {false, "exec " + probe.exec[0] + ": " + r.status().message()};
      if (r->exit_code == 0) return {true, ""};
      std::string out = r->out + r->err;
      if (out.size() > 200) out = out.substr(0, 200) + "...";
      return {false, "exec " + probe.exec[0] + " exited " +
                         (r->signal ? "by signal " + std::to_string(r->signal)
                                    : "with code " + std::to_string(r->exit_code)) +
                         (out.empty() ? "" : ": " + out)};
    }
  }
  return {false, "unknown probe"};
}

}  // namespace plumb::target::local
