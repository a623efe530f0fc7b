// Promotion: the gate, the merge (or the directory copy), and what is recorded.
#include <algorithm>

#include "core/clock.h"
#include "core/strings.h"
#include "pipeline/pipeline.h"
#include "source/source.h"

namespace plumb::pipeline {
using resource::Value;

namespace {
std::string Short(const std::string& id) { return id.empty() ? "(none)" : id.substr(0, 7); }

Value StringList(const std::vector<std::string>& items) {
  Value out = Value::EmptyArray();
  for (const auto& s : items) out.Append(s);
  return out;
}
}  // namespace

GateResult CheckGate(const std::vector<engine::AppView>& apps, const std::string& commit) {
  GateResult r;
  r.passed = !apps.empty();
  for (const auto& a : apps) {
    GateCheck c{.app = a.spec.name,
                .applied_commit = a.status.applied_commit,
                .head_commit = a.status.head_commit,
                .sync = a.status.sync,
                .health = a.status.health};
    if (a.status.applied_commit != commit) {
      c.reason = a.status.applied_commit.empty()
                     ? "has applied nothing yet, not " + Short(commit)
                     : "has applied " + Short(a.status.applied_commit) + ", not " + Short(commit);
    } else if (a.status.sync != "Synced") {
      c.reason = "is " + a.status.sync + " at " + Short(commit);
    } else if (a.status.health != "Healthy") {
      c.reason = "is " + a.status.health + " at " + Short(commit) +
                 (a.status.health_message.empty() ? "" : " (" + a.status.health_message + ")");
    } else {
      c.passed = true;
      c.reason = "Synced and Healthy at " + Short(commit);
    }
    if (!c.passed) r.passed = false;
    r.checks.push_back(std::move(c));
  }
  return r;
}

std::string GateResult::Summary() const {
  if (checks.empty()) return "no Application to check";
  std::string out;
  for (const auto& c : checks) {
    if (!out.empty()) out += "; ";
    out += c.app + " " + c.reason;
  }
  return out;
}

Value GateResult::ToValue() const {
  Value v;
  v.Set("passed", passed);
  Value items = Value::EmptyArray();
  for (const auto& c : checks) {
    Value i;
    i.Set("app", c.app);
    i.Set("appliedCommit", c.applied_commit);
    i.Set("headCommit", c.head_commit);
    i.Set("sync", c.sync);
    i.Set("health", c.health);
    i.Set("passed", c.passed);
    i.Set("reason", c.reason);
    items.Append(std::move(i));
  }
  v.Set("checks", std::move(items));
  return v;
}

Value PromoteReport::ToValue() const {
  Value v;
  v.Set("from", from);
  v.Set("to", to);
  v.Set("repo", repo);
  v.Set("fromBranch", from_branch);
  v.Set("toBranch", to_branch);
  v.Set("fromPath", from_path);
  v.Set("toPath", to_path);
  v.Set("mode", mode);
  v.Set("strategy", strategy);
  v.Set("commit", commit);
  v.Set("commitMessage", commit_summary);
  v.Set("result", result);
  v.Set("outcome", outcome);
  v.Set("dryRun", dry_run);
  v.Set("forced", forced);
  v.Set("previousHead", previous_head);
  v.Set("newHead", new_head);
  v.Set("ahead", static_cast<int64_t>(ahead));
  v.Set("behind", static_cast<int64_t>(behind));
  v.Set("gateChecked", gate_checked);
  v.Set("gate", gate.ToValue());
  v.Set("conflicts", StringList(conflicts));
  v.Set("message", message);
  return v;
}

namespace {

// The merge commit's (or directory commit's) message: names the promoted commit and
// the gate, so `git log` alone tells what was promoted and on what evidence.
std::string CommitMessage(const PromoteReport& r, const PromoteRequest& req) {
  std::string m;
  if (r.strategy == "ours") {
    m = "Merge " + r.from + " (" + Short(r.commit) + ") into " + r.to +
        " without its changes\n\nRecorded as merged with `git merge -s ours`: production keeps "
        "its files.\n";
  } else {
    m = "Promote " + r.from + " (" + Short(r.commit) + ") to " + r.to + "\n\n" +
        (r.mode == "directory" ? r.to_path + " now equals " + r.from_path + " at " + r.commit
                               : "Merged branch " + r.from_branch + " into " + r.to_branch) +
        ".\n";
  }
  m += "\nPromoted-commit: " + r.commit + "\n";
  if (!r.commit_summary.empty()) m += "Promoted-summary: " + r.commit_summary + "\n";
  if (r.gate_checked) {
    for (const auto& c : r.gate.checks)
      m += "Gate: " + c.app + " " + (c.passed ? "passed: " : "FAILED: ") + c.reason + "\n";
    if (r.forced) m += "Gate-overridden: --force\n";
  } else {
    m += "Gate: not checked (--ours takes no changes)\n";
  }
  m += "Promoted-by: " + (req.initiator.empty() ? std::string("unknown") : req.initiator) + "\n";
  return m;
}

void Record(engine::Engine& engine, const PromoteReport& r, const PromoteRequest& req,
            const std::vector<engine::AppView>& from_apps,
            const std::vector<engine::AppView>& to_apps) {
  bool promoted = r.result == "Promoted";
  std::string what = (r.strategy == "ours" ? "merged (-s ours) " : "promoted ") + r.from + " " +
                     Short(r.commit) + " into " + r.to;
  std::string by = req.initiator.empty() ? "" : " by " + req.initiator;
  std::string detail;
  if (promoted) {
    detail = what + by + " (" + r.outcome + (r.new_head.empty() ? "" : " to " + Short(r.new_head)) +
             ")" + (r.forced ? "; gate overridden with --force: " + r.gate.Summary() : "");
  } else if (r.result == "Conflict") {
    detail = "promotion of " + r.from + " " + Short(r.commit) + " into " + r.to + by +
             " stopped: merge conflict in " + Join(r.conflicts, ", ");
  } else {
    detail = "promotion of " + r.from + " " + Short(r.commit) + " into " + r.to + by +
             " refused: " + r.gate.Summary();
  }
  int64_t now = UnixMillis(SystemClock().Now());
  auto add = [&](const engine::AppView& a, const std::string& revision) {
    engine::HistoryRow row;
    row.app = a.spec.name;
    row.revision = revision;
    row.started_ms = now;
    row.finished_ms = now;
    row.trigger = req.trigger == "auto" ? "auto-promote" : "promote";
    row.result = r.result == "Promoted" ? (r.forced ? "PromotedForced" : "Promoted") : r.result;
    row.changes = Value::EmptyArray();
    row.message = detail;
    row.commit_message = r.commit_summary;
    row.initiator = req.initiator;
    (void)engine.AddHistory(row);
  };
  for (const auto& a : to_apps) {
    add(a, promoted ? r.new_head : r.previous_head);
    engine.RecordEvent(a.spec.name, promoted ? "Normal" : "Warning",
                       promoted ? "Promoted" : "PromotionBlocked", detail);
  }
  for (const auto& a : from_apps) {
    add(a, r.commit);
    // The notification goes out once, for the environment promoted into; staging's
    // event is for its own timeline.
    engine.RecordEvent(a.spec.name, promoted ? "Normal" : "Warning",
                       promoted ? "PromotedOnward" : "PromotionBlockedOnward", detail);
  }
  if (to_apps.empty()) {
    // Nobody follows the target branch here: notify on the source's behalf.
    engine.RecordEvent(from_apps.front().spec.name, promoted ? "Normal" : "Warning",
                       promoted ? "Promoted" : "PromotionBlocked", detail);
  }
}

}  // namespace

Result<PromoteReport> Promote(engine::Engine& engine, const PromoteRequest& req) {
  if (req.from.empty() || req.to.empty())
    return InvalidArgument("promote needs two environments: FROM and TO");
  std::vector<engine::AppView> apps = engine.ListApps();
  ASSIGN_OR_RETURN(Environment from, ResolveEnvironment(apps, req.from));
  Environment to;
  auto to_env = ResolveEnvironment(apps, req.to, from.repo);
  if (to_env.ok()) {
    to = *to_env;
  } else if (to_env.status().code() == Code::kNotFound) {
    // No Application follows it (yet): a branch of the same repository will do.
    to = Environment{.name = req.to, .repo = from.repo, .branch = req.to, .path = from.path};
  } else {
    return to_env.status();
  }
  std::vector<engine::AppView> gated = from.apps;
  if (!req.app.empty()) {
    gated.erase(std::remove_if(gated.begin(), gated.end(),
                               [&](const engine::AppView& a) { return a.spec.name != req.app; }),
                gated.end());
    if (gated.empty()) {
      std::vector<std::string> names;
      for (const auto& a : from.apps) names.push_back(a.spec.name);
      return NotFound("--app " + req.app + " is not an Application of environment " + req.from +
                      " (it has: " + Join(names, ", ") + ")");
    }
  }
  PromoteReport r;
  r.from = req.from;
  r.to = req.to;
  r.repo = from.repo;
  r.from_branch = from.branch;
  r.to_branch = to.branch;
  r.from_path = from.path;
  r.to_path = to.path;
  r.mode = from.branch == to.branch ? "directory" : "branch";
  r.strategy = req.ours ? "ours" : "merge";
  r.dry_run = req.dry_run;
  if (r.mode == "directory") {
    if (from.path == to.path)
      return InvalidArgument(req.from + " and " + req.to + " are the same environment (" +
                             from.branch + ":" + from.path + ")");
    if (req.ours)
      return InvalidArgument("--ours needs environment branches: " + req.from + " and " + req.to +
                             " are directories on one branch, where there is nothing to merge");
    if (to.path == ".")
      return InvalidArgument("cannot promote a directory onto the repository root (" + req.to +
                             " follows path \".\")");
  }

  source::RepoCache& repos = engine.Repos();
  auto fetched = repos.Fetch(from.repo);
  if (!fetched.ok()) return fetched.status().WithContext("fetching " + from.repo);
  ASSIGN_OR_RETURN(std::string from_head, repos.Resolve(from.repo, from.branch));
  if (req.commit.empty()) {
    r.commit = from_head;
  } else {
    ASSIGN_OR_RETURN(r.commit, repos.Resolve(from.repo, req.commit));
    ASSIGN_OR_RETURN(bool on_branch, repos.IsAncestor(from.repo, r.commit, from_head));
    if (!on_branch)
      return InvalidArgument("commit " + req.commit + " is not on " + req.from + "'s branch " +
                             from.branch + ": only what staging has run can be promoted");
  }
  if (auto info = repos.GetCommit(from.repo, r.commit); info.ok())
    r.commit_summary = info->Summary();
  if (r.mode == "branch") {
    // Already there: nothing to promote, whatever staging runs now.
    auto to_head = repos.Resolve(from.repo, to.branch);
    if (!to_head.ok() && to.apps.empty())
      return NotFound(to_env.status().message() + ", and " + from.repo + " has no branch " +
                      to.branch);
    if (!to_head.ok())
      return NotFound("branch " + to.branch + " of " + from.repo + " not found: create it (e.g. " +
                      "git push origin " + from.branch + ":" + to.branch + ") before promoting");
    r.previous_head = *to_head;
    ASSIGN_OR_RETURN(bool contained, repos.IsAncestor(from.repo, r.commit, *to_head));
    if (contained) {
      r.outcome = r.result = "UpToDate";
      r.previous_head = r.new_head = *to_head;
      r.message =
          req.to + " already contains " + req.from + " " + Short(r.commit) + "; nothing to promote";
      return r;
    }
  }

  // The gate: staging ran exactly this commit and is fine with it.
  if (!req.ours) {
    r.gate_checked = true;
    r.gate = CheckGate(gated, r.commit);
    if (!r.gate.passed) {
      if (!req.force) {
        r.result = "Blocked";
        r.message = "promotion refused: " + r.gate.Summary() +
                    ". Promote a commit staging has applied and is Healthy at (--commit), wait "
                    "for staging to become Healthy, or pass --force to override the gate";
        if (!req.dry_run) Record(engine, r, req, from.apps, to.apps);
        return r;
      }
      r.forced = true;
    }
  }

  std::string message = CommitMessage(r, req);
  auto [author_name, author_email] = engine.Author();
  source::Signature author{
      .name = author_name, .email = author_email, .signing_key = engine.SigningKey()};
  if (r.mode == "branch") {
    auto merged = repos.Merge(from.repo, {.into = to.branch,
                                          .commit = r.commit,
                                          .strategy = req.ours ? source::MergeStrategy::kOurs
                                                               : source::MergeStrategy::kMerge,
                                          .message = message,
                                          .author = author,
                                          .dry_run = req.dry_run});
    if (!merged.ok()) return merged.status().WithContext("promote " + req.from + " to " + req.to);
    r.outcome = merged->outcome;
    r.previous_head = merged->previous_head;
    r.new_head = merged->new_head;
    r.ahead = merged->ahead;
    r.behind = merged->behind;
    r.conflicts = merged->conflicts;
  } else {
    ASSIGN_OR_RETURN(r.previous_head, repos.Resolve(from.repo, to.branch));
    ASSIGN_OR_RETURN(std::string diff,
                     repos.DiffText(from.repo, r.previous_head, to.path, r.commit, from.path));
    if (diff.empty()) {
      r.outcome = "UpToDate";
      r.new_head = r.previous_head;
    } else if (req.dry_run) {
      r.outcome = "Commit";
    } else {
      auto written =
          repos.CommitPathFrom(from.repo, to.branch, to.path, r.commit, from.path, message, author);
      if (!written.ok() && written.status().code() == Code::kFailedPrecondition) {
        r.outcome = "UpToDate";  // equal after all (the branch moved meanwhile)
        r.new_head = r.previous_head;
      } else {
        if (!written.ok())
          return written.status().WithContext("promote " + req.from + " to " + req.to);
        r.outcome = "Commit";
        r.new_head = *written;
      }
    }
  }

  if (r.outcome == "Conflict") {
    r.result = "Conflict";
    r.message = "promotion stopped, nothing changed: merging " + req.from + " " + Short(r.commit) +
                " into " + req.to + " conflicts in " + Join(r.conflicts, ", ") +
                ". Resolve it in git (merge " + from.branch + " into " + to.branch +
                " by hand and push), or promote with --ours to record " + req.from +
                "'s commits as merged without taking them";
    if (!req.dry_run) Record(engine, r, req, from.apps, to.apps);
    return r;
  }
  if (r.outcome == "UpToDate") {
    r.result = "UpToDate";
    r.message =
        req.to + " already contains " + req.from + " " + Short(r.commit) + "; nothing to promote";
    return r;
  }
  r.result = "Promoted";
  std::string how = r.outcome == "FastForward"   ? "fast-forward"
                    : r.outcome == "MergeCommit" ? "merge commit"
                                                 : "commit";
  if (req.dry_run) {
    r.message = "dry run: would promote " + req.from + " " + Short(r.commit) + " into " + req.to +
                " with a " + how + (r.forced ? " (gate overridden with --force)" : "");
    return r;
  }
  r.message = (req.ours ? "recorded " + req.from + " " + Short(r.commit) + " as merged into " +
                              req.to + " without its changes"
                        : "promoted " + req.from + " " + Short(r.commit) + " into " + req.to) +
              " with a " + how + " (" + Short(r.new_head) + ")" +
              (r.forced ? "; the gate was overridden with --force" : "");
  engine.RecordWrittenCommit(r.new_head, req.trigger == "auto" ? "auto-promote" : "promote",
                             req.initiator);
  Record(engine, r, req, from.apps, to.apps);
  for (const auto& a : to.apps) (void)engine.Refresh(a.spec.name, "promote");
  for (const auto& a : from.apps) (void)engine.Refresh(a.spec.name, "promote");
  return r;
}

}  // namespace plumb::pipeline
