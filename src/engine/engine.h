// engine: the reconcile loop. Owns the Applications, schedules their reconciles
// (interval timer, webhook/user/drift triggers) on a pool of workers, and records
// status, history and events. One reconcile = resolve head -> render -> plan -> apply
// -> prune (only when every apply succeeded) -> health -> record.
//
// Thread-safety: every public method may be called from any thread (the HTTP server's).
// Reconciles of one Application never overlap; different Applications run in parallel.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "engine/application.h"
#include "engine/store.h"
#include "render/render.h"
#include "target/target.h"

namespace plumb::engine {

struct EngineOptions {
  std::string state_dir;
  AppSpec root;  // the root Application (from plumb run flags)
  int workers = 4;
  Duration retry_base = Duration(10000);  // back-off after a failure: 10 s doubling...
  Duration retry_max = Duration(300000);  // ...up to 5 min
  render::RenderOptions render;
  Duration notify_retry_base = Duration(2000);  // first back-off between delivery attempts
  std::string author_name = "plumbline";        // commits plumbline writes (rollback)
  std::string author_email = "plumbline@localhost";
  // Fault injection for crash tests (PLUMB_FAULT): "crash-after-applies:N" sends the
  // operator SIGKILL right after its N-th successful apply.
  std::string fault;
};

struct AppView {
  AppSpec spec;
  AppStatus status;
  resource::Value ToValue() const;
};

struct SyncRequest {
  std::string trigger = "user";  // interval | webhook | drift | user | startup | rollback
  std::string initiator;         // who asked, for history
  bool manual = false;           // a user asked: apply even when auto-sync is off
  bool dry_run = false;          // plan only
  bool force_fetch = true;
};

struct SyncReport {
  std::string app;
  std::string revision;
  std::string result;  // Succeeded | Failed | InSync | DryRun | Skipped
  std::string message;
  resource::Value changes;  // list of {group, kind, namespace, name, change|action, message}
  resource::Value ToValue() const;
};

struct DiffReport {
  std::string app;
  std::string revision;
  bool drift = false;
  std::string text;       // unified diff; secret values masked
  resource::Value items;  // [{group, kind, namespace, name, action}]
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> Create(EngineOptions options,
                                                std::unique_ptr<target::Target> target);
  ~Engine();

  // Loads stored Applications, registers the root, starts workers, the timer and the
  // target's drift watch. Returns once the first reconciles are queued.
  Status Start();
  // Stops the workers after their current reconcile. Idempotent.
  void Stop();
  // True when nothing is queued or reconciling (used by `plumb run --once` and tests).
  bool Idle();

  std::vector<AppView> ListApps();
  Result<AppView> GetApp(const std::string& name);
  Result<DiffReport> Diff(const std::string& name);
  Result<std::vector<HistoryRow>> History(const std::string& name, size_t limit = 0);
  Result<std::vector<Event>> Events(const std::string& app, int64_t after_id, size_t limit);
  // The id of the newest event (0 when none): where a live stream starts.
  int64_t LastEventId() const;
  // Blocks until an event newer than `after_id` exists or `timeout` passes.
  void WaitForEvents(int64_t after_id, Duration timeout);

  // Reconciles now on the calling thread (waiting for a running reconcile of the same
  // Application to finish) and reports what it did.
  Result<SyncReport> Sync(const std::string& name, const SyncRequest& request);
  // Queues a reconcile with a fresh fetch.
  Status Refresh(const std::string& name, const std::string& trigger = "user");
  // A push arrived for some repository and branch: queues a reconcile (trigger
  // "webhook") of every Application `follows` accepts. Each fetches only if its mirror
  // was last fetched before the push arrived, so a burst of pushes and many
  // Applications on one repository cost one fetch. Returns the names queued.
  std::vector<std::string> NotifyPush(const std::function<bool(const AppSpec&)>& follows);
  // Records an event not tied to a reconcile (e.g. a refused webhook; app may be "").
  void RecordEvent(const std::string& app, const std::string& type, const std::string& reason,
                   const std::string& message);
  Status SetSuspended(const std::string& name, bool suspended, const std::string& initiator);
  // Writes a commit that makes the Application's path equal to REV's content (REV: a
  // commit id or a history id), pushes it, and queues a reconcile. Returns the commit.
  Result<std::string> Rollback(const std::string& name, const std::string& revision,
                               const std::string& initiator);

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace plumb::engine
