// target/local internal: the pure step of a rolling update, as the Kubernetes Deployment
// controller takes it. Given the replicas that exist now, says how many new ones to start
// and which to stop so that at most `want + surge` replicas run and at least
// `want - unavailable` stay ready. Called again whenever a replica changes state. No I/O.
#pragma once

#include <vector>

namespace plumb::target::local {

struct ReplicaView {
  int slot = 0;          // replica index (stable per template), for ordering only
  bool current = false;  // runs the template the Process wants now
  bool ready = false;    // passes readiness (or runs, with no readiness probe)
};

struct RolloutStep {
  int start = 0;          // new replicas of the current template to start
  std::vector<int> stop;  // positions in the input to stop
  bool done = false;      // `want` current replicas, all ready, nothing old left
};

// `replicas`: every replica not already stopping. surge >= 0, unavailable >= 0, and not
// both 0 (SurgeAndUnavailable makes sure).
RolloutStep PlanRollout(int want, int surge, int unavailable,
                        const std::vector<ReplicaView>& replicas);

}  // namespace plumb::target::local
