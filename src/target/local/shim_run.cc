// The shim's loop (`plumb shim DIR`): one poll() over the program's output pipe, a
// signalfd and one timer (the back-off restart or the end of the grace period).
//
// Signals: SIGTERM stops the program and exits; SIGUSR1 restarts it (ignored while
// nothing runs: in back-off, stopping, or before the first start); SIGCHLD is how exits
// are seen. SIGINT and SIGHUP are ignored: the shim has no terminal and outlives the
// operator, so only a deliberate SIGTERM (or SIGKILL) ends it. SIGPIPE is ignored.
#include <fcntl.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "core/fs.h"
#include "core/log.h"
#include "target/local/shim.h"
#include "target/local/shim_internal.h"

namespace plumb::target::local {
namespace {

constexpr off_t kShimLogMaxBytes = 1 << 20;

std::string ExitText(int wstatus) {
  if (WIFSIGNALED(wstatus))
    return "killed by signal " + std::to_string(WTERMSIG(wstatus)) + " (" +
           ::strsignal(WTERMSIG(wstatus)) + ")";
  return "exited with code " + std::to_string(WEXITSTATUS(wstatus));
}

class Shim {
 public:
  explicit Shim(std::string dir) : dir_(std::move(dir)) {}
  ~Shim() {
    for (int fd : {sfd_, out_r_, out_w_, null_fd_})
      if (fd >= 0) ::close(fd);
  }
  int Run();

 private:
  enum class Phase { kRunning, kBackOff, kStopping, kDone };

  void SetUpDescriptors();
  Status SetUpSignals();
  void RotateShimLog();
  void Start();
  void Reap();
  void OnRunEnded(int wstatus, bool start_failed);
  void ScheduleStart(int64_t delay_ms, const char* state);
  void RequestStop(bool shutdown, const std::string& why);
  void OnTimer();
  void HandleSignals();
  void DrainOutput(bool all);
  void SignalGroup(int sig);
  void Finish(const char* state);
  void Publish();
  int64_t Backoff(int failures) const;

