#include "target/kubernetes/health.h"

#include <string>

namespace plumb::target::kubernetes {
namespace {

using resource::Value;

int64_t Int(const Value& v, std::initializer_list<std::string_view> path, int64_t fallback = 0) {
  const Value* x = v.FindPath(path);
  return x && x->is_int() ? x->as_int() : fallback;
}

// The condition of `type`, or nullptr.
const Value* Condition(const Value& obj, const std::string& type) {
  const Value* conds = obj.FindPath({"status", "conditions"});
  if (!conds || !conds->is_array()) return nullptr;
  for (const Value& c : conds->as_array())
    if (c.GetString("type") == type) return &c;
  return nullptr;
}

bool ConditionIs(const Value& obj, const std::string& type, const std::string& status) {
  const Value* c = Condition(obj, type);
  return c && c->GetString("status") == status;
}

std::string ConditionMessage(const Value& obj, const std::string& type) {
  const Value* c = Condition(obj, type);
  if (!c) return "";
  std::string m = c->GetString("message");
  return m.empty() ? c->GetString("reason") : m;
}

Health Make(HealthStatus s, std::string m) { return Health{s, std::move(m)}; }

// observedGeneration behind generation: the controller has not seen the latest spec.
bool NotObserved(const Value& obj) {
  const Value* observed = obj.FindPath({"status", "observedGeneration"});
  int64_t generation = Int(obj, {"metadata", "generation"});
  if (!observed) return generation > 0;
  return observed->is_int() && observed->as_int() < generation;
}

std::string Counts(int64_t have, int64_t want, const char* what) {
  return std::to_string(have) + "/" + std::to_string(want) + " " + what;
}

Health Deployment(const Value& d) {
  const Value* paused = d.FindPath({"spec", "paused"});
  if (paused && paused->is_bool() && paused->as_bool())
    return Make(HealthStatus::kSuspended, "Deployment is paused");
  if (NotObserved(d)) return Make(HealthStatus::kProgressing, "waiting for the rollout to start");
  const Value* progressing = Condition(d, "Progressing");
  if (progressing && progressing->GetString("reason") == "ProgressDeadlineExceeded")
    return Make(HealthStatus::kDegraded, "rollout exceeded its progress deadline");
  int64_t want = Int(d, {"spec", "replicas"}, 1);
  int64_t updated = Int(d, {"status", "updatedReplicas"});
  int64_t total = Int(d, {"status", "replicas"});
  int64_t available = Int(d, {"status", "availableReplicas"});
  if (updated < want)
    return Make(HealthStatus::kProgressing, Counts(updated, want, "replicas updated"));
  if (total > updated)
    return Make(HealthStatus::kProgressing,
                std::to_string(total - updated) + " old replicas are pending termination");
  if (available < updated)
    return Make(HealthStatus::kProgressing,
                Counts(available, updated, "updated replicas available"));
  return Make(HealthStatus::kHealthy, Counts(available, want, "replicas available"));
}

Health StatefulSet(const Value& s) {
  if (NotObserved(s)) return Make(HealthStatus::kProgressing, "waiting for the rollout to start");
  int64_t want = Int(s, {"spec", "replicas"}, 1);
  int64_t ready = Int(s, {"status", "readyReplicas"});
  if (ready < want) return Make(HealthStatus::kProgressing, Counts(ready, want, "replicas ready"));
  const Value* strategy = s.FindPath({"spec", "updateStrategy", "type"});
  bool rolling = !strategy || (strategy->is_string() && strategy->as_string() == "RollingUpdate");
  std::string current =
      s.FindPath({"status"}) ? s.Find("status")->GetString("currentRevision") : "";
  std::string update = s.FindPath({"status"}) ? s.Find("status")->GetString("updateRevision") : "";
  if (rolling && !update.empty() && current != update)
    return Make(HealthStatus::kProgressing, "rolling update in progress");
  return Make(HealthStatus::kHealthy, Counts(ready, want, "replicas ready"));
}

Health DaemonSet(const Value& d) {
  if (NotObserved(d)) return Make(HealthStatus::kProgressing, "waiting for the rollout to start");
  int64_t want = Int(d, {"status", "desiredNumberScheduled"});
  int64_t updated = Int(d, {"status", "updatedNumberScheduled"});
  int64_t available = Int(d, {"status", "numberAvailable"});
  if (updated < want)
    return Make(HealthStatus::kProgressing, Counts(updated, want, "pods updated"));
  if (available < want)
    return Make(HealthStatus::kProgressing, Counts(available, want, "pods available"));
  return Make(HealthStatus::kHealthy, Counts(available, want, "pods available"));
}

Health ReplicaSet(const Value& r) {
  if (NotObserved(r)) return Make(HealthStatus::kProgressing, "waiting for the controller");
  if (ConditionIs(r, "ReplicaFailure", "True"))
    return Make(HealthStatus::kDegraded, ConditionMessage(r, "ReplicaFailure"));
  int64_t want = Int(r, {"spec", "replicas"}, 1);
  int64_t available = Int(r, {"status", "availableReplicas"});
  if (available < want)
    return Make(HealthStatus::kProgressing, Counts(available, want, "replicas available"));
  return Make(HealthStatus::kHealthy, Counts(available, want, "replicas available"));
}

Health Pod(const Value& p) {
  std::string phase = p.FindPath({"status"}) ? p.Find("status")->GetString("phase") : "";
  if (phase == "Succeeded") return Make(HealthStatus::kHealthy, "Pod completed");
  if (phase == "Failed") {
    std::string m = p.Find("status")->GetString("message");
    return Make(HealthStatus::kDegraded, m.empty() ? "Pod failed" : m);
  }
  for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
    const Value* statuses = p.FindPath({"status", list});
    if (!statuses || !statuses->is_array()) continue;
    for (const Value& c : statuses->as_array()) {
      const Value* waiting = c.FindPath({"state", "waiting"});
      if (!waiting) continue;
      std::string reason = waiting->GetString("reason");
      if (reason == "CrashLoopBackOff" || reason == "ImagePullBackOff" ||
          reason == "ErrImagePull" || reason == "InvalidImageName" ||
          reason == "CreateContainerConfigError")
        return Make(HealthStatus::kDegraded, "container " + c.GetString("name") + ": " + reason);
    }
  }
  if (ConditionIs(p, "Ready", "True")) return Make(HealthStatus::kHealthy, "Pod is ready");
  return Make(HealthStatus::kProgressing, phase.empty() ? "Pod is pending" : "Pod is " + phase);
}

Health Job(const Value& j) {
  if (ConditionIs(j, "Failed", "True"))
    return Make(HealthStatus::kDegraded, ConditionMessage(j, "Failed"));
  if (ConditionIs(j, "Complete", "True")) return Make(HealthStatus::kHealthy, "Job completed");
  const Value* suspend = j.FindPath({"spec", "suspend"});
  if (suspend && suspend->is_bool() && suspend->as_bool())
    return Make(HealthStatus::kSuspended, "Job is suspended");
  return Make(HealthStatus::kProgressing, "Job is running");
}

Health LoadBalanced(const Value& obj, const char* what) {
  const Value* ingress = obj.FindPath({"status", "loadBalancer", "ingress"});
  if (ingress && ingress->is_array() && ingress->size() > 0)
    return Make(HealthStatus::kHealthy, std::string(what) + " has an address");
  return Make(HealthStatus::kProgressing, std::string(what) + " is waiting for an address");
}

Health Hpa(const Value& h) {
  for (const char* type : {"AbleToScale", "ScalingActive"}) {
    const Value* c = Condition(h, type);
    if (!c || c->GetString("status") != "False") continue;
    std::string reason = c->GetString("reason");
    if (std::string(type) == "AbleToScale" || reason.rfind("FailedGet", 0) == 0 ||
        reason == "InvalidSelector" || reason == "InvalidMetricSourceType")
      return Make(HealthStatus::kDegraded, ConditionMessage(h, type));
  }
  return Make(HealthStatus::kHealthy, "");
}

Health Generic(const Value& obj) {
  if (!obj.Find("status")) return Make(HealthStatus::kHealthy, "");
  if (NotObserved(obj) && obj.FindPath({"status", "observedGeneration"}))
    return Make(HealthStatus::kProgressing, "waiting for the controller to observe the change");
  if (ConditionIs(obj, "Stalled", "True"))
    return Make(HealthStatus::kDegraded, ConditionMessage(obj, "Stalled"));
  if (ConditionIs(obj, "Reconciling", "True"))
    return Make(HealthStatus::kProgressing, ConditionMessage(obj, "Reconciling"));
  if (ConditionIs(obj, "Ready", "False"))
    return Make(HealthStatus::kProgressing, ConditionMessage(obj, "Ready"));
  if (ConditionIs(obj, "Ready", "True"))
    return Make(HealthStatus::kHealthy, ConditionMessage(obj, "Ready"));
  return Make(HealthStatus::kHealthy, "");
}

}  // namespace

