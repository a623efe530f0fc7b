// engine: private state shared by engine.cc (scheduler, API) and reconcile.cc (one
// pass). Not for other modules.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/engine.h"
#include "engine/hooks.h"
#include "engine/notify.h"
#include "engine/plan.h"
#include "engine/plan_memo.h"
#include "engine/unseal.h"
#include "render/render.h"
#include "scan/scan.h"
#include "source/source.h"

namespace plumb::engine {

// The changes of one apply: one per plan item applied, in plan order, then one per prune
// item. Kept as the item's position with the kind and message, not as a target::Change
// each: after a cold sync of 100,000 Files, their copies of the ids (16 MB) were alive at
// the apply's end, the peak of the pass's memory. The plan outlives the list.
class ChangeList {
 public:
  explicit ChangeList(const Plan* plan = nullptr) : plan_(plan) {}
  void reserve(size_t n) { entries_.reserve(n); }
  // The change of plan.apply[index] (or plan.prune[index]); `c.id` is kept only when it is
  // not that item's id (it is, from every target).
  void Add(bool prune, size_t index, target::Change c);
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  target::ChangeKind kind(size_t k) const { return entries_[k].kind; }
  const std::string& message(size_t k) const { return entries_[k].message; }
  const resource::ResourceId& id(size_t k) const;
  target::Change Get(size_t k) const {
    return {.id = id(k), .kind = kind(k), .message = message(k)};
  }

 private:
  struct Entry {
    uint32_t index = 0;
    bool prune = false;
    target::ChangeKind kind = target::ChangeKind::kUnchanged;
    std::string message;
  };
  const Plan* plan_;
  std::vector<Entry> entries_;
  std::map<size_t, resource::ResourceId> other_ids_;  // by entry: an id not the item's
};

// A desired set as the plan takes it: Applications, Notifications, image automation and
// hooks set aside, and the apply order of the rest. Made once per desired set.
struct SplitDesired {
  std::shared_ptr<const std::vector<resource::Resource>> desired;  // what the target gets
  std::vector<resource::Resource> children;                        // Application manifests
  std::vector<resource::Resource> notifications;                   // Notification manifests
  std::vector<resource::Resource> images;  // ImageRepository/ImagePolicy/...Automation
  std::vector<resource::Resource> hooks;   // plumbline.dev/hook resources
  std::vector<size_t> order;               // ApplyOrder(*desired)
  std::vector<int> waves;                  // per index of *desired: its sync wave
};

// One Application as the scheduler sees it.
struct AppState {
  std::mutex reconcile_mu;  // held for a whole reconcile: passes never overlap

  // Guarded by Engine::Impl::mu.
  AppSpec spec;
  AppStatus status;
  int64_t next_due_ms = 0;
  bool queued = false;
  bool deleted = false;
  std::string pending_trigger;
  bool pending_force_fetch = false;

  // Guarded by reconcile_mu.
  std::string rendered_commit;  // the commit `rendered` belongs to
  std::shared_ptr<const std::vector<resource::Resource>> rendered;
  bool rendered_needs_unseal = false;  // NeedsUnseal(*rendered)
  // The unseal stage's output for `rendered` under `unsealed_keys` (the key snapshot it
  // used): unsealing costs an RSA decryption per value, so it runs once per commit and key
  // set. Plaintext in memory only.
  std::shared_ptr<const UnsealOutput> unsealed;
  std::shared_ptr<const secrets::KeySet> unsealed_keys;
  std::string unsealed_commit;
  bool unsealed_allow = false;
  // spec.source.verify: the last verification, by signed object (commit or tag object id)
  // and SourceVerify::Fingerprint, so gpg and ssh-keygen run once per new head, not per
  // pass. `verify_error` is why the head of the current pass did not verify ("" when it
  // did, or verification is off).
  std::string verify_cache_key;
  Status verify_cache_result;
  std::string verify_error;
  std::string verify_event;  // dedupes SourceVerificationFailed events
  // spec.scan: the last scan of the lines added between two commits (key "FROM..TO|path"),
  // so a head is scanned once, not every pass; `scan_error` describes the findings of the
  // current pass's head ("" when clean or off); `scan_event` dedupes SecretLeak events.
  std::string scan_cache_key;
  std::vector<std::string> scan_cache_findings;
  std::string scan_error;
  std::string scan_event;
  std::string plaintext_event;    // dedupes PlaintextSecretInGit events (commit + origins)
  std::string last_error_event;   // dedupes repeated identical failure events
  std::string last_notify_error;  // dedupes InvalidNotification events
  PlanMemo plan_memo;  // Expected() hashes of the last pass, to plan unchanged resources fast
  // `split_from` (the rendered or unsealed set of the last pass, held so that its address
  // names it) split for the plan.
  std::shared_ptr<const std::vector<resource::Resource>> split_from;
  std::shared_ptr<const SplitDesired> split;

