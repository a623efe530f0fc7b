#include "core/sqlite_file.h"

#include <sqlite3.h>

#include "core/fs.h"

namespace plumb::sqlite {

Status CreateDatabase(const std::string& path, const std::string& schema) {
  return fs::CreateWhole(path, [&schema](const std::string& tmp) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(tmp.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    Status s =
        rc == SQLITE_OK
            ? Status::Ok()
            : Unavailable("create " + tmp + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    const std::string sql =
        "PRAGMA synchronous=OFF; PRAGMA journal_mode=WAL; BEGIN;" + schema + ";COMMIT;";
    char* err = nullptr;
    if (s.ok() && sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      s = Unavailable("sqlite " + tmp + ": " + (err ? err : "unknown error"));
      sqlite3_free(err);
    }
    // Closing checkpoints the WAL into the file and removes it.
    if (sqlite3_close(db) != SQLITE_OK && s.ok()) s = Unavailable("close " + tmp);
    return s;
  });
}

}  // namespace plumb::sqlite
