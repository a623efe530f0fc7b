// target/local internal: the pieces of the shim that shim.cc (the operator's side),
// shim_run.cc (the shim's loop), shim_start.cc (starting one run of the program) and
// shim_log.cc (the program's log files) share. Not for other files. Nothing here is
// thread-safe: the shim is one thread.
#pragma once

#include <signal.h>
#include <sys/resource.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.h"
#include "target/local/shim.h"

namespace plumb::target::local {

inline constexpr const char* kSpecFile = "spec.json";
inline constexpr const char* kStatusFile = "status.json";
inline constexpr const char* kShimLogFile = "shim.log";
inline constexpr Duration kLaunchTimeout = Duration(10000);

// Closes every descriptor >= `lowest` except `keep` (-1: none). Async-signal-safe: called
// between fork and exec.
void CloseFdsFrom(int lowest, int keep);

// /proc/PID/stat field 22; 0 when there is no such process, or when it is a zombie and
// `allow_zombie` is false. Not async-signal-safe (it builds a path).
uint64_t ReadStartTime(int pid, bool allow_zombie);

// The program's output in DIR/log/current. When a write would take current past
// `max_bytes` (<= 0: never), current becomes current.1, current.1 becomes current.2, ...,
// and current.N (N = `files`) is dropped. A chunk larger than a whole file is cut after its
// last newline that fits, so lines shorter than `max_bytes` are never split. Write errors
// (a full disk) drop output rather than block the program; the first is logged.
class RotatingLog {
 public:
  RotatingLog(std::string dir, int64_t max_bytes, int files)
      : dir_(std::move(dir)), max_(max_bytes), files_(files) {}
  ~RotatingLog();
  RotatingLog(const RotatingLog&) = delete;
  RotatingLog& operator=(const RotatingLog&) = delete;

  void Write(const char* data, size_t n);

 private:
  std::string Path(int i) const;
  bool Open();
  void Rotate();
  void WriteAll(const char* data, size_t n);
  void Warn(const std::string& what);

  std::string dir_;
  int64_t max_;
  int files_;
  int fd_ = -1;
  int64_t size_ = 0;
  bool warned_ = false;
};

// Starts runs of the program a ShimSpec describes: fork; in the child its own process
// group, default signal dispositions and an empty mask, the cgroup, the working
// directory, the limits, stdin /dev/null and stdout+stderr into `out_w`, no other
// descriptor; then execve with exactly spec.env, argv[0] searched in spec.env's PATH (as
// execvpe does, but with the program's PATH, not the shim's; "/usr/local/bin:/usr/bin:/bin"
// when it has none). Everything is prepared in the constructor, so the child only makes
// system calls. A relative working_dir is relative to `dir`.
class ProgramStarter {
 public:
  ProgramStarter(const ShimSpec& spec, const std::string& dir, int out_w, int null_fd);

  struct Run {
    int pid = -1;       // the program, running; -1 when it did not start
    int wstatus = 0;    // when it did not start: how the failed child ended (exit 127)
    std::string error;  // when it did not start: "exec foo: No such file or directory"
  };
  Run Start() const;

 private:
  [[noreturn]] void ExecChild(int err_w) const;

  const ShimSpec& spec_;
  int out_w_, null_fd_;
  std::vector<std::string> candidates_;  // paths to try for argv[0], in PATH order
  std::vector<std::string> env_strings_;
  std::vector<char*> argv_, envp_;
  std::string working_dir_, cgroup_procs_;
  struct rlimit nofile_ = {};
  struct rlimit as_ = {};
  sigset_t no_signals_;
};

}  // namespace plumb::target::local
