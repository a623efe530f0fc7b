// Environments: which Applications make one up, the list, and the diff between two.
#include <algorithm>
#include <set>

#include "core/strings.h"
#include "pipeline/pipeline.h"
#include "source/source.h"

namespace plumb::pipeline {
using resource::Value;

namespace {
std::string NormalPath(const std::string& p) {
  if (p.empty() || p == "/" || p == "./") return ".";
  std::string out = p;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  if (StartsWith(out, "./") && out.size() > 2) out = out.substr(2);
  return out;
}

std::string Short(const std::string& id) { return id.substr(0, 7); }
}  // namespace

Result<Environment> ResolveEnvironment(const std::vector<engine::AppView>& apps,
                                       const std::string& name, const std::string& repo) {
  Environment env;
  env.name = name;
  for (const auto& a : apps) {
    if (a.spec.name == name && (repo.empty() || a.spec.repo == repo)) {
      env.apps.push_back(a);
      break;
    }
  }
  if (env.apps.empty()) {
    for (const auto& a : apps)
      if (a.spec.branch == name && (repo.empty() || a.spec.repo == repo)) env.apps.push_back(a);
  }
  if (env.apps.empty()) {
    return NotFound("no environment \"" + name + "\": no Application is named " + name +
                    " and none follows a branch " + name + (repo.empty() ? "" : " of " + repo) +
                    " (`plumb env list` shows the environments)");
  }
  std::set<std::string> repos, paths;
  for (const auto& a : env.apps) {
    repos.insert(a.spec.repo);
    paths.insert(NormalPath(a.spec.path));
  }
  if (repos.size() > 1) {
    return InvalidArgument("environment \"" + name + "\" is ambiguous: Applications on branch " +
                           name + " follow several repositories (" +
                           Join(std::vector<std::string>(repos.begin(), repos.end()), ", ") +
                           "); name an Application instead of the branch");
  }
  env.repo = *repos.begin();
  env.branch = env.apps.front().spec.branch;
  env.path = paths.size() == 1 ? *paths.begin() : ".";
  return env;
}

Value ListEnvironments(engine::Engine& engine, const std::string& repo) {
  std::vector<engine::AppView> apps = engine.ListApps();
  std::sort(apps.begin(), apps.end(), [](const engine::AppView& a, const engine::AppView& b) {
    return std::tie(a.spec.repo, a.spec.branch, a.spec.path, a.spec.name) <
           std::tie(b.spec.repo, b.spec.branch, b.spec.path, b.spec.name);
  });
  Value items = Value::EmptyArray();
  for (const auto& a : apps) {
    if (!repo.empty() && a.spec.repo != repo) continue;
    Value v;
    v.Set("app", a.spec.name);
    v.Set("repo", a.spec.repo);
    v.Set("branch", a.spec.branch);
    v.Set("path", NormalPath(a.spec.path));
    v.Set("headCommit", a.status.head_commit);
    v.Set("appliedCommit", a.status.applied_commit);
    v.Set("sync", a.status.sync);
    v.Set("health", a.status.health);
    v.Set("lastError", a.status.last_error);
    items.Append(std::move(v));
  }
  Value out;
  out.Set("items", std::move(items));
  return out;
}

namespace {
Value CommitList(const std::vector<source::CommitInfo>& commits) {
  Value out = Value::EmptyArray();
  for (const auto& c : commits) {
    Value v;
    v.Set("commit", c.id);
    v.Set("author", c.author_name);
    v.Set("summary", c.Summary());
    out.Append(std::move(v));
  }
  return out;
}
}  // namespace

Result<Value> DiffEnvironments(engine::Engine& engine, const std::string& from_name,
                               const std::string& to_name) {
  std::vector<engine::AppView> apps = engine.ListApps();
  ASSIGN_OR_RETURN(Environment from, ResolveEnvironment(apps, from_name));
  ASSIGN_OR_RETURN(Environment to, ResolveEnvironment(apps, to_name, from.repo));
  source::RepoCache& repos = engine.Repos();
  auto fetched = repos.Fetch(from.repo);
  if (!fetched.ok()) return fetched.status().WithContext("fetching " + from.repo);
  ASSIGN_OR_RETURN(std::string from_head, repos.Resolve(from.repo, from.branch));
  ASSIGN_OR_RETURN(std::string to_head, repos.Resolve(to.repo, to.branch));
  Value v;
  v.Set("from", from.name);
  v.Set("to", to.name);
  v.Set("repo", from.repo);
  v.Set("fromBranch", from.branch);
  v.Set("toBranch", to.branch);
  v.Set("fromPath", from.path);
  v.Set("toPath", to.path);
  v.Set("fromCommit", from_head);
  v.Set("toCommit", to_head);
  bool directory = from.branch == to.branch;
  v.Set("mode", directory ? "directory" : "branch");
  if (directory && from.path == to.path) {
    return InvalidArgument(from.name + " and " + to.name + " are the same environment (" +
                           from.branch + ":" + from.path + ")");
  }
  size_t ahead = 0, behind = 0;
  Value ahead_commits = Value::EmptyArray(), behind_commits = Value::EmptyArray();
  if (!directory) {
    ASSIGN_OR_RETURN(auto ab, repos.AheadBehind(from.repo, from_head, to_head));
    ahead = ab.first;
    behind = ab.second;
    ASSIGN_OR_RETURN(auto a, repos.Log(from.repo, to_head, from_head, 100));
    ASSIGN_OR_RETURN(auto b, repos.Log(from.repo, from_head, to_head, 100));
    ahead_commits = CommitList(a);
    behind_commits = CommitList(b);
  }
  v.Set("ahead", static_cast<int64_t>(ahead));
  v.Set("behind", static_cast<int64_t>(behind));
  v.Set("aheadCommits", std::move(ahead_commits));
  v.Set("behindCommits", std::move(behind_commits));
  // From production to staging: what a promotion would change.
  ASSIGN_OR_RETURN(std::string text,
                   repos.DiffText(from.repo, to_head, to.path, from_head, from.path));
  v.Set("diff", text);
  v.Set("summary", directory ? (text.empty() ? to.path + " equals " + from.path
                                             : to.path + " differs from " + from.path)
                             : from.branch + " is " + std::to_string(ahead) + " ahead and " +
                                   std::to_string(behind) + " behind " + to.branch + " (" +
                                   Short(from_head) + " vs " + Short(to_head) + ")");
  return v;
}

}  // namespace plumb::pipeline
