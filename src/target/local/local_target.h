// target/local: the embedded runtime that makes one host match git with nothing else
// installed. Kinds in group local.plumbline.dev (v1):
//   File      spec.path, spec.content | spec.fromConfigMap {name, key}, spec.mode
//             ("0644" or a number). Written atomically, only under --allow-path dirs;
//             a relative path resolves under the Application's local root.
//   ConfigMap data: key/values (strings), consumed by File (and later Process).
// Live objects and the inventory live in STATE_DIR/local.db (SQLite, WAL).
// Drift: inotify on the directories of managed files, plus a periodic rescan.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "target/target.h"

namespace plumb::target::local {

inline constexpr const char* kGroup = "local.plumbline.dev";

struct LocalOptions {
  std::string state_dir;                       // local.db lives here
  std::vector<std::string> allow_paths;        // absolute; no File is written elsewhere
  Duration rescan_interval = Duration(30000);  // safety net besides inotify
  bool durable = true;                         // Flush() calls syncfs
};

// Opens (creating) local.db. Errors name the file.
Result<std::unique_ptr<Target>> NewLocalTarget(const LocalOptions& options);

}  // namespace plumb::target::local
