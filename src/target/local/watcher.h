// target/local internal: drift detection for managed files. A background thread watches
// the parent directory of every managed file with inotify, collects events for ~50 ms,
// then compares each touched file with what was applied (content hash, mode, that it is a
// regular file) and reports the ones that differ. A periodic rescan of every managed file
// covers what inotify cannot see (a directory removed and re-created, queue overflow).
//
// The runtime's own writes are not drift by construction: LocalTarget records the new
// expected content in ManagedFiles *before* it writes, so the events of its temp file and
// rename find a file that matches. Temp files (".plumb-tmp-*") are ignored outright.
// A drifted state is reported once; it is reported again only when it changes.
// The watcher also records in ManagedFiles which directories it watches and when it read
// an event for a file, so that LocalTarget can know a file unchanged without a stat
// (ManagedFiles::QuietSince); a queue overflow and every rescan count as an event for all.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/clock.h"
#include "resource/resource.h"
#include "target/local/managed_files.h"

namespace plumb::target::local {

class Watcher {
 public:
  using DriftFn = std::function<void(const std::string& app, const resource::ResourceId& id)>;

  // Starts the thread. `files` must outlive the Watcher. If inotify is unavailable the
  // watcher still rescans every `rescan_interval`.
  Watcher(ManagedFiles* files, Duration rescan_interval, DriftFn on_drift);
  // Stops and joins the thread; no callback runs after it returns.
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // The managed set changed: the thread re-syncs its watches. Thread-safe, cheap.
  void Refresh();
  // Reads every event queued so far (ManagedFiles::Touch), so that QuietSince answers for
  // every change made before the call: a write's event is queued before the write returns.
  // Thread-safe; one read(2) when nothing is queued.
  void Drain();

 private:
  class Loop;
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
};

}  // namespace plumb::target::local
