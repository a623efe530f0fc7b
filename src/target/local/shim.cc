// The operator's side of the shim: launching a detached shim, reading its status, and
// identifying (pid + start time) and signalling shims and programs. The shim's own loop is
// in shim_run.cc, the JSON files' codecs in shim_json.cc.
#include "target/local/shim.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "core/fs.h"
#include "target/local/shim_internal.h"

namespace plumb::target::local {
namespace {

// Sends `sig` to the process `pid` (or its process group) only when it is still the
// process that started at `start`. A pidfd pins the process between the check and the
// signal. OK when it is gone.
Status SignalIfSame(int pid, uint64_t start, int sig, bool group, const char* what) {
  if (pid <= 0 || start == 0) return Status::Ok();
  // Raw system calls: glibc 2.36's <sys/pidfd.h> lacks extern "C" for C++.
  int pfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pfd < 0 && errno == ESRCH) return Status::Ok();
  if (ProcessStartTime(pid) != start) {
    if (pfd >= 0) ::close(pfd);
    return Status::Ok();
  }
  int rc;
  if (group) {
    rc = ::kill(-pid, sig);
    if (rc != 0 && errno == ESRCH) rc = ::kill(pid, sig);  // it left its group
  } else {
    rc = pfd >= 0 ? static_cast<int>(::syscall(SYS_pidfd_send_signal, pfd, sig, nullptr, 0))
                  : ::kill(pid, sig);
  }
  int err = errno;
  if (pfd >= 0) ::close(pfd);
  if (rc != 0 && err != ESRCH)
    return Unavailable(std::string("signal ") + what + " " + std::to_string(pid) + ": " +
                       std::strerror(err));
  return Status::Ok();
}

// The last line of a small text file, for error messages.
std::string LastLine(const std::string& path) {
  auto text = fs::ReadFile(path);
  if (!text.ok()) return "";
  std::string t = *text;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  size_t nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

// The child side of LaunchShim, between fork and exec: only async-signal-safe calls.
// Becomes a session leader, forks the shim and exits, so the shim is reparented to init
// (or the nearest subreaper). The shim reports its pid, then an exec errno if any, on
// `report` (close-on-exec, so a successful exec closes it).
[[noreturn]] void DetachAndExec(int report, const char* exe, char* const* argv,
                                const sigset_t* empty) {
  ::setsid();
  pid_t pid = ::fork();
  if (pid != 0) ::_exit(pid < 0 ? 1 : 0);
  int32_t self = ::getpid();
  (void)!::write(report, &self, sizeof self);
  ::sigprocmask(SIG_SETMASK, empty, nullptr);
  CloseFdsFrom(3, report);
  int null_fd = ::open("/dev/null", O_RDWR);
  if (null_fd >= 0) {
    for (int fd = 0; fd < 3; ++fd) ::dup2(null_fd, fd);
    if (null_fd > 2) ::close(null_fd);
  }
  (void)!::chdir("/");
  ::execv(exe, argv);
  int32_t err = errno;
  (void)!::write(report, &err, sizeof err);
  ::_exit(127);
}

}  // namespace

void CloseFdsFrom(int lowest, int keep) {
  // close_range(2) when the kernel has it; otherwise every possible descriptor.
  auto close_span = [](unsigned from, unsigned to) {
    if (from > to) return;
    if (::close_range(from, to, 0) == 0) return;
    struct rlimit rl;
    unsigned limit = ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                         ? static_cast<unsigned>(rl.rlim_cur)
                         : 65536;
    for (unsigned fd = from; fd <= to && fd < limit; ++fd) ::close(static_cast<int>(fd));
  };
  if (keep >= lowest) {
    close_span(static_cast<unsigned>(lowest), static_cast<unsigned>(keep) - 1);
    close_span(static_cast<unsigned>(keep) + 1, ~0U);
  } else {
    close_span(static_cast<unsigned>(lowest), ~0U);
  }
}

uint64_t ReadStartTime(int pid, bool allow_zombie) {
  if (pid <= 0) return 0;
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 0;
  std::string_view line(buf, static_cast<size_t>(n));
  // Field 2 (comm) is in parentheses and may hold spaces and ')': skip to the last ')'.
  size_t close_paren = line.rfind(')');
  if (close_paren == std::string_view::npos) return 0;
  std::string_view rest = line.substr(close_paren + 1);
  // Fields from 3 (state) on, space separated; the start time is field 22.
  int field = 2;
  size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && rest[i] == ' ') ++i;
    size_t j = i;
    while (j < rest.size() && rest[j] != ' ' && rest[j] != '\n') ++j;
    if (j == i) break;
    ++field;
    std::string_view tok = rest.substr(i, j - i);
    if (field == 3 && !allow_zombie && (tok == "Z" || tok == "X")) return 0;
    if (field == 22) {
      uint64_t v = 0;
      for (char c : tok) {
        if (c < '0' || c > '9') return 0;
        v = v * 10 + static_cast<uint64_t>(c - '0');
      }
      return v;
    }
    i = j;
  }
  return 0;
}

