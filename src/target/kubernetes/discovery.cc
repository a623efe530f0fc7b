#include "target/kubernetes/discovery.h"

#include "core/strings.h"

namespace plumb::target::kubernetes {

using resource::Value;

std::string ApiResource::GroupVersionPath() const {
  return group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
}

std::string ApiResource::CollectionPath(const std::string& ns) const {
  if (namespaced && !ns.empty()) return GroupVersionPath() + "/namespaces/" + ns + "/" + resource;
  return GroupVersionPath() + "/" + resource;
}

std::string ApiResource::ObjectPath(const std::string& ns, const std::string& name) const {
  return CollectionPath(ns) + "/" + name;
}

Result<std::vector<ApiResource>> Discovery::Fetch(const std::string& group,
                                                  const std::string& version) {
  ApiResource probe{.group = group, .version = version};
  fetches_++;
  auto doc = client_->DoJson({.path = probe.GroupVersionPath()});
  if (!doc.ok()) return doc.status();
  std::vector<ApiResource> out;
  const Value* resources = doc->Find("resources");
  if (resources && resources->is_array()) {
    for (const Value& r : resources->as_array()) {
      std::string name = r.GetString("name");
      if (name.empty() || name.find('/') != std::string::npos) continue;  // subresources
      const Value* ns = r.Find("namespaced");
      out.push_back(ApiResource{.group = group,
                                .version = version,
                                .kind = r.GetString("kind"),
                                .resource = name,
                                .namespaced = ns && ns->is_bool() && ns->as_bool()});
    }
  }
  return out;
}

Result<ApiResource> Discovery::Resolve(const std::string& api_version, const std::string& kind) {
  std::string group, version;
  size_t slash = api_version.find('/');
  if (slash == std::string::npos) {
    version = api_version;
  } else {
    group = api_version.substr(0, slash);
    version = api_version.substr(slash + 1);
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (int pass = 0; pass < 2; ++pass) {
    auto it = by_group_version_.find(api_version);
    if (it == by_group_version_.end() || pass == 1) {
      auto list = Fetch(group, version);
      if (!list.ok()) {
        if (list.status().code() == Code::kNotFound)
          return NotFound("the cluster does not serve " + api_version + " (kind " + kind +
                          "): is its CustomResourceDefinition installed?");
        return list.status().WithContext("discovery of " + api_version);
      }
      it = by_group_version_.insert_or_assign(api_version, std::move(*list)).first;
      pass = 1;  // fresh: no point asking again
    }
    for (const ApiResource& r : it->second)
      if (r.kind == kind) return r;
  }
  return NotFound("the cluster serves " + api_version + " but no kind " + kind + " in it");
}

Result<std::string> Discovery::PreferredVersion(const std::string& group, bool refresh) {
  if (group.empty()) return std::string("v1");  // /api lists only v1 in every release
  if (!have_groups_ || refresh) {
    fetches_++;
    ASSIGN_OR_RETURN(Value doc, client_->DoJson({.path = "/apis"}));
    preferred_.clear();
    if (const Value* groups = doc.Find("groups"); groups && groups->is_array())
      for (const Value& g : groups->as_array())
        if (const Value* p = g.Find("preferredVersion"))
          preferred_[g.GetString("name")] = p->GetString("version");
    have_groups_ = true;
  }
  auto it = preferred_.find(group);
  if (it == preferred_.end()) return NotFound("the cluster does not serve API group " + group);
  return it->second;
}

Result<ApiResource> Discovery::ResolveGroupKind(const std::string& group, const std::string& kind) {
  std::string version;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto v = PreferredVersion(group, false);
    if (!v.ok() && v.status().code() == Code::kNotFound) v = PreferredVersion(group, true);
    if (!v.ok()) return v.status();
    version = *v;
  }
  return Resolve(group.empty() ? version : group + "/" + version, kind);
}

void Discovery::Invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  by_group_version_.clear();
  preferred_.clear();
  have_groups_ = false;
}

}  // namespace plumb::target::kubernetes
