#include "target/local/store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/fs.h"
#include "core/sqlite_file.h"

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

// Journal records: 'P' (put) or 'D' (delete), then each field as <decimal length>:<bytes>,
// then '\n'. A record cut short by the kill ends the replay.
void AppendField(std::string* out, const std::string& field) {
  out->append(std::to_string(field.size()));
  out->push_back(':');
  out->append(field);
}

bool ReadField(const std::string& in, size_t* pos, std::string* field) {
  size_t colon = in.find(':', *pos);
  if (colon == std::string::npos || colon == *pos || colon - *pos > 12) return false;
  size_t n = 0;
  for (size_t i = *pos; i < colon; ++i) {
    if (in[i] < '0' || in[i] > '9') return false;
    n = n * 10 + static_cast<size_t>(in[i] - '0');
  }
  if (n > in.size() - colon - 1) return false;
  *field = in.substr(colon + 1, n);
  *pos = colon + 1 + n;
  return true;
}

bool ParseInt(const std::string& s, int64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  int64_t v = 0;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = s[0] == '-' ? -v : v;
  return true;
}

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS objects ("
    " app TEXT NOT NULL, key TEXT NOT NULL, body_json TEXT NOT NULL, hash TEXT NOT NULL,"
    " \"order\" INTEGER NOT NULL, updated_ms INTEGER NOT NULL, PRIMARY KEY (app, key));"
    // ListInventory reads this index alone, in order, without the rows' bodies.
    "CREATE INDEX IF NOT EXISTS objects_inventory ON objects (app, \"order\", key, hash);";

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  if (!fs::Exists(path)) RETURN_IF_ERROR(sqlite::CreateDatabase(path, kSchema));
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
  RETURN_IF_ERROR(store->Exec(kSchema));  // a database of an older binary: what it lacks
  RETURN_IF_ERROR(store->OpenJournal());
  return store;
}

Store::~Store() {
  (void)Commit();
  if (journal_fd_ >= 0) ::close(journal_fd_);
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

Status Store::OpenJournal() {
  const std::string journal = path_ + ".pending";
  if (fs::Exists(journal)) {
    ASSIGN_OR_RETURN(std::string data, fs::ReadFile(journal));
    size_t pos = 0;
    while (pos < data.size()) {
      const char op = data[pos];
      size_t p = pos + 1;
      ObjectRow row;
      std::string order, updated;
      bool ok = (op == 'P' || op == 'D') && ReadField(data, &p, &row.app) &&
                ReadField(data, &p, &row.key);
      if (ok && op == 'P')
        ok = ReadField(data, &p, &row.body_json) && ReadField(data, &p, &row.hash) &&
             ReadField(data, &p, &order) && ReadField(data, &p, &updated) &&
             ParseInt(order, &row.order) && ParseInt(updated, &row.updated_ms);
      if (!ok || p >= data.size() || data[p] != '\n') break;  // cut short by the kill
      pos = p + 1;
      RETURN_IF_ERROR(op == 'P' ? Put(row) : Delete(row.app, row.key));
    }
    RETURN_IF_ERROR(Commit());  // empties the journal (opened below) too
  }
  journal_fd_ = ::open(journal.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (journal_fd_ < 0) return Unavailable("open " + journal + ": " + std::strerror(errno));
  if (::ftruncate(journal_fd_, 0) != 0)
    return Unavailable("truncate " + journal + ": " + std::strerror(errno));
  return Status::Ok();
}

Status Store::Journal(const std::string& record, bool defer) {
  if (journal_fd_ < 0) return Status::Ok();  // replaying the journal itself
  deferred_ += record;  // in order: a later record never goes before an earlier one
  return defer ? Status::Ok() : FlushJournal();
}

Status Store::FlushJournal() {
  if (journal_fd_ < 0 || deferred_.empty()) return Status::Ok();
  size_t done = 0;
  while (done < deferred_.size()) {
    ssize_t n = ::write(journal_fd_, deferred_.data() + done, deferred_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // What was written stays written; the rest is tried again by the next flush (a
      // record cut short here ends a replay, as one cut short by a kill does).
      deferred_.erase(0, done);
      return Unavailable("write " + path_ + ".pending: " + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  deferred_.clear();
  return Status::Ok();
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
  // Committed: the journal's records are in the database now, the deferred ones too. (A
  // rolled-back batch keeps them: the next start replays them.)
  if (!s.ok()) {
    if (sqlite3_get_autocommit(db_)) (void)FlushJournal();
    return s;
  }
  std::string().swap(deferred_);
  if (journal_fd_ >= 0 && ::ftruncate(journal_fd_, 0) != 0)
    return Unavailable("truncate " + path_ + ".pending: " + std::strerror(errno));
  return s;
}

Status Store::Put(const ObjectRow& row, bool defer_journal) {
  RETURN_IF_ERROR(BeginWrite());
  if (!put_) {
    put_ = Prepare(std::string("INSERT OR REPLACE INTO objects (") + kColumns +
                   ") VALUES (?, ?, ?, ?, ?, ?)");
  }
  Stmt s(put_);
  if (!s.ok()) return Error("prepare");
  s.Bind(1, row.app);
  s.Bind(2, row.key);
  s.Bind(3, row.body_json);
  s.Bind(4, row.hash);
  s.Bind(5, row.order);
  s.Bind(6, row.updated_ms);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return Error("write");
  // Journaled once the batch holds it: a failed write is never replayed.
  if (journal_fd_ >= 0) {
    std::string record;
    record.reserve(row.app.size() + row.key.size() + row.body_json.size() + row.hash.size() + 64);
    record.push_back('P');
    AppendField(&record, row.app);
    AppendField(&record, row.key);
    AppendField(&record, row.body_json);
    AppendField(&record, row.hash);
    AppendField(&record, std::to_string(row.order));
    AppendField(&record, std::to_string(row.updated_ms));
    record.push_back('\n');
    RETURN_IF_ERROR(Journal(record, defer_journal));
  }
  return Status::Ok();
}

Status Store::Delete(const std::string& app, const std::string& key) {
  RETURN_IF_ERROR(BeginWrite());
  Stmt s(Prepare("DELETE FROM objects WHERE app=? AND key=?"));
  if (!s.ok()) return Error("prepare");
  s.Bind(1, app);
  s.Bind(2, key);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return Error("delete from");
  if (journal_fd_ >= 0) {
    std::string record = "D";
    AppendField(&record, app);
    AppendField(&record, key);
    record.push_back('\n');
    RETURN_IF_ERROR(Journal(record));
  }
  return Status::Ok();
}

Result<std::vector<ObjectRow>> Store::List(const std::optional<std::string>& app) {
  std::vector<ObjectRow> rows;
  RETURN_IF_ERROR(ForEach(app, [&rows](ObjectRow&& row) {
    rows.push_back(std::move(row));
    return Status::Ok();
  }));
  return rows;
}

Status Store::ForEach(const std::optional<std::string>& app,
                      const std::function<Status(ObjectRow&&)>& fn) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM objects" +
                    (app ? " WHERE app=?" : "") + " ORDER BY app, \"order\", key";
  Stmt s(Prepare(sql));
  if (!s.ok()) return Error("prepare");
  if (app) s.Bind(1, *app);
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) RETURN_IF_ERROR(fn(ReadRow(s)));
  if (rc != SQLITE_DONE) return Error("read");
  return Status::Ok();
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
