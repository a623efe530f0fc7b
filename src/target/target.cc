#include "target/target.h"

namespace plumb::target {
namespace {

// Higher is worse: Degraded > Missing > Progressing > Suspended > Unknown > Healthy.
int Severity(HealthStatus h) {
  switch (h) {
    case HealthStatus::kHealthy:
      return 0;
    case HealthStatus::kUnknown:
      return 1;
    case HealthStatus::kSuspended:
      return 2;
    case HealthStatus::kProgressing:
      return 3;
    case HealthStatus::kMissing:
      return 4;
    case HealthStatus::kDegraded:
      return 5;
  }
  return 1;
}

}  // namespace

const char* HealthName(HealthStatus h) {
  switch (h) {
    case HealthStatus::kHealthy:
      return "Healthy";
    case HealthStatus::kProgressing:
      return "Progressing";
    case HealthStatus::kDegraded:
      return "Degraded";
    case HealthStatus::kSuspended:
      return "Suspended";
    case HealthStatus::kMissing:
      return "Missing";
    case HealthStatus::kUnknown:
      return "Unknown";
  }
  return "Unknown";
}

HealthStatus WorseHealth(HealthStatus a, HealthStatus b) {
  return Severity(b) > Severity(a) ? b : a;
}

const char* ChangeKindName(ChangeKind k) {
  switch (k) {
    case ChangeKind::kCreated:
      return "created";
    case ChangeKind::kConfigured:
      return "configured";
    case ChangeKind::kUnchanged:
      return "unchanged";
    case ChangeKind::kDeleted:
      return "deleted";
    case ChangeKind::kSkipped:
      return "skipped";
    case ChangeKind::kFailed:
      return "failed";
  }
  return "unknown";
}

}  // namespace plumb::target
