#include "target/local/store.h"

#include <sqlite3.h>

#include <utility>

namespace plumb::target::local {
namespace {

// Uses a cached prepared statement; resets it when it goes out of scope.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Stmt() {
    if (stmt_) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return stmt_ != nullptr; }
  sqlite3_stmt* get() { return stmt_; }
  void Bind(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  std::string Text(int col) {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : "";
  }

 private:
  sqlite3_stmt* stmt_;
};

ObjectRow ReadRow(Stmt& s) {
  ObjectRow row;
  row.app = s.Text(0);
  row.key = s.Text(1);
  row.body_json = s.Text(2);
  row.hash = s.Text(3);
  row.order = sqlite3_column_int64(s.get(), 4);
  row.updated_ms = sqlite3_column_int64(s.get(), 5);
  return row;
}

constexpr const char* kColumns = "app, key, body_json, hash, \"order\", updated_ms";

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Unavailable("open " + path + ": " + msg);
  }
  std::unique_ptr<Store> store(new Store(db, path));
  sqlite3_busy_timeout(db, 5000);
  RETURN_IF_ERROR(store->Exec("PRAGMA journal_mode=WAL"));
  // WAL + NORMAL survives a crash of the process (kill -9); power loss is covered by the
  // batched syncfs in Flush().
  RETURN_IF_ERROR(store->Exec("PRAGMA synchronous=NORMAL"));
  // Overwritten and deleted rows are zeroed, so an old Secret row leaves nothing behind
  // in free pages.
  RETURN_IF_ERROR(store->Exec("PRAGMA secure_delete=ON"));
  RETURN_IF_ERROR(store->Exec(
      "CREATE TABLE IF NOT EXISTS objects ("
      " app TEXT NOT NULL, key TEXT NOT NULL, body_json TEXT NOT NULL, hash TEXT NOT NULL,"
      " \"order\" INTEGER NOT NULL, updated_ms INTEGER NOT NULL, PRIMARY KEY (app, key))"));
  // ListInventory reads this index alone, in order, without the rows' bodies.
  RETURN_IF_ERROR(store->Exec(
      "CREATE INDEX IF NOT EXISTS objects_inventory ON objects (app, \"order\", key, hash)"));
  return store;
}

Store::~Store() {
  (void)Commit();
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

sqlite3_stmt* Store::Prepare(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) return nullptr;
  statements_.emplace(sql, stmt);
  return stmt;
}

Status Store::Error(const std::string& what) const {
  int rc = sqlite3_errcode(db_);
  std::string msg = what + " " + path_ + ": " + sqlite3_errmsg(db_);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return Unavailable(msg);
  return Internal(msg);
}

Status Store::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Unavailable("sqlite " + path_ + ": " + msg);
  }
  return Status::Ok();
}

Result<std::optional<ObjectRow>> Store::Get(const std::string& app, const std::string& key) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM objects WHERE app=? AND key=?";
  Stmt s(Prepare(sql));
  if (!s.ok()) return Error("prepare");
  s.Bind(1, app);
  s.Bind(2, key);
  int rc = sqlite3_step(s.get());
  if (rc == SQLITE_ROW) return std::optional<ObjectRow>(ReadRow(s));
  if (rc == SQLITE_DONE) return std::optional<ObjectRow>();
  return Error("read");
}

Status Store::BeginWrite() {
  if (in_batch_ && batch_rows_ >= kBatchRows) RETURN_IF_ERROR(Commit());
  if (!in_batch_) {
    RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    in_batch_ = true;
    batch_rows_ = 0;
  }
  ++batch_rows_;
  return Status::Ok();
}

Status Store::Commit() {
  if (!in_batch_) return Status::Ok();
  Status s = Exec("COMMIT");
  // A busy database keeps the transaction open, so the next Commit() retries it; other
  // errors end it (SQLite rolled it back).
  if (s.ok() || sqlite3_get_autocommit(db_)) {
    in_batch_ = false;
    batch_rows_ = 0;
  }
  return s;
}

Status Store::Put(const ObjectRow& row) {
  RETURN_IF_ERROR(BeginWrite());
  std::string sql =
      std::string("INSERT OR REPLACE INTO objects (") + kColumns + ") VALUES (?, ?, ?, ?, ?, ?)";
  Stmt s(Prepare(sql));
  if (!s.ok()) return Error("prepare");
  s.Bind(1, row.app);
  s.Bind(2, row.key);
  s.Bind(3, row.body_json);
  s.Bind(4, row.hash);
  s.Bind(5, row.order);
  s.Bind(6, row.updated_ms);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return Error("write");
  return Status::Ok();
}

Status Store::Delete(const std::string& app, const std::string& key) {
  RETURN_IF_ERROR(BeginWrite());
  Stmt s(Prepare("DELETE FROM objects WHERE app=? AND key=?"));
  if (!s.ok()) return Error("prepare");
  s.Bind(1, app);
  s.Bind(2, key);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return Error("delete from");
  return Status::Ok();
}

Result<std::vector<ObjectRow>> Store::List(const std::optional<std::string>& app) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM objects" +
                    (app ? " WHERE app=?" : "") + " ORDER BY app, \"order\", key";
  Stmt s(Prepare(sql));
  if (!s.ok()) return Error("prepare");
  if (app) s.Bind(1, *app);
  std::vector<ObjectRow> rows;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) rows.push_back(ReadRow(s));
  if (rc != SQLITE_DONE) return Error("read");
  return rows;
}

Result<std::vector<ObjectRow>> Store::ListInventory(const std::string& app) {
  Stmt s(
      Prepare("SELECT app, key, '', hash, \"order\", 0 FROM objects WHERE app=?"
              " ORDER BY app, \"order\", key"));
  if (!s.ok()) return Error("prepare");
  s.Bind(1, app);
  std::vector<ObjectRow> rows;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) rows.push_back(ReadRow(s));
  if (rc != SQLITE_DONE) return Error("read");
  return rows;
}

Result<int64_t> Store::MaxOrder() {
  Stmt s(Prepare("SELECT COALESCE(MAX(\"order\"), 0) FROM objects"));
  if (!s.ok()) return Error("prepare");
  if (sqlite3_step(s.get()) != SQLITE_ROW) return Error("read");
  return static_cast<int64_t>(sqlite3_column_int64(s.get(), 0));
}

Status Store::Checkpoint() {
  RETURN_IF_ERROR(Commit());
  return Exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

}  // namespace plumb::target::local