  std::string dir_;
  ShimSpec spec_;
  ShimStatus st_;
  Phase phase_ = Phase::kBackOff;
  bool shutdown_ = false;     // stopping to exit (SIGTERM), not to restart (SIGUSR1)
  bool killed_ = false;       // SIGKILL sent after the grace period
  int starts_ = 0;            // start attempts
  int64_t started_mono_ = 0;  // monotonic ms the current run started
  int64_t timer_mono_ = -1;   // next start (BackOff) or SIGKILL (Stopping); -1: none
  int sfd_ = -1, out_r_ = -1, out_w_ = -1, null_fd_ = -1;
  std::unique_ptr<RotatingLog> log_;
  std::unique_ptr<ProgramStarter> starter_;
};

int Shim::Run() {
  SetUpDescriptors();
  st_.shim_pid = ::getpid();
  st_.shim_start = ReadStartTime(st_.shim_pid, true);
  std::string spec_path = dir_ + "/" + kSpecFile;
  Result<std::string> text = fs::ReadFile(spec_path);
  Result<ShimSpec> spec =
      text.ok() ? ShimSpecFromJson(*text, spec_path) : Result<ShimSpec>(text.status());
  Status s = spec.ok() ? SetUpSignals() : spec.status();
  if (s.ok()) s = fs::MakeDirs(dir_ + "/log");
  if (!s.ok()) {
    log::Error("shim cannot start", {{"dir", dir_}, {"error", s.ToString()}});
    st_.message = s.message();
    Finish("Failed");
    return 1;
  }
  spec_ = std::move(spec).value();
  log_ = std::make_unique<RotatingLog>(dir_ + "/log", spec_.log_max_bytes, spec_.log_files);
  starter_ = std::make_unique<ProgramStarter>(spec_, dir_, out_w_, null_fd_);
  log::Info("shim started", {{"dir", dir_}, {"program", spec_.argv[0]}});
  Start();
  while (phase_ != Phase::kDone) {
    pollfd fds[2] = {{sfd_, POLLIN, 0}, {out_r_, POLLIN, 0}};
    int timeout = -1;
    if (timer_mono_ >= 0)
      timeout = static_cast<int>(std::max<int64_t>(0, timer_mono_ - MonotonicMillis()));
    if (::poll(fds, 2, timeout) < 0 && errno != EINTR) {
      log::Error("poll failed; shim exits", {{"error", std::strerror(errno)}});
      return 1;
    }
    // Output first, so what a program printed before it exited is logged before its exit.
    if (fds[1].revents) DrainOutput(false);
    if (fds[0].revents) HandleSignals();
    OnTimer();
  }
  DrainOutput(true);
  log::Info("shim exits", {{"state", st_.state}});
  return 0;
}

// 0-2 are /dev/null (LaunchShim did it; again here for a shim started by hand), then
// stderr goes to DIR/shim.log; nothing else is inherited.
void Shim::SetUpDescriptors() {
  CloseFdsFrom(3, -1);
  for (int fd = 0; fd < 3; ++fd)
    if (::fcntl(fd, F_GETFD) < 0) ::open("/dev/null", O_RDWR);  // takes the lowest free fd
  null_fd_ = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  std::string shim_log = dir_ + "/" + kShimLogFile;
  int log_fd = ::open(shim_log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (log_fd >= 0) {
    ::dup2(log_fd, 2);
    ::close(log_fd);
  }
  (void)!::chdir(dir_.c_str());
}

Status Shim::SetUpSignals() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  sigset_t set;
  sigemptyset(&set);
  // Back to the default first: a blocked signal that is ignored never reaches a
  // signalfd, and an ignored SIGCHLD would reap the program for us.
  for (int sig : {SIGCHLD, SIGTERM, SIGUSR1}) {
    ::sigaction(sig, &dfl, nullptr);
    sigaddset(&set, sig);
  }
  for (int sig : {SIGINT, SIGHUP, SIGPIPE}) ::sigaction(sig, &ign, nullptr);
  ::sigprocmask(SIG_SETMASK, &set, nullptr);
  sfd_ = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd_ < 0) return Unavailable(std::string("signalfd: ") + std::strerror(errno));
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    return Unavailable(std::string("pipe: ") + std::strerror(errno));
  out_r_ = out[0];
  out_w_ = out[1];  // kept open: one pipe for every run; only SIGCHLD tells of an exit
  ::fcntl(out_r_, F_SETFL, O_NONBLOCK);
  return Status::Ok();
}

// DIR/shim.log is stderr: a few lines per start, so a size check at each start keeps a
// long crash loop from filling the disk (shim.log.1 holds the previous part).
void Shim::RotateShimLog() {
  struct stat sb;
  if (::fstat(2, &sb) != 0 || sb.st_size < kShimLogMaxBytes) return;
  std::string path = dir_ + "/" + kShimLogFile;
  ::rename(path.c_str(), (path + ".1").c_str());
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return;
  ::dup2(fd, 2);
  ::close(fd);
}

void Shim::Start() {
  RotateShimLog();
  if (++starts_ > 1) ++st_.restarts;
  ProgramStarter::Run run = starter_->Start();
  timer_mono_ = -1;
  started_mono_ = MonotonicMillis();
  st_.started_ms = UnixMillis(std::chrono::system_clock::now());
  if (run.pid < 0) {
    st_.message = run.error;
    log::Warn("program did not start", {{"error", st_.message}});
    OnRunEnded(run.wstatus, true);
    return;
  }
  int pid = run.pid;
  phase_ = Phase::kRunning;
  st_.pid = pid;
  st_.start = ReadStartTime(pid, true);  // our child: even as a zombie it is still ours
  st_.state = "Running";
  st_.next_start_ms = 0;
  st_.message.clear();
  log::Info("program started", {{"pid", std::to_string(pid)}});
  Publish();
}

void Shim::Reap() {
  while (true) {
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
    pid_t pid = info.si_pid;
    // Kill what is left of the program's process group while its unreaped leader still
    // holds the group id, as a container's processes end with its first process.
    if (pid == st_.pid) ::kill(-pid, SIGKILL);
    int wstatus = 0;
    while (::waitpid(pid, &wstatus, 0) < 0)
      if (errno != EINTR) return;
    if (pid != st_.pid) continue;
    log::Info("program ended", {{"pid", std::to_string(pid)}, {"how", ExitText(wstatus)}});
    DrainOutput(true);
    OnRunEnded(wstatus, false);
  }
}

void Shim::OnRunEnded(int wstatus, bool start_failed) {
  st_.pid = 0;
  st_.start = 0;
  st_.last_exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
  st_.last_signal = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
  st_.last_exit_ms = UnixMillis(std::chrono::system_clock::now());
  bool stopping = phase_ == Phase::kStopping;
  if (stopping && shutdown_) {
    st_.message = "stopped on request (" + ExitText(wstatus) + ")";
    Finish("Stopped");
    return;
  }
  if (MonotonicMillis() - started_mono_ >= spec_.backoff_reset.count())
    st_.consecutive_failures = 0;
  if (stopping) {  // a liveness restart: immediate unless it is crash-looping
    int failures = ++st_.consecutive_failures;
    ScheduleStart(failures == 1 ? 0 : Backoff(failures), "BackOff");
    return;
  }
  if (!start_failed) st_.message = ExitText(wstatus);
  bool failed = start_failed || st_.last_exit_code != 0;
  bool restart = spec_.restart == RestartPolicy::kAlways ||
                 (spec_.restart == RestartPolicy::kOnFailure && failed);
  if (!restart) {
    Finish(start_failed ? "Failed" : "Exited");
    return;
  }
  ScheduleStart(Backoff(++st_.consecutive_failures), start_failed ? "Failed" : "BackOff");
}

// backoff_initial doubled for each consecutive failure after the first, up to backoff_max.
int64_t Shim::Backoff(int failures) const {
  int64_t d = spec_.backoff_initial.count(), max = spec_.backoff_max.count();
  for (int i = 1; i < failures && d < max; ++i) d *= 2;
  return std::max<int64_t>(0, std::min(d, max));
}

// The start always goes through the timer (OnTimer runs after every poll), so a program
// that cannot start with a zero back-off does not recurse.
void Shim::ScheduleStart(int64_t delay_ms, const char* state) {
  phase_ = Phase::kBackOff;
  timer_mono_ = MonotonicMillis() + std::max<int64_t>(0, delay_ms);
  if (delay_ms <= 0) return;  // immediate: no BackOff worth publishing
  st_.state = state;
  st_.next_start_ms = st_.last_exit_ms + delay_ms;
  Publish();
}

void Shim::RequestStop(bool shutdown, const std::string& why) {
  switch (phase_) {
    case Phase::kRunning:
      log::Info(why, {{"pid", std::to_string(st_.pid)}});
      phase_ = Phase::kStopping;
      shutdown_ = shutdown;
      killed_ = false;
      st_.state = "Stopping";
      st_.message = why;
      SignalGroup(spec_.stop_signal);
      timer_mono_ = MonotonicMillis() + spec_.grace.count();
      Publish();
      return;
    case Phase::kStopping:
      if (shutdown && !shutdown_) {
        shutdown_ = true;
        st_.message = why;
        Publish();
      }
      return;
    case Phase::kBackOff:
      if (shutdown) {
        st_.message = why;
        Finish("Stopped");
      }
      return;
    case Phase::kDone:
      return;
  }
}

void Shim::OnTimer() {
  if (timer_mono_ < 0 || MonotonicMillis() < timer_mono_) return;
  timer_mono_ = -1;
  if (phase_ == Phase::kBackOff) {
    Start();
  } else if (phase_ == Phase::kStopping && !killed_) {
    log::Warn("grace period over; SIGKILL", {{"pid", std::to_string(st_.pid)}});
    killed_ = true;
    SignalGroup(SIGKILL);
  }
}

void Shim::HandleSignals() {
  signalfd_siginfo si;
  while (::read(sfd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    if (si.ssi_signo == SIGCHLD) Reap();
    if (si.ssi_signo == SIGTERM) RequestStop(true, "stop requested");
    if (si.ssi_signo == SIGUSR1) RequestStop(false, "liveness restart requested");
  }
}

// Reads what the pipe holds. Without `all`, at most 1 MiB, so a program that floods its
// output cannot keep the loop from signals and timers.
void Shim::DrainOutput(bool all) {
  char buf[65536];
  for (int i = 0; all ? i < 4096 : i < 16; ++i) {
    ssize_t n = ::read(out_r_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    log_->Write(buf, static_cast<size_t>(n));
  }
}

void Shim::SignalGroup(int sig) {
  if (st_.pid <= 0) return;
  if (::kill(-st_.pid, sig) != 0) ::kill(st_.pid, sig);  // it may have left its group
}

void Shim::Finish(const char* state) {
  phase_ = Phase::kDone;
  timer_mono_ = -1;
  st_.state = state;
  st_.next_start_ms = 0;
  log::Info("final state", {{"state", state}, {"message", st_.message}});
  Publish();
}

void Shim::Publish() {
  Status s = fs::WriteFileAtomic(dir_ + "/" + kStatusFile, ShimStatusToJson(st_), 0644);
  if (!s.ok()) log::Error("cannot write status", {{"error", s.ToString()}});
}

}  // namespace

int RunShim(const std::string& dir) {
  std::string abs = dir;
  if (abs.empty() || abs[0] != '/') {
    char cwd[4096];
    if (::getcwd(cwd, sizeof cwd)) abs = fs::JoinPath(cwd, dir);
  }
  Shim shim(abs);
  return shim.Run();
}

}  // namespace plumb::target::local
