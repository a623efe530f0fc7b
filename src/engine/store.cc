#include "engine/store.h"

#include <sqlite3.h>

#include <algorithm>
#include <climits>
#include <functional>
#include <map>
#include <mutex>

#include "core/clock.h"
#include "core/fs.h"
#include "core/sqlite_file.h"
#include "resource/codec.h"

namespace plumb::engine {
using resource::Value;

namespace {
const char* kTables = R"sql(
CREATE TABLE IF NOT EXISTS apps(name TEXT PRIMARY KEY, spec TEXT NOT NULL, status TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS app_resources(name TEXT PRIMARY KEY, resources TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS history(id INTEGER PRIMARY KEY AUTOINCREMENT, app TEXT NOT NULL,
  revision TEXT, started_ms INTEGER, finished_ms INTEGER, trigger TEXT, result TEXT,
  changes TEXT, message TEXT, commit_author TEXT, commit_message TEXT, initiator TEXT);
CREATE INDEX IF NOT EXISTS history_app ON history(app, id);
CREATE TABLE IF NOT EXISTS history_changes(id INTEGER PRIMARY KEY, changes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER,
  app TEXT, type TEXT, reason TEXT, message TEXT);
CREATE INDEX IF NOT EXISTS events_app ON events(app, id);
)sql";

// engine.db's format, in PRAGMA user_version. A store opened by a binary of an older format
// says so and stops, instead of reading what it does not understand as nothing (an empty
// list of Applications, then a history that starts again). Raise it when what older
// binaries would misread changes; 0 is a database from before the number was kept.
//   2: a finished history row's changes are in history_changes (a binary before it read
//      them as none).
constexpr int64_t kFormat = 2;

// A prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  bool Null(int i) { return sqlite3_column_type(s_, i) == SQLITE_NULL; }
  Stmt& Bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // Binds without a copy: `v` must stay unchanged until the statement is done (for the
  // large texts: a per-resource list, a history row's changes).
  Stmt& BindStatic(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  int Step() { return sqlite3_step(s_); }
  std::string Text(int i) {
    const unsigned char* t = sqlite3_column_text(s_, i);
    return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(s_, i)) : "";
  }
  int64_t Int(int i) { return sqlite3_column_int64(s_, i); }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

Value ParseOrNull(const std::string& text) {
  if (text.empty()) return Value();
  // What this store wrote, whatever its size: the per-resource list and the changes of a
  // sync of 100,000 resources pass the 16 MiB limit meant for untrusted input.
  resource::ParseLimits limits;
  limits.max_bytes = std::max(limits.max_bytes, text.size());
  auto v = resource::ParseJson(text, "engine.db", limits);
  return v.ok() ? *v : Value();
}
}  // namespace

struct Store::Impl {
  sqlite3* db = nullptr;
  std::mutex mu;
  size_t event_retention;
  std::string path;
  // Per Application: the resource list its row holds (GUARDED_BY(mu)).
  std::map<std::string, ResourceStatusList> stored_resources;

