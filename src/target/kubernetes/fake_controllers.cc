#include "core/clock.h"
#include "core/strings.h"
#include "resource/codec.h"
#include "target/kubernetes/fake_apiserver_impl.h"

namespace plumb::target::kubernetes::testing {

using resource::Value;

namespace {

// How the simulated Job controller ends a Job: Failed when the Job asks for it (annotation
// fake.plumbline.dev/job-result: Failed) or when a container's command is `false`.
bool JobFails(const Value& job) {
  const Value* ann = job.FindPath({"metadata", "annotations"});
  if (ann && ann->GetString(kFakeJobResultAnnotation) == "Failed") return true;
  const Value* containers = job.FindPath({"spec", "template", "spec", "containers"});
  if (!containers || !containers->is_array()) return false;
  for (const Value& c : containers->as_array()) {
    const Value* cmd = c.Find("command");
    if (cmd && cmd->is_array() && cmd->size() > 0 && cmd->as_array()[0].is_string() &&
        cmd->as_array()[0].as_string() == "false")
      return true;
  }
  return false;
}

// fake.plumbline.dev/job-duration-ms: how long the Job runs (default: done at once).
int64_t JobDurationMs(const Value& job) {
  const Value* ann = job.FindPath({"metadata", "annotations"});
  std::string ms = ann ? ann->GetString(kFakeJobDurationAnnotation) : "";
  return ms.empty() ? 0 : atoll(ms.c_str());
}

bool JobFinished(const Value& job) {
  const Value* conds = job.FindPath({"status", "conditions"});
  if (!conds || !conds->is_array()) return false;
  for (const Value& c : conds->as_array())
    if ((c.GetString("type") == "Complete" || c.GetString("type") == "Failed") &&
        c.GetString("status") == "True")
      return true;
  return false;
}

Value JobStatus(bool failed, const std::string& started) {
  Value status = Value::EmptyObject();
  Value c = Value::EmptyObject();
  c.Set("type", failed ? "Failed" : "Complete");
  c.Set("status", "True");
  c.Set("lastProbeTime", Now());
  c.Set("lastTransitionTime", Now());
  if (failed) {
    c.Set("reason", "BackoffLimitExceeded");
    c.Set("message", "Job has reached the specified backoff limit");
  }
  Value conds = Value::EmptyArray();
  conds.Append(c);
  status.Set("conditions", conds);
  status.Set("startTime", started);
  if (!failed) status.Set("completionTime", Now());
  status.Set(failed ? "failed" : "succeeded", 1);
  return status;
}

}  // namespace

// What kube-controller-manager would write: the rollout done; a Job running, then
// complete or failed (see JobFails, JobDurationMs).
void FakeApiServer::Impl::RunController(const Target& t, const std::string& key) {
  Stored& s = objects[key];
  Value status = Value::EmptyObject();
  const std::string& kind = t.info.kind;
  if (kind == "Deployment" || kind == "StatefulSet" || kind == "ReplicaSet") {
    const Value* g = s.obj.FindPath({"metadata", "generation"});
    const Value* r = s.obj.FindPath({"spec", "replicas"});
    int64_t replicas = r && r->is_int() ? r->as_int() : 1;
    status.Set("observedGeneration", g && g->is_int() ? g->as_int() : 1);
    status.Set("replicas", replicas);
    status.Set("updatedReplicas", replicas);
    status.Set("readyReplicas", replicas);
    status.Set("availableReplicas", replicas);
    if (kind == "StatefulSet") status.Set("currentReplicas", replicas);
  } else if (kind == "Job") {
    if (JobFinished(s.obj)) return;  // a finished Job stays as it ended
    const Value* suspend = s.obj.FindPath({"spec", "suspend"});
    if (suspend && suspend->is_bool() && suspend->as_bool()) return;
    if (const Value* st = s.obj.FindPath({"status", "active"}); st) return;  // running
    int64_t duration = JobDurationMs(s.obj);
    if (duration > 0) {
      status.Set("startTime", Now());
      status.Set("active", 1);
      pending_jobs[key] = {t, MonotonicMillis() + duration};
    } else {
      status = JobStatus(JobFails(s.obj), Now());
    }
  } else {
    return;
  }
  WriteControllerStatus(t, &s, std::move(status));
}

void FakeApiServer::Impl::FinishDueJobs() {
  int64_t now = MonotonicMillis();
  for (auto it = pending_jobs.begin(); it != pending_jobs.end();) {
    auto obj = objects.find(it->first);
    if (obj == objects.end()) {
      it = pending_jobs.erase(it);
      continue;
    }
    if (it->second.due_ms > now) {
      ++it;
      continue;
    }
    const Value* started = obj->second.obj.FindPath({"status", "startTime"});
    WriteControllerStatus(
        it->second.target, &obj->second,
        JobStatus(JobFails(obj->second.obj),
                  started && started->is_string() ? started->as_string() : Now()));
    it = pending_jobs.erase(it);
  }
}

void FakeApiServer::Impl::WriteControllerStatus(const Target& t, Stored* s, Value status) {
  const Value* old = s->obj.Find("status");
  if (old && *old == status) return;
  s->obj.Set("status", std::move(status));
  std::string api_version = t.group.empty() ? t.version : t.group + "/" + t.version;
  bool found = false;
  for (Manager& m : s->managers)
    if (m.name == "kube-controller-manager") {
      m.time = Now();
      found = true;
    }
  if (!found)
    s->managers.push_back({"kube-controller-manager", "Update", api_version, Now(), {{"status"}}});
  s->obj.Find("metadata")->Set("resourceVersion", std::to_string(++rv));
  WriteMetadata(s);
  Emit("MODIFIED", t, s->obj);
}

void FakeApiServer::Impl::EstablishCrd(const Target& t, const std::string& key) {
  Stored& s = objects[key];
  ServeCrd(s.obj);
  Value conds = Value::EmptyArray();
  for (const char* type : {"NamesAccepted", "Established"}) {
    Value c = Value::EmptyObject();
    c.Set("type", type);
    c.Set("status", "True");
    c.Set("lastTransitionTime", Now());
    c.Set("reason", type == std::string("Established") ? "InitialNamesAccepted" : "NoConflicts");
    conds.Append(c);
  }
  Value status = Value::EmptyObject();
  status.Set("conditions", conds);
  s.obj.Set("status", status);
  s.obj.Find("metadata")->Set("resourceVersion", std::to_string(++rv));
  Emit("MODIFIED", t, s.obj);
}

}  // namespace plumb::target::kubernetes::testing
