// target/local internal: the supervisor of running kinds. It keeps every Process at its
// replica count with rolling updates gated on readiness, runs probes, runs Jobs to
// completion with retries, and reports health and events. Replicas run under shims
// (shim.h) and outlive the operator; on start the supervisor adopts them from
// STATE_DIR/processes (pid + process start time), so a restart never starts duplicates.
//
// Layout: STATE_DIR/processes/<app>/<Kind>.<namespace>.<name>/
//   object.json    app, id, the template hash and replica count wanted, the hand-set
//                  replica count (plumb local scale), a Job's run state
//   template.json  the RunTemplate (0600: resolved environment values)
//   ready.log      one line per change of the ready count: "UNIX_MS READY READY_CURRENT WANT"
//                  (how a rollout kept availability, for users and tests)
//   r<slot>-<hash>-<nonce>/  one replica (or Job attempt): replica.json (slot, hash,
//                  ports), spec.json, status.json, log/ (the shim's files)
//
// Thread-safety: every public method may be called from any thread. Callbacks come from
// the supervisor's own thread, never while its lock is held.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "resource/resource.h"
#include "target/local/spec_process.h"
#include "target/target.h"

namespace plumb::target::local {

struct SupervisorOptions {
  std::string state_dir;
  std::string shim_exe;                        // "" = this program (/proc/self/exe)
  Duration tick = Duration(1000);              // status files are checked this often
  Duration backoff_initial = Duration(10000);  // restart and Job retry back-off
  Duration backoff_max = Duration(300000);
  Duration backoff_reset = Duration(600000);
  int64_t log_max_bytes = 10 << 20;
  int log_files = 3;
  int probe_threads = 2;
};

class Supervisor {
 public:
  using ChangeFn = std::function<void(const std::string& app, const resource::ResourceId& id)>;
  using EventFn = std::function<void(const TargetEvent& event)>;

  // Reads STATE_DIR/processes, adopts live shims, cleans up dead ones. Starts its thread.
  static Result<std::unique_ptr<Supervisor>> Open(const SupervisorOptions& options);
  // Stops the thread. Replicas keep running.
  ~Supervisor();

  // Where health changes and events go (set once, before or after Open).
  void SetCallbacks(ChangeFn on_change, EventFn on_event);

  // Runs `t` for this Process or Job from now on (replaces the template: a different hash
  // rolls the replicas; the same hash only rescales). Clears a hand-set replica count.
  // A Job whose run hash is unchanged is not run again.
  Status Apply(const std::string& app, const resource::ResourceId& id, const RunTemplate& t);
  // Waits (at most `max`) until the replicas the objects want are launched: every Apply
  // and SetReplicas made so far has been looked at, and no shim is being started. For a
  // process about to end: a replica it was asked for and never launched would not run.
  void WaitLaunched(std::chrono::milliseconds max);
  // Stops every replica (stop signal, grace period, SIGKILL) and forgets the object.
  Status Remove(const std::string& app, const resource::ResourceId& id);
  // A hand-set replica count until the next Apply. NotFound when unknown.
  Status SetReplicas(const std::string& app, const resource::ResourceId& id, int replicas);

  // The replica count in force (hand-set or applied); -1 when the object is unknown.
  int LiveReplicas(const std::string& app, const resource::ResourceId& id);
  Health HealthOf(const std::string& app, const resource::ResourceId& id);
  std::vector<LogSource> Logs(const std::string& app, const resource::ResourceId& id);
  // The replicas as last read from their status files (those being stopped left out; a
  // Job: its latest attempt), by index. NotFound when the object is unknown.
  Result<RunningStatus> Running(const std::string& app, const resource::ResourceId& id);

 private:
  struct Impl;
  explicit Supervisor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace plumb::target::local
