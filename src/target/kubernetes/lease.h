// target/kubernetes: leader election on a coordination.k8s.io/v1 Lease, as client-go's
// leaderelection does, so two operator replicas never reconcile at once. The lease is
// taken when absent (POST) or expired (PUT with the resourceVersion read, so of two
// contenders only one wins: the other gets 409 Conflict), and renewed by its holder.
// Expiry is judged by this process's clock from when it last saw the lease record change
// (never by comparing clocks across machines).
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "core/clock.h"
#include "target/kubernetes/client.h"

namespace plumb::target::kubernetes {

struct LeaseOptions {
  std::string ns;  // the Lease's namespace
  std::string name = "plumbline-leader";
  std::string identity;                       // this replica (its Pod name)
  Duration lease_duration = Duration(15000);  // how long a holder's renewal counts
  Duration renew_deadline = Duration(10000);  // a leader that cannot renew this long steps down
  Duration retry_period = Duration(2000);     // between attempts
  std::string field_manager = "plumbline";
};

// "2026-11-26T11:35:13.016328Z" (a Kubernetes MicroTime).
std::string FormatMicroTime(TimePoint t);

class LeaderElector {
 public:
  LeaderElector(KubeClient* client, LeaseOptions options, const Clock* clock);

  // One attempt: true when this identity holds the lease now (acquired or renewed),
  // false when another holder's lease is still valid or a concurrent update won.
  // Errors: the API server's (Forbidden without RBAC for leases, ...).
  Result<bool> TryAcquireOrRenew();

  // Gives the lease up if this identity holds it (holderIdentity emptied), so another
  // replica takes over at once instead of after lease_duration.
  Status Release();

  // Blocks until this replica leads (or `stop`), calls on_started, then renews every
  // retry_period until `stop` (releases the lease and returns Ok) or renewals fail for
  // renew_deadline (calls on_lost and returns Aborted).
  Status Run(const std::function<void()>& on_started, const std::function<void()>& on_lost,
             const std::atomic<bool>* stop);

 private:
  KubeClient* client_;
  LeaseOptions o_;
  const Clock* clock_;
  std::string observed_record_;  // holder + renewTime last seen
  TimePoint observed_at_{};
};

}  // namespace plumb::target::kubernetes
