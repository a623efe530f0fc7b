// target: what the engine needs from a running system. One apply contract for every
// target, returning changes the CLI, events, history and dashboard all read.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "resource/resource.h"

namespace plumb::target {

enum class HealthStatus { kHealthy, kProgressing, kDegraded, kSuspended, kMissing, kUnknown };
const char* HealthName(HealthStatus h);
// Worse of two (Degraded > Missing > Progressing > Suspended > Unknown > Healthy).
HealthStatus WorseHealth(HealthStatus a, HealthStatus b);

struct Health {
  HealthStatus status = HealthStatus::kUnknown;
  std::string message;
};

enum class ChangeKind { kCreated, kConfigured, kUnchanged, kDeleted, kSkipped, kFailed };
const char* ChangeKindName(ChangeKind k);  // "created", "configured", ...

struct Change {
  resource::ResourceId id;
  ChangeKind kind = ChangeKind::kUnchanged;
  std::string message;  // why skipped/failed, or what changed; never secret values
};

// spec.target.kubernetes: the cluster an Application's resources go to.
struct KubernetesRef {
  std::string kubeconfig;  // path; "" = in-cluster configuration
  std::string context;     // "" = the kubeconfig's current-context
  std::string ns;          // namespace for namespaced resources that name none
  bool operator==(const KubernetesRef&) const = default;
};

// What the engine tells a target about the Application it acts for.
struct AppContext {
  std::string app;         // Application name (inventory owner)
  std::string local_root;  // spec.target.local.root: where relative File paths resolve
  // Set when the Application targets a Kubernetes cluster (spec.target.kubernetes).
  const KubernetesRef* kubernetes = nullptr;
  // The whole desired set of this reconcile (for references such as File.fromConfigMap).
  const std::vector<resource::Resource>* desired = nullptr;
};

struct LiveObject {
  resource::ResourceId id;
  bool exists = false;
  resource::Value body;  // the live state in the same shape Expected() returns
};

// A LiveObject without its identity (the caller's): what ObserveBodies() answers. 24 bytes
// instead of 152 per object (the identity's four strings).
struct LiveBody {
  bool exists = false;
  resource::Value body;
};

// Something a target saw happen that users want in the event log: a replica restarted,
// a probe failed, a rollout stalled. Never carries secret values.
struct TargetEvent {
  std::string app;
  resource::ResourceId id;
  std::string type;    // "Normal" or "Warning"
  std::string reason;  // CamelCase, e.g. "ReplicaRestarted", "ProbeFailed"
  std::string message;
};

// Where the output of one replica of a running kind (a local Process or Job) is kept.
// `path` is the current file; older ones, after size-based rotation, are path.1 (newest),
// path.2, ... up to the configured count.
struct LogSource {
  int replica = 0;
  std::string name;  // "web-0": resource name and replica index
  std::string path;
};

// One replica of a running kind (a local Process, or a Job's latest attempt) as the
// target sees it now: what users look at when a program misbehaves.
struct ReplicaStatus {
  int replica = 0;
  std::string name;   // "web-0", as in LogSource
  std::string state;  // Running, BackOff, Stopping, Exited, Stopped, Failed, Starting
  bool ready = false;
  int restarts = 0;        // program starts after the first, in this replica
  int pid = 0;             // the program's; 0 when not running
  int64_t started_ms = 0;  // unix ms the current (or last) run started; 0 = not yet
  std::string last_exit;   // "exit code 1", "killed by signal SIGKILL (9)"; "" = none ended
};

struct RunningStatus {
  resource::ResourceId id;
  int replicas = 0;  // the count in force (git's, or a hand-set one)
  std::vector<ReplicaStatus> replica_status;
};

// A hex digest kept as its bytes: a third of the size of the hex text on the heap, one
// per managed file and per inventory entry (100,000 of each in a large Application).
class HexDigest {
 public:
  HexDigest() = default;
  // Text that is not hex of up to 64 digits is kept as "never equal" (Is() is false).
  explicit HexDigest(std::string_view hex);
  bool Is(std::string_view hex) const;  // the same digest, as lowercase or uppercase hex
  std::string Hex() const;              // lowercase; "?" for text that was not hex
  // The same digest; text that was not hex equals nothing, not even itself.
  bool operator==(const HexDigest& o) const {
    return digits_ != kNotHex && digits_ == o.digits_ && bytes_ == o.bytes_;
  }

