// ProgramStarter: one run of the program, from fork to a running exec or an error that
// names what failed (see shim_internal.h).
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/strings.h"
#include "target/local/shim_internal.h"

namespace plumb::target::local {
namespace {

constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

// What the child writes on the close-on-exec error pipe when it cannot exec.
struct ChildError {
  int32_t step;
  int32_t err;
};
enum Step : int32_t { kStepCgroup = 1, kStepChdir, kStepOpenFiles, kStepAddressSpace, kStepExec };

[[noreturn]] void ReportAndExit(int err_w, int32_t step, int err) {
  ChildError e{step, err};
  (void)!::write(err_w, &e, sizeof e);
  ::_exit(127);
}

void PrepareLimit(int resource, int64_t want, struct rlimit* out) {
  ::getrlimit(resource, out);
  if (want < 0) return;
  // A limit caps: soft and hard both, so the program cannot raise it again. Lowering
  // the hard limit needs no privilege; raising it above the current hard one does (and
  // setrlimit fails and says so).
  out->rlim_cur = out->rlim_max = static_cast<rlim_t>(want);
}

}  // namespace

ProgramStarter::ProgramStarter(const ShimSpec& spec, const std::string& dir, int out_w, int null_fd)
    : spec_(spec), out_w_(out_w), null_fd_(null_fd) {
  for (auto& a : spec_.argv) argv_.push_back(const_cast<char*>(a.c_str()));
  argv_.push_back(nullptr);
  std::string path = kDefaultPath;
  for (auto& [k, v] : spec_.env) {
    env_strings_.push_back(k + "=" + v);
    if (k == "PATH") path = v;
  }
  for (auto& e : env_strings_) envp_.push_back(e.data());
  envp_.push_back(nullptr);
  const std::string& prog = spec_.argv[0];
  if (prog.find('/') != std::string::npos) {
    candidates_.push_back(prog);
  } else {
    for (auto& d : Split(path, ':')) candidates_.push_back((d.empty() ? "." : d) + "/" + prog);
  }
  working_dir_ = spec_.working_dir.empty() ? dir : spec_.working_dir;
  if (!spec_.cgroup.empty()) cgroup_procs_ = spec_.cgroup + "/cgroup.procs";
  PrepareLimit(RLIMIT_NOFILE, spec_.limit_open_files, &nofile_);
  PrepareLimit(RLIMIT_AS, spec_.limit_address_space, &as_);
  sigemptyset(&no_signals_);
}

ProgramStarter::Run ProgramStarter::Start() const {
  Run run;
  int errp[2];
  if (::pipe2(errp, O_CLOEXEC) != 0) {
    run.error = std::string("pipe: ") + std::strerror(errno);
    run.wstatus = 127 << 8;  // as if a child had exited 127, as a failed exec does
    return run;
  }
  pid_t pid = ::fork();
  if (pid == 0) ExecChild(errp[1]);
  int fork_errno = errno;
  ::close(errp[1]);
  if (pid < 0) {
    ::close(errp[0]);
    run.error = std::string("fork: ") + std::strerror(fork_errno);
    run.wstatus = 127 << 8;
    return run;
  }
  ::setpgid(pid, pid);  // also in the child: whichever runs first, the group exists
  // EOF (the exec closed the pipe) or the child's report.
  ChildError e{};
  size_t got = 0;
  while (got < sizeof e) {
    ssize_t n = ::read(errp[0], reinterpret_cast<char*>(&e) + got, sizeof e - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(errp[0]);
  if (got < sizeof e) {
    run.pid = pid;
    return run;
  }
  while (::waitpid(pid, &run.wstatus, 0) < 0 && errno == EINTR) {
  }
  switch (e.step) {
    case kStepCgroup:
      run.error = "join cgroup " + spec_.cgroup;
      break;
    case kStepChdir:
      run.error = "chdir " + working_dir_;
      break;
    case kStepOpenFiles:
      run.error = "setrlimit RLIMIT_NOFILE " + std::to_string(spec_.limit_open_files);
      break;
    case kStepAddressSpace:
      run.error = "setrlimit RLIMIT_AS " + std::to_string(spec_.limit_address_space);
      break;
    default:
      run.error = "exec " + spec_.argv[0];
  }
  run.error += std::string(": ") + std::strerror(e.err);
  return run;
}

// Between fork and exec: system calls only, on data the constructor prepared.
void ProgramStarter::ExecChild(int err_w) const {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  ::sigprocmask(SIG_SETMASK, &no_signals_, nullptr);
  ::setpgid(0, 0);
  if (!cgroup_procs_.empty()) {
    int fd = ::open(cgroup_procs_.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0", 1) != 1) ReportAndExit(err_w, kStepCgroup, errno);
    ::close(fd);
  }
  if (::chdir(working_dir_.c_str()) != 0) ReportAndExit(err_w, kStepChdir, errno);
  if (spec_.limit_open_files >= 0 && ::setrlimit(RLIMIT_NOFILE, &nofile_) != 0)
    ReportAndExit(err_w, kStepOpenFiles, errno);
  if (spec_.limit_address_space >= 0 && ::setrlimit(RLIMIT_AS, &as_) != 0)
    ReportAndExit(err_w, kStepAddressSpace, errno);
  ::dup2(null_fd_, 0);
  ::dup2(out_w_, 1);
  ::dup2(out_w_, 2);
  CloseFdsFrom(3, err_w);
  // As execvpe: a candidate that is missing or not executable lets the search go on;
  // EACCES is reported when no candidate ran and one was denied.
  int err = ENOENT;
  bool denied = false;
  for (auto& c : candidates_) {
    ::execve(c.c_str(), argv_.data(), envp_.data());
    if (errno == EACCES) {
      denied = true;
    } else if (errno != ENOENT && errno != ENOTDIR) {
      err = errno;
      break;
    }
  }
  ReportAndExit(err_w, kStepExec, err == ENOENT && denied ? EACCES : err);
}

}  // namespace plumb::target::local