  ~Impl() {
    if (db) sqlite3_close(db);
  }
  Status Error(const std::string& what) {
    return Unavailable(path + ": " + what + ": " + sqlite3_errmsg(db));
  }
  Status Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string m = err ? err : "unknown";
      sqlite3_free(err);
      return Unavailable(path + ": " + m);
    }
    return Status::Ok();
  }
  // Runs `body` in one transaction: all of its writes or none.
  template <typename Body>
  Status Transaction(Body body) {
    RETURN_IF_ERROR(Exec("BEGIN"));
    Status s = body();
    if (!s.ok()) {
      (void)Exec("ROLLBACK");
      return s;
    }
    // A COMMIT that fails (SQLITE_BUSY, a full disk) leaves the transaction open: roll it
    // back, or every later statement would run inside it and never be committed.
    Status committed = Exec("COMMIT");
    if (!committed.ok()) (void)Exec("ROLLBACK");
    return committed;
  }
  // Writes a text of `size` bytes, which `write` gives piece by piece to the sink it is
  // passed, into column `column` of row `rowid` of `table`, which holds zeroblob(size):
  // a large text (a per-resource list, a history row's changes: 16-17 MB each after a
  // sync of 100,000 resources) is copied by SQLite a page at a time, not whole. The
  // caller runs it in the transaction that wrote the zeroblob. Read back, the blob is the
  // same text.
  Status WriteBlob(
      const char* table, const char* column, int64_t rowid, size_t size,
      const std::function<Status(const std::function<Status(std::string_view)>&)>& write,
      const std::string& what) {
    sqlite3_blob* blob = nullptr;
    if (sqlite3_blob_open(db, "main", table, column, rowid, 1, &blob) != SQLITE_OK) {
      Status s = Error(what);
      sqlite3_blob_close(blob);
      return s;
    }
    size_t at = 0;
    Status written = write([&](std::string_view piece) -> Status {
      if (at + piece.size() > size ||
          sqlite3_blob_write(blob, piece.data(), static_cast<int>(piece.size()),
                             static_cast<int>(at)) != SQLITE_OK)
        return Error(what);
      at += piece.size();
      return Status::Ok();
    });
    if (written.ok() && at != size) written = Error(what);
    if (sqlite3_blob_close(blob) != SQLITE_OK && written.ok()) written = Error(what);
    return written;
  }
  Status Done(Stmt& st, const std::string& what) {
    if (!st.ok()) return Error("prepare " + what);
    int rc = st.Step();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return Error(what);
    return Status::Ok();
  }
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::Open(const std::string& state_dir, size_t event_retention) {
  auto impl = std::make_unique<Impl>();
  impl->path = state_dir + "/engine.db";
  impl->event_retention = event_retention;
  // A first start builds it whole (sqlite::CreateDatabase), in this binary's format.
  if (!fs::Exists(impl->path))
    RETURN_IF_ERROR(sqlite::CreateDatabase(
        impl->path, std::string(kTables) + "PRAGMA user_version=" + std::to_string(kFormat)));
  if (sqlite3_open_v2(impl->path.c_str(), &impl->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK)
    return impl->Error("open");
  sqlite3_busy_timeout(impl->db, 5000);
  int64_t found = 0;
  {
    Stmt version(impl->db, "PRAGMA user_version");
    if (!version.ok() || version.Step() != SQLITE_ROW) return impl->Error("read the format");
    found = version.Int(0);
    if (found > kFormat)
      return FailedPrecondition(impl->path + ": written by a newer plumb (engine.db format " +
                                std::to_string(found) + ", this binary reads up to " +
                                std::to_string(kFormat) +
                                "): run the newer binary, or start from a fresh --state-dir");
  }
  RETURN_IF_ERROR(impl->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"));
  RETURN_IF_ERROR(impl->Exec(kTables));  // a database of an older binary: what it lacks
  RETURN_IF_ERROR(impl->Exec("UPDATE history SET result='Interrupted' WHERE result='Running'"));
  if (found != kFormat)
    RETURN_IF_ERROR(impl->Exec(("PRAGMA user_version=" + std::to_string(kFormat)).c_str()));
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Status Store::PutApp(const AppSpec& spec) {
  std::lock_guard<std::mutex> l(impl_->mu);
  Stmt st(impl_->db,
          "INSERT INTO apps(name, spec) VALUES(?1, ?2) ON CONFLICT(name) DO UPDATE SET spec=?2");
  st.Bind(1, spec.name).Bind(2, resource::ToJson(spec.ToValue()));
  return impl_->Done(st, "save application " + spec.name);
}

Status Store::PutStatus(const std::string& app, const AppStatus& status) {
  std::string summary = resource::ToJson(status.SummaryToValue());
  std::lock_guard<std::mutex> l(impl_->mu);
  auto stored = impl_->stored_resources.find(app);
  if (stored != impl_->stored_resources.end() && stored->second.SameAs(status.resources)) {
    Stmt st(impl_->db, "UPDATE apps SET status=?2 WHERE name=?1");
    st.Bind(1, app).Bind(2, summary);
    return impl_->Done(st, "save status of " + app);
  }
  // Both rows or neither; the list only for an Application that has a row (PutApp).
  bool listed = false;
  RETURN_IF_ERROR(impl_->Transaction([&] {
    Stmt st(impl_->db, "UPDATE apps SET status=?2 WHERE name=?1");
    st.Bind(1, app).Bind(2, summary);
    RETURN_IF_ERROR(impl_->Done(st, "save status of " + app));
    if (sqlite3_changes(impl_->db) == 0) return Status::Ok();
    // The list's JSON goes in piece by piece, into a blob of its size (WriteBlob): its
    // text is never made whole, at what is after a cold sync the pass's largest moment.
    const size_t size = status.resources.JsonSize();
    if (size > static_cast<size_t>(INT_MAX))
      return Unavailable(impl_->path + ": resource status of " + app + " is too large");
    Stmt list(impl_->db,
              "INSERT OR REPLACE INTO app_resources(name, resources) VALUES(?1, zeroblob(?2))");
    list.Bind(1, app).Bind(2, static_cast<int64_t>(size));
    RETURN_IF_ERROR(impl_->Done(list, "save resource status of " + app));
    RETURN_IF_ERROR(impl_->WriteBlob(
        "app_resources", "resources", sqlite3_last_insert_rowid(impl_->db), size,
        [&](const auto& sink) { return status.resources.WriteJson(sink); },
        "save resource status of " + app));
    listed = true;
    return Status::Ok();
  }));
  if (listed) impl_->stored_resources[app] = status.resources;
  return Status::Ok();
}

Status Store::DeleteApp(const std::string& app) {
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->stored_resources.erase(app);
  return impl_->Transaction([&] {
    Stmt list(impl_->db, "DELETE FROM app_resources WHERE name=?1");
    list.Bind(1, app);
    RETURN_IF_ERROR(impl_->Done(list, "delete resource status of " + app));
    Stmt st(impl_->db, "DELETE FROM apps WHERE name=?1");
    st.Bind(1, app);
    return impl_->Done(st, "delete application " + app);
  });
}

Result<std::vector<StoredApp>> Store::ListApps() {
  std::lock_guard<std::mutex> l(impl_->mu);
  // An Application without an app_resources row was saved before that table existed:
  // its status holds the list.
  Stmt st(impl_->db,
          "SELECT apps.spec, apps.status, app_resources.resources FROM apps"
          " LEFT JOIN app_resources ON app_resources.name = apps.name ORDER BY apps.name");
  if (!st.ok()) return impl_->Error("list applications");
  std::vector<StoredApp> out;
  while (st.Step() == SQLITE_ROW) {
    auto spec = AppSpec::FromValue(ParseOrNull(st.Text(0)));
    if (!spec.ok()) continue;
    AppStatus status = AppStatus::FromValue(ParseOrNull(st.Text(1)));
    if (!st.Null(2)) {
      status.resources = ResourceStatusList::FromValue(ParseOrNull(st.Text(2)));
      impl_->stored_resources[spec->name] = status.resources;
    }
    out.push_back({std::move(*spec), std::move(status)});
  }
  return out;
}

namespace {
HistoryRow ReadHistory(Stmt& st) {
  HistoryRow r;
  r.id = st.Int(0);
  r.app = st.Text(1);
  r.revision = st.Text(2);
  r.started_ms = st.Int(3);
  r.finished_ms = st.Int(4);
  r.trigger = st.Text(5);
  r.result = st.Text(6);
  r.changes = ParseOrNull(st.Text(7));
  r.message = st.Text(8);
  r.commit_author = st.Text(9);
  r.commit_message = st.Text(10);
  r.initiator = st.Text(11);
  return r;
}
// A finished row's changes are in history_changes (see UpdateHistory); a row written
// before that table, or still running, holds its own.
const char* kHistoryCols =
    "history.id, app, revision, started_ms, finished_ms, trigger, result,"
    " COALESCE(history_changes.changes, history.changes), message, commit_author,"
    " commit_message, initiator FROM history LEFT JOIN history_changes"
    " ON history_changes.id = history.id";

// A history row's changes as JSON text, whichever way the row gives them.
std::string ChangesText(const HistoryRow& r) {
  if (!r.write_changes) return r.changes_json.empty() ? resource::ToJson(r.changes) : "";
  std::string out;
  (void)r.write_changes([&out](std::string_view piece) {
    out += piece;
    return Status::Ok();
  });
  return out;
}
}  // namespace

Result<int64_t> Store::AddHistory(const HistoryRow& r) {
  const std::string built = r.changes_json.empty() || r.write_changes ? ChangesText(r) : "";
  const std::string& changes =
      r.changes_json.empty() || r.write_changes ? built : r.changes_json;  // outlives `st`
  std::lock_guard<std::mutex> l(impl_->mu);
  Stmt st(impl_->db,
          "INSERT INTO history(app, revision, started_ms, finished_ms, trigger, result, changes,"
          " message, commit_author, commit_message, initiator)"
          " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)");
  st.Bind(1, r.app).Bind(2, r.revision).Bind(3, r.started_ms).Bind(4, r.finished_ms);
  st.Bind(5, r.trigger).Bind(6, r.result).BindStatic(7, changes);
  st.Bind(8, r.message).Bind(9, r.commit_author).Bind(10, r.commit_message).Bind(11, r.initiator);
  RETURN_IF_ERROR(impl_->Done(st, "record history"));
  return static_cast<int64_t>(sqlite3_last_insert_rowid(impl_->db));
}

void Store::SetMaxValueBytes(int bytes) {
  std::lock_guard<std::mutex> l(impl_->mu);
  sqlite3_limit(impl_->db, SQLITE_LIMIT_LENGTH, bytes);
}

Status Store::UpdateHistory(const HistoryRow& r) {
  // The changes go into a blob of their size a piece at a time (WriteBlob), in one
  // transaction with the rest of the row, in a table of their own: SQLite makes a
  // zeroblob real in memory (and the record around it) unless it is the last column of
  // its row, which history.changes is not.
  std::string built;
  std::function<Status(const std::function<Status(std::string_view)>&)> write = r.write_changes;
  if (!write) {
    const std::string* text = &r.changes_json;
    if (r.changes_json.empty()) {
      built = resource::ToJson(r.changes);
      text = &built;
    }
    write = [text](const std::function<Status(std::string_view)>& sink) -> Status {
      constexpr size_t kPiece = 64 << 10;
      for (size_t at = 0; at < text->size(); at += kPiece)
        RETURN_IF_ERROR(sink(std::string_view(*text).substr(at, kPiece)));
      return Status::Ok();
    };
  }
  size_t size = 0;
  (void)write([&size](std::string_view piece) {
    size += piece.size();
    return Status::Ok();
  });
  std::lock_guard<std::mutex> l(impl_->mu);
  // A change list larger than a SQLite value may be (1 GB by default: tens of millions of
  // resources) is left out, not the row: it still finishes, saying so, instead of staying
  // Running until a restart calls it Interrupted.
  std::string message = r.message;
  const size_t limit =
      std::min(static_cast<size_t>(INT_MAX),
               static_cast<size_t>(sqlite3_limit(impl_->db, SQLITE_LIMIT_LENGTH, -1)));
  if (size > limit) {
    message += std::string(message.empty() ? "" : "; ") + "the change list (" +
               std::to_string(size) + " bytes of JSON) is too large to keep and is left out";
    size = 2;
    write = [](const std::function<Status(std::string_view)>& sink) { return sink("[]"); };
  }
  return impl_->Transaction([&] {
    Stmt st(impl_->db,
            "UPDATE history SET revision=?2, finished_ms=?3, result=?4, changes=NULL,"
            " message=?5, commit_author=?6, commit_message=?7 WHERE id=?1");
    st.Bind(1, r.id).Bind(2, r.revision).Bind(3, r.finished_ms).Bind(4, r.result);
    st.Bind(5, message).Bind(6, r.commit_author).Bind(7, r.commit_message);
    RETURN_IF_ERROR(impl_->Done(st, "update history"));
    if (sqlite3_changes(impl_->db) == 0) return Status::Ok();
    Stmt put(impl_->db,
             "INSERT OR REPLACE INTO history_changes(id, changes) VALUES(?1, zeroblob(?2))");
    put.Bind(1, r.id).Bind(2, static_cast<int64_t>(size));
    RETURN_IF_ERROR(impl_->Done(put, "update history"));
    return impl_->WriteBlob("history_changes", "changes", r.id, size, write, "update history");
  });
}

Result<std::vector<HistoryRow>> Store::History(const std::string& app, size_t limit) {
  std::lock_guard<std::mutex> l(impl_->mu);
  std::string sql =
      std::string("SELECT ") + kHistoryCols + " WHERE app=?1 ORDER BY history.id DESC LIMIT ?2";
  Stmt st(impl_->db, sql.c_str());
  if (!st.ok()) return impl_->Error("read history");
  st.Bind(1, app).Bind(2, limit ? static_cast<int64_t>(limit) : int64_t{-1});
  std::vector<HistoryRow> out;
  while (st.Step() == SQLITE_ROW) out.push_back(ReadHistory(st));
  return out;
}

Result<HistoryRow> Store::GetHistory(const std::string& app, int64_t id) {
  std::lock_guard<std::mutex> l(impl_->mu);
  std::string sql = std::string("SELECT ") + kHistoryCols + " WHERE app=?1 AND history.id=?2";
  Stmt st(impl_->db, sql.c_str());
  if (!st.ok()) return impl_->Error("read history");
  st.Bind(1, app).Bind(2, id);
  if (st.Step() != SQLITE_ROW)
    return NotFound("no history entry " + std::to_string(id) + " for application " + app);
  return ReadHistory(st);
}

Result<int64_t> Store::AddEvent(const Event& e) {
  std::lock_guard<std::mutex> l(impl_->mu);
  Stmt st(impl_->db,
          "INSERT INTO events(time_ms, app, type, reason, message) VALUES(?1,?2,?3,?4,?5)");
  st.Bind(1, e.time_ms).Bind(2, e.app).Bind(3, e.type).Bind(4, e.reason).Bind(5, e.message);
  RETURN_IF_ERROR(impl_->Done(st, "record event"));
  int64_t id = sqlite3_last_insert_rowid(impl_->db);
  if (impl_->event_retention && id % 256 == 0) {
    Stmt prune(impl_->db, "DELETE FROM events WHERE id <= ?1");
    prune.Bind(1, id - static_cast<int64_t>(impl_->event_retention));
    (void)impl_->Done(prune, "prune events");
  }
  return id;
}

Result<int64_t> Store::LastEventId() {
  std::lock_guard<std::mutex> l(impl_->mu);
  Stmt st(impl_->db, "SELECT COALESCE(MAX(id), 0) FROM events");
  if (!st.ok() || st.Step() != SQLITE_ROW) return impl_->Error("read events");
  return st.Int(0);
}

Result<std::vector<Event>> Store::Events(const std::string& app, int64_t after_id, size_t limit) {
  std::lock_guard<std::mutex> l(impl_->mu);
  Stmt st(impl_->db,
          "SELECT id, time_ms, app, type, reason, message FROM events"
          " WHERE id > ?1 AND (?2 = '' OR app = ?2) ORDER BY id LIMIT ?3");
  if (!st.ok()) return impl_->Error("read events");
  st.Bind(1, after_id).Bind(2, app).Bind(3, static_cast<int64_t>(limit ? limit : 1000));
  std::vector<Event> out;
  while (st.Step() == SQLITE_ROW) {
    Event e;
    e.id = st.Int(0);
    e.time_ms = st.Int(1);
    e.app = st.Text(2);
    e.type = st.Text(3);
    e.reason = st.Text(4);
    e.message = st.Text(5);
    out.push_back(std::move(e));
  }
  return out;
}

Value HistoryRow::ToValue() const {
  Value v;
  v.Set("id", id);
  v.Set("app", app);
  v.Set("revision", revision);
  v.Set("startedAt", FormatTimeRfc3339(FromUnixMillis(started_ms)));
  v.Set("finishedAt", finished_ms ? FormatTimeRfc3339(FromUnixMillis(finished_ms)) : "");
  v.Set("durationMs", finished_ms ? finished_ms - started_ms : 0);
  v.Set("trigger", trigger);
  v.Set("result", result);
  v.Set("changes", changes.is_null() ? Value::EmptyArray() : changes);
  v.Set("message", message);
  v.Set("commitAuthor", commit_author);
  v.Set("commitMessage", commit_message);
  v.Set("initiator", initiator);
  return v;
}

Value Event::ToValue() const {
  Value v;
  v.Set("id", id);
  v.Set("time", FormatTimeRfc3339(FromUnixMillis(time_ms)));
  v.Set("app", app);
  v.Set("type", type);
  v.Set("reason", reason);
  v.Set("message", message);
  return v;
}

}  // namespace plumb::engine
