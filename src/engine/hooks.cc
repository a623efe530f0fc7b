#include "engine/hooks.h"

#include "core/strings.h"
#include "engine/plan.h"

namespace plumb::engine {

const char* HookPhaseName(HookPhase p) {
  switch (p) {
    case kPreSync:
      return "PreSync";
    case kPostSync:
      return "PostSync";
    case kSyncFail:
      return "SyncFail";
  }
  return "?";
}

Result<unsigned> HookPhases(const resource::Resource& r) {
  // Most resources have no annotations: no strings built for them.
  const resource::Value* annotations = r.body().FindPath({"metadata", "annotations"});
  if (!annotations || !annotations->Find(kHookAnnotation)) return 0u;
  std::string text = Trim(r.Annotation(kHookAnnotation));
  if (text.empty()) return 0u;
  unsigned phases = 0;
  for (const std::string& raw : Split(text, ',')) {
    std::string word = Trim(raw);
    bool known = false;
    for (HookPhase p : {kPreSync, kPostSync, kSyncFail}) {
      if (word == HookPhaseName(p)) {
        phases |= p;
        known = true;
      }
    }
    if (!known)
      return InvalidArgument(r.origin().ToString() + ": " + r.id().ToString() + ": annotation " +
                             kHookAnnotation + ": unknown hook \"" + word +
                             "\" (use PreSync, PostSync or SyncFail, comma-separated)");
  }
  return phases;
}

std::vector<std::vector<size_t>> HookGroups(const std::vector<resource::Resource>& hooks,
                                            HookPhase phase) {
  std::vector<std::vector<size_t>> groups;
  int wave = 0;
  for (size_t i : ApplyOrder(hooks)) {
    auto phases = HookPhases(hooks[i]);
    if (!phases.ok() || !(*phases & phase)) continue;
    if (groups.empty() || hooks[i].SyncWave() != wave) {
      groups.emplace_back();
      wave = hooks[i].SyncWave();
    }
    groups.back().push_back(i);
  }
  return groups;
}

Settle SettleOf(target::HealthStatus health, bool is_hook) {
  switch (health) {
    case target::HealthStatus::kProgressing:
      return Settle::kWaiting;
    case target::HealthStatus::kDegraded:
      return Settle::kFailed;
    case target::HealthStatus::kMissing:
      return is_hook ? Settle::kFailed : Settle::kDone;
    default:
      return Settle::kDone;
  }
}

std::vector<size_t> WaveStarts(const std::vector<int>& waves) {
  std::vector<size_t> starts;
  for (size_t i = 1; i < waves.size(); ++i)
    if (waves[i] != waves[i - 1]) starts.push_back(i);
  return starts;
}

Duration HookDeadline(const resource::Resource& hook, Duration fallback, Duration grace) {
  const resource::Value* v = hook.body().FindPath({"spec", "activeDeadlineSeconds"});
  if (v && v->is_int() && v->as_int() > 0) return Duration(v->as_int() * 1000) + grace;
  return fallback;
}

}  // namespace plumb::engine
