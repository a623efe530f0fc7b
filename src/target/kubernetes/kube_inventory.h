// target/kubernetes: the inventory of each Application — what it applied, so prune deletes
// only what plumbline created — kept in the cluster as the ConfigMap
// plumbline-inventory-<application> (data.entries: JSON rows of key, order, hash).
//
// Durability, as Flux and Argo CD keep theirs: before an object that the ConfigMap does not
// list yet is applied, the ConfigMap is written with the union of what it lists and every
// object the reconcile may apply (Persist), so an operator killed between an apply and the
// end of the reconcile still finds the new object in its inventory after a restart and
// prunes it once git drops it. Flush() then writes the exact set: what was applied, less
// what was pruned, plus what the last reconcile planned and has not applied (it failed
// before, or is still under way: one target serves every Application of a cluster, and
// any of them may Flush). A reconcile that adds and removes nothing writes nothing.
// Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "target/kubernetes/client.h"
#include "target/target.h"

namespace plumb::target::kubernetes {

// A ConfigMap name for an Application's inventory: lowercase DNS label characters.
std::string InventoryName(const std::string& app);

class InventoryStore {
 public:
  InventoryStore(KubeClient* client, std::string ns, std::string apply_query)
      : client_(client), ns_(std::move(ns)), apply_query_(std::move(apply_query)) {}

  // What `app` owns, in apply order (read from the cluster the first time). Errors: the
  // ConfigMap cannot be read, or is corrupt (Internal).
  Result<std::vector<InventoryEntry>> Entries(const std::string& app, bool* first_read);

  // Makes sure the ConfigMap lists `id` before it is applied: when it does not yet, writes
  // the union of what it lists, `id` and `also()` (the reconcile's other objects; called
  // only then, so an apply of an object already listed costs no walk of the desired set).
  // Errors: the inventory cannot be read or written (then nothing must be applied).
  Status Persist(const std::string& app, const resource::ResourceId& id,
                 const std::function<std::vector<resource::ResourceId>()>& also);
  // `id` was applied (its first apply order is kept) with this body hash.
  void Record(const std::string& app, const resource::ResourceId& id, const std::string& hash);
  // `id` is no longer owned (deleted, or kept out of prune).
  void Forget(const std::string& app, const resource::ResourceId& id);
  // Writes every inventory whose set changed since it was last written. A failed write is
  // tried again at the next Flush.
  Status Flush();
  // Every id of every inventory read so far.
  std::vector<resource::ResourceId> AllIds();

 private:
  struct State {
    std::map<std::string, InventoryEntry> entries;  // by ResourceId::Key()
    std::set<std::string> persisted;                // the keys the ConfigMap lists
    // What the last Persist added that is not applied yet (a reconcile under way).
    std::set<std::string> pending;
    bool dirty = false;  // entries changed (new objects, their order) since written
  };
  // Requires mu_. The state of `app`, read from the cluster the first time.
  Result<State*> Load(const std::string& app, bool* first_read);
  Result<std::map<std::string, InventoryEntry>> Read(const std::string& app);
  Status Write(const std::string& app, const std::map<std::string, InventoryEntry>& entries);

  KubeClient* client_;
  std::string ns_;
  std::string apply_query_;
  std::mutex mu_;
  std::map<std::string, State> apps_;  // GUARDED_BY(mu_)
  int64_t next_order_ = 0;             // GUARDED_BY(mu_)
};

}  // namespace plumb::target::kubernetes
