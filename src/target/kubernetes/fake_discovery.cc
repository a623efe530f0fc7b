#include "core/fs.h"
#include "core/strings.h"
#include "resource/codec.h"
#include "resource/resource.h"
#include "target/kubernetes/fake_apiserver_impl.h"

namespace plumb::target::kubernetes::testing {

using resource::Value;

Status FakeApiServer::Impl::LoadDiscovery() {
  for (const char* f : {"02-get-api.json", "03-get-api-v1.json", "04-get-apis.json",
                        "05-get-apis-apps-v1.json", "06-get-apis-apiextensions-v1.json",
                        "07-get-apis-batch-v1.json", "08-get-apis-coordination-v1.json",
                        "09-get-apis-networking-v1.json", "10-get-apis-rbac-v1.json"}) {
    ASSIGN_OR_RETURN(std::string text, fs::ReadFile(fs::JoinPath(options.fixtures_dir, f)));
    ASSIGN_OR_RETURN(Value doc, resource::ParseJson(text, f));
    const Value* req = doc.Find("request");
    const Value* body = doc.FindPath({"response", "body"});
    if (!req || !body) return InvalidArgument(std::string(f) + ": not a recorded exchange");
    AddDiscovery(req->GetString("path"), *body);
  }
  return Status::Ok();
}

// The namespaces every cluster has.
void FakeApiServer::Impl::SeedNamespaces() {
  for (const char* name : {"default", "kube-system", "kube-public"}) {
    Stored s{Value::EmptyObject(), {}};
    s.obj.Set("apiVersion", "v1");
    s.obj.Set("kind", "Namespace");
    Value md = Value::EmptyObject();
    md.Set("name", name);
    md.Set("uid", NextUid());
    md.Set("resourceVersion", std::to_string(++rv));
    md.Set("creationTimestamp", Now());
    s.obj.Set("metadata", md);
    Default(ResourceInfo{"", "v1", "Namespace", "namespaces", false}, &s.obj, nullptr);
    objects[Key("", "namespaces", "", name)] = s;
  }
}

void FakeApiServer::Impl::AddDiscovery(const std::string& path, const Value& body) {
  discovery[path] = body;
  if (body.GetString("kind") != "APIResourceList") return;
  std::string gv = body.GetString("groupVersion");
  std::string group, version;
  resource::SplitApiVersion(gv, &group, &version);
  std::vector<ResourceInfo>& list = served[gv];
  list.clear();
  if (const Value* rs = body.Find("resources"); rs && rs->is_array())
    for (const Value& r : rs->as_array()) {
      std::string name = r.GetString("name");
      if (name.find('/') != std::string::npos) continue;
      const Value* nsd = r.Find("namespaced");
      list.push_back({group, version, r.GetString("kind"), name, nsd && nsd->as_bool()});
    }
}

// Adds a CRD's group/version to discovery (as the apiextensions server does).
void FakeApiServer::Impl::ServeCrd(const Value& crd) {
  const Value* spec = crd.Find("spec");
  if (!spec) return;
  std::string group = spec->GetString("group");
  const Value* names = spec->Find("names");
  std::string plural = names ? names->GetString("plural") : "";
  std::string kind = names ? names->GetString("kind") : "";
  bool namespaced = spec->GetString("scope") == "Namespaced";
  const Value* versions = spec->Find("versions");
  if (!versions || !versions->is_array() || group.empty()) return;
  std::string preferred;
  Value versions_list = Value::EmptyArray();
  for (const Value& v : versions->as_array()) {
    const Value* served_flag = v.Find("served");
    if (served_flag && served_flag->is_bool() && !served_flag->as_bool()) continue;
    std::string version = v.GetString("name");
    if (preferred.empty()) preferred = version;
    Value r = Value::EmptyObject();
    r.Set("name", plural);
    r.Set("singularName", names ? names->GetString("singular") : "");
    r.Set("namespaced", namespaced);
    r.Set("kind", kind);
    Value verbs = Value::EmptyArray();
    for (const char* verb :
         {"delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"})
      verbs.Append(verb);
    r.Set("verbs", verbs);
    Value doc = Value::EmptyObject();
    doc.Set("kind", "APIResourceList");
    doc.Set("apiVersion", "v1");
    doc.Set("groupVersion", group + "/" + version);
    doc.Set("resources", Value(resource::Array{r}));
    AddDiscovery("/apis/" + group + "/" + version, doc);
    Value gv = Value::EmptyObject();
    gv.Set("groupVersion", group + "/" + version);
    gv.Set("version", version);
    versions_list.Append(gv);
  }
  Value& groups = discovery["/apis"];
  Value* list = groups.Find("groups");
  if (!list) return;
  for (const Value& g : list->as_array())
    if (g.GetString("name") == group) return;
  Value g = Value::EmptyObject();
  g.Set("name", group);
  g.Set("versions", versions_list);
  Value pref = Value::EmptyObject();
  pref.Set("groupVersion", group + "/" + preferred);
  pref.Set("version", preferred);
  g.Set("preferredVersion", pref);
  list->Append(g);
}

// Parses /api/v1/..., /apis/G/V/... Returns false (text/plain 404) for a path of no
// served group/version; `info.resource` empty when the resource is unknown.
bool FakeApiServer::Impl::Parse(const std::string& path, Target* t, bool* unknown_resource) {
  std::vector<std::string> segs;
  for (const std::string& s : Split(path, '/'))
    if (!s.empty()) segs.push_back(s);
  size_t i = 0;
  if (segs.size() >= 2 && segs[0] == "api") {
    t->version = segs[1];
    i = 2;
  } else if (segs.size() >= 3 && segs[0] == "apis") {
    t->group = segs[1];
    t->version = segs[2];
    i = 3;
  } else {
    return false;
  }
  std::string gv = t->group.empty() ? t->version : t->group + "/" + t->version;
  auto it = served.find(gv);
  if (it == served.end()) return false;
  std::vector<std::string> rest(segs.begin() + i, segs.end());
  std::string resource;
  if (rest.size() >= 3 && rest[0] == "namespaces") {
    t->ns = rest[1];
    resource = rest[2];
    if (rest.size() >= 4) t->name = rest[3];
    if (rest.size() > 4) return false;
  } else if (!rest.empty()) {
    resource = rest[0];
    if (rest.size() >= 2) t->name = rest[1];
    if (rest.size() > 2) return false;
  }
  *unknown_resource = true;
  for (const ResourceInfo& r : it->second)
    if (r.resource == resource) {
      t->info = r;
      *unknown_resource = false;
    }
  return true;
}

}  // namespace plumb::target::kubernetes::testing