Health KubeHealth(const std::string& kind, const Value& live) {
  if (live.FindPath({"metadata", "deletionTimestamp"}))
    return Make(HealthStatus::kProgressing, "being deleted");
  if (kind == "Deployment") return Deployment(live);
  if (kind == "StatefulSet") return StatefulSet(live);
  if (kind == "DaemonSet") return DaemonSet(live);
  if (kind == "ReplicaSet") return ReplicaSet(live);
  if (kind == "Pod") return Pod(live);
  if (kind == "Job") return Job(live);
  if (kind == "PersistentVolumeClaim") {
    std::string phase = live.FindPath({"status"}) ? live.Find("status")->GetString("phase") : "";
    if (phase == "Bound") return Make(HealthStatus::kHealthy, "claim is bound");
    if (phase == "Lost") return Make(HealthStatus::kDegraded, "claim lost its volume");
    return Make(HealthStatus::kProgressing, "claim is pending");
  }
  if (kind == "Service") {
    const Value* type = live.FindPath({"spec", "type"});
    if (type && type->is_string() && type->as_string() == "LoadBalancer")
      return LoadBalanced(live, "LoadBalancer Service");
    return Make(HealthStatus::kHealthy, "");
  }
  if (kind == "Ingress") return LoadBalanced(live, "Ingress");
  if (kind == "CustomResourceDefinition") {
    if (ConditionIs(live, "NamesAccepted", "False"))
      return Make(HealthStatus::kDegraded, ConditionMessage(live, "NamesAccepted"));
    if (ConditionIs(live, "Established", "True"))
      return Make(HealthStatus::kHealthy, "CRD is established");
    return Make(HealthStatus::kProgressing, "waiting for the CRD to be established");
  }
  if (kind == "HorizontalPodAutoscaler") return Hpa(live);
  return Generic(live);
}

}  // namespace plumb::target::kubernetes
