// The supervisor's loop: status files, probes, rolling updates and health of Processes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "core/fs.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/strings.h"
#include "resource/codec.h"
#include "target/local/rollout.h"
#include "target/local/supervisor_impl.h"

namespace plumb::target::local {
namespace {

using resource::ResourceId;
using resource::Value;

// A directory name for any string: [A-Za-z0-9._-] kept, the rest %XX.
std::string Escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '.' || c == '_' || c == '-') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out.empty() ? "%" : out;
}

std::vector<std::string> ListDir(const std::string& dir) {
  auto names = fs::ListDir(dir);
  return names.ok() ? std::move(*names) : std::vector<std::string>();
}

int64_t MtimeNs(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec + st.st_ino;
}

std::string ReplicaJson(const Replica& r) {
  Value v = Value::EmptyObject();
  v.Set("slot", r.slot);
  v.Set("hash", r.hash);
  Value ports = Value::EmptyObject();
  for (const auto& [name, port] : r.ports) ports.Set(name, port);
  v.Set("ports", std::move(ports));
  if (!r.cgroup.empty()) v.Set("cgroup", r.cgroup);
  return resource::ToJson(v);
}

std::string EnvName(const std::string& port_name) {
  std::string out;
  for (char c : port_name) out += c == '-' ? '_' : static_cast<char>(toupper(c));
  return out;
}

void AppendLine(const std::string& path, const std::string& line) {
  FILE* f = std::fopen(path.c_str(), "ae");
  if (!f) return;
  std::fputs((line + "\n").c_str(), f);
  std::fclose(f);
}

// A cgroup v2 directory for one replica with memory.max / cpu.max set, under the
// operator's own cgroup (which must be delegated to it: systemd Delegate=yes). An error
// says why the limits cannot be enforced on this host.
Result<std::string> ReplicaCgroup(const std::string& name, const std::string& memory_max,
                                  const std::string& cpu_max) {
  if (!fs::Exists("/sys/fs/cgroup/cgroup.controllers"))
    return Unimplemented("this host has no cgroup v2 hierarchy at /sys/fs/cgroup");
  auto self = fs::ReadFile("/proc/self/cgroup");
  std::string rel;
  if (self.ok())
    for (const std::string& line : Split(*self, '\n'))
      if (StartsWith(line, "0::")) rel = Trim(line.substr(3));
  if (rel.empty()) return Unimplemented("this process is in no cgroup v2 group");
  const std::string base = fs::JoinPath("/sys/fs/cgroup", rel.substr(1));
  const std::string group = fs::JoinPath(base, "plumbline-replicas");
  const std::string hint = " (cgroup v2 must be delegated to plumbline, e.g. systemd Delegate=yes)";
  if (::mkdir(group.c_str(), 0755) != 0 && errno != EEXIST)
    return PermissionDenied("cannot create " + group + ": " + std::strerror(errno) + hint);
  (void)fs::WriteFileAtomic(fs::JoinPath(base, "cgroup.subtree_control"), "+memory +cpu", 0644);
  auto write = [&](const std::string& dir, const char* file, const std::string& value) -> Status {
    FILE* f = std::fopen(fs::JoinPath(dir, file).c_str(), "we");
    if (!f) return PermissionDenied(dir + "/" + file + ": " + std::strerror(errno) + hint);
    bool ok = std::fputs(value.c_str(), f) >= 0;
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) return PermissionDenied(dir + "/" + file + ": " + std::strerror(errno) + hint);
    return Status::Ok();
  };
  (void)write(group, "cgroup.subtree_control", "+memory +cpu");
  const std::string dir = fs::JoinPath(group, name);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return PermissionDenied("cannot create " + dir + ": " + std::strerror(errno) + hint);
  if (!memory_max.empty()) RETURN_IF_ERROR(write(dir, "memory.max", memory_max));
  if (!cpu_max.empty()) RETURN_IF_ERROR(write(dir, "cpu.max", cpu_max));
  return dir;
}

