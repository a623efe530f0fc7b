// target: one Target for the engine that sends each Application to where it runs — the
// local runtime, or the Kubernetes cluster its spec.target.kubernetes names (one cluster
// target per kubeconfig and context, made on first use and shared by every Application
// on it, so a cluster has one watch per kind however many Applications it serves).
// Thread-safe.
#pragma once

#include <functional>
#include <memory>

#include "target/target.h"

namespace plumb::target {

// Makes the target for one cluster (errors: an unreadable kubeconfig, an unknown context).
using ClusterTargetFactory =
    std::function<Result<std::unique_ptr<Target>>(const KubernetesRef& ref)>;

// `local` serves Applications without spec.target.kubernetes; `cluster` (may be empty:
// no cluster support) makes cluster targets.
std::unique_ptr<Target> NewRoutingTarget(std::unique_ptr<Target> local,
                                         ClusterTargetFactory cluster);

}  // namespace plumb::target