 private:
  static constexpr uint8_t kNotHex = 0xff;
  std::array<uint8_t, 32> bytes_{};
  uint8_t digits_ = 0;  // hex digits (even), or kNotHex
};

struct InventoryEntry {
  resource::ResourceId id;
  int64_t order = 0;       // apply order (grows over the store's life: past 2^31 rows written)
  HexDigest applied_hash;  // CanonicalHash of Expected() when last applied
};

class Target {
 public:
  virtual ~Target() = default;

  // The body the live object must have once `desired` is applied, in the target's
  // canonical shape (e.g. a File with its path resolved and mode as "0644"). Diffing
  // Expected() against Observe() is the plan. InvalidArgument for specs the target
  // cannot apply (naming the field), PermissionDenied for paths outside --allow-path.
  virtual Result<resource::Value> Expected(const AppContext& ctx,
                                           const resource::Resource& desired) = 0;

  // The live state of each id, in order (exists=false when absent). The ids are given by
  // address (the caller's own, not copied: a copy of every identity of 100,000 was 13 MB).
  virtual Result<std::vector<LiveObject>> Observe(
      const AppContext& ctx, const std::vector<const resource::ResourceId*>& ids) = 0;
  Result<std::vector<LiveObject>> Observe(const AppContext& ctx,
                                          const std::vector<resource::ResourceId>& ids) {
    std::vector<const resource::ResourceId*> at;
    at.reserve(ids.size());
    for (const resource::ResourceId& id : ids) at.push_back(&id);
    return Observe(ctx, at);
  }
  // Observe() without a copy of each identity in the answer (the caller holds them): what
  // the engine's plan asks, for every resource it cannot plan from memory (all of them after
  // a restart: a LiveObject each was 15 MB at 100,000, alive at the restart's peak).
  // Default: Observe(), its identities dropped.
  virtual Result<std::vector<LiveBody>> ObserveBodies(
      const AppContext& ctx, const std::vector<const resource::ResourceId*>& ids);

  // Whether Expected(ctx, desired) depends on nothing but `desired`, ctx.app,
  // ctx.local_root, ctx.kubernetes and this target's configuration (not on other desired
  // resources), so the engine may reuse an earlier answer for an identical resource
  // instead of asking again. The checks of the live system Expected() makes (a File's
  // path must not lead through a symlink out of --allow-path) are made again by Apply()
  // before anything is written. Default: false (always ask).
  virtual bool ExpectedIsPure(const AppContext& ctx, const resource::Resource& desired) {
    (void)ctx;
    (void)desired;
    return false;
  }

  // For each id, in order: true when this target knows, without reading the object, that
  // it still holds exactly the body it last applied for ctx.app (the one whose hash
  // Inventory() records), and that such an object is Healthy. Meant to be cheap (a File:
  // one lstat against the inode, size, times and mode seen when it last held that body;
  // a ConfigMap, which lives only in the target's store). false = not known: Observe()
  // it. Anything changed by hand since must answer false. Default: all false.
  // The ids are given by address (the caller's own, not copied).
  virtual std::vector<bool> UnchangedSinceApplied(
      const AppContext& ctx, const std::vector<const resource::ResourceId*>& ids) {
    (void)ctx;
    return std::vector<bool>(ids.size(), false);
  }
  std::vector<bool> UnchangedSinceApplied(const AppContext& ctx,
                                          const std::vector<resource::ResourceId>& ids) {
    std::vector<const resource::ResourceId*> at;
    at.reserve(ids.size());
    for (const resource::ResourceId& id : ids) at.push_back(&id);
    return UnchangedSinceApplied(ctx, at);
  }

  // Creates or updates so the live object equals Expected(desired); idempotent. Returns
  // the change (created/configured/unchanged). Records ownership in the inventory.
  virtual Result<Change> Apply(const AppContext& ctx, const resource::Resource& desired) = 0;