Result<ShimStatus> ReadShimStatus(const std::string& dir) {
  std::string path = dir + "/" + kStatusFile;
  ASSIGN_OR_RETURN(std::string text, fs::ReadFile(path));
  return ShimStatusFromJson(text, path);
}

uint64_t ProcessStartTime(int pid) { return ReadStartTime(pid, /*allow_zombie=*/false); }

bool ShimAlive(const ShimStatus& s) {
  return s.shim_pid > 0 && s.shim_start != 0 && ProcessStartTime(s.shim_pid) == s.shim_start;
}

bool ProgramAlive(const ShimStatus& s) {
  return s.pid > 0 && s.start != 0 && ProcessStartTime(s.pid) == s.start;
}

bool IsFinalState(const ShimStatus& s) {
  return s.state == "Exited" || s.state == "Stopped" ||
         (s.state == "Failed" && s.next_start_ms == 0);
}

Status StopShim(const ShimStatus& s) {
  return SignalIfSame(s.shim_pid, s.shim_start, SIGTERM, false, "shim");
}

bool WaitShimGone(const ShimStatus& s, Duration timeout) {
  int64_t deadline = MonotonicMillis() + timeout.count();
  while (ShimAlive(s)) {
    if (MonotonicMillis() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

Status RestartProgram(const ShimStatus& s) {
  if (!ShimAlive(s)) return FailedPrecondition("shim " + std::to_string(s.shim_pid) + " is gone");
  return SignalIfSame(s.shim_pid, s.shim_start, SIGUSR1, false, "shim");
}

Status KillOrphan(const ShimStatus& s) {
  return SignalIfSame(s.pid, s.start, SIGKILL, true, "program");
}

Result<ShimStatus> LaunchShim(const std::string& plumb_exe, const std::string& dir_in,
                              const ShimSpec& spec) {
  if (spec.argv.empty()) return InvalidArgument("shim " + dir_in + ": empty command");
  std::string dir = dir_in;
  if (dir.empty() || dir[0] != '/') {
    char cwd[4096];
    if (!::getcwd(cwd, sizeof cwd)) return Internal(std::string("getcwd: ") + strerror(errno));
    dir = fs::JoinPath(cwd, dir);
  }
  auto old = ReadShimStatus(dir);
  if (old.ok() && ShimAlive(*old))
    return FailedPrecondition("shim " + std::to_string(old->shim_pid) + " already supervises " +
                              dir);
  RETURN_IF_ERROR(fs::MakeDirs(dir + "/log"));
  std::string status_path = dir + "/" + kStatusFile;
  if (::unlink(status_path.c_str()) != 0 && errno != ENOENT)
    return Unavailable("remove " + status_path + ": " + std::strerror(errno));
  RETURN_IF_ERROR(fs::WriteFileAtomic(dir + "/" + kSpecFile, ShimSpecToJson(spec), 0600));

  // Everything the child needs is prepared before fork: the caller may be multithreaded.
  std::string shim_arg = "shim";
  char* argv[] = {const_cast<char*>(plumb_exe.c_str()), shim_arg.data(), dir.data(), nullptr};
  sigset_t empty;
  sigemptyset(&empty);
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0)
    return Unavailable(std::string("pipe: ") + std::strerror(errno));
  pid_t mid = ::fork();
  if (mid < 0) {
    int err = errno;
    ::close(report[0]);
    ::close(report[1]);
    return Unavailable(std::string("fork: ") + std::strerror(err));
  }
  if (mid == 0) DetachAndExec(report[1], plumb_exe.c_str(), argv, &empty);
  ::close(report[1]);
  int wstatus = 0;
  while (::waitpid(mid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  int32_t words[2] = {0, 0};
  size_t got = 0;
  while (got < sizeof words) {
    ssize_t n = ::read(report[0], reinterpret_cast<char*>(words) + got, sizeof words - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(report[0]);
  std::string what = "start shim " + plumb_exe + " for " + dir;
  if (got < sizeof(int32_t)) return Unavailable(what + ": fork failed");
  int shim_pid = words[0];
  if (got == sizeof words) return Unavailable(what + ": exec: " + std::strerror(words[1]));

  int64_t deadline = MonotonicMillis() + kLaunchTimeout.count();
  while (true) {
    auto st = ReadShimStatus(dir);
    if (st.ok() && st->shim_pid == shim_pid) return st;
    if (!st.ok() && st.status().code() != Code::kNotFound) return st.status().WithContext(what);
    if (ReadStartTime(shim_pid, false) == 0) {
      st = ReadShimStatus(dir);  // it may have written a final status and exited
      if (st.ok() && st->shim_pid == shim_pid) return st;
      return Unavailable(what + ": the shim exited at start (" + dir +
                         "/shim.log: " + LastLine(dir + "/shim.log") + ")");
    }
    if (MonotonicMillis() >= deadline)
      return DeadlineExceeded(what + ": no status after " + FormatDuration(kLaunchTimeout));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace plumb::target::local