// $(NAME) in a command argument becomes the value of NAME in the replica's environment,
// as Kubernetes expands it; $$(NAME) is a literal $(NAME); an unknown name stays as is.
std::string ExpandVars(const std::string& arg,
                       const std::vector<std::pair<std::string, std::string>>& env) {
  std::string out;
  for (size_t i = 0; i < arg.size(); ++i) {
    if (arg[i] != '$' || i + 1 >= arg.size()) {
      out += arg[i];
      continue;
    }
    if (arg[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    size_t close = arg[i + 1] == '(' ? arg.find(')', i + 2) : std::string::npos;
    if (close == std::string::npos) {
      out += arg[i];
      continue;
    }
    const std::string name = arg.substr(i + 2, close - i - 2);
    const std::string* value = nullptr;
    for (const auto& [k, v] : env)
      if (k == name) value = &v;
    out += value ? *value : arg.substr(i, close - i + 1);
    i = close;
  }
  return out;
}

// How long probe results gather before the supervisor acts on them.
constexpr int64_t kProbeSettleMs = 50;

const char* kBaseEnv[] = {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR"};

}  // namespace

int64_t UnixNowMs() { return UnixMillis(std::chrono::system_clock::now()); }

std::string ReplicaName(const Object& o, const Replica& r) {
  return o.id.name + "-" + std::to_string(r.slot);
}

std::string ExitText(const ShimStatus& st) {
  if (!st.message.empty() && st.state == "Failed") return st.message;
  if (st.last_exit_ms == 0) return st.message;
  if (st.last_signal != 0) {
    const char* name = ::sigabbrev_np(st.last_signal);
    return std::string("killed by signal ") + (name ? std::string("SIG") + name : "") + " (" +
           std::to_string(st.last_signal) + ")";
  }
  return "exit code " + std::to_string(st.last_exit_code);
}

std::string LogTail(const std::string& dir, int lines) {
  auto text = fs::ReadFile(fs::JoinPath(dir, "log/current"));
  if (!text.ok() || text->empty()) return "";
  std::string s = *text;
  if (s.size() > 4096) s = s.substr(s.size() - 4096);
  std::vector<std::string> all = Split(s, '\n');
  while (!all.empty() && Trim(all.back()).empty()) all.pop_back();
  std::vector<std::string> last;
  for (size_t i = all.size() > static_cast<size_t>(lines) ? all.size() - lines : 0; i < all.size();
       ++i)
    last.push_back(all[i].size() > 200 ? all[i].substr(0, 200) + "..." : all[i]);
  return Join(last, "\n");
}

// ---- public surface ----

Supervisor::Supervisor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Supervisor::~Supervisor() {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  impl_->idle_cv.notify_all();
  if (impl_->loop.joinable()) impl_->loop.join();
  for (auto& t : impl_->probers) t.join();
}

Result<std::unique_ptr<Supervisor>> Supervisor::Open(const SupervisorOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (impl->options.shim_exe.empty()) {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return Internal("cannot find this program (/proc/self/exe) to run shims");
    impl->options.shim_exe.assign(buf, static_cast<size_t>(n));
  }
  metrics::Default().Describe("plumb_process_restarts_total", metrics::Type::kCounter,
                              "Restarts of local Process replicas, by Application and Process.");
  metrics::Default().Describe("plumb_process_replicas_ready", metrics::Type::kGauge,
                              "Ready replicas of a local Process, by Application and Process.");
  impl->root = fs::JoinPath(options.state_dir, "processes");
  RETURN_IF_ERROR(fs::MakeDirs(impl->root, 0700));
  {
    std::lock_guard<std::mutex> l(impl->mu);
    RETURN_IF_ERROR(impl->Adopt());
  }
  Impl* p = impl.get();
  for (int i = 0; i < std::max(1, options.probe_threads); ++i)
    impl->probers.emplace_back([p] { p->ProberLoop(); });
  impl->loop = std::thread([p] { p->Loop(); });
  return std::unique_ptr<Supervisor>(new Supervisor(std::move(impl)));
}

void Supervisor::SetCallbacks(ChangeFn on_change, EventFn on_event) {
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->on_change = std::move(on_change);
  impl_->on_event = std::move(on_event);
}

Status Supervisor::Apply(const std::string& app, const ResourceId& id, const RunTemplate& t) {
  std::unique_lock<std::mutex> l(impl_->mu);
  const std::string key = Impl::ObjectKey(app, id);
  auto [it, created] = impl_->objects.try_emplace(key);
  Object& o = it->second;
  const int64_t now = UnixNowMs();
  if (created) {
    o.app = app;
    o.id = id;
    o.job = id.kind == "Job";
    o.dir = fs::JoinPath(impl_->root,
                         fs::JoinPath(Escape(app), Escape(id.kind + "." + id.ns + "." + id.name)));
    o.progress_ms = now;
  }
  const bool new_template = created || o.t.hash != t.hash;
  o.t = t;
  o.override_replicas = -1;
  if (new_template) {
    o.progress_ms = now;
    o.rollout_reported_done = false;
    o.stalled_reported = false;
  }
  if (o.job && o.run.run_hash != t.hash) {
    o.run = JobRun{.run_hash = t.hash, .state = "Pending"};
    for (Replica& r : o.replicas) impl_->StopReplica(r, now);
  }
  Status s = fs::MakeDirs(o.dir, 0700);
  if (s.ok())
    s = fs::WriteFileAtomic(fs::JoinPath(o.dir, "template.json"), RunTemplateToJson(t), 0600,
                            false);
  if (s.ok()) s = impl_->SaveObject(o);
  if (!s.ok()) {
    if (created) impl_->objects.erase(it);
    return s;
  }
  impl_->poke = true;
  l.unlock();
  impl_->cv.notify_all();
  return Status::Ok();
}

Status Supervisor::Remove(const std::string& app, const ResourceId& id) {
  std::unique_lock<std::mutex> l(impl_->mu);
  auto it = impl_->objects.find(Impl::ObjectKey(app, id));
  if (it == impl_->objects.end()) return Status::Ok();
  Object& o = it->second;
  const int64_t now = UnixNowMs();
  for (Replica& r : o.replicas) {
    impl_->StopReplica(r, now);
    impl_->graveyard.push_back(std::move(r));
  }
  // The replica directories go once their shims are gone; object.json now, so a restart
  // in between stops them as orphans.
  ::unlink(fs::JoinPath(o.dir, "object.json").c_str());
  ::unlink(fs::JoinPath(o.dir, "template.json").c_str());
  impl_->objects.erase(it);
  impl_->poke = true;
  l.unlock();
  impl_->cv.notify_all();
  return Status::Ok();
}

Status Supervisor::SetReplicas(const std::string& app, const ResourceId& id, int replicas) {
  std::unique_lock<std::mutex> l(impl_->mu);
  auto it = impl_->objects.find(Impl::ObjectKey(app, id));
  if (it == impl_->objects.end()) return NotFound(id.ToString() + " is not running here");
  if (it->second.job) return InvalidArgument(id.ToString() + ": a Job has no replicas to scale");
  it->second.override_replicas = replicas;
  RETURN_IF_ERROR(impl_->SaveObject(it->second));
  impl_->poke = true;
  l.unlock();
  impl_->cv.notify_all();
  return Status::Ok();
}

int Supervisor::LiveReplicas(const std::string& app, const ResourceId& id) {
  std::lock_guard<std::mutex> l(impl_->mu);
  auto it = impl_->objects.find(Impl::ObjectKey(app, id));
  return it == impl_->objects.end() ? -1 : it->second.Want();
}

Health Supervisor::HealthOf(const std::string& app, const ResourceId& id) {
  std::lock_guard<std::mutex> l(impl_->mu);
  auto it = impl_->objects.find(Impl::ObjectKey(app, id));
  if (it == impl_->objects.end())
    return {HealthStatus::kMissing, id.ToString() + " is not running"};
  if (it->second.health.status == HealthStatus::kUnknown)
    return {HealthStatus::kProgressing, "starting"};
  return it->second.health;
}

std::vector<LogSource> Supervisor::Logs(const std::string& app, const ResourceId& id) {
  std::lock_guard<std::mutex> l(impl_->mu);
  std::vector<LogSource> out;
  auto it = impl_->objects.find(Impl::ObjectKey(app, id));
  if (it == impl_->objects.end()) return out;
  const Object& o = it->second;
  std::vector<const Replica*> reps;
  for (const Replica& r : o.replicas)
    if (!r.stopping || o.job) reps.push_back(&r);
  if (o.job && !reps.empty()) reps = {reps.back()};  // the latest attempt
  std::sort(reps.begin(), reps.end(),
            [](const Replica* a, const Replica* b) { return a->slot < b->slot; });
  for (const Replica* r : reps)
    out.push_back({r->slot, ReplicaName(o, *r), fs::JoinPath(r->dir, "log/current")});
  return out;
}

Result<RunningStatus> Supervisor::Running(const std::string& app, const ResourceId& id) {
  std::lock_guard<std::mutex> l(impl_->mu);
  auto it = impl_->objects.find(Impl::ObjectKey(app, id));
  if (it == impl_->objects.end()) return NotFound(id.ToString() + " is not running here");
  const Object& o = it->second;
  RunningStatus out{.id = id, .replicas = o.job ? 1 : o.Want()};
  for (const Replica& r : o.replicas) {
    if (r.stopping && !o.job) continue;
    out.replica_status.push_back({.replica = r.slot,
                                  .name = ReplicaName(o, r),
                                  .state = r.have_status ? r.st.state : "Starting",
                                  .ready = r.ready,
                                  .restarts = r.st.restarts,
                                  .pid = r.st.pid,
                                  .started_ms = r.st.started_ms,
                                  .last_exit = r.st.last_exit_ms ? ExitText(r.st) : ""});
  }
  if (o.job && out.replica_status.size() > 1)
    out.replica_status.erase(out.replica_status.begin(), out.replica_status.end() - 1);
  std::sort(out.replica_status.begin(), out.replica_status.end(),
            [](const ReplicaStatus& a, const ReplicaStatus& b) { return a.replica < b.replica; });
  return out;
}

void Supervisor::WaitLaunched(std::chrono::milliseconds max) {
  std::unique_lock<std::mutex> l(impl_->mu);
  const uint64_t want = ++impl_->wait_gen;
  impl_->poke = true;  // a look from now on: what Apply queued is launched by it
  impl_->cv.notify_all();
  impl_->idle_cv.wait_for(l, max, [&] { return impl_->stop || impl_->idle_gen >= want; });
}

// ---- the loop ----

void Supervisor::Impl::Loop() {
  std::unique_lock<std::mutex> l(mu);
  bool refresh_all = true;
  while (!stop) {
    const int64_t now = UnixNowMs();
    // Status files are re-read once per tick (or when told something changed); a probe
    // result alone only moves its own replica on.
    refresh_all = refresh_all || now >= next_refresh_ms;
    if (refresh_all) next_refresh_ms = now + options.tick.count();
    int64_t next = Tick(now, refresh_all);
    refresh_all = false;
    if (!launches.empty()) {
      RunLaunches(l);
      continue;
    }
    auto changes = std::move(pending_changes);
    auto events = std::move(pending_events);
    pending_changes.clear();
    pending_events.clear();
    ChangeFn change_fn = on_change;
    EventFn event_fn = on_event;
    if (!changes.empty() || !events.empty()) {
      l.unlock();
      for (const auto& e : events)
        if (event_fn) event_fn(e);
      for (const auto& [app, id] : changes)
        if (change_fn) change_fn(app, id);
      l.lock();
      continue;  // callbacks may have applied something: look again
    }
    if (stop) break;
    if (poke) {
      poke = false;
      refresh_all = true;
      continue;
    }
    if (!probe_done.empty()) {
      // Probe results come in bursts (replicas started together are probed together):
      // gather them for a moment instead of a pass per result.
      int64_t settle = first_result_ms + kProbeSettleMs - UnixNowMs();
      if (settle > 0)
        cv.wait_for(l, std::chrono::milliseconds(settle), [&] { return stop || poke; });
      continue;
    }
    next = std::min(next, next_refresh_ms);
    // Idle: nothing to launch, and no poke since the last look (WaitLaunched).
    if (idle_gen != wait_gen) {
      idle_gen = wait_gen;
      idle_cv.notify_all();
    }
    int64_t wait = std::clamp<int64_t>(next - UnixNowMs(), 1, options.tick.count());
    cv.wait_for(l, std::chrono::milliseconds(wait),
                [&] { return stop || poke || !probe_done.empty(); });
    if (poke) refresh_all = true;
    poke = false;
  }
}

// Starts the shims StartReplica prepared, without holding the lock (each waits for its
// shim to report), several at once, then hands each its status.
void Supervisor::Impl::RunLaunches(std::unique_lock<std::mutex>& l) {
  std::vector<PendingLaunch> batch;
  batch.swap(launches);
  std::vector<Result<ShimStatus>> results(batch.size(), Internal("not launched"));
  l.unlock();
  {
    std::atomic<size_t> next{0};
    auto worker = [&] {
      for (size_t i = next++; i < batch.size(); i = next++)
        results[i] = LaunchShim(options.shim_exe, batch[i].dir, batch[i].spec);
    };
    std::vector<std::thread> pool;
    const size_t n = std::min<size_t>(batch.size(), 8);
    for (size_t k = 1; k < n; ++k) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
  }
  l.lock();
  const int64_t now = UnixNowMs();
  for (size_t i = 0; i < batch.size(); ++i) {
    Object* o = nullptr;
    Replica* r = nullptr;
    if (auto it = objects.find(batch[i].key); it != objects.end()) {
      o = &it->second;
      for (Replica& x : o->replicas)
        if (x.dir == batch[i].dir) r = &x;
    }
    if (!r)
      for (Replica& x : graveyard)
        if (x.dir == batch[i].dir) r = &x;
    const Result<ShimStatus>& st = results[i];
    if (!r) {  // forgotten meanwhile: not wanted any more; the graveyard sweeps it
      Replica gone;
      gone.dir = batch[i].dir;
      gone.stopping = true;
      if (st.ok()) {
        gone.st = *st;
        gone.have_status = true;
        (void)StopShim(gone.st);
      }
      graveyard.push_back(std::move(gone));
      continue;
    }
    if (!st.ok()) {
      if (o) {
        Event(*o, "Warning", "ReplicaStartFailed",
              "replica " + std::to_string(r->slot) + ": " + st.status().message());
        if (o->job && o->run.state == "Running") {
          o->run.state = "Failed";
          o->run.finished_ms = now;
          o->run.message = "cannot start: " + st.status().message();
          (void)SaveObject(*o);
        }
      }
      r->stopping = true;  // swept (ports released, directory removed) by the next tick
      continue;
    }
    r->st = *st;
    r->have_status = true;
    r->seen_restarts = 0;
    r->status_mtime_ns = 0;  // read the file again next tick
    if (r->stopping) (void)StopShim(r->st);
  }
  poke = true;
}

void Supervisor::Impl::ProberLoop() {
  std::unique_lock<std::mutex> l(mu);
  while (true) {
    cv.wait(l, [&] { return stop || !probe_queue.empty(); });
    if (stop) return;
    ProbeJob job = std::move(probe_queue.front());
    probe_queue.pop_front();
    l.unlock();
    ProbeResult result = RunProbe(job.probe, job.port, job.env, job.working_dir);
    l.lock();
    if (probe_done.empty()) first_result_ms = UnixNowMs();
    probe_done.push_back({std::move(job), std::move(result)});
    cv.notify_all();
  }
}

int64_t Supervisor::Impl::Tick(int64_t now, bool refresh_all) {
  // Reading /proc/PID/stat of every shim (pid reuse) is dearer than kill(pid, 0): every 10 s.
  const bool full_check = refresh_all && now >= next_full_check_ms;
  if (full_check) next_full_check_ms = now + 10000;
  ApplyProbeResults(now);
  int64_t next = now + options.tick.count();
  for (auto& [key, o] : objects) {
    if (refresh_all)
      for (Replica& r : o.replicas) RefreshReplica(&o, r, full_check);
    if (o.job)
      TickJob(o, now);
    else
      TickProcess(o, now);
    for (Replica& r : o.replicas) ScheduleProbes(o, r, now, &next);
    // Drop replicas that finished stopping (a Job keeps its latest attempt for its logs).
    for (size_t i = 0; i < o.replicas.size();) {
      Replica& r = o.replicas[i];
      bool keep_for_logs = o.job && i + 1 == o.replicas.size();
      if (r.stopping && !ShimAlive(r.st) && !keep_for_logs) {
        DiscardReplica(r);
        o.replicas.erase(o.replicas.begin() + static_cast<long>(i));
      } else {
        ++i;
      }
    }
    if (o.job && o.run.state == "BackOff") next = std::min(next, o.run.next_ms);
    for (const Replica& r : o.replicas)
      if (r.have_status && r.st.state == "BackOff" && r.st.next_start_ms > now)
        next = std::min(next, r.st.next_start_ms + 5);
  }
  for (size_t i = 0; i < graveyard.size() && refresh_all;) {
    Replica& r = graveyard[i];
    RefreshReplica(nullptr, r, false);
    if (r.stopping && !ShimAlive(r.st)) {
      std::string parent = fs::Dirname(r.dir);
      DiscardReplica(r);
      if (ListDir(parent).empty()) ::rmdir(parent.c_str());
      graveyard.erase(graveyard.begin() + static_cast<long>(i));
    } else {
      ++i;
    }
  }
  return next;
}

// Re-reads status.json when it changed; notices a shim that vanished.
void Supervisor::Impl::RefreshReplica(Object* o, Replica& r, bool full_check) {
  // A replica running the same program as last time has nothing new to say: the shim
  // rewrites status.json only on transitions, and every transition of a running program
  // starts with its end. kill(pid, 0) is far cheaper than a stat of the long path, and
  // this runs for every replica every tick.
  const bool steady = r.have_status && !full_check && !r.stopping && r.st.state == "Running" &&
                      r.st.pid > 0 && ::kill(r.st.pid, 0) == 0;
  const std::string path = steady ? "" : fs::JoinPath(r.dir, "status.json");
  int64_t mt = steady ? r.status_mtime_ns : MtimeNs(path);
  if (mt != r.status_mtime_ns) {
    auto st = ReadShimStatus(r.dir);
    if (st.ok()) {
      r.st = *st;
      r.have_status = true;
      r.status_mtime_ns = mt;
    }
  }
  if (!r.have_status || r.stopping || r.lost) return;
  bool alive = full_check ? ShimAlive(r.st) : (r.st.shim_pid > 0 && ::kill(r.st.shim_pid, 0) == 0);
  if (alive || !o) return;
  // The shim is gone without being asked (killed by hand, OOM): its program, if any, has
  // no supervisor. Stop it and start a replacement.
  r.lost = true;
  r.stopping = true;
  r.ready = false;
  if (ProgramAlive(r.st)) (void)KillOrphan(r.st);
  Event(*o, "Warning", "ReplicaLost",
        "replica " + std::to_string(r.slot) + ": its supervisor process (pid " +
            std::to_string(r.st.shim_pid) + ") is gone; starting a new replica");
}

void Supervisor::Impl::TickProcess(Object& o, int64_t now) {
  const int want = o.Want();
  const auto [surge, unavailable] = SurgeAndUnavailable(o.t);
  std::vector<ReplicaView> views;
  std::vector<size_t> at;
  int ready_cur = 0;
  const Replica* trouble = nullptr;  // a current replica that is failing
  for (size_t i = 0; i < o.replicas.size(); ++i) {
    Replica& r = o.replicas[i];
    if (r.stopping) continue;
    // Restarts since we last looked are events.
    if (r.have_status) {
      if (r.seen_restarts >= 0 && r.st.restarts > r.seen_restarts) {
        std::string when =
            r.st.state == "BackOff" && r.st.next_start_ms > now
                ? "restarting in " + FormatDuration(Duration(r.st.next_start_ms - now))
                : "restarted";
        metrics::Default().Add("plumb_process_restarts_total",
                               {{"name", o.app}, {"process", o.id.name}},
                               r.st.restarts - r.seen_restarts);
        Event(o, "Warning", "ReplicaRestarted",
              "replica " + std::to_string(r.slot) + " " + ExitText(r.st) + "; " + when +
                  " (restart " + std::to_string(r.st.restarts) + ")");
      }
      r.seen_restarts = r.st.restarts;
    }
    const bool running = r.have_status && r.st.state == "Running" && r.st.pid > 0;
    if (!running) r.ready = false;
    if (running && !o.t.readiness) r.ready = true;
    const bool current = r.hash == o.t.hash;
    views.push_back({r.slot, current, r.ready});
    at.push_back(i);
    if (current && r.ready) ++ready_cur;
    // A crash-looping replica that has just been started again is still crash-looping:
    // without a readiness probe it would count as ready (and the Process flap to Healthy)
    // at every restart. It is trouble until it has stayed up a while.
    const int64_t settle_ms = std::min<int64_t>(options.backoff_max.count(), 30000);
    const bool crash_looping = r.have_status && r.st.consecutive_failures >= 2 &&
                               (!running || now - r.st.started_ms < settle_ms);
    if (current && crash_looping && r.ready) {
      r.ready = false;
      if (ready_cur > 0 && views.back().ready) --ready_cur;
      views.back().ready = false;
    }
    if (current && r.have_status && (!r.ready || crash_looping) &&
        (r.st.consecutive_failures >= 1 || r.st.state == "Failed" || !r.probe_error.empty()))
      if (!trouble || r.st.consecutive_failures > trouble->st.consecutive_failures) trouble = &r;
  }
  RecordReady(o, now, ready_cur, want);  // before the stops: a new replica became ready
  RolloutStep step = PlanRollout(want, surge, unavailable, views);
  for (int idx : step.stop) StopReplica(o.replicas[at[idx]], now);
  if (step.start > 0) {
    std::set<int> used;
    for (const Replica& r : o.replicas)
      if (!r.stopping && r.hash == o.t.hash) used.insert(r.slot);
    for (int k = 0, slot = 0; k < step.start; ++k) {
      while (used.count(slot)) ++slot;
      Status s = StartReplica(o, slot);
      if (!s.ok()) {
        Event(o, "Warning", "ReplicaStartFailed",
              "replica " + std::to_string(slot) + ": " + s.message());
        break;
      }
      used.insert(slot);
    }
  }
  RecordReady(o, now, ready_cur, want);  // after the stops: what serves from now on
  // Progress: a replica of the current template became ready.
  if (ready_cur > o.last_ready_cur) o.progress_ms = now;
  o.last_ready_cur = ready_cur;
  int old_left = 0, cur_count = 0;
  for (const Replica& r : o.replicas) {
    if (r.stopping) continue;
    (r.hash == o.t.hash ? cur_count : old_left)++;
  }

  // Health.
  Health h;
  std::string ready_text =
      std::to_string(ready_cur) + "/" + std::to_string(want) + " replicas ready";
  const bool done = old_left == 0 && cur_count == want && ready_cur == want;
  if (done) {
    h = {HealthStatus::kHealthy, ready_text};
    if (!o.rollout_reported_done) {
      o.rollout_reported_done = true;
      Event(o, "Normal", "RolloutComplete", ready_text + " (template " + o.t.hash + ")");
    }
    o.stalled_reported = false;
  } else {
    h = {HealthStatus::kProgressing, ready_text};
    if (old_left > 0)
      h.message += "; rolling out: " + std::to_string(old_left) + " old replica" +
                   (old_left == 1 ? "" : "s") + " left";
  }
  if (trouble) {
    std::string why = trouble->st.state == "BackOff" && trouble->st.next_start_ms > now
                          ? "restarting in " +
                                FormatDuration(Duration(trouble->st.next_start_ms - now)) + ": " +
                                ExitText(trouble->st)
                      : !trouble->probe_error.empty() ? "not ready: " + trouble->probe_error
                                                      : ExitText(trouble->st);
    h.message += "; replica " + std::to_string(trouble->slot) + " " + why;
    if (trouble->st.consecutive_failures >= 2 || trouble->st.state == "Failed") {
      h.status = HealthStatus::kDegraded;
      std::string tail = LogTail(trouble->dir, 5);
      if (!tail.empty()) h.message += "\nlast log lines:\n" + tail;
    }
  }
  if (!done && h.status != HealthStatus::kDegraded &&
      now - o.progress_ms > o.t.progress_deadline.count()) {
    h.status = HealthStatus::kDegraded;
    h.message = "rollout stalled: no new replica became ready in " +
                FormatDuration(o.t.progress_deadline) + " (progressDeadlineSeconds); " + h.message;
    if (old_left > 0) h.message += "; the old replicas keep serving";
    if (!o.stalled_reported) {
      o.stalled_reported = true;
      Event(o, "Warning", "RolloutStalled", h.message);
    }
  }
  if (!o.unenforced.empty()) h.message += "; not enforced: " + o.unenforced;
  UpdateHealth(o, std::move(h));
}

// The ready count over time, for users and tests ("no moment below want - unavailable"):
// a line whenever the ready replicas (any template) or those of the current one change.
void Supervisor::Impl::RecordReady(Object& o, int64_t now, int ready_cur, int want) {
  int ready_total = 0;
  for (const Replica& r : o.replicas) ready_total += (!r.stopping && r.ready) ? 1 : 0;
  if (ready_total == o.last_ready_total && ready_cur == o.last_logged_ready_cur) return;
  o.last_ready_total = ready_total;
  o.last_logged_ready_cur = ready_cur;
  metrics::Default().Set("plumb_process_replicas_ready", {{"name", o.app}, {"process", o.id.name}},
                         ready_total);
  AppendLine(fs::JoinPath(o.dir, "ready.log"),
             std::to_string(now) + " " + std::to_string(ready_total) + " " +
                 std::to_string(ready_cur) + " " + std::to_string(want));
}

void Supervisor::Impl::UpdateHealth(Object& o, Health h) {
  // Messages tick (countdowns); a change of status or of the ready count is news.
  std::string key =
      std::string(HealthName(h.status)) + "|" + h.message.substr(0, h.message.find(';'));
  o.health = std::move(h);
  if (key != o.health_key) {
    o.health_key = key;
    pending_changes.emplace_back(o.app, o.id);
  }
}

void Supervisor::Impl::Event(const Object& o, const char* type, const char* reason,
                             std::string message) {
  pending_events.push_back(
      {.app = o.app, .id = o.id, .type = type, .reason = reason, .message = std::move(message)});
}

std::vector<std::pair<std::string, std::string>> Supervisor::Impl::ReplicaEnv(
    const Object& o, int slot, const Replica& r) const {
  std::vector<std::pair<std::string, std::string>> env;
  auto set = [&](const std::string& k, const std::string& v) {
    for (auto& [name, value] : env)
      if (name == k) {
        value = v;
        return;
      }
    env.emplace_back(k, v);
  };
  for (const char* name : kBaseEnv)
    if (const char* v = std::getenv(name)) set(name, v);
  for (const auto& [k, v] : o.t.shim.env) set(k, v);
  set("PLUMB_APP", o.app);
  set("PLUMB_PROCESS", o.id.name);
  set("PLUMB_REPLICA", std::to_string(slot));
  for (size_t i = 0; i < r.ports.size(); ++i) {
    if (i == 0) set("PORT", std::to_string(r.ports[i].second));
    set("PORT_" + EnvName(r.ports[i].first), std::to_string(r.ports[i].second));
  }
  return env;
}

int Supervisor::Impl::FreePort() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      port = ntohs(addr.sin_port);
    ::close(fd);
    if (port != 0 && ports_in_use.insert(port).second) return port;
  }
  return 0;
}

