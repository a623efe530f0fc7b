// target/local internal: local.db, the runtime's live objects and inventory. One row per
// (app, object key) holding the body last applied (JSON), its canonical hash and the apply
// order. Writes are batched: Put and Delete open a transaction that Commit() ends (and
// that commits by itself every kBatchRows writes), so a cold sync of N objects costs a
// few commits instead of N (each commit appends WAL frames and, every 1000 pages, a
// checkpoint with two fsyncs). Reads on this connection see uncommitted writes. Every
// write of the open batch is also appended to a journal beside the database
// (local.db.pending; one write(2), no fsync: it is there for a kill -9 of the process, and
// the page cache outlives the process); Open() replays what a killed process left there,
// so a row recorded before the kill is never lost, and Commit() empties it. A write may
// also be journaled later (Put's `defer_journal`: the row of a file nobody sees yet): it
// is held until FlushJournal(), the next journaled write or a failed Commit(), so the rows
// of a whole staging directory cost one write(2). Power loss is covered as before:
// Flush() commits, then syncs the file systems.
// Not thread-safe: LocalTarget serialises access under its mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace plumb::target::local {

struct ObjectRow {
  std::string app;
  std::string key;        // ResourceId::Key()
  std::string body_json;  // ToJson(Expected body)
  std::string hash;       // CanonicalHash(Expected body)
  int64_t order = 0;
  int64_t updated_ms = 0;
};

class Store {
 public:
  // Opens (creating) the database at `path` in WAL mode with a busy timeout, and replays
  // the journal a killed process left. One writer per database (one operator per state
  // directory); another Store may read only what was committed. Errors name the
  // file.
  static Result<std::unique_ptr<Store>> Open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  Result<std::optional<ObjectRow>> Get(const std::string& app, const std::string& key);
  // Insert or replace, in the open batch. `defer_journal`: its journal record waits for
  // FlushJournal() (or the next write journaled at once, or Commit()), for a row whose
  // object nobody can see before the caller calls FlushJournal().
  Status Put(const ObjectRow& row, bool defer_journal = false);
  Status Delete(const std::string& app, const std::string& key);  // in the open batch
  // Commits the open batch, if any. The destructor commits too.
  Status Commit();
  // Appends the deferred journal records (see Put) in one write; Ok at once when none.
  Status FlushJournal();
  // Rows of one app by order, or of every app (app = nullopt).
  Result<std::vector<ObjectRow>> List(const std::optional<std::string>& app);
  // The rows List() gives, one at a time, without holding them all (after a restart with
  // 100,000 Files their bodies were 100 MB at once). `fn`'s error stops the walk and is
  // returned. `fn` must not write to the store (the read is still open).
  Status ForEach(const std::optional<std::string>& app,
                 const std::function<Status(ObjectRow&&)>& fn);
  // The rows of one app by order without their bodies (body_json empty, updated_ms 0): an
  // inventory, read from an index.
  Result<std::vector<ObjectRow>> ListInventory(const std::string& app);
  Result<int64_t> MaxOrder();
  // Copies the WAL into the database and truncates it (PRAGMA wal_checkpoint(TRUNCATE)).
  Status Checkpoint();
  const std::string& path() const { return path_; }

 private:
  Store(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  // Applies and commits what the journal holds (a killed process's open batch), then
  // opens it for appending, empty.
  Status OpenJournal();
  // Appends one write of the open batch to the journal, after the deferred ones
  // (`defer`: only to those).
  Status Journal(const std::string& record, bool defer = false);
  Status Exec(const char* sql);
  Status Error(const std::string& what) const;
  // A prepared statement for `sql`, cached for the life of the connection; nullptr on
  // error (see Error()).
  sqlite3_stmt* Prepare(const std::string& sql);
  // Opens a batch when none is open; commits the open one once it holds kBatchRows.
  Status BeginWrite();

  static constexpr int kBatchRows = 2000;
  sqlite3_stmt* put_ = nullptr;  // Put's statement, prepared once (owned by statements_)
  sqlite3* db_;
  bool in_batch_ = false;
  int batch_rows_ = 0;
  int journal_fd_ = -1;
  std::string deferred_;  // journal records not written yet (Put's defer_journal)
  std::string path_;
  std::map<std::string, sqlite3_stmt*> statements_;
};

}  // namespace plumb::target::local
