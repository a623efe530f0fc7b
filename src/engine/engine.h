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
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "engine/application.h"
#include "engine/store.h"
#include "render/render.h"
#include "target/target.h"

namespace plumb::secrets {
class KeyStore;
}
namespace plumb::source {
class RepoCache;
}

namespace plumb::engine {

struct EngineOptions {
  std::string state_dir;
  // The operator's sealing keys and age identities (STATE/keys), for the unseal stage;
  // null: SealedSecrets and SOPS files fail to unseal, saying so.
  std::shared_ptr<secrets::KeyStore> keys;
  AppSpec root;  // the root Application (from plumb run flags)
  int workers = 4;
  Duration retry_base = Duration(10000);  // back-off after a failure: 10 s doubling...
  Duration retry_max = Duration(300000);  // ...up to 5 min
  render::RenderOptions render;
  Duration notify_retry_base = Duration(2000);  // first back-off between delivery attempts
  // Called after every render of an Application with the image-automation manifests
  // (ImageRepository, ImagePolicy, ImageUpdateAutomation) it holds — possibly none — and
  // the rest of its desired set (for secretRef); the engine sets them aside like
  // Notifications, so they never reach the target. Called on a reconcile worker: keep it
  // short. Null: they are set aside and ignored.
  std::function<void(const AppSpec& app, const std::vector<resource::Resource>& images,
                     const std::vector<resource::Resource>& desired)>
      on_image_resources;
  std::string author_name = "plumbline";  // commits plumbline writes (rollback)
  std::string author_email = "plumbline@localhost";
  // A private key (OpenSSH or ASCII-armored OpenPGP) signing every commit plumbline
  // writes; empty: unsigned (plumb run --signing-key).
  std::string signing_key;
  // Fault injection for crash tests (PLUMB_FAULT): "crash-after-applies:N" sends the
  // operator SIGKILL right after its N-th successful apply. (plumb run gives the local
  // runtime the same fault: it kills at its N-th apply, once its queued file writes are
  // on disk, so a crash test always finds some written.) "flush-error" fails every
  // flush of an apply (after it flushed), as a disk that fails a sync would.
  std::string fault;
  // The N of a "crash-after-applies:N" fault; 0 for any other (or none).
  static int64_t CrashAfterApplies(const std::string& fault);
  // Start the target's drift watch (Target::Watch: inotify on the local runtime, watch
  // requests on a cluster). plumb run --once turns it off: nothing is left to report drift
  // to once it exits, and an inotify instance's teardown held its exit ~15 ms.
  bool watch_drift = true;
  // How long a hook may run when its spec has no activeDeadlineSeconds (plumb run
  // --hook-timeout).
  Duration hook_timeout = Duration(600000);
  // How long a sync waits for what it applied to leave Progressing before the next sync
  // wave or the PostSync hooks (plumb run --health-timeout).
  Duration health_timeout = Duration(300000);
  // Longest pause between two health polls while waiting (they start at 50 ms and
  // double); a drift signal from the target wakes the wait early.
  Duration health_poll_max = Duration(1000);
  // When an Application is Progressing after a pass, the next pass comes at most this
  // long after, so its status follows a rollout without a drift signal.
  Duration progressing_requeue = Duration(1000);
};

struct AppView {
  AppSpec spec;
  AppStatus status;
  // Set by ListAppsPage: how many resources `status.resources` has.
  size_t resource_count = 0;
  resource::Value ToValue() const;
};

// A page of Applications in name order (see Engine::ListAppsPage).
struct AppListOptions {
  std::string after;  // only names after this one (the previous page's `next`)
  size_t limit = 500;
  // Which Applications to include (null: all). Runs under the engine's lock: keep it a
  // few comparisons.
  std::function<bool(const AppSpec&, const AppStatus&)> match;
};
struct AppPage {
  std::vector<AppView> items;  // status.resources shared with the engine's, not copied
  std::string next;            // the last item's name when more match; "" at the end
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
  // Instead of `changes` (null then): the list as JSON text, as the history row holds it.
  std::string changes_json;
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
  // As above, with the target made by `make_target` on a thread of its own while engine.db
  // is opened (a first start creates both its database and the target's, each synced).
  using TargetMaker = std::function<Result<std::unique_ptr<target::Target>>()>;
  static Result<std::unique_ptr<Engine>> Create(EngineOptions options,
                                                const TargetMaker& make_target);
  ~Engine();

  // Loads stored Applications, registers the root, starts workers, the timer and the
  // target's drift watch. Returns once the first reconciles are queued.
  Status Start();
  // Stops the workers after their current reconcile. Idempotent.
  void Stop();
  // True when nothing is queued or reconciling (used by `plumb run --once` and tests).
  bool Idle();

  std::vector<AppView> ListApps();
  // At most `limit` (at least 1) matching Applications after `after`. Copies only what
  // it returns (a list of 10,000 Applications must answer fast), so prefer it to
  // ListApps for anything paged.
  AppPage ListAppsPage(const AppListOptions& options);
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
  // A commit plumbline wrote outside the engine (image automation, promotion): the reconcile that
  // applies it is recorded with `trigger` and `initiator`, whichever trigger ran it.
  void RecordWrittenCommit(const std::string& commit, const std::string& trigger,
                           const std::string& initiator);

  // For the pipeline module (promotion): the repository cache every reconcile fetches
  // through, so a commit pushed through it is seen by the next reconcile. Owned by the
  // engine; valid while it lives; thread-safe (see source.h).
  source::RepoCache& Repos();
  // Adds a row no reconcile wrote (a promotion) to `row.app`'s history; returns its id.
  Result<int64_t> AddHistory(const HistoryRow& row);
  // The author of commits plumbline writes (EngineOptions::author_*).
  std::pair<std::string, std::string> Author() const;
  // The key signing commits plumbline writes (EngineOptions::signing_key; empty: none).
  const std::string& SigningKey() const;

  // The log files of the running objects (kinds Process and Job) this Application owns:
  // the one named `name` (of `kind` when given: "Process" or "Job"), or all of them when
  // `name` is empty, each replica in index order. NotFound when the Application or the
  // name is unknown (the message lists what the Application runs); Unimplemented when the
  // target keeps no logs.
  Result<std::vector<target::LogSource>> Logs(const std::string& app, const std::string& kind,
                                              const std::string& name);
  // The replicas of the same running objects as Logs, as the target sees them now (state,
  // readiness, restarts per replica). Errors as for Logs; an object that has not started
  // yet is left out when listing all.
  Result<std::vector<target::RunningStatus>> Running(const std::string& app,
                                                     const std::string& kind,
                                                     const std::string& name);
  // The values of the Secrets (kind Secret) in the Application's desired set as of its
  // last pass (stringData values; data values decoded and as written). Only for masking
  // what programs print (logs); never log or answer them. Empty for an unknown name.
  std::vector<std::string> SecretValues(const std::string& app);
  // An emergency scale by hand (`plumb local scale|stop`): sets the live replica count of
  // the Process `name` (or of `kind` when given) until the next apply, records a Warning
  // event ScaledByHand naming `who` and what git says, and queues a reconcile (with
  // selfHeal it puts git's count back). Returns the target's change. InvalidArgument for
  // a negative count; NotFound as for Logs.
  Result<target::Change> ScaleLocal(const std::string& app, const std::string& kind,
                                    const std::string& name, int replicas, const std::string& who);

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace plumb::engine
