// engine: the pure part of sync hooks and sync waves, as Argo CD users know them.
// A resource annotated `plumbline.dev/hook: PreSync|PostSync|SyncFail` (comma-separated
// allowed) is a hook: it is not part of the plan, the diff, the sync status or the prune
// set; it runs around a sync that applies something. Waves (`plumbline.dev/sync-wave`)
// order hooks within a phase and order the applied resources. No I/O here; the syncer
// (sync_run.cc) executes.
#pragma once

#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "resource/resource.h"
#include "target/target.h"

namespace plumb::engine {

inline constexpr const char* kHookAnnotation = "plumbline.dev/hook";
// Added to a hook when it runs, valued with the history row id of the sync, so the
// target sees a changed object and starts a new run.
inline constexpr const char* kHookRunAnnotation = "plumbline.dev/hook-run";

enum HookPhase : unsigned { kPreSync = 1, kPostSync = 2, kSyncFail = 4 };
const char* HookPhaseName(HookPhase p);  // "PreSync", ...

// The phases a resource's hook annotation names (a bit set; 0 = not a hook). Errors:
// InvalidArgument naming the origin and the unknown phase (e.g. "a.yaml:3: ...").
Result<unsigned> HookPhases(const resource::Resource& r);

// The hooks of one phase, as groups of indexes into `hooks` run one group after the
// other: one group per sync wave (lower first), each in kind then file order.
std::vector<std::vector<size_t>> HookGroups(const std::vector<resource::Resource>& hooks,
                                            HookPhase phase);

// What a health assessment means for something the syncer waits for: still running,
// done, or failed. Progressing waits; Degraded fails; Missing fails a hook (its run
// vanished) but not an applied resource; everything else (Healthy, Suspended, Unknown
// for kinds without health) counts as done.
enum class Settle { kWaiting, kDone, kFailed };
Settle SettleOf(target::HealthStatus health, bool is_hook);

// Indexes where a new sync wave starts in a sequence of waves (in apply order), so the
// syncer waits before applying them. Empty when there is only one wave.
std::vector<size_t> WaveStarts(const std::vector<int>& waves);

// How long the syncer waits for a hook: spec.activeDeadlineSeconds (plus `grace`, so the
// target's own deadline usually reports first) when set and positive, else `fallback`.
Duration HookDeadline(const resource::Resource& hook, Duration fallback, Duration grace);

}  // namespace plumb::engine
