#include "target/local/watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "core/log.h"
#include "core/strings.h"
#include "target/local/file_state.h"

namespace plumb::target::local {
namespace {

constexpr uint32_t kDirMask = IN_MODIFY | IN_ATTRIB | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                              IN_CREATE | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF;
constexpr int64_t kDebounceMs = 50;      // quiet time before a burst is checked
constexpr int64_t kMaxDebounceMs = 500;  // a never-ending burst is checked anyway
constexpr const char* kTempPrefix = ".plumb-tmp-";

}  // namespace

class Watcher::Loop {
 public:
  Loop(ManagedFiles* files, Duration rescan_interval, DriftFn on_drift)
      : files_(files),
        rescan_ms_(std::max<int64_t>(rescan_interval.count(), 1)),
        on_drift_(std::move(on_drift)) {
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd_ < 0) {
      log::Warn("inotify unavailable; drift is found by rescans only",
                {{"error", std::strerror(errno)}});
    }
    // Watches exist before Watch() returns, so no change made right after is missed.
    std::lock_guard<std::mutex> lock(mu_);
    SyncWatches();
  }
  ~Loop() {
    if (inotify_fd_ >= 0) ::close(inotify_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }

  void Wake() {
    uint64_t one = 1;
    if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
  }
  void Stop() {
    stop_ = true;
    Wake();
  }
  // Wakes the thread only when there is something to do: new or dropped directories, or
  // watches to retry (an apply per file must not cost a wake-up and a re-sync each).
  void MarkDirty() {
    if (files_->DirsVersion() == synced_version_ && !retry_) return;
    dirty_ = true;
    Wake();
  }

  // Reads the events queued so far, as the thread would.
  void Drain() {
    std::lock_guard<std::mutex> lock(mu_);
    if (inotify_fd_ < 0) return;
    const size_t before = pending_.size();
    const bool all_before = check_all_;
    RecheckWatches();
    ReadEvents();
    // The thread may be asleep until the next rescan: what was read here is its to check.
    if (pending_.size() != before || check_all_ != all_before || dirty_) Wake();
  }

  void Run() {
    int64_t next_rescan = MonotonicMillis() + rescan_ms_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      SyncWatches();
    }
    while (!stop_) {
      std::unique_lock<std::mutex> lock(mu_);
      if (dirty_.exchange(false)) SyncWatches(/*all=*/false);
      const int64_t now = MonotonicMillis();
      int64_t timeout = next_rescan - now;
      if (!pending_.empty() || check_all_) {
        timeout = std::min(
            timeout, std::min(last_event_ + kDebounceMs, first_event_ + kMaxDebounceMs) - now);
      }
      lock.unlock();
      pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
      int rc =
          ::poll(fds, inotify_fd_ >= 0 ? 2 : 1, static_cast<int>(std::max<int64_t>(0, timeout)));
      if (rc < 0 && errno != EINTR) {
        log::Error("watcher poll failed", {{"error", std::strerror(errno)}});
        return;
      }
      if (rc > 0 && (fds[0].revents & POLLIN)) {
        uint64_t n;
        (void)!::read(wake_fd_, &n, sizeof n);
      }
      if (stop_) break;
      lock.lock();
      if (rc > 0 && inotify_fd_ >= 0 && (fds[1].revents & POLLIN)) ReadEvents();
      const int64_t t = MonotonicMillis();
      std::set<std::string> paths;
      bool all = false;
      if ((!pending_.empty() || check_all_) &&
          (t - last_event_ >= kDebounceMs || t - first_event_ >= kMaxDebounceMs)) {
        paths.swap(pending_);
        all = check_all_.exchange(false);
      }
      const bool rescan = t >= next_rescan;
      // The rescan is the safety net for what inotify does not see (a write through a
      // hard link in another directory): every file is looked at again, and is no longer
      // known unchanged without a stat until one has confirmed it.
      if (rescan) files_->TouchAll();
      lock.unlock();
      if (all && !rescan) {
        Check(files_->Paths());
      } else if (!paths.empty()) {
        // Moved out node by node: the set and a copy of it are not both alive (after a
        // queue overflow at 100,000 Files they were tens of MB).
        std::vector<std::string> list;
        list.reserve(paths.size());
        while (!paths.empty()) list.push_back(std::move(paths.extract(paths.begin()).value()));
        Check(list);
      }
      if (rescan) {
        Check(files_->Paths());
        // Directories that were missing may exist again.
        lock.lock();
        SyncWatches();
        lock.unlock();
        next_rescan = MonotonicMillis() + rescan_ms_;
      }
    }
  }