  // Guarded by Engine::Impl::mu: the desired set of the last pass (what git says), for
  // answers that must not wait for a running reconcile (ScaleLocal).
  std::shared_ptr<const std::vector<resource::Resource>> last_desired;
};

// What one reconcile pass computed before it acts.
struct Observed {
  // The commit this pass renders and applies: the branch head, or with spec.source.verify
  // and a head that does not verify, the last verified commit.
  std::string head;
  std::string branch_head;   // what the branch (or tag) points at
  std::string verify_error;  // why branch_head was not taken ("" when it was)
  std::string scan_error;    // the secrets branch_head adds ("" when none, or scan off)
  source::CommitInfo commit;
  std::shared_ptr<const std::vector<resource::Resource>> desired;  // without Applications
  std::vector<resource::Resource> children;                        // Application manifests
  std::vector<resource::Resource> notifications;                   // Notification manifests
  std::vector<resource::Resource> images;  // ImageRepository/ImagePolicy/ImageUpdateAutomation
  std::vector<resource::Resource> hooks;   // plumbline.dev/hook resources (not in the plan)
  std::vector<int> waves;                  // per index of *desired: its sync wave
  Plan plan;
  // From the unseal stage: resource key -> why it is not applied; refused plaintext
  // Secrets' origins.
  std::map<std::string, std::string> unseal_errors;
  std::vector<std::string> plaintext;
  int64_t fetch_ms = 0, render_ms = 0, plan_ms = 0;
  // The previous commit's desired set, which nothing needs any more: freed with this
  // Observed, after the pass is recorded (freeing 10,000 resources is not applying them).
  std::shared_ptr<const std::vector<resource::Resource>> retired;
};

struct Engine::Impl {
  EngineOptions options;
  std::unique_ptr<target::Target> target;
  std::unique_ptr<Store> store;
  std::unique_ptr<source::RepoCache> repos;
  std::unique_ptr<render::Renderer> renderer;
  std::unique_ptr<Notifier> notifier;
  SystemClock clock;
  // The secret scanner for spec.scan (builtin rules), made once: by the first scan, or
  // beside the first fetch (MakeScanner on a thread of Start(): compiling the rules takes
  // 100 ms or more).
  void MakeScanner();
  std::once_flag scanner_once;
  std::unique_ptr<scan::Scanner> scanner;
  Status scanner_status;
  // Repositories' .plumbscan.yaml (by blob id): the parsed config and its scanner.
  struct ScanConfig {
    scan::Config config;
    std::unique_ptr<scan::Scanner> scanner;
  };
  std::mutex scan_configs_mu;
  std::map<std::string, std::shared_ptr<const ScanConfig>> scan_configs;
  // The config `blob_id` of `repo` holds, parsed and compiled once; its error names the
  // file and line.
  Result<std::shared_ptr<const ScanConfig>> LoadScanConfig(const std::string& repo,
                                                           const std::string& blob_id);

  std::mutex mu;  // guards apps, queue and AppState's scheduling fields
  std::condition_variable queue_cv;
  std::condition_variable timer_cv;
  std::map<std::string, std::shared_ptr<AppState>> apps;
  std::deque<std::string> queue;
  bool stopping = false;
  int busy = 0;  // reconciles in flight on workers
  std::vector<std::thread> threads;

  std::mutex event_mu;
  std::condition_variable event_cv;
  std::atomic<int64_t> last_event_id{0};
  std::atomic<bool> events_closed{false};  // Stop() wakes event waiters for good
  std::atomic<bool> cancel{false};         // Stop(): running reconciles stop between applies
  std::atomic<int64_t> applies{0};
  // Repo -> when the last push webhook for it arrived (unix ms). Guarded by mu.
  std::map<std::string, int64_t> push_ms;
  // Commits plumbline itself wrote (rollback) -> {trigger, initiator}, so the reconcile
  // that applies one is recorded as such whichever trigger ran it. Guarded by mu.
  std::map<std::string, std::pair<std::string, std::string>> written_commits;
  int64_t crash_after_applies = 0;

  // Bumped by every drift or event signal from the target, so health waits wake early.
  std::mutex wake_mu;
  std::condition_variable wake_cv;
  int64_t wake_seq = 0;  // guarded by wake_mu

  // engine.cc
  std::shared_ptr<AppState> Find(const std::string& name);
  void Enqueue(const std::string& name, const std::string& trigger, bool force_fetch);
  void WorkerLoop();
  void TimerLoop();
  // `subject`: see Alert::subject (the message when empty).
  void RecordEvent(const std::string& app, const std::string& type, const std::string& reason,
                   const std::string& message, const std::string& subject = "");
  Status UpsertApp(const AppSpec& spec);
  void RemoveApp(const std::string& name, bool prune, const std::string& why);

