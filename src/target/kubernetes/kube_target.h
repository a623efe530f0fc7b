// target/kubernetes: the Target for one Kubernetes cluster.
//
//   Expected(): a server-side dry run (dryRun=All) of the apply, so server defaults and
//     fields other managers hold are in it as they would be; managedFields dropped. When
//     the dry run cannot be done yet (the kind's CRD or the namespace is applied in the same
//     sync), the apply body itself.
//   Observe(): each live object (managedFields dropped, status kept for health): absent
//     without a request when this reconcile's dry run answered 201 (the apply would
//     create it); else from the watch cache (KindWatches::Cached) when it can answer; else
//     a GET. A kind the cluster does not serve (yet) reads as absent. A hook this target
//     started that has finished is deleted here by its hook-delete-policy (kube_hooks.h).
//   Apply(): server-side apply, PATCH application/apply-patch+yaml with fieldManager
//     `plumbline` and force=true. Every object gets the label
//     app.plumbline.dev/name=<application> and the annotation plumbline.dev/owner. After a
//     CustomResourceDefinition it waits (up to crd_wait) until the CRD is Established and
//     refreshes discovery, so the custom resources that follow in the apply order resolve.
//     (The engine orders Namespaces and CRDs first, then kinds, by sync wave.) An object
//     the inventory does not list yet is recorded there first (kube_inventory.h). A hook
//     (annotation plumbline.dev/hook) is a new object per run (kube_hooks.h).
//   Remove(): deletes only an object that carries this Application's label, with
//     propagationPolicy Background (annotation plumbline.dev/prune-propagation: Foreground
//     or Orphan to change it); plumbline.dev/prune: disabled keeps the object (it leaves
//     the inventory). A failed delete keeps the inventory entry.
//   Inventory: per Application, a ConfigMap plumbline-inventory-<app> in
//     inventory_namespace, durable before an apply and exact after Flush()
//     (kube_inventory.h).
//   Watch(): one watch per kind per cluster (whatever the number of Applications),
//     filtered by the label app.plumbline.dev/name; a change that is not plumbline's own
//     apply (another field manager wrote it) is reported as drift. A 410 Gone re-lists.
//     What the watches see is the cache Observe() and Remove() read.
// Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "core/clock.h"
#include "target/kubernetes/client.h"
#include "target/target.h"

namespace plumb::target::kubernetes {

inline constexpr const char* kAppLabel = "app.plumbline.dev/name";
inline constexpr const char* kOwnerAnnotation = "plumbline.dev/owner";
inline constexpr const char* kPruneAnnotation = "plumbline.dev/prune";
inline constexpr const char* kPropagationAnnotation = "plumbline.dev/prune-propagation";

struct KubeTargetOptions {
  ClusterConfig cluster;
  ClientOptions client;
  std::string field_manager = "plumbline";
  std::string inventory_namespace = "default";
  Duration crd_wait = Duration(60000);
  // How long a hook's earlier run may take to be deleted (BeforeHookCreation).
  Duration hook_delete_wait = Duration(60000);
  Duration poll = Duration(100);              // while waiting for a CRD
  Duration watch_timeout = Duration(300000);  // timeoutSeconds of one watch request
  const Clock* clock = nullptr;               // nullptr = the system clock
};

// Errors: those of KubeClient::Create.
Result<std::unique_ptr<Target>> NewKubeTarget(const KubeTargetOptions& options);

}  // namespace plumb::target::kubernetes
