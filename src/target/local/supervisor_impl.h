// target/local internal: the supervisor's state, shared by supervisor.cc (the loop,
// Processes) and supervisor_job.cc (Jobs). Not for other files.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "target/local/probe.h"
#include "target/local/shim.h"
#include "target/local/supervisor.h"

namespace plumb::target::local {

struct Replica {
  std::string dir;
  std::string cgroup;  // its cgroup v2 directory, removed with it ("" = none)
  int slot = 0;
  std::string hash;
  std::vector<std::pair<std::string, int>> ports;  // name -> port
  ShimStatus st;
  bool have_status = false;
  int64_t status_mtime_ns = 0;
  bool stopping = false;
  bool lost = false;  // its shim vanished
  int64_t stop_sent_ms = 0;
  // Probe state, for the program start it was measured on.
  uint64_t probed_start = 0;
  bool ready = false;
  int ready_ok = 0, ready_fail = 0, live_fail = 0;
  int64_t next_ready_ms = 0, next_live_ms = 0;
  bool ready_inflight = false, live_inflight = false;
  std::string probe_error;
  int seen_restarts = -1;  // restarts already reported as events
};

struct JobRun {
  std::string run_hash;  // the template hash this run is for
  std::string state;     // Pending, Running, BackOff, Succeeded, Failed
  int failures = 0;
  int64_t started_ms = 0, next_ms = 0, finished_ms = 0;
  std::string message;
};

struct Object {
  std::string app;
  resource::ResourceId id;
  bool job = false;
  std::string dir;
  RunTemplate t;
  int override_replicas = -1;  // hand-set (plumb local scale); -1 none
  std::vector<Replica> replicas;
  JobRun run;
  // Rollout progress: the last time a replica of the current template became ready (or
  // the template changed), for progressDeadlineSeconds.
  int64_t progress_ms = 0;
  int last_ready_cur = 0;
  int last_ready_total = -1;  // ready replicas of any template, as last written to ready.log
  int last_logged_ready_cur = -1;
  bool rollout_reported_done = true;
  bool stalled_reported = false;
  Health health;
  std::string health_key;
  std::string unenforced;  // limits this host cannot enforce, and why (shown in health)  // status
                           // + ready count: a change fires the change callback

  int Want() const { return override_replicas >= 0 ? override_replicas : t.replicas; }
};

struct ProbeJob {
  std::string key;  // object key
  std::string dir;  // replica dir
  bool liveness = false;
  Probe probe;
  int port = 0;
  std::vector<std::pair<std::string, std::string>> env;
  std::string working_dir;
  uint64_t start = 0;  // the program start the probe is for
};

struct ProbeDone {
  ProbeJob job;
  ProbeResult result;
};

// A shim StartReplica prepared, for RunLaunches to start outside the lock.
struct PendingLaunch {
  std::string key;  // object key
  std::string dir;  // replica dir
  ShimSpec spec;
};

struct Supervisor::Impl {
  SupervisorOptions options;
  std::string root;  // STATE_DIR/processes
  ChangeFn on_change;
  EventFn on_event;

  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  bool poke = false;
  // WaitLaunched: a waiter pokes the loop with the next `wait_gen`; the loop, about to sleep
  // with no launch pending or running after a look that began after that poke, sets
  // `idle_gen` to it and wakes the waiters (idle_cv).
  uint64_t wait_gen = 0;
  uint64_t idle_gen = 0;
  std::condition_variable idle_cv;
  std::map<std::string, Object> objects;  // by ObjectKey(app, id)
  std::vector<Replica> graveyard;         // stopping replicas of removed objects
  std::set<int> ports_in_use;
  std::deque<ProbeJob> probe_queue;
  std::vector<ProbeDone> probe_done;
  int64_t first_result_ms = 0;  // when the oldest result in probe_done arrived
  std::vector<PendingLaunch> launches;
  int64_t next_refresh_ms = 0;     // the next re-read of every status file
  int64_t next_full_check_ms = 0;  // the next pid + start time check of every shim
  std::vector<std::thread> probers;
  std::thread loop;
  // Callbacks gathered under `mu`, fired after it is released.
  std::vector<std::pair<std::string, resource::ResourceId>> pending_changes;
  std::vector<TargetEvent> pending_events;

  static std::string ObjectKey(const std::string& app, const resource::ResourceId& id) {
    return app + '\x1f' + id.Key();
  }

  // supervisor.cc
  void Loop();
  void ProberLoop();
  int64_t Tick(int64_t now_ms, bool refresh_all);  // returns the next wake-up time
  void RunLaunches(std::unique_lock<std::mutex>& l);
  void TickProcess(Object& o, int64_t now);
  void RefreshReplica(Object* o, Replica& r, bool full_check);
  Status StartReplica(Object& o, int slot);
  void StopReplica(Replica& r, int64_t now);
  void ScheduleProbes(Object& o, Replica& r, int64_t now, int64_t* next_wake);
  void ApplyProbeResults(int64_t now);
  void UpdateHealth(Object& o, Health h);
  void RecordReady(Object& o, int64_t now, int ready_cur, int want);
  void Event(const Object& o, const char* type, const char* reason, std::string message);
  Status SaveObject(const Object& o);
  Status Adopt();
  std::vector<std::pair<std::string, std::string>> ReplicaEnv(const Object& o, int slot,
                                                              const Replica& r) const;
  int FreePort();
  void ReleasePorts(const Replica& r);
  void DiscardReplica(const Replica& r);
  // supervisor_job.cc
  void TickJob(Object& o, int64_t now);
  Health JobHealth(const Object& o, int64_t now) const;
};

// Shared helpers (supervisor.cc).
std::string ReplicaName(const Object& o, const Replica& r);
std::string ExitText(const ShimStatus& st);
std::string LogTail(const std::string& dir, int lines);
int64_t UnixNowMs();

}  // namespace plumb::target::local