  // reconcile.cc
  // `report_changes`: the report carries the pass's change list (a caller that shows it,
  // Engine::Sync); a queued pass drops it once the history row holds it (after a cold
  // sync of 100,000 resources it is about 16 MB).
  SyncReport Reconcile(AppState& st, const SyncRequest& req, bool report_changes = true);
  Result<Observed> Observe(AppState& st, const AppSpec& spec, const SyncRequest& req);
  // spec.source.verify for `commit` (the resolved head of spec.branch): OK when its
  // signature (or, in tag mode, the tag's) is by a trusted key. Cached in `st`.
  Status VerifySource(AppState& st, const AppSpec& spec, const std::string& commit);
  // spec.scan (scan_gate.cc): the secrets in the lines added from `from` ("" = nothing
  // applied yet: every line) to `to` under spec.path, as "FILE:LINE: RULE (REDACTED) in
  // commit ABC1234" (the commit of the range that added the line, by WhoAdded); lines
  // of plaintext Secret manifests are left to the unseal step (PlaintextSecretInGit).
  // Cached in `st`.
  // `on_added` (when given) is told a bound of the bytes of added text to scan (the sizes
  // of the blobs the diff adds to) once the diff is known, before any text is read (and
  // before the scanner is waited for); not called when the scan ends earlier.
  Result<std::vector<std::string>> ScanAdded(AppState& st, const AppSpec& spec,
                                             const std::string& from, const std::string& to,
                                             const std::function<void(size_t)>& on_added = {});
  std::map<std::pair<std::string, std::string>, std::string> WhoAdded(const AppSpec& spec,
                                                                      const std::string& from,
                                                                      const std::string& to,
                                                                      size_t findings);
  void ReconcileChildren(const AppSpec& parent, const std::vector<resource::Resource>& children);
  target::AppContext Context(const AppSpec& spec, const std::vector<resource::Resource>* desired);
  // The health of a planned resource as the plan saw it (an as-applied no-op is Healthy).
  target::Health PlannedHealth(const target::AppContext& ctx, const PlanItem& item);
  void MaybeCrash();
  // The apiVersion an unsealed Secret takes on this target.
  std::string SecretApiVersion(const AppSpec& spec);
  void Wake();

  // sync_run.cc: the apply stage of a pass (hooks, waves, apply, prune, flush).
  struct ApplyResult {
    ChangeList changes;                         // per plan item applied or pruned
    std::vector<resource::Value> hook_changes;  // {group, kind, ..., change, message, hook}
    bool failed = false;
    bool interrupted = false;  // the operator stopped mid-way
    std::string first_error;
    std::map<std::string, std::string> item_message;  // resource key -> why not synced
    // Valid when the target's Flush (the disk's work) goes on beside the caller's health
    // stage: the caller waits for it, and counts its error as the apply's, before it
    // records the pass. Only for a pass with nothing to run after the flush (no PostSync
    // or SyncFail hooks) and at most kFlushAsideItems items (its change list then stays
    // alive through the health stage).
    std::future<Status> flush;
  };
  static constexpr size_t kFlushAsideItems = 4096;
  // The target's Flush at the end of an apply (and EngineOptions::fault's "flush-error").
  Status Flush();
  ApplyResult ApplyAll(const AppSpec& spec, const Observed& o, int64_t run_id);
  // Waits until none of `ids` is Progressing, each until its deadline (monotonic ms).
  // Returns per id the final health; `timed_out[i]` when still Progressing at its
  // deadline. Aborted when the operator stops.
  struct Waited {
    std::vector<target::Health> health;
    std::vector<bool> timed_out;
  };
  Result<Waited> WaitSettled(const target::AppContext& ctx,
                             const std::vector<resource::ResourceId>& ids,
                             const std::vector<int64_t>& deadline_ms, bool hooks);
  // Waits (up to --health-timeout) for `ids` to leave Progressing, then judges them with
  // the already `known` healths: FailedPrecondition naming `stage` and every resource
  // that is Degraded or still Progressing; Aborted when the operator stops.
  Status WaitHealthy(const std::string& stage, const target::AppContext& ctx,
                     std::vector<resource::ResourceId> ids, std::vector<resource::ResourceId> known,
                     std::vector<target::Health> known_health);
  // Before a later sync wave: the plan items `items` (indexes; `changes` holds what this
  // pass did to each) must be done. Those applied now are waited for; unchanged ones are
  // judged by their planned live state (and waited for when Progressing).
  Status GateWave(const target::AppContext& ctx, const std::string& stage, const Plan& plan,
                  const std::vector<size_t>& items, const ChangeList& changes);
  // Runs the hooks of `phase` wave by wave; an error names the first hook that failed.
  Status RunHooks(HookPhase phase, const AppSpec& spec, const target::AppContext& ctx,
                  const std::vector<resource::Resource>& hooks, int64_t run_id,
                  std::vector<resource::Value>* changes);
};

resource::Value ChangeToValue(const target::Change& c);
resource::Value IdFields(const resource::ResourceId& id);

// `message` about `r`, led by where r is in git ("file:line: ..."), unless the target
// already put it there.
inline std::string AtOrigin(const resource::Resource& r, const std::string& message) {
  const std::string where = r.origin().ToString() + ": ";
  return message.compare(0, where.size(), where) == 0 ? message : where + message;
}

}  // namespace plumb::engine