  // Deletes a live object this Application owns and drops it from the inventory
  // (deleted; or unchanged when already gone). A failure leaves the inventory entry.
  virtual Result<Change> Remove(const AppContext& ctx, const resource::ResourceId& id) = 0;

  virtual Health AssessHealth(const AppContext& ctx, const LiveObject& live) = 0;

  // What this Application owns, in apply order.
  virtual Result<std::vector<InventoryEntry>> Inventory(const std::string& app) = 0;
  // The inventory of ctx.app, found through its context: a router picks the Application's
  // cluster from ctx.kubernetes, which the name alone does not tell it before this
  // process has applied anything for the Application (after a restart). The engine calls
  // this one, once per plan. Shared and immutable: a target may hand out the same list
  // again while nothing of the Application changed, and must not change one it handed
  // out. Default: Inventory(ctx.app).
  virtual Result<std::shared_ptr<const std::vector<InventoryEntry>>> InventoryOf(
      const AppContext& ctx) {
    ASSIGN_OR_RETURN(std::vector<InventoryEntry> list, Inventory(ctx.app));
    return std::make_shared<const std::vector<InventoryEntry>>(std::move(list));
  }

  // Makes the writes of this reconcile durable (one syncfs per batch).
  virtual Status Flush() = 0;

  // Waits until what Apply() set going in the background has been started (the local
  // runtime's replicas launched: they run on after the operator ends), for a process that
  // is about to end (plumb run --once, or a stop): nothing it applied is left unstarted.
  // Default: nothing runs in the background.
  virtual void WaitStarted() {}

  // Puts in place what Apply() of `ctx.app` has written but not yet made visible (the local
  // runtime stages the files of a new directory and renames the directory into place), and
  // says whether any of it could not be: the engine calls it after the apply and before any
  // prune, and treats an error as a failed apply (no prune, the pass fails, the next one
  // writes the files again). Each error is returned once. Default: nothing is staged.
  virtual Status Settle(const AppContext& ctx) {
    (void)ctx;
    return Status::Ok();
  }

  // Starts telling `on_drift(app, id)` when something this target manages changes
  // outside plumbline. Called once; callbacks come from a target-owned thread.
  virtual void Watch(
      std::function<void(const std::string& app, const resource::ResourceId& id)> on_drift) = 0;

  // Starts telling `on_health(app, id)` when the health of a running object changes by
  // itself (a replica became ready, a rollout finished, a crash loop began), so the
  // engine can refresh the Application's status. Not drift: nothing differs from git.
  // Called at most once; callbacks come from a target-owned thread.
  virtual void WatchHealth(
      std::function<void(const std::string& app, const resource::ResourceId& id)> on_health) {
    (void)on_health;
  }

  // Starts telling `on_event` what happens to running objects (restarts, probe failures,
  // stalled rollouts). Called at most once; callbacks come from a target-owned thread.
  virtual void WatchEvents(std::function<void(const TargetEvent& event)> on_event) {
    (void)on_event;
  }

  // The log files of each replica of a running object this Application owns, by replica
  // index. NotFound when the Application owns no such object; Unimplemented when the
  // target keeps no logs.
  virtual Result<std::vector<LogSource>> Logs(const std::string& app,
                                              const resource::ResourceId& id) {
    (void)app;
    return Unimplemented("this target keeps no logs for " + id.ToString());
  }

  // The replicas of a running object this Application owns, by replica index. NotFound
  // as for Logs; Unimplemented when the target does not run programs itself.
  virtual Result<RunningStatus> Running(const std::string& app, const resource::ResourceId& id) {
    (void)app;
    return Unimplemented("this target reports no replicas for " + id.ToString());
  }

  // An emergency change by hand (`plumb local scale`, `plumb local stop` = 0 replicas):
  // the live replica count of a running object becomes `replicas` until the next apply.
  // Observe() then shows the difference from git (drift), and a drift callback fires.
  virtual Result<Change> SetReplicas(const std::string& app, const resource::ResourceId& id,
                                     int replicas) {
    (void)app;
    (void)replicas;
    return Unimplemented("this target cannot scale " + id.ToString());
  }

  // Whether this target handles a resource of this id (group/kind) at all.
  virtual bool Handles(const resource::ResourceId& id) const = 0;
};

}  // namespace plumb::target
