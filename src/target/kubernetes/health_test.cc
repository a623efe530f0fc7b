#include "target/kubernetes/health.h"

#include <gtest/gtest.h>

#include "core/fs.h"
#include "resource/codec.h"

namespace plumb::target::kubernetes {
namespace {

using resource::Value;

HealthStatus Of(const std::string& kind, const std::string& json) {
  auto v = resource::ParseJson(json);
  EXPECT_TRUE(v.ok()) << json;
  return KubeHealth(kind, v.ok() ? *v : Value()).status;
}

Value Recorded(const std::string& file) {
  auto v = resource::ParseJson(*fs::ReadFile(std::string(PLUMB_KUBE_TESTDATA) + "/" + file));
  return *v->FindPath({"response", "body"});
}

TEST(KubeHealthTest, RecordedObjects) {
  // No controller ran when these were recorded: a Deployment never rolls out, a Job never
  // completes, a CRD is Established only after the apply answered.
  EXPECT_EQ(KubeHealth("Deployment", Recorded("18-get-deployment.json")).status,
            HealthStatus::kProgressing);
  EXPECT_EQ(KubeHealth("Job", Recorded("25-ssa-job.json")).status, HealthStatus::kProgressing);
  EXPECT_EQ(KubeHealth("CustomResourceDefinition", Recorded("46-ssa-crd-widgets.json")).status,
            HealthStatus::kProgressing);
  EXPECT_EQ(KubeHealth("CustomResourceDefinition", Recorded("47-get-crd-established.json")).status,
            HealthStatus::kHealthy);
  EXPECT_EQ(KubeHealth("Deployment", Recorded("36-get-deployment-terminating.json")).status,
            HealthStatus::kProgressing);
  EXPECT_EQ(KubeHealth("Service", Recorded("23-ssa-service.json")).status, HealthStatus::kHealthy);
  EXPECT_EQ(KubeHealth("ConfigMap", Recorded("12-ssa-configmap-create.json")).status,
            HealthStatus::kHealthy);
}

TEST(KubeHealthTest, Workloads) {
  const char* rolled = R"({"metadata":{"generation":2},"spec":{"replicas":2},
    "status":{"observedGeneration":2,"replicas":2,"updatedReplicas":2,"availableReplicas":2}})";
  EXPECT_EQ(Of("Deployment", rolled), HealthStatus::kHealthy);
  EXPECT_EQ(Of("Deployment", R"({"metadata":{"generation":3},"spec":{"replicas":2},
    "status":{"observedGeneration":2,"replicas":2,"updatedReplicas":2,"availableReplicas":2}})"),
            HealthStatus::kProgressing);
  EXPECT_EQ(Of("Deployment", R"({"metadata":{"generation":2},"spec":{"replicas":2},
    "status":{"observedGeneration":2,"replicas":3,"updatedReplicas":2,"availableReplicas":2}})"),
            HealthStatus::kProgressing);
  EXPECT_EQ(Of("Deployment", R"({"metadata":{"generation":2},"spec":{"replicas":2},
    "status":{"observedGeneration":2,"conditions":[{"type":"Progressing","status":"False",
    "reason":"ProgressDeadlineExceeded"}]}})"),
            HealthStatus::kDegraded);
  EXPECT_EQ(Of("Deployment", R"({"spec":{"paused":true}})"), HealthStatus::kSuspended);
  EXPECT_EQ(Of("StatefulSet", R"({"metadata":{"generation":1},"spec":{"replicas":2},
    "status":{"observedGeneration":1,"readyReplicas":2,"currentRevision":"a","updateRevision":"b"}})"),
            HealthStatus::kProgressing);
  EXPECT_EQ(Of("StatefulSet", R"({"metadata":{"generation":1},"spec":{"replicas":2},
    "status":{"observedGeneration":1,"readyReplicas":2,"currentRevision":"b","updateRevision":"b"}})"),
            HealthStatus::kHealthy);
  EXPECT_EQ(Of("DaemonSet", R"({"metadata":{"generation":1},"status":{"observedGeneration":1,
    "desiredNumberScheduled":3,"updatedNumberScheduled":3,"numberAvailable":2}})"),
            HealthStatus::kProgressing);
  EXPECT_EQ(Of("ReplicaSet", R"({"metadata":{"generation":1},"spec":{"replicas":1},
    "status":{"observedGeneration":1,"availableReplicas":1}})"),
            HealthStatus::kHealthy);
}

TEST(KubeHealthTest, PodsJobsClaimsAndAddresses) {
  EXPECT_EQ(Of("Pod", R"({"status":{"phase":"Running","containerStatuses":[{"name":"a",
    "state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}})"),
            HealthStatus::kDegraded);
  EXPECT_EQ(Of("Pod",
               R"({"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}})"),
            HealthStatus::kHealthy);
  EXPECT_EQ(Of("Pod", R"({"status":{"phase":"Pending"}})"), HealthStatus::kProgressing);
  EXPECT_EQ(
      Of("Job", R"({"status":{"conditions":[{"type":"Failed","status":"True","message":"x"}]}})"),
      HealthStatus::kDegraded);
  EXPECT_EQ(Of("Job", R"({"status":{"conditions":[{"type":"Complete","status":"True"}]}})"),
            HealthStatus::kHealthy);
  EXPECT_EQ(Of("Job", R"({"spec":{"suspend":true}})"), HealthStatus::kSuspended);
  EXPECT_EQ(Of("PersistentVolumeClaim", R"({"status":{"phase":"Bound"}})"), HealthStatus::kHealthy);
  EXPECT_EQ(Of("PersistentVolumeClaim", R"({"status":{"phase":"Lost"}})"), HealthStatus::kDegraded);
  EXPECT_EQ(Of("Service", R"({"spec":{"type":"LoadBalancer"},"status":{"loadBalancer":{}}})"),
            HealthStatus::kProgressing);
  EXPECT_EQ(Of("Ingress", R"({"status":{"loadBalancer":{"ingress":[{"ip":"1.2.3.4"}]}}})"),
            HealthStatus::kHealthy);
  EXPECT_EQ(Of("HorizontalPodAutoscaler", R"({"status":{"conditions":[{"type":"ScalingActive",
    "status":"False","reason":"FailedGetResourceMetric"}]}})"),
            HealthStatus::kDegraded);
}

TEST(KubeHealthTest, GenericConditions) {
  EXPECT_EQ(Of("Widget", R"({"metadata":{"generation":2},"status":{"observedGeneration":1,
    "conditions":[{"type":"Ready","status":"True"}]}})"),
            HealthStatus::kProgressing);
  EXPECT_EQ(Of("Widget", R"({"status":{"conditions":[{"type":"Stalled","status":"True"}]}})"),
            HealthStatus::kDegraded);
  EXPECT_EQ(Of("Widget", R"({"status":{"conditions":[{"type":"Reconciling","status":"True"}]}})"),
            HealthStatus::kProgressing);
  EXPECT_EQ(Of("Widget", R"({"status":{"conditions":[{"type":"Ready","status":"True"}]}})"),
            HealthStatus::kHealthy);
  EXPECT_EQ(Of("Widget", R"({"spec":{}})"), HealthStatus::kHealthy);
}

}  // namespace
}  // namespace plumb::target::kubernetes