void Supervisor::Impl::ReleasePorts(const Replica& r) {
  for (const auto& [name, port] : r.ports) ports_in_use.erase(port);
}

// Everything a replica whose shim is gone still holds: an orphaned program, its ports,
// its directory, its cgroup.
void Supervisor::Impl::DiscardReplica(const Replica& r) {
  if (ProgramAlive(r.st)) (void)KillOrphan(r.st);
  ReleasePorts(r);
  (void)fs::RemoveAll(r.dir);
  if (!r.cgroup.empty()) ::rmdir(r.cgroup.c_str());
}

Status Supervisor::Impl::StartReplica(Object& o, int slot) {
  Replica r;
  r.slot = slot;
  r.hash = o.t.hash;
  r.dir = fs::JoinPath(
      o.dir, "r" + std::to_string(slot) + "-" + o.t.hash.substr(0, 8) + "-" + RandomHex(3));
  for (const PortSpec& p : o.t.ports) {
    int port = p.port != 0 ? p.port : FreePort();
    if (port == 0) {
      ReleasePorts(r);
      return Unavailable("no free port on 127.0.0.1 for port " + p.name);
    }
    r.ports.emplace_back(p.name, port);
  }
  ShimSpec spec = o.t.shim;
  spec.env = ReplicaEnv(o, slot, r);
  for (std::string& arg : spec.argv) arg = ExpandVars(arg, spec.env);
  spec.backoff_initial = options.backoff_initial;
  spec.backoff_max = options.backoff_max;
  spec.backoff_reset = options.backoff_reset;
  spec.log_max_bytes = options.log_max_bytes;
  spec.log_files = options.log_files;
  if (spec.working_dir.empty()) spec.working_dir = r.dir;
  if (!o.t.memory_max.empty() || !o.t.cpu_max.empty()) {
    auto cg = ReplicaCgroup(o.id.name + "-" + std::to_string(slot) + "-" + RandomHex(3),
                            o.t.memory_max, o.t.cpu_max);
    if (cg.ok()) {
      spec.cgroup = r.cgroup = *cg;
      o.unenforced.clear();
    } else {
      o.unenforced = "resources.limits memory/cpu: " + cg.status().message();
    }
  }
  Status s = fs::MakeDirs(r.dir, 0700);
  if (s.ok())
    s = fs::WriteFileAtomic(fs::JoinPath(r.dir, "replica.json"), ReplicaJson(r), 0600, false);
  if (!s.ok()) {
    ReleasePorts(r);
    return s;
  }
  // Launched by RunLaunches once this tick is done; until then the replica counts as
  // starting (not ready), so no second one is started for its slot.
  launches.push_back({.key = ObjectKey(o.app, o.id), .dir = r.dir, .spec = std::move(spec)});
  o.replicas.push_back(std::move(r));
  return Status::Ok();
}

