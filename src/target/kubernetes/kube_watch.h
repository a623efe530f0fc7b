// target/kubernetes: drift detection by list-and-watch — one watch per kind per cluster,
// however many Applications, on the objects labelled app.plumbline.dev/name. A change
// written by another field manager (kubectl edit, kubectl scale, a direct API write), or
// a delete plumbline did not make, is drift, reported with the Application named by the
// object's label. Status-only updates (controllers) and plumbline's own applies are not.
// Watches resume from the last resourceVersion (bookmarks asked for) and list again after
// a 410 Gone or a broken stream. What the lists and events show is kept (a cache of the
// labelled objects, as client-go's informers keep), so the target can read live objects
// without a GET. Thread-safe; one thread per watched kind.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "target/kubernetes/client.h"
#include "target/kubernetes/discovery.h"
#include "target/target.h"

namespace plumb::target::kubernetes {

struct WatchOptions {
  std::string field_manager = "plumbline";
  std::string label = "app.plumbline.dev/name";
  Duration timeout = Duration(300000);  // timeoutSeconds of one watch request
  Duration retry = Duration(1000);      // after a failed list or watch
};

using DriftFn = std::function<void(const std::string& app, const resource::ResourceId& id)>;

// Whether a watch event is drift: not plumbline's own apply, not a status update.
bool IsDriftEvent(const std::string& type, const resource::Value& object,
                  const std::string& field_manager);

class KindWatches {
 public:
  KindWatches(KubeClient* client, WatchOptions options, DriftFn on_drift);
  ~KindWatches();  // stops and joins every watch
  // Starts watching this kind (once per group/kind).
  void Ensure(const ApiResource& info);
  // plumbline is about to delete this object (ResourceId::Key()): its DELETED event is not
  // drift.
  void ExpectDelete(const std::string& key);
  // Lists done so far (tests check the re-list after 410).
  int lists() const;

  // The labelled object at `path` (an ApiResource::ObjectPath) as the watch of its kind
  // last saw it, managedFields dropped. False when the cache cannot answer: the kind is
  // not watched or not listed yet (or listing again), or plumbline wrote the object and
  // the watch has not shown that write yet. Otherwise *found says whether a labelled
  // object is there (false: absent, or not labelled), and *body is it.
  bool Cached(const ApiResource& info, const std::string& path, resource::Value* body,
              bool* found) const;
  // plumbline wrote the object at `path`; the server answered resourceVersion `rv` ("" for
  // a delete). Cached() misses it until an event for it with that version (for a delete:
  // any event) arrives.
  void Wrote(const ApiResource& info, const std::string& path, const std::string& rv);

 private:
  void Run(ApiResource info);
  void Sleep(Duration d);
  KubeClient* client_;
  WatchOptions options_;
  DriftFn on_drift_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::map<std::string, std::thread> threads_;  // "group/Kind"
  std::set<std::string> expected_deletes_;
  int lists_ = 0;
  struct KindCache {
    bool synced = false;                             // listed, and watching
    std::map<std::string, resource::Value> by_path;  // labelled objects
  };
  std::map<std::string, KindCache> cache_;      // "group/Kind"
  std::map<std::string, std::string> written_;  // path -> resourceVersion plumbline wrote
};

}  // namespace plumb::target::kubernetes
