// target/kubernetes: health of a live object by kind, following the conventions users
// know from kstatus and Argo CD. Pure: reads only the object (its spec, status and
// metadata.generation); no I/O.
//
//   Deployment, StatefulSet, DaemonSet, ReplicaSet: the controller has observed the
//     latest generation and every replica is updated and available (a paused
//     Deployment is Suspended; ProgressDeadlineExceeded is Degraded);
//   Pod: Ready (or Succeeded); CrashLoopBackOff, image pull errors or Failed are Degraded;
//   Job: Complete; Failed is Degraded; spec.suspend is Suspended;
//   PersistentVolumeClaim: Bound; Lost is Degraded;
//   Service of type LoadBalancer, Ingress: an address in status.loadBalancer.ingress;
//   CustomResourceDefinition: Established (NamesAccepted False is Degraded);
//   HorizontalPodAutoscaler: Degraded when it cannot scale or read its metrics;
//   anything else: status.observedGeneration behind metadata.generation is
//     Progressing; conditions Stalled True Degraded, Reconciling True Progressing,
//     Ready True Healthy / False Progressing; no status at all is Healthy.
//   An object being deleted (metadata.deletionTimestamp) is Progressing.
#pragma once

#include "resource/value.h"
#include "target/target.h"

namespace plumb::target::kubernetes {

Health KubeHealth(const std::string& kind, const resource::Value& live);

}  // namespace plumb::target::kubernetes
