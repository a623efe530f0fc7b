// The engine API for running objects (kinds Process and Job): their logs, their replicas,
// and scaling by hand in an emergency. None waits for a running reconcile: each reads the
// target's inventory, which the target keeps thread-safe.
#include <string_view>

#include "core/strings.h"
#include "engine/engine_impl.h"

namespace plumb::engine {
using resource::ResourceId;

namespace {
bool IsRunningKind(const std::string& kind) { return kind == "Process" || kind == "Job"; }

// The running objects of `app` that match `kind` ("" = Process or Job) and `name`
// ("" = all). NotFound lists what the Application runs when nothing matches.
Result<std::vector<ResourceId>> FindRunning(target::Target& target, const std::string& app,
                                            const std::string& kind, const std::string& name) {
  if (!kind.empty() && !IsRunningKind(kind))
    return InvalidArgument("kind must be Process or Job, not \"" + kind + "\"");
  ASSIGN_OR_RETURN(auto inventory, target.Inventory(app));
  std::vector<ResourceId> running, matches;
  for (const auto& e : inventory) {
    if (!IsRunningKind(e.id.kind)) continue;
    running.push_back(e.id);
    if ((kind.empty() || e.id.kind == kind) && (name.empty() || e.id.name == name))
      matches.push_back(e.id);
  }
  if (!matches.empty()) return matches;
  if (running.empty()) return NotFound("Application " + app + " runs no Process or Job");
  std::string list;
  for (const auto& id : running) list += (list.empty() ? "" : ", ") + id.ToString();
  return NotFound("Application " + app + " runs no " + (kind.empty() ? "Process or Job" : kind) +
                  " named \"" + name + "\"; it runs: " + list);
}

// "3" from git's spec.replicas (1 when absent), or why there is no such number.
std::string GitReplicas(const std::vector<resource::Resource>* desired, const ResourceId& id) {
  if (!desired) return "unknown (not reconciled yet)";
  for (const auto& r : *desired) {
    if (r.id() != id) continue;
    const resource::Value* n = r.body().FindPath({"spec", "replicas"});
    return n && n->is_int() ? std::to_string(n->as_int()) : "1";
  }
  return "nothing (it is no longer in git)";
}
}  // namespace

Result<std::vector<target::LogSource>> Engine::Logs(const std::string& app, const std::string& kind,
                                                    const std::string& name) {
  if (!impl_->Find(app)) return NotFound("no Application named " + app);
  ASSIGN_OR_RETURN(auto ids, FindRunning(*impl_->target, app, kind, name));
  std::vector<target::LogSource> out;
  for (const auto& id : ids) {
    auto logs = impl_->target->Logs(app, id);
    if (!logs.ok()) {
      // Listing everything: an object that has not started yet has no logs to show.
      if (name.empty() && logs.status().code() == Code::kNotFound) continue;
      return logs.status();
    }
    out.insert(out.end(), logs->begin(), logs->end());
  }
  return out;
}

Result<std::vector<target::RunningStatus>> Engine::Running(const std::string& app,
                                                           const std::string& kind,
                                                           const std::string& name) {
  if (!impl_->Find(app)) return NotFound("no Application named " + app);
  ASSIGN_OR_RETURN(auto ids, FindRunning(*impl_->target, app, kind, name));
  std::vector<target::RunningStatus> out;
  for (const auto& id : ids) {
    auto running = impl_->target->Running(app, id);
    if (!running.ok()) {
      if (name.empty() && running.status().code() == Code::kNotFound) continue;
      return running.status();
    }
    out.push_back(std::move(*running));
  }
  return out;
}

std::vector<std::string> Engine::SecretValues(const std::string& app) {
  auto st = impl_->Find(app);
  std::shared_ptr<const std::vector<resource::Resource>> desired;
  if (st) {
    std::lock_guard<std::mutex> l(impl_->mu);
    desired = st->last_desired;
  }
  std::vector<std::string> values;
  if (!desired) return values;
  for (const auto& r : *desired) {
    if (!resource::IsSecret(r.id())) continue;
    for (const char* field : {"data", "stringData"}) {
      const resource::Value* m = r.body().Find(field);
      if (!m || !m->is_object()) continue;
      for (const auto& [key, v] : m->as_object()) {
        if (!v.is_string() || v.as_string().empty()) continue;
        values.push_back(v.as_string());
        std::string decoded;  // what a program sees (and may print) is the decoded value
        if (std::string_view(field) == "data" && Base64Decode(v.as_string(), &decoded) &&
            !decoded.empty())
          values.push_back(std::move(decoded));
      }
    }
  }
  return values;
}

Result<target::Change> Engine::ScaleLocal(const std::string& app, const std::string& kind,
                                          const std::string& name, int replicas,
                                          const std::string& who) {
  auto st = impl_->Find(app);
  if (!st) return NotFound("no Application named " + app);
  if (replicas < 0)
    return InvalidArgument("replicas must be 0 or more, not " + std::to_string(replicas));
  if (name.empty()) return InvalidArgument("name the Process to scale");
  ASSIGN_OR_RETURN(auto ids, FindRunning(*impl_->target, app, kind, name));
  if (ids.size() > 1)
    return InvalidArgument("\"" + name + "\" names both " + ids[0].ToString() + " and " +
                           ids[1].ToString() + ": give the kind");
  const ResourceId& id = ids[0];
  ASSIGN_OR_RETURN(target::Change change, impl_->target->SetReplicas(app, id, replicas));
  std::shared_ptr<const std::vector<resource::Resource>> desired;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    desired = st->last_desired;
  }
  impl_->RecordEvent(app, "Warning", "ScaledByHand",
                     id.kind + " " + id.name + " scaled to " + std::to_string(replicas) + " by " +
                         (who.empty() ? "an unknown user" : who) + ": git says " +
                         GitReplicas(desired.get(), id));
  // The live object now differs from git: look again (selfHeal puts git's count back).
  impl_->Enqueue(app, "drift", false);
  return change;
}

}  // namespace plumb::engine