void Supervisor::Impl::StopReplica(Replica& r, int64_t now) {
  if (r.stopping) return;
  r.stopping = true;
  r.ready = false;
  r.stop_sent_ms = now;
  if (r.have_status) (void)StopShim(r.st);
}

void Supervisor::Impl::ScheduleProbes(Object& o, Replica& r, int64_t now, int64_t* next_wake) {
  if (r.stopping || !r.have_status || r.st.state != "Running" || r.st.pid <= 0) return;
  if (r.probed_start != r.st.start) {  // a new run of the program: probes start over
    r.probed_start = r.st.start;
    r.ready = !o.t.readiness;
    r.ready_ok = r.ready_fail = r.live_fail = 0;
    r.probe_error.clear();
    int64_t started = r.st.started_ms ? r.st.started_ms : now;
    if (o.t.readiness) r.next_ready_ms = started + o.t.readiness->initial_delay.count();
    if (o.t.liveness) r.next_live_ms = started + o.t.liveness->initial_delay.count();
  }
  auto submit = [&](const Probe& p, bool liveness) {
    int port = 0;
    for (const auto& [name, num] : r.ports)
      if (name == p.port) port = num;
    if (port == 0 && !p.port.empty() && p.port.find_first_not_of("0123456789") == std::string::npos)
      port = std::stoi(p.port);
    ProbeJob job{.key = ObjectKey(o.app, o.id),
                 .dir = r.dir,
                 .liveness = liveness,
                 .probe = p,
                 .port = port,
                 .env = p.kind == Probe::Kind::kExec
                            ? ReplicaEnv(o, r.slot, r)
                            : std::vector<std::pair<std::string, std::string>>{},
                 .working_dir = o.t.shim.working_dir.empty() ? r.dir : o.t.shim.working_dir,
                 .start = r.st.start};
    probe_queue.push_back(std::move(job));
    cv.notify_all();
  };
  if (o.t.readiness && !r.ready_inflight) {
    if (now >= r.next_ready_ms) {
      r.ready_inflight = true;
      submit(*o.t.readiness, false);
    } else {
      *next_wake = std::min(*next_wake, r.next_ready_ms);
    }
  }
  if (o.t.liveness && !r.live_inflight) {
    if (now >= r.next_live_ms) {
      r.live_inflight = true;
      submit(*o.t.liveness, true);
    } else {
      *next_wake = std::min(*next_wake, r.next_live_ms);
    }
  }
}

