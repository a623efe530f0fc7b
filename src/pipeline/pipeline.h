// pipeline: environments and promotion between them. An environment is what an
// Application follows — (repo, branch, path) — so "staging" and "production" are either
// two branches of one repository (the seed's model: promotion is a git merge) or two
// directories on one branch (promotion is one commit copying the directory). A
// promotion is gated: the staging Application(s) must be Synced and Healthy at exactly
// the commit being promoted.
//
// Thread-safety: the functions may be called from any thread; they use the engine's
// thread-safe API and its repository cache (whose per-repository lock serialises the
// merge and push of concurrent promotions of one repository).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "engine/engine.h"
#include "resource/value.h"

namespace plumb::pipeline {

// The Applications that make up one environment, all on one repository and branch.
struct Environment {
  std::string name;  // as the user named it (an Application or a branch)
  std::string repo;
  std::string branch;
  std::string path;  // "." for the root; one path when every Application shares it
  std::vector<engine::AppView> apps;
};

// Finds the environment `name` among `apps`: the Application named `name`, else every
// Application following a branch called `name` (in `repo` when not empty). NotFound
// when neither exists (the message says how to list them); InvalidArgument when the
// branch's Applications follow several repositories.
Result<Environment> ResolveEnvironment(const std::vector<engine::AppView>& apps,
                                       const std::string& name, const std::string& repo = "");

// One Application's part of the promotion gate.
struct GateCheck {
  std::string app;
  std::string applied_commit;
  std::string head_commit;
  std::string sync;
  std::string health;
  bool passed = false;
  std::string reason;  // why it failed, or "Synced and Healthy at <commit>"
};

struct GateResult {
  bool passed = false;
  std::vector<GateCheck> checks;
  std::string Summary() const;  // one line per check
  resource::Value ToValue() const;
};

// The gate, a pure function of the Applications' status: each must have applied
// exactly `commit` (its last finished pass), be Synced and Healthy. No Applications:
// failed.
GateResult CheckGate(const std::vector<engine::AppView>& apps, const std::string& commit);

struct PromoteRequest {
  std::string from;    // the environment promoted from (staging)
  std::string to;      // the environment promoted into (production)
  std::string app;     // only this Application of `from` gates the promotion ("" = all)
  std::string commit;  // what to promote ("" = the head of `from`'s branch)
  bool ours = false;   // `git merge -s ours`: record as merged, take no changes (no gate)
  bool force = false;  // promote even when the gate fails (recorded)
  bool dry_run = false;
  std::string initiator;         // who asked
  std::string trigger = "user";  // user | auto
};

struct PromoteReport {
  std::string from, to, repo, from_branch, to_branch, from_path, to_path;
  std::string mode;      // branch | directory
  std::string strategy;  // merge | ours
  std::string commit;    // the promoted commit (full id)
  std::string commit_summary;
  // Promoted | UpToDate | Blocked (the gate) | Conflict; with dry_run, what would happen.
  std::string result;
  std::string outcome;  // FastForward | MergeCommit | Commit | UpToDate | Conflict | ""
  bool dry_run = false;
  bool forced = false;  // the gate failed and --force overrode it
  std::string previous_head, new_head;
  size_t ahead = 0, behind = 0;
  GateResult gate;
  bool gate_checked = false;
  std::vector<std::string> conflicts;
  std::string message;  // a sentence for people
  resource::Value ToValue() const;
};

// Promotes as described in the header comment. Refusals (gate, conflict) are reports,
// not errors, and are recorded as PromotionBlocked events; errors are for what stops
// the attempt (unknown environment or commit, unreachable remote, a push the remote
// refused). A promotion that happens is a Promoted event and a history row in both
// environments' Applications, and queues their reconciles.
Result<PromoteReport> Promote(engine::Engine& engine, const PromoteRequest& request);

// Every Application as an environment row, by repository, branch and path; only those
// of `repo` when not empty.
resource::Value ListEnvironments(engine::Engine& engine, const std::string& repo);

// What promoting `from` into `to` would bring: commits ahead and behind (branch mode)
// and the file diff from `to` to `from` (fetches first).
Result<resource::Value> DiffEnvironments(engine::Engine& engine, const std::string& from,
                                         const std::string& to);

}  // namespace plumb::pipeline
