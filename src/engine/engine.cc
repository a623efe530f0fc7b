#include "engine/engine.h"

#include <malloc.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <system_error>
#include <thread>

#include "core/fs.h"
#include "core/log.h"
#include "core/metrics.h"
#include "diff/diff.h"
#include "engine/engine_impl.h"
#include "resource/codec.h"

namespace plumb::engine {
using resource::Value;

Value AppView::ToValue() const {
  Value v;
  v.Set("name", spec.name);
  v.Set("spec", spec.ToValue());
  v.Set("status", status.ToValue());
  return v;
}

Value SyncReport::ToValue() const {
  Value v;
  v.Set("app", app);
  v.Set("revision", revision);
  v.Set("result", result);
  v.Set("message", message);
  Value list = changes;
  if (list.is_null() && !changes_json.empty()) {
    auto parsed = resource::ParseJson(changes_json, "changes",
                                      {.max_bytes = changes_json.size(), .max_depth = 8});
    if (parsed.ok()) list = std::move(parsed).value();
  }
  v.Set("changes", list.is_null() ? Value::EmptyArray() : std::move(list));
  return v;
}

namespace {
void DescribeMetrics() {
  using metrics::Type;
  auto& m = metrics::Default();
  m.Describe("plumb_reconcile_duration_seconds", Type::kHistogram,
             "Time of one reconcile pass of an Application.");
  m.Describe("plumb_app_info", Type::kGauge,
             "One series per Application with its current sync and health status as labels.");
  m.Describe("plumb_sync_total", Type::kCounter,
             "Reconciles that applied changes, by Application and result.");
  m.Describe("plumb_git_fetch_duration_seconds", Type::kHistogram, "Time to fetch a repository.");
  m.Describe("plumb_git_fetch_errors_total", Type::kCounter, "Failed fetches by repository.");
  m.Describe("plumb_drift_detected_total", Type::kCounter,
             "Changes made outside plumbline noticed on the live system, by Application.");
  m.Describe("plumb_resources", Type::kGauge, "Resources an Application manages.");
}
}  // namespace

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() {
  Stop();
  // The target's threads (drift watcher, process supervisor) call back into the engine:
  // join them while everything they reach is still alive.
  impl_->target.reset();
}

int64_t EngineOptions::CrashAfterApplies(const std::string& fault) {
  const std::string kCrash = "crash-after-applies:";
  return fault.rfind(kCrash, 0) == 0 ? std::atoll(fault.c_str() + kCrash.size()) : 0;
}

Result<std::unique_ptr<Engine>> Engine::Create(EngineOptions options,
                                               std::unique_ptr<target::Target> target) {
  return Create(std::move(options), [&target]() -> Result<std::unique_ptr<target::Target>> {
    return std::move(target);
  });
}

Result<std::unique_ptr<Engine>> Engine::Create(EngineOptions options,
                                               const TargetMaker& make_target) {
  auto impl = std::make_unique<Impl>();
  RETURN_IF_ERROR(fs::MakeDirs(options.state_dir));
  Result<std::unique_ptr<target::Target>> made = Internal("no target");
  std::optional<std::jthread> making;
  try {
    making.emplace([&made, &make_target] { made = make_target(); });
  } catch (const std::system_error&) {
    made = make_target();  // no thread to be had: one after the other
  }
  auto store = Store::Open(options.state_dir);
  making.reset();  // joins
  if (!made.ok()) return made.status();
  if (!store.ok()) return store.status();
  impl->store = std::move(*store);
  std::unique_ptr<target::Target> target = std::move(*made);
  impl->repos = std::make_unique<source::RepoCache>(options.state_dir + "/repos");
  impl->renderer = std::make_unique<render::Renderer>(impl->repos.get(), options.render);
  impl->target = std::move(target);
  impl->crash_after_applies = EngineOptions::CrashAfterApplies(options.fault);
  // Event waiters compare against the newest id, which survives a restart.
  ASSIGN_OR_RETURN(int64_t last_event, impl->store->LastEventId());
  impl->last_event_id = last_event;
  impl->options = std::move(options);
  Impl* raw = impl.get();
  impl->notifier = std::make_unique<Notifier>(
      impl->options.notify_retry_base,
      [raw](const std::string& app, const std::string& type, const std::string& reason,
            const std::string& message) { raw->RecordEvent(app, type, reason, message); });
  DescribeMetrics();
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

std::shared_ptr<AppState> Engine::Impl::Find(const std::string& name) {
  std::lock_guard<std::mutex> l(mu);
  auto it = apps.find(name);
  return it == apps.end() ? nullptr : it->second;
}

void Engine::Impl::Enqueue(const std::string& name, const std::string& trigger, bool force_fetch) {
  std::lock_guard<std::mutex> l(mu);
  auto it = apps.find(name);
  if (it == apps.end() || it->second->deleted) return;
  AppState& st = *it->second;
  if (st.pending_trigger.empty() || trigger != "interval") st.pending_trigger = trigger;
  st.pending_force_fetch |= force_fetch;
  if (!st.queued) {
    st.queued = true;
    queue.push_back(name);
    queue_cv.notify_one();
  }
}

void Engine::Impl::WorkerLoop() {
  while (true) {
    std::shared_ptr<AppState> st;
    SyncRequest req;
    {
      std::unique_lock<std::mutex> l(mu);
      queue_cv.wait(l, [&] { return stopping || !queue.empty(); });
      if (stopping) return;
      std::string name = queue.front();
      queue.pop_front();
      auto it = apps.find(name);
      if (it == apps.end()) continue;
      st = it->second;
      st->queued = false;
      req.trigger = st->pending_trigger.empty() ? "interval" : st->pending_trigger;
      req.force_fetch = st->pending_force_fetch;
      st->pending_trigger.clear();
      st->pending_force_fetch = false;
      st->next_due_ms = INT64_MAX;  // not due while it runs; set again when it ends
      ++busy;
    }
    {
      std::lock_guard<std::mutex> rl(st->reconcile_mu);
      if (!st->deleted) Reconcile(*st, req, /*report_changes=*/false);
    }
    // A large reconcile frees most of what it allocated; give it back to the system
    // rather than keep the high-water mark for the life of the operator.
    malloc_trim(0);
    std::lock_guard<std::mutex> l(mu);
    --busy;
    int64_t now = UnixMillis(clock.Now());
    int64_t delay = st->spec.sync.interval.count();
    if (st->status.consecutive_failures > 0) {
      int64_t backoff = options.retry_base.count();
      for (int i = 1; i < st->status.consecutive_failures && backoff < options.retry_max.count();
           ++i)
        backoff *= 2;
      delay = std::min({delay, backoff, options.retry_max.count()});
    }
    // Follow a rollout even when the target sends no drift signal as it progresses.
    if (st->status.health == "Progressing")
      delay = std::min(delay, std::max<int64_t>(1, options.progressing_requeue.count()));
    st->next_due_ms = now + delay;
    timer_cv.notify_one();
  }
}

void Engine::Impl::TimerLoop() {
  std::unique_lock<std::mutex> l(mu);
  while (!stopping) {
    int64_t now = UnixMillis(clock.Now());
    int64_t next = now + 1000;
    for (auto& [name, st] : apps) {
      if (st->deleted || st->queued) continue;
      if (st->next_due_ms <= now) {
        st->queued = true;
        st->next_due_ms = now + st->spec.sync.interval.count();
        if (st->pending_trigger.empty()) st->pending_trigger = "interval";
        queue.push_back(name);
        queue_cv.notify_one();
      }
      next = std::min(next, st->next_due_ms);
    }
    timer_cv.wait_for(l, std::chrono::milliseconds(std::max<int64_t>(1, next - now)));
  }
}

void Engine::Impl::RecordEvent(const std::string& app, const std::string& type,
                               const std::string& reason, const std::string& message,
                               const std::string& subject) {
  Event e{.time_ms = UnixMillis(clock.Now()),
          .app = app,
          .type = type,
          .reason = reason,
          .message = message};
  auto id = store->AddEvent(e);
  if (type == "Warning")
    log::Warn(message, {{"app", app}, {"reason", reason}});
  else
    log::Info(message, {{"app", app}, {"reason", reason}});
  if (id.ok()) {
    std::lock_guard<std::mutex> l(event_mu);
    last_event_id = *id;
    event_cv.notify_all();
  }
  // Transitions users subscribe to. Healing drift is announced as DriftDetected once.
  std::string trigger = reason == "DriftHealed" ? "DriftDetected" : reason;
  if (notifier &&
      std::find(std::begin(kTriggers), std::end(kTriggers), trigger) != std::end(kTriggers)) {
    notifier->Dispatch({.trigger = trigger,
                        .app = app,
                        .severity = type == "Warning" ? "warning" : "info",
                        .message = message,
                        .time_ms = e.time_ms,
                        .subject = subject});
  }
}

Status Engine::Impl::UpsertApp(const AppSpec& spec) {
  bool is_new = false;
  {
    std::lock_guard<std::mutex> l(mu);
    auto& slot = apps[spec.name];
    if (!slot) {
      slot = std::make_shared<AppState>();
      is_new = true;
    } else if (resource::ToJson(slot->spec.ToValue()) == resource::ToJson(spec.ToValue()) &&
               !slot->deleted) {
      return Status::Ok();
    }
    slot->spec = spec;
    slot->deleted = false;
    slot->next_due_ms = 0;
  }
  RETURN_IF_ERROR(store->PutApp(spec));
  if (is_new && !spec.parent.empty())
    RecordEvent(spec.name, "Normal", "ApplicationCreated",
                "Application " + spec.name + " declared by " + spec.parent + " (" + spec.repo +
                    " " + spec.branch + " " + spec.path + ")");
  Enqueue(spec.name, is_new ? "startup" : "spec-changed", true);
  return Status::Ok();
}

void Engine::Impl::RemoveApp(const std::string& name, bool prune, const std::string& why) {
  auto st = Find(name);
  if (!st) return;
  std::vector<std::string> children;
  {
    std::lock_guard<std::mutex> l(mu);
    for (auto& [n, s] : apps)
      if (s->spec.parent == name) children.push_back(n);
  }
  for (const auto& c : children) RemoveApp(c, prune, "its parent " + name + " was removed");
  std::lock_guard<std::mutex> rl(st->reconcile_mu);
  AppSpec spec;
  {
    std::lock_guard<std::mutex> l(mu);
    st->deleted = true;
    spec = st->spec;
  }
  std::string pruned;
  if (prune) {
    std::vector<resource::Resource> none;
    target::AppContext ctx = Context(spec, &none);
    auto inv = target->InventoryOf(ctx);
    if (inv.ok()) {
      for (auto it = (*inv)->rbegin(); it != (*inv)->rend(); ++it) {
        auto r = target->Remove(ctx, it->id);
        if (!r.ok())
          log::Warn(
              "cannot prune resource of removed application",
              {{"app", name}, {"resource", it->id.ToString()}, {"error", r.status().message()}});
      }
      (void)target->Flush();
      pruned = ", " + std::to_string((*inv)->size()) + " resources pruned";
    }
  }
  (void)store->DeleteApp(name);
  notifier->SetFor(name, {});
  for (const char* family : {"plumb_app_info", "plumb_resources"})
    metrics::Default().Forget(family, "name", name);
  {
    std::lock_guard<std::mutex> l(mu);
    apps.erase(name);
  }
  RecordEvent(name, "Normal", "ApplicationDeleted",
              "Application " + name + " removed: " + why + pruned);
}

void Engine::Impl::ReconcileChildren(const AppSpec& parent,
                                     const std::vector<resource::Resource>& children) {
  std::set<std::string> wanted;
  for (const auto& r : children) {
    auto spec = AppSpecFromResource(r, parent);
    if (!spec.ok()) {
      RecordEvent(parent.name, "Warning", "InvalidApplication", spec.status().message());
      continue;
    }
    {
      std::lock_guard<std::mutex> l(mu);
      auto it = apps.find(spec->name);
      if (it != apps.end() && it->second->spec.parent != parent.name) {
        RecordEvent(parent.name, "Warning", "InvalidApplication",
                    r.origin().ToString() + ": Application " + spec->name +
                        " already exists (declared by " +
                        (it->second->spec.parent.empty() ? "the operator's flags"
                                                         : it->second->spec.parent) +
                        ")");
        continue;
      }
    }
    wanted.insert(spec->name);
    Status s = UpsertApp(*spec);
    if (!s.ok()) RecordEvent(parent.name, "Warning", "InvalidApplication", s.message());
  }
  std::vector<std::string> gone;
  {
    std::lock_guard<std::mutex> l(mu);
    for (auto& [n, s] : apps)
      if (s->spec.parent == parent.name && !wanted.count(n)) gone.push_back(n);
  }
  for (const auto& n : gone)
    RemoveApp(n, parent.sync.prune, "no longer declared in " + parent.name + "'s path");
}

Status Engine::Start() {
  Impl& m = *impl_;
  ASSIGN_OR_RETURN(auto stored, m.store->ListApps());
  {
    std::lock_guard<std::mutex> l(m.mu);
    for (auto& s : stored) {
      auto st = std::make_shared<AppState>();
      st->spec = s.spec;
      st->status = s.status;
      m.apps[s.spec.name] = st;
    }
  }
  // The root follows the flags; an old root under another name is forgotten.
  RETURN_IF_ERROR(m.UpsertApp(m.options.root));
  {
    std::lock_guard<std::mutex> l(m.mu);
    for (auto& [name, st] : m.apps) {
      if (!st->queued) {
        st->queued = true;
        st->pending_trigger = "startup";
        st->pending_force_fetch = true;
        m.queue.push_back(name);
      }
    }
    m.stopping = false;
  }
  if (m.options.watch_drift) {
    m.target->Watch([this](const std::string& app, const resource::ResourceId& id) {
      log::Info("drift detected on the host", {{"app", app}, {"resource", id.ToString()}});
      metrics::Default().Add("plumb_drift_detected_total", {{"app", app}});
      impl_->Enqueue(app, "drift", false);
      impl_->Wake();
    });
  }
  m.target->WatchHealth([this](const std::string& app, const resource::ResourceId&) {
    impl_->Enqueue(app, "health", false);
    impl_->Wake();
  });
  m.target->WatchEvents([this](const target::TargetEvent& e) {
    impl_->RecordEvent(e.app, e.type == "Warning" ? "Warning" : "Normal", e.reason,
                       e.id.ToString() + ": " + e.message);
    impl_->Wake();
  });
  bool scans = false;
  {
    std::lock_guard<std::mutex> l(m.mu);
    for (const auto& [name, st] : m.apps) scans |= st->spec.scan_policy != "off";
  }
  // What reading the state freed (the stored statuses' text, and on a restart the local
  // runtime's rows of local.db, read before this) is given back before the first pass
  // allocates around it: left in place it held the restart's peak up by its holes.
  malloc_trim(0);
  // The secret scanner compiles while the first fetch runs rather than after it.
  if (scans) m.threads.emplace_back([&m] { m.MakeScanner(); });
  for (int i = 0; i < std::max(1, m.options.workers); ++i)
    m.threads.emplace_back([&m] { m.WorkerLoop(); });
  m.threads.emplace_back([&m] { m.TimerLoop(); });
  return Status::Ok();
}

void Engine::Stop() {
  Impl& m = *impl_;
  {
    std::lock_guard<std::mutex> l(m.mu);
    m.stopping = true;
  }
  m.cancel = true;
  m.Wake();  // health waits check `cancel` when woken
  m.queue_cv.notify_all();
  m.timer_cv.notify_all();
  {
    std::lock_guard<std::mutex> l(m.event_mu);
    m.events_closed = true;
    m.event_cv.notify_all();
  }
  for (auto& t : m.threads) t.join();
  m.threads.clear();
  if (m.notifier) m.notifier->Stop();
  // What the last applies set going (replicas being launched) is started before the
  // process may end (plumb run --once ends right after this).
  if (m.target) m.target->WaitStarted();
}

bool Engine::Idle() {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->queue.empty() && impl_->busy == 0;
}

std::vector<AppView> Engine::ListApps() {
  std::lock_guard<std::mutex> l(impl_->mu);
  std::vector<AppView> out;
  out.reserve(impl_->apps.size());
  for (auto& [name, st] : impl_->apps) out.push_back({st->spec, st->status});
  return out;
}

AppPage Engine::ListAppsPage(const AppListOptions& options) {
  const size_t limit = std::max<size_t>(1, options.limit);
  AppPage page;
  std::lock_guard<std::mutex> l(impl_->mu);
  auto& apps = impl_->apps;  // a std::map: already in name order
  auto it = options.after.empty() ? apps.begin() : apps.upper_bound(options.after);
  for (; it != apps.end(); ++it) {
    AppState& st = *it->second;
    if (options.match && !options.match(st.spec, st.status)) continue;
    if (page.items.size() == limit) {
      page.next = page.items.back().spec.name;
      break;
    }
    // The per-resource list is shared, not copied: a list answer shows its summary.
    page.items.push_back(
        {.spec = st.spec, .status = st.status, .resource_count = st.status.resources.size()});
  }
  return page;
}

Result<AppView> Engine::GetApp(const std::string& name) {
  std::lock_guard<std::mutex> l(impl_->mu);
  auto it = impl_->apps.find(name);
  if (it == impl_->apps.end()) return NotFound("no Application named " + name);
  return AppView{it->second->spec, it->second->status};
}

Result<DiffReport> Engine::Diff(const std::string& name) {
  auto st = impl_->Find(name);
  if (!st) return NotFound("no Application named " + name);
  std::lock_guard<std::mutex> rl(st->reconcile_mu);
  AppSpec spec;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    spec = st->spec;
  }
  SyncRequest req{.trigger = "diff", .force_fetch = false};
  ASSIGN_OR_RETURN(Observed o, impl_->Observe(*st, spec, req));
  DiffReport d;
  d.app = name;
  d.revision = o.head;
  d.items = Value::EmptyArray();
  for (const auto& item : o.plan.apply) {
    if (item.action == Action::kNoop) continue;
    d.drift = true;
    Value v = IdFields(item.id);
    v.Set("action", ActionName(item.action));
    v.Set("message", item.error.str());
    d.items.Append(std::move(v));
    if (item.action == Action::kInvalid) {
      d.text += "# " + item.id.ToString() + ": cannot apply: " + item.error + "\n";
      continue;
    }
    d.text += diff::ResourceDiff(item.id, item.live, item.expected);
  }
  for (const auto& item : o.plan.prune) {
    d.drift = true;
    Value v = IdFields(item.id);
    v.Set("action", spec.sync.prune ? "delete" : "prune-disabled");
    d.items.Append(std::move(v));
    d.text += diff::ResourceDiff(item.id, item.live, Value());
  }
  return d;
}

Result<std::vector<HistoryRow>> Engine::History(const std::string& name, size_t limit) {
  if (!impl_->Find(name)) {
    // History outlives a removed Application; only refuse names never seen.
    auto rows = impl_->store->History(name, limit);
    if (rows.ok() && rows->empty()) return NotFound("no Application named " + name);
    return rows;
  }
  return impl_->store->History(name, limit);
}

Result<std::vector<Event>> Engine::Events(const std::string& app, int64_t after_id, size_t limit) {
  return impl_->store->Events(app, after_id, limit);
}

int64_t Engine::LastEventId() const { return impl_->last_event_id; }

void Engine::WaitForEvents(int64_t after_id, Duration timeout) {
  std::unique_lock<std::mutex> l(impl_->event_mu);
  impl_->event_cv.wait_for(l, timeout,
                           [&] { return impl_->last_event_id > after_id || impl_->events_closed; });
}

Result<SyncReport> Engine::Sync(const std::string& name, const SyncRequest& request) {
  auto st = impl_->Find(name);
  if (!st) return NotFound("no Application named " + name);
  std::lock_guard<std::mutex> rl(st->reconcile_mu);
  if (st->deleted) return NotFound("Application " + name + " was removed");
  return impl_->Reconcile(*st, request);
}

Status Engine::Refresh(const std::string& name, const std::string& trigger) {
  if (!impl_->Find(name)) return NotFound("no Application named " + name);
  impl_->Enqueue(name, trigger, true);
  return Status::Ok();
}

std::vector<std::string> Engine::NotifyPush(const std::function<bool(const AppSpec&)>& follows) {
  std::vector<std::string> names;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    int64_t now = UnixMillis(impl_->clock.Now());
    for (auto& [name, st] : impl_->apps) {
      if (st->deleted || !follows(st->spec)) continue;
      impl_->push_ms[st->spec.repo] = now;
      names.push_back(name);
    }
  }
  for (const auto& n : names) impl_->Enqueue(n, "webhook", false);
  return names;
}

