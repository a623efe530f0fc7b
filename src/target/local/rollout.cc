#include "target/local/rollout.h"

#include <algorithm>

namespace plumb::target::local {

RolloutStep PlanRollout(int want, int surge, int unavailable,
                        const std::vector<ReplicaView>& replicas) {
  RolloutStep step;
  std::vector<int> cur, old;
  int ready_cur = 0, ready_old = 0;
  for (int i = 0; i < static_cast<int>(replicas.size()); ++i) {
    const ReplicaView& r = replicas[i];
    (r.current ? cur : old).push_back(i);
    (r.current ? ready_cur : ready_old) += r.ready ? 1 : 0;
  }
  const int total = static_cast<int>(replicas.size());
  const int n_cur = static_cast<int>(cur.size());
  // Unready first, then the highest slot: what stopping costs least.
  auto by_cost = [&](int a, int b) {
    if (replicas[a].ready != replicas[b].ready) return !replicas[a].ready;
    return replicas[a].slot > replicas[b].slot;
  };

  // Start new replicas within the surge budget (scaling up needs no budget: total < want).
  if (n_cur < want) step.start = std::min(want - n_cur, std::max(0, want + surge - total));

  // Stop old replicas: an unready one costs no availability; a ready one only while
  // enough others stay ready.
  int ready_total = ready_cur + ready_old;
  const int min_ready = std::max(0, want - unavailable);
  std::sort(old.begin(), old.end(), by_cost);
  for (int i : old) {
    if (!replicas[i].ready) {
      step.stop.push_back(i);
    } else if (ready_total - 1 >= min_ready || (ready_cur >= want && n_cur >= want)) {
      step.stop.push_back(i);
      --ready_total;
    }
  }

  // Too many of the current template (scaled down): stop the cheapest.
  if (n_cur > want) {
    std::sort(cur.begin(), cur.end(), by_cost);
    for (int k = 0; k < n_cur - want; ++k) step.stop.push_back(cur[k]);
  }

  step.done = old.empty() && n_cur == want && ready_cur == want;
  return step;
}

}  // namespace plumb::target::local