 private:
  void AddPendingLocked(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    AddPending(path);
  }
  void AddPending(const std::string& path) {
    NotePending();
    pending_.insert(path);
  }
  void NotePending() {
    const int64_t now = MonotonicMillis();
    if (pending_.empty() && !check_all_) first_event_ = now;
    last_event_ = now;
  }

  // A watch follows a directory's inode, not its path: when an ancestor is renamed or
  // replaced, the path leads to another directory, which no watch sees. Asks the kernel
  // again for each watched path (one inotify_add_watch per directory; the same wd while
  // the path still leads to the watched inode) and moves a path whose answer changed to
  // its new watch, watched from now on — so its files are stat-ed again before they are
  // trusted. A path that no longer leads to a directory loses its watch. mu_ held.
  void RecheckWatches() {
    for (auto it = wd_of_.begin(); it != wd_of_.end();) {
      const std::string& dir = it->first;
      const int old_wd = it->second;
      const int wd = ::inotify_add_watch(inotify_fd_, dir.c_str(), kDirMask | IN_ONLYDIR);
      if (wd == old_wd) {
        ++it;
        continue;
      }
      ReleaseName(old_wd, dir);
      // The path leads elsewhere now: what its files hold is unknown, and the old watch's
      // IN_MOVE_SELF/IN_DELETE_SELF (maybe still queued) no longer names the path, so the
      // files are checked here — else a drift found by a stat would never be reported.
      for (const std::string& path : files_->PathsIn(dir)) {
        files_->Touch(path);
        AddPending(path);
      }
      if (wd < 0) {  // gone for now: the next apply or the rescan retries
        files_->SetWatched(dir, 0);
        retry_ = true;
        it = wd_of_.erase(it);
        continue;
      }
      it->second = wd;
      NameWatch(wd, dir);
      ++it;
    }
  }

  // `dir` no longer stands for watch `wd`; the watch goes when it stands for no path.
  void ReleaseName(int wd, const std::string& dir) {
    auto& names = dirs_of_[wd];
    names.erase(dir);
    if (names.empty()) {
      ::inotify_rm_watch(inotify_fd_, wd);
      dirs_of_.erase(wd);
    }
  }
  // `dir` is watched by `wd` from now on (wd_of_ is the caller's).
  void NameWatch(int wd, const std::string& dir) {
    dirs_of_[wd].insert(dir);
    files_->SetWatched(dir, files_->Tick());
  }

  // With `all`, also retries directories that had no watch and re-adds lost ones;
  // otherwise does nothing while the set of directories is the one last synced.
  void SyncWatches(bool all = true) {
    if (inotify_fd_ < 0) return;
    if (all) RecheckWatches();
    const uint64_t version = files_->DirsVersion();
    if (!all && version == synced_version_ && !retry_) return;
    synced_version_ = version;
    retry_ = false;
    const std::vector<std::string> dirs = files_->Dirs();
    const std::set<std::string> wanted(dirs.begin(), dirs.end());
    for (auto it = wd_of_.begin(); it != wd_of_.end();) {
      if (wanted.count(it->first)) {
        ++it;
        continue;
      }
      files_->SetWatched(it->first, 0);
      ReleaseName(it->second, it->first);
      it = wd_of_.erase(it);
    }
    for (const std::string& dir : wanted) {
      if (wd_of_.count(dir)) continue;
      int wd = ::inotify_add_watch(inotify_fd_, dir.c_str(), kDirMask | IN_ONLYDIR);
      if (wd < 0) {  // missing for now: the next apply or the rescan retries
        retry_ = true;
        continue;
      }
      wd_of_[dir] = wd;
      NameWatch(wd, dir);
    }
  }

  void ReadEvents() {
    alignas(inotify_event) char buf[16384];
    while (true) {
      ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
      if (n <= 0) return;  // EAGAIN: drained
      for (char* p = buf; p < buf + n;) {
        auto* ev = reinterpret_cast<inotify_event*>(p);
        p += sizeof(inotify_event) + ev->len;
        HandleEvent(*ev);
      }
    }
  }

