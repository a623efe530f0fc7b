// engine: the operator's own state in STATE_DIR/engine.db (SQLite, WAL): applications
// (spec and last status), the history of reconciles, and events. Git stays the source
// of truth; this is a cache plus a log. Every write is its own transaction, so a
// kill -9 at any point loses nothing already recorded.
//
// Thread-safety: all methods may be called from any thread (one connection, locked).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "engine/application.h"
#include "resource/value.h"

namespace plumb::engine {

struct HistoryRow {
  int64_t id = 0;
  std::string app;
  std::string revision;  // commit id
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  std::string trigger;      // interval | webhook | drift | user | startup | rollback
  std::string result;       // Running | Succeeded | Failed | Interrupted
  resource::Value changes;  // list of {kind, name, namespace, group, change, message}
  // When not empty: the changes as JSON text, written instead of `changes` (a cold sync's
  // 100,000 changes need no tree to be recorded). Reads fill `changes`, never this.
  std::string changes_json;
  // When set, instead of both: gives the changes' JSON text piece by piece to the sink it
  // is passed (UpdateHistory calls it twice, to measure and to write; the same text each
  // time), so a cold sync's 16 MB of it are never made whole. The second call runs under
  // the store's lock: it must not call the store, and it holds the other Applications'
  // status writes while it runs (as long as the first call takes).
  std::function<Status(const std::function<Status(std::string_view)>&)> write_changes;
  std::string message;  // error, or a summary
  std::string commit_author;
  std::string commit_message;  // summary line
  std::string initiator;       // who asked (user-triggered syncs and rollbacks)

  resource::Value ToValue() const;
};

struct Event {
  int64_t id = 0;
  int64_t time_ms = 0;
  std::string app;
  std::string type = "Normal";  // Normal | Warning
  std::string reason;           // PascalCase: SyncSucceeded, SyncFailed, DriftDetected, ...
  std::string message;

  resource::Value ToValue() const;
};

struct StoredApp {
  AppSpec spec;
  AppStatus status;
};

class Store {
 public:
  // Opens or creates STATE_DIR/engine.db. Rows left "Running" by a crash become
  // "Interrupted".
  static Result<std::unique_ptr<Store>> Open(const std::string& state_dir,
                                             size_t event_retention = 10000);
  ~Store();
  // Lowers SQLite's limit on one value's bytes (1 GB by default), as tests of what is
  // too large need.
  void SetMaxValueBytes(int bytes);

  Status PutApp(const AppSpec& spec);
  // Saves the Application's status. The summary (sync, health, commits, times, stages,
  // conditions) is written on every call; the per-resource list only when it is not the
  // list this store last wrote or read for `app` (ResourceStatusList::SameAs): rewriting
  // 10,000 unchanged rows was a fifth of a no-op reconcile. The list has its own table
  // (a summary update does not rewrite it), written in one transaction with the summary.
  Status PutStatus(const std::string& app, const AppStatus& status);
  Status DeleteApp(const std::string& app);
  // Every Application with its last saved status (summary and per-resource list).
  Result<std::vector<StoredApp>> ListApps();

  // Inserts a row and returns its id.
  Result<int64_t> AddHistory(const HistoryRow& row);
  // A change list longer than SQLite keeps in one value is left out (the row says so).
  Status UpdateHistory(const HistoryRow& row);
  // Newest first. `limit` 0 = all.
  Result<std::vector<HistoryRow>> History(const std::string& app, size_t limit = 0);
  Result<HistoryRow> GetHistory(const std::string& app, int64_t id);

  Result<int64_t> AddEvent(const Event& e);
  // The id of the newest event (0 when none).
  Result<int64_t> LastEventId();
  // Events with id > after_id, oldest first, at most `limit`; `app` "" = all.
  Result<std::vector<Event>> Events(const std::string& app, int64_t after_id, size_t limit);

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace plumb::engine