void Engine::RecordEvent(const std::string& app, const std::string& type, const std::string& reason,
                         const std::string& message) {
  impl_->RecordEvent(app, type, reason, message);
}

source::RepoCache& Engine::Repos() { return *impl_->repos; }

Result<int64_t> Engine::AddHistory(const HistoryRow& row) {
  if (!impl_->Find(row.app)) return NotFound("no Application named " + row.app);
  return impl_->store->AddHistory(row);
}

std::pair<std::string, std::string> Engine::Author() const {
  return {impl_->options.author_name, impl_->options.author_email};
}

const std::string& Engine::SigningKey() const { return impl_->options.signing_key; }

Status Engine::SetSuspended(const std::string& name, bool suspended, const std::string& initiator) {
  auto st = impl_->Find(name);
  if (!st) return NotFound("no Application named " + name);
  AppSpec spec;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    st->spec.sync.suspend = suspended;
    spec = st->spec;
  }
  RETURN_IF_ERROR(impl_->store->PutApp(spec));
  impl_->RecordEvent(name, "Normal", suspended ? "Suspended" : "Resumed",
                     std::string(suspended ? "suspended" : "resumed") + " by " + initiator);
  if (!suspended) impl_->Enqueue(name, "user", true);
  return Status::Ok();
}

Result<std::string> Engine::Rollback(const std::string& name, const std::string& revision,
                                     const std::string& initiator) {
  auto st = impl_->Find(name);
  if (!st) return NotFound("no Application named " + name);
  AppSpec spec;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    spec = st->spec;
  }
  std::string commit;
  bool is_history_id = !revision.empty() && revision.size() < 7 &&
                       revision.find_first_not_of("0123456789") == std::string::npos;
  if (is_history_id) {
    ASSIGN_OR_RETURN(HistoryRow row, impl_->store->GetHistory(name, std::stoll(revision)));
    commit = row.revision;
  } else {
    auto fetched = impl_->repos->Fetch(spec.repo);
    if (!fetched.ok()) return fetched.status();
    ASSIGN_OR_RETURN(commit, impl_->repos->Resolve(spec.repo, revision));
  }
  std::string path = spec.path == "." ? "" : spec.path;
  std::string message = "Rollback " + name + " to " + commit.substr(0, 12) + "\n\n" +
                        "plumbline rolled back path \"" + (path.empty() ? "." : path) +
                        "\" of branch " + spec.branch + " to its content at " + commit +
                        " (requested: " + revision + ").\nRequested-by: " + initiator + "\n";
  source::Signature sig{.name = impl_->options.author_name,
                        .email = impl_->options.author_email,
                        .signing_key = impl_->options.signing_key};
  ASSIGN_OR_RETURN(std::string new_commit, impl_->repos->CommitPathFromRevision(
                                               spec.repo, spec.branch, path, commit, message, sig));
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->written_commits[new_commit] = {"rollback", initiator};
  }
  impl_->RecordEvent(name, "Normal", "RollbackCommitted",
                     initiator + " rolled back to " + commit.substr(0, 7) + " with commit " +
                         new_commit.substr(0, 7) + " on " + spec.branch);
  impl_->Enqueue(name, "rollback", true);
  return new_commit;
}

void Engine::RecordWrittenCommit(const std::string& commit, const std::string& trigger,
                                 const std::string& initiator) {
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->written_commits[commit] = {trigger, initiator};
}

}  // namespace plumb::engine
