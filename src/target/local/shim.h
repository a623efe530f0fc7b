// target/local internal: the shim that supervises one replica of a Process (or one
// attempt of a Job), as containerd-shim and conmon do. `plumb shim DIR` is started by the
// operator, detaches (own session, reparented to init, every inherited descriptor
// closed), and is the replica's parent for the replica's whole life, so it:
//   - starts the program (own process group, stdin /dev/null, stdout+stderr into a pipe
//     it owns) and restarts it per the restart policy with exponential back-off
//     (initial, doubling to max; the back-off resets once a run lasted `backoff_reset`);
//   - writes the program's output to DIR/log/current with size-based rotation
//     (current.1 newest ... current.N oldest);
//   - records what happens in DIR/status.json (atomic rename on every change) so the
//     operator, running or restarted, reads it; the operator never waits on the program;
//   - obeys signals: SIGTERM = stop the program (stop signal to its process group, the
//     grace period, then SIGKILL), record "Stopped", exit; SIGUSR1 = restart the program
//     now (a failed liveness probe): stop it the same way, count a restart, start again
//     without back-off wait unless it is crash-looping.
// Identity: a pid plus the process start time (/proc/PID/stat field 22), so a recycled
// pid is never taken for a live shim or program.
//
// DIR/spec.json holds the ShimSpec (mode 0600: environment values may be secrets). It is
// written by LaunchShim and read once by the shim.
#pragma once

#include <csignal>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace plumb::target::local {

enum class RestartPolicy { kAlways, kOnFailure, kNever };
const char* RestartPolicyName(RestartPolicy p);  // "Always", "OnFailure", "Never"

struct ShimSpec {
  std::vector<std::string> argv;  // argv[0] searched in env PATH when it has no '/'
  std::vector<std::pair<std::string, std::string>> env;  // the program's whole environment
  std::string working_dir;                               // empty: DIR
  int stop_signal = SIGTERM;
  Duration grace = Duration(30000);  // then SIGKILL
  RestartPolicy restart = RestartPolicy::kAlways;
  Duration backoff_initial = Duration(10000);
  Duration backoff_max = Duration(300000);
  Duration backoff_reset = Duration(600000);  // a run this long resets the back-off
  int64_t log_max_bytes = 10 << 20;           // rotate current when it would exceed this
  int log_files = 3;                          // rotated files kept besides current
  int64_t limit_open_files = -1;              // RLIMIT_NOFILE; -1 = inherit
  int64_t limit_address_space = -1;           // RLIMIT_AS bytes; -1 = inherit
  std::string cgroup;  // a cgroup v2 directory to move the program into; "" = none
};

// The shim's record of its program, in DIR/status.json.
struct ShimStatus {
  int shim_pid = 0;
  uint64_t shim_start = 0;  // /proc start time of the shim
  int pid = 0;              // the program; 0 when not running
  uint64_t start = 0;       // /proc start time of the program
  // "Running" (program up), "BackOff" (waiting to restart), "Stopping",
  // "Exited" (ended, no restart by policy: Never, or OnFailure after exit 0),
  // "Stopped" (stopped on request), "Failed" (could not start: no such program, ...).
  // A start that fails is a crash for the restart policy: "Failed" with next_start_ms
  // set means a retry is scheduled; with next_start_ms 0 it is final.
  std::string state;
  int restarts = 0;              // program starts after the first
  int consecutive_failures = 0;  // failed runs since the last run that lasted backoff_reset
  int64_t started_ms = 0;        // unix ms the current (or last) run started
  int64_t next_start_ms = 0;     // BackOff: when the next run starts
  int last_exit_code = -1;       // last run's exit code; -1 when it ended by a signal
  int last_signal = 0;           // last run's terminating signal
  int64_t last_exit_ms = 0;      // 0: no run has ended yet
  std::string message;           // why Failed, or "liveness restart requested", ...
};

// Writes DIR/spec.json (0600), creates DIR/log, and starts `plumb_exe shim DIR`
// detached. Returns once DIR/status.json names the shim (deadline 10 s), or an error
// naming what failed. The shim outlives the caller.
Result<ShimStatus> LaunchShim(const std::string& plumb_exe, const std::string& dir,
                              const ShimSpec& spec);

// DIR/status.json. NotFound when there is none yet.
Result<ShimStatus> ReadShimStatus(const std::string& dir);

// /proc/PID/stat start time, 0 when there is no such process (or it is a zombie).
uint64_t ProcessStartTime(int pid);

// Whether the shim the status names is still that running process (pid and start time).
bool ShimAlive(const ShimStatus& s);
// Whether the program the status names is still that running process.
bool ProgramAlive(const ShimStatus& s);

// Whether the status is one the shim writes last before exiting by design ("Exited",
// "Stopped", or "Failed" with no retry scheduled).
bool IsFinalState(const ShimStatus& s);

// SIGTERM to a live shim: it stops the program gracefully and exits. OK when it is gone.
// Does not wait: the grace period can be long (see WaitShimGone).
Status StopShim(const ShimStatus& s);
// Polls until the shim the status names is gone (or `timeout` passes); true when gone.
bool WaitShimGone(const ShimStatus& s, Duration timeout);
// SIGUSR1 to a live shim: restart its program now.
Status RestartProgram(const ShimStatus& s);
// Kills a program whose shim is gone (SIGKILL to its process group, after checking the
// start time). OK when it is gone.
Status KillOrphan(const ShimStatus& s);

// The shim's main: `plumb shim DIR`. Returns the process exit code.
int RunShim(const std::string& dir);

// Serialisation of the files above (JSON).
std::string ShimSpecToJson(const ShimSpec& spec);
Result<ShimSpec> ShimSpecFromJson(const std::string& json, const std::string& where);
std::string ShimStatusToJson(const ShimStatus& status);
Result<ShimStatus> ShimStatusFromJson(const std::string& json, const std::string& where);

}  // namespace plumb::target::local