  void HandleEvent(const inotify_event& ev) {
    if (ev.mask & IN_Q_OVERFLOW) {
      // Events were lost: every managed file is checked (listed when it is, not held in
      // pending_ path by path).
      files_->TouchAll();
      NotePending();
      check_all_ = true;
      dirty_ = true;
      return;
    }
    auto it = dirs_of_.find(ev.wd);
    if (it == dirs_of_.end()) return;
    const std::set<std::string> dirs = it->second;
    if (ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
      for (const std::string& dir : dirs) {
        for (const std::string& path : files_->PathsIn(dir)) {
          files_->Touch(path);
          AddPending(path);
        }
      }
      if (ev.mask & (IN_IGNORED | IN_MOVE_SELF)) {
        // The watch no longer stands for the directory at that path (gone, or moved
        // elsewhere): drop it; the next sync watches whatever is at the path then.
        for (const std::string& dir : dirs) {
          wd_of_.erase(dir);
          files_->SetWatched(dir, 0);
        }
        dirs_of_.erase(ev.wd);
        if (!(ev.mask & IN_IGNORED)) ::inotify_rm_watch(inotify_fd_, ev.wd);
        retry_ = true;
        dirty_ = true;
      }
      return;
    }
    if (ev.len == 0) return;
    const std::string name(ev.name);
    if (StartsWith(name, kTempPrefix)) return;
    for (const std::string& dir : dirs) {
      const std::string path = dir == "/" ? "/" + name : dir + "/" + name;
      if (files_->Touch(path)) AddPending(path);
    }
  }

  // Compares each path with what was applied and reports new drift.
  void Check(const std::vector<std::string>& paths) {
    std::vector<std::pair<std::string, resource::ResourceId>> drifted;
    for (const std::string& path : paths) {
      std::optional<ManagedFile> want = files_->Find(path);
      if (!want) continue;
      if (want->writing) {
        AddPendingLocked(path);  // its own write in flight: its events follow
        continue;
      }
      // Untouched since the runtime wrote it: it holds what was applied. Quiet again from
      // the moment before this stat (after a rescan, the next plan need not stat it).
      const uint64_t since = files_->Tick();
      if (want->verified.ino != 0 && FileStamp::At(path) == want->verified) {
        files_->ConfirmVerified(path, want->verified, since);
        reported_.erase(path);
        continue;
      }
      auto state = ReadFileState(path);
      std::string fingerprint;
      if (!state.ok()) {
        fingerprint = "error:" + state.status().message();
      } else if (state->type != FileState::Type::kRegular) {
        fingerprint = FileTypeName(state->type);
      } else {
        std::string sha = ContentDigest(*want, state->content);
        if (!want->content_digest.Is(sha) || state->mode != want->mode) {
          fingerprint = sha + ":" + std::to_string(state->mode);
        }
      }
      if (fingerprint.empty()) {
        reported_.erase(path);
        continue;
      }
      // The expected state is part of the key, so a new apply re-arms the report.
      fingerprint += "|" + want->content_digest.Hex() + ":" + std::to_string(want->mode);
      auto [it, inserted] = reported_.emplace(path, fingerprint);
      if (!inserted) {
        if (it->second == fingerprint) continue;
        it->second = fingerprint;
      }
      drifted.emplace_back(want->app(), want->id());
    }
    for (const auto& [app, id] : drifted) {
      log::Info("drift detected", {{"app", app}, {"object", id.ToString()}});
      if (on_drift_) on_drift_(app, id);
    }
  }

  ManagedFiles* files_;
  const int64_t rescan_ms_;
  DriftFn on_drift_;
  int wake_fd_ = -1;
  int inotify_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<bool> dirty_{false};
  std::atomic<uint64_t> synced_version_{0};  // ManagedFiles::DirsVersion() last synced
  std::atomic<bool> retry_{true};            // a wanted directory has no watch
  // Owned by the thread, and by Drain() under mu_:
  std::mutex mu_;
  std::map<std::string, int> wd_of_;
  std::map<int, std::set<std::string>> dirs_of_;
  std::set<std::string> pending_;
  std::atomic<bool> check_all_{false};  // every managed path is pending (queue overflow)
  int64_t first_event_ = 0, last_event_ = 0;
  std::map<std::string, std::string> reported_;  // path -> fingerprint of reported drift
};

Watcher::Watcher(ManagedFiles* files, Duration rescan_interval, DriftFn on_drift)
    : loop_(std::make_unique<Loop>(files, rescan_interval, std::move(on_drift))) {
  thread_ = std::thread([this] { loop_->Run(); });
}

Watcher::~Watcher() {
  loop_->Stop();
  if (thread_.joinable()) thread_.join();
}

void Watcher::Refresh() { loop_->MarkDirty(); }

void Watcher::Drain() { loop_->Drain(); }

}  // namespace plumb::target::local
