// target/local: the embedded runtime that makes one host match git with nothing else
// installed. Kinds in group local.plumbline.dev (v1):
//   File      spec.path, spec.content | spec.fromConfigMap {name, key} |
//             spec.fromSecret {name, key}, spec.mode ("0644" or a number; 0600 by
//             default for content from a Secret). Written atomically, only under
//             --allow-path dirs; a relative path resolves under the Application's local root.
//   ConfigMap data: key/values (strings), consumed by File and Process/Job.
//   Secret    data (base64) / stringData: like a ConfigMap for Process/Job; its values
//             never appear in logs, diffs, status or API answers.
//   Process   supervised replicas with probes and rolling updates (supervisor.h).
//   Job       a command run to completion with retries (supervisor.h).
// Live objects and the inventory live in STATE_DIR/local.db (SQLite, WAL). With a
// secret_key, a Secret's row is AES-256-GCM encrypted (row_cipher.h) and its hash column
// keyed; a row that does not decrypt is unknown live state that the next apply rewrites.
// Drift: inotify on the directories of managed files, plus a periodic rescan; a file
// whose stat still shows what the runtime wrote is not read again, and one with no
// inotify event since a stat confirmed it is not even stat-ed (UnchangedSinceApplied).
// Files are written through FileWriter (file_writer.h); Flush() fsyncs a few written
// files one by one, or syncs the file system after many.
//
// File details the engine and users can rely on:
//   - Expected(): spec.path absolute and normalised; spec.content a string (fromConfigMap
//     resolved from a local.plumbline.dev ConfigMap of the same namespace in ctx.desired);
//     with fromSecret (a Secret of the same namespace in ctx.desired) the body keeps
//     spec.fromSecret, spec.content is resource::kMaskedValue and spec.contentHash a keyed
//     digest of the value: the value is in no body, diff, status or row, and a changed
//     value changes the body (Observe shows a File on disk the same way);
//     spec.mode "0NNN", permission bits only (setuid/setgid/sticky are refused). Unknown
//     spec fields are InvalidArgument naming the field.
//   - --allow-path: the path must lie strictly below an allowed directory, and the real
//     path of its deepest existing parent must too (a symlinked directory leading out is
//     PermissionDenied). No --allow-path at all: every File is PermissionDenied.
//   - Apply never writes through a symlink at the path (the link itself is replaced by an
//     atomic rename); a directory at the path is FailedPrecondition. A path already
//     managed by another object (any Application) is AlreadyExists. When a File's path
//     changes, the old file is removed. An unchanged File costs no write (and keeps its
//     inventory order).
//   - Observe() reads the path recorded in the inventory (or, before the first apply, the
//     path the desired set gives). A directory/symlink there shows as spec.type instead of
//     content, so it differs from Expected(). A file not in this Application's inventory
//     shows without metadata, so it differs too: the plan applies it and the inventory
//     then owns it (adoption), even when it already held the desired content.
//   - Inventory rows are written in batches (committed by Flush() and every 2,000 rows),
//     not one SQLite commit per object. After a kill -9 the rows of the last batch may be
//     missing while their files exist: the next reconcile adopts them (above). A Process
//     or Job row is committed before its replicas start.
//   - Remove() deletes only what this Application's inventory records, and refuses paths
//     no longer allowed; a file already gone counts as deleted.
//   - Drift callbacks come from the target's watcher thread, once per new drifted state;
//     the runtime's own writes are never reported.
// Thread-safety: every method may be called from any thread; calls are serialised.
#pragma once

#include <functional>
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
  bool durable = true;                         // Flush() fsyncs / calls syncfs
  // Running kinds (Process, Job): see supervisor.h.
  std::string shim_exe;                               // "" = this program
  Duration supervise_interval = Duration(1000);       // replica status check period
  Duration restart_backoff = Duration(10000);         // first restart delay, doubling...
  Duration restart_backoff_max = Duration(300000);    // ...up to this
  Duration restart_backoff_reset = Duration(600000);  // a run this long resets it
  int64_t log_max_bytes = 10 << 20;                   // per replica log file before rotation
  int log_files = 3;                                  // rotated files kept
  // 32 raw bytes that encrypt the Secret rows of local.db (the operator derives them from
  // its own key material). Empty: Secret data is stored unencrypted, with a warning logged
  // once. Another key than the one the rows were written with makes them unknown live
  // state (rewritten by the next apply), never an error.
  std::string secret_key;
  // Instead of secret_key: where the key comes from, called once when a Secret row is
  // first sealed or opened (it may block; see RowCipher::Deferred).
  std::function<std::string()> secret_key_source;
  // Fault injection for crash tests (PLUMB_FAULT "crash-after-applies:N", as the engine
  // reads it): after N Apply calls the files queued so far are written (into their staging
  // directories, not made visible) and the process is killed with SIGKILL, so that a kill
  // -9 in the middle of a sync always finds some files written. 0: off.
  int64_t crash_after_applies = 0;
};

// Opens (creating) local.db. Errors name the file; a secret_key of another length than
// 32 bytes is InvalidArgument.
Result<std::unique_ptr<Target>> NewLocalTarget(const LocalOptions& options);

}  // namespace plumb::target::local
