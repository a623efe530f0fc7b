#include "target/target.h"

#include "core/strings.h"

namespace plumb::target {

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

HexDigest::HexDigest(std::string_view hex) {
  if (hex.size() % 2 != 0 || hex.size() > 2 * bytes_.size()) {
    digits_ = kNotHex;
    return;
  }
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexValue(hex[i]), lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      bytes_ = {};
      digits_ = kNotHex;
      return;
    }
    bytes_[i / 2] = static_cast<uint8_t>(hi << 4 | lo);
  }
  digits_ = static_cast<uint8_t>(hex.size());
}

bool HexDigest::Is(std::string_view hex) const { return HexDigest(hex) == *this; }

std::string HexDigest::Hex() const {
  if (digits_ == kNotHex) return "?";
  return HexEncode(std::string_view(reinterpret_cast<const char*>(bytes_.data()), digits_ / 2u));
}

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

Result<std::vector<LiveBody>> Target::ObserveBodies(
    const AppContext& ctx, const std::vector<const resource::ResourceId*>& ids) {
  ASSIGN_OR_RETURN(std::vector<LiveObject> live, Observe(ctx, ids));
  std::vector<LiveBody> out;
  out.reserve(live.size());
  for (LiveObject& l : live) out.push_back(LiveBody{l.exists, std::move(l.body)});
  return out;
}

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
