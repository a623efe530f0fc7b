// target/kubernetes: discovery — which resource (URL path segment) serves a kind, and
// whether it is namespaced — from the plain discovery documents every API server
// answers: /api, /apis (groups and preferred versions), /api/v1 and /apis/G/V
// (APIResourceLists). Cached per group/version; a kind the cache does not know makes it
// ask again (a CRD that was just established), so new kinds appear without a restart.
// Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "target/kubernetes/client.h"

namespace plumb::target::kubernetes {

struct ApiResource {
  std::string group;     // "" for core
  std::string version;   // "v1"
  std::string kind;      // "Deployment"
  std::string resource;  // "deployments"
  bool namespaced = false;
  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
  // "/api/v1" or "/apis/apps/v1".
  std::string GroupVersionPath() const;
  // The collection path: in `ns` when namespaced and ns is not empty, else cluster-wide.
  std::string CollectionPath(const std::string& ns) const;
  // The object path.
  std::string ObjectPath(const std::string& ns, const std::string& name) const;
};

class Discovery {
 public:
  explicit Discovery(KubeClient* client) : client_(client) {}

  // The resource serving `kind` in `api_version` ("apps/v1", "v1"). NotFound, naming the
  // kind and apiVersion, when the cluster does not serve it (after asking again).
  Result<ApiResource> Resolve(const std::string& api_version, const std::string& kind);
  // The same for a group without a version (an inventory entry): the group's preferred
  // version from /api or /apis.
  Result<ApiResource> ResolveGroupKind(const std::string& group, const std::string& kind);
  // Forgets everything (e.g. after applying CRDs).
  void Invalidate();
  // Discovery requests sent so far (tests check caching).
  int fetches() const { return fetches_; }

 private:
  Result<std::vector<ApiResource>> Fetch(const std::string& group, const std::string& version);
  Result<std::string> PreferredVersion(const std::string& group, bool refresh);
  KubeClient* client_;
  std::mutex mu_;
  std::map<std::string, std::vector<ApiResource>> by_group_version_;  // "apps/v1" -> resources
  std::map<std::string, std::string> preferred_;                      // group -> version
  bool have_groups_ = false;
  int fetches_ = 0;
};

}  // namespace plumb::target::kubernetes