void Supervisor::Impl::ApplyProbeResults(int64_t now) {
  std::vector<ProbeDone> done;
  done.swap(probe_done);
  for (ProbeDone& d : done) {
    auto it = objects.find(d.job.key);
    if (it == objects.end()) continue;
    Object& o = it->second;
    Replica* r = nullptr;
    for (Replica& x : o.replicas)
      if (x.dir == d.job.dir) r = &x;
    if (!r) continue;
    (d.job.liveness ? r->live_inflight : r->ready_inflight) = false;
    if (r->stopping || d.job.start != r->st.start) continue;  // for an earlier run
    const Probe& p = d.job.probe;
    if (d.job.liveness) {
      r->next_live_ms = now + p.period.count();
      if (d.result.ok) {
        r->live_fail = 0;
      } else if (++r->live_fail >= p.failure_threshold) {
        r->live_fail = 0;
        r->ready = false;
        Event(o, "Warning", "LivenessProbeFailed",
              "replica " + std::to_string(r->slot) + " failed its liveness probe " +
                  std::to_string(p.failure_threshold) + " times (" + d.result.message +
                  "); restarting it");
        (void)RestartProgram(r->st);
      }
    } else {
      r->next_ready_ms = now + p.period.count();
      if (d.result.ok) {
        r->ready_fail = 0;
        r->probe_error.clear();
        if (++r->ready_ok >= p.success_threshold) r->ready = true;
      } else {
        r->ready_ok = 0;
        r->probe_error = "readiness probe: " + d.result.message;
        if (++r->ready_fail >= p.failure_threshold) r->ready = false;
      }
    }
  }
}

