// core: a new SQLite database made whole, for the modules that own one (engine.db,
// local.db). A separate library (plumb_sqlite): only those modules link SQLite.
#pragma once

#include <string>

#include "core/status.h"

namespace plumb::sqlite {

// Creates the SQLite database `path` in WAL mode holding what `schema` (SQL statements,
// run in one transaction) makes, whole or not at all (fs::CreateWhole): it is built at a
// temp name with no sync per statement (a first start made 6 fdatasyncs per database),
// then synced once and renamed into place; an existing `path` is kept. Errors name the
// temp file and SQLite's message.
Status CreateDatabase(const std::string& path, const std::string& schema);

}  // namespace plumb::sqlite