Status Supervisor::Impl::SaveObject(const Object& o) {
  Value v = Value::EmptyObject();
  v.Set("app", o.app);
  v.Set("key", o.id.Key());
  v.Set("overrideReplicas", o.override_replicas);
  if (o.job) {
    Value run = Value::EmptyObject();
    run.Set("runHash", o.run.run_hash);
    run.Set("state", o.run.state);
    run.Set("failures", o.run.failures);
    run.Set("startedMs", o.run.started_ms);
    run.Set("nextMs", o.run.next_ms);
    run.Set("finishedMs", o.run.finished_ms);
    run.Set("message", o.run.message);
    v.Set("run", std::move(run));
  }
  return fs::WriteFileAtomic(fs::JoinPath(o.dir, "object.json"), resource::ToJson(v), 0600, false);
}

Status Supervisor::Impl::Adopt() {
  for (const std::string& app_dir_name : ListDir(root)) {
    const std::string app_dir = fs::JoinPath(root, app_dir_name);
    for (const std::string& obj_name : ListDir(app_dir)) {
      const std::string dir = fs::JoinPath(app_dir, obj_name);
      Object o;
      o.dir = dir;
      bool known = false;
      auto obj_json = fs::ReadFile(fs::JoinPath(dir, "object.json"));
      auto tmpl_json = fs::ReadFile(fs::JoinPath(dir, "template.json"));
      if (obj_json.ok() && tmpl_json.ok()) {
        auto v = resource::ParseJson(*obj_json, dir + "/object.json");
        auto t = RunTemplateFromJson(*tmpl_json, dir + "/template.json");
        auto id =
            v.ok() ? ResourceId::FromKey(v->GetString("key")) : Result<ResourceId>(v.status());
        if (v.ok() && t.ok() && id.ok()) {
          known = true;
          o.app = v->GetString("app");
          o.id = *id;
          o.job = o.id.kind == "Job";
          o.t = *t;
          if (const Value* ov = v->Find("overrideReplicas"); ov && ov->is_int())
            o.override_replicas = static_cast<int>(ov->as_int());
          if (const Value* run = v->Find("run"); run && run->is_object()) {
            auto num = [&](const char* k) {
              const Value* x = run->Find(k);
              return x && x->is_int() ? x->as_int() : 0;
            };
            o.run = JobRun{.run_hash = run->GetString("runHash"),
                           .state = run->GetString("state"),
                           .failures = static_cast<int>(num("failures")),
                           .started_ms = num("startedMs"),
                           .next_ms = num("nextMs"),
                           .finished_ms = num("finishedMs"),
                           .message = run->GetString("message")};
          }
          o.progress_ms = UnixNowMs();
        } else {
          log::Warn("supervisor: unreadable object state; stopping its replicas", {{"dir", dir}});
        }
      }
      for (const std::string& name : ListDir(dir)) {
        if (name.empty() || name[0] != 'r') continue;
        Replica r;
        r.dir = fs::JoinPath(dir, name);
        if (!fs::IsDirectory(r.dir)) continue;
        auto rj = fs::ReadFile(fs::JoinPath(r.dir, "replica.json"));
        auto rv = rj.ok() ? resource::ParseJson(*rj, r.dir) : Result<Value>(rj.status());
        auto st = ReadShimStatus(r.dir);
        if (st.ok()) {
          r.st = *st;
          r.have_status = true;
          r.status_mtime_ns = MtimeNs(fs::JoinPath(r.dir, "status.json"));
          r.seen_restarts = st->restarts;
        }
        const bool alive = r.have_status && ShimAlive(r.st);
        if (rv.ok()) {
          const Value* slot = rv->Find("slot");
          r.slot = slot && slot->is_int() ? static_cast<int>(slot->as_int()) : 0;
          r.hash = rv->GetString("hash");
          r.cgroup = rv->GetString("cgroup");
          if (const Value* ports = rv->Find("ports"); ports && ports->is_object())
            for (const auto& [pn, pv] : ports->as_object())
              if (pv.is_int()) r.ports.emplace_back(pn, static_cast<int>(pv.as_int()));
        }
        if (known && rv.ok() && (alive || o.job)) {
          for (const auto& [pn, port] : r.ports) ports_in_use.insert(port);
          if (!alive) r.stopping = true;  // a finished Job attempt, kept for its logs
          o.replicas.push_back(std::move(r));
        } else if (alive) {
          StopReplica(r, UnixNowMs());
          graveyard.push_back(std::move(r));
        } else {
          if (r.have_status && ProgramAlive(r.st)) (void)KillOrphan(r.st);
          (void)fs::RemoveAll(r.dir);
        }
      }
      if (known) {
        std::sort(o.replicas.begin(), o.replicas.end(), [](const Replica& a, const Replica& b) {
          return a.st.started_ms < b.st.started_ms;
        });
        const std::string key = ObjectKey(o.app, o.id);
        objects[key] = std::move(o);
      }
    }
  }
  return Status::Ok();
}

}  // namespace plumb::target::local
