#include "core/strings.h"
#include "resource/codec.h"
#include "target/kubernetes/fake_apiserver_impl.h"

namespace plumb::target::kubernetes::testing {

using resource::Value;

// POST to a collection (JSON): creates, 409 AlreadyExists when the name is taken.
void FakeApiServer::Impl::Create(const httplib::Request& req, httplib::Response& res,
                                 const Target& t) {
  auto body = resource::ParseJson(req.body, "body");
  if (!body.ok() || !body->is_object()) return Fail(res, 400, "BadRequest", "not a JSON object");
  std::string name = body->FindPath({"metadata"}) ? body->Find("metadata")->GetString("name") : "";
  if (!ValidName(name))
    return Fail(res, 422, "Invalid", t.info.kind + " \"" + name + "\" is invalid: metadata.name");
  if (t.info.namespaced && !objects.count(Key("", "namespaces", "", t.ns)))
    return Fail(res, 404, "NotFound", "namespaces \"" + t.ns + "\" not found",
                Details(t.ns, "", "namespaces"));
  std::string key = Key(t.group, t.info.resource, t.ns, name);
  if (objects.count(key))
    return Fail(res, 409, "AlreadyExists",
                t.info.resource + (t.group.empty() ? "" : "." + t.group) + " \"" + name +
                    "\" already exists",
                Details(name, t.group, t.info.resource));
  std::string api_version = t.group.empty() ? t.version : t.group + "/" + t.version;
  std::string manager = req.get_param_value("fieldManager");
  Stored st{*body, {}};
  st.managers.push_back(
      {manager.empty() ? "unknown" : manager, "Update", api_version, Now(), AppliedFields(*body)});
  Value* md = st.obj.Find("metadata");
  if (t.info.namespaced) md->Set("namespace", t.ns);
  md->Set("uid", NextUid());
  md->Set("resourceVersion", std::to_string(++rv));
  md->Set("creationTimestamp", Now());
  WriteMetadata(&st);
  Target named = t;
  named.name = name;
  objects[key] = st;
  Emit("ADDED", named, st.obj);
  Reply(res, 201, st.obj);
}

// PUT of a whole object: 409 Conflict when metadata.resourceVersion is not the stored one.
void FakeApiServer::Impl::Replace(const httplib::Request& req, httplib::Response& res,
                                  const Target& t) {
  auto body = resource::ParseJson(req.body, "body");
  if (!body.ok() || !body->is_object()) return Fail(res, 400, "BadRequest", "not a JSON object");
  std::string key = Key(t.group, t.info.resource, t.ns, t.name);
  auto it = objects.find(key);
  if (it == objects.end())
    return Fail(res, 404, "NotFound", t.info.resource + " \"" + t.name + "\" not found",
                Details(t.name, t.group, t.info.resource));
  Stored& s = it->second;
  const Value* want_rv = body->FindPath({"metadata", "resourceVersion"});
  if (want_rv && want_rv->is_string() &&
      want_rv->as_string() != s.obj.FindPath({"metadata", "resourceVersion"})->as_string())
    return Fail(res, 409, "Conflict",
                "Operation cannot be fulfilled on " + t.info.resource +
                    (t.group.empty() ? "" : "." + t.group) + " \"" + t.name +
                    "\": the object has been modified; please apply your changes to the latest "
                    "version and try again",
                Details(t.name, t.group, t.info.resource));
  Value before = s.obj;
  Value next = *body;
  Value* md = next.Find("metadata");
  if (!md) md = &next.Set("metadata", Value::EmptyObject());
  for (const char* k : {"uid", "creationTimestamp", "generation"})
    if (const Value* v = before.FindPath({"metadata", k})) md->Set(k, *v);
  md->Erase("managedFields");
  md->Set("resourceVersion", std::to_string(++rv));
  s.obj = next;
  std::set<FieldPath> changed = ChangedFields(AppliedFieldsValue(before), AppliedFieldsValue(next));
  std::string manager = req.get_param_value("fieldManager");
  if (manager.empty()) manager = "unknown";
  std::string api_version = t.group.empty() ? t.version : t.group + "/" + t.version;
  bool found = false;
  for (Manager& m : s.managers) {
    if (m.name == manager && m.operation == "Update") {
      m.fields.insert(changed.begin(), changed.end());
      m.time = Now();
      found = true;
    } else {
      for (const FieldPath& f : changed) m.fields.erase(f);
    }
  }
  if (!found) s.managers.push_back({manager, "Update", api_version, Now(), changed});
  WriteMetadata(&s);
  Emit("MODIFIED", t, s.obj);
  Reply(res, 200, s.obj);
}

Value FakeApiServer::Impl::AppliedFieldsValue(const Value& v) {
  Value c = v;
  c.Erase("status");
  if (Value* md = c.Find("metadata")) {
    for (const char* k :
         {"resourceVersion", "managedFields", "uid", "creationTimestamp", "generation", "selfLink"})
      md->Erase(k);
  }
  return c;
}

void FakeApiServer::Impl::Update(const httplib::Request& req, httplib::Response& res,
                                 const Target& t) {
  std::string manager = req.get_param_value("fieldManager");
  if (manager.empty()) manager = "unknown";
  auto it = objects.find(Key(t.group, t.info.resource, t.ns, t.name));
  if (it == objects.end())
    return Fail(res, 404, "NotFound", t.info.resource + " \"" + t.name + "\" not found",
                Details(t.name, t.group, t.info.resource));
  auto patch = resource::ParseJson(req.body, "body");
  if (!patch.ok()) return Fail(res, 400, "BadRequest", patch.status().message());
  Stored& s = it->second;
  Value before = s.obj;
  s.obj = MergePatch(s.obj, *patch);
  std::set<FieldPath> changed = ChangedFields(before, s.obj);
  for (Manager& m : s.managers)
    for (const FieldPath& f : changed) m.fields.erase(f);
  std::vector<Manager> kept;
  for (Manager& m : s.managers)
    if (!m.fields.empty()) kept.push_back(std::move(m));
  s.managers = std::move(kept);
  std::string api_version = t.group.empty() ? t.version : t.group + "/" + t.version;
  if (!changed.empty()) s.managers.push_back({manager, "Update", api_version, Now(), changed});
  if (!changed.empty()) {
    Value* md = s.obj.Find("metadata");
    if (GenerationChanges(before, s.obj)) {
      const Value* g = before.FindPath({"metadata", "generation"});
      md->Set("generation", (g && g->is_int() ? g->as_int() : 0) + 1);
    }
    md->Set("resourceVersion", std::to_string(++rv));
    WriteMetadata(&s);
    Emit("MODIFIED", t, s.obj);
    if (options.controllers) RunController(t, it->first);
  }
  Reply(res, 200, it->second.obj);
}

void FakeApiServer::Impl::Delete(const httplib::Request& req, httplib::Response& res,
                                 const Target& t) {
  std::string policy = req.get_param_value("propagationPolicy");
  if (!req.body.empty()) {
    auto opts = resource::ParseJson(req.body, "DeleteOptions");
    if (!opts.ok()) return Fail(res, 400, "BadRequest", opts.status().message());
    policy = opts->GetString("propagationPolicy", policy);
  }
  if (!policy.empty() && policy != "Background" && policy != "Foreground" && policy != "Orphan")
    return Fail(res, 400, "BadRequest", "invalid propagationPolicy " + policy);
  std::string key = Key(t.group, t.info.resource, t.ns, t.name);
  auto it = objects.find(key);
  if (it == objects.end())
    return Fail(res, 404, "NotFound", t.info.resource + " \"" + t.name + "\" not found",
                Details(t.name, t.group, t.info.resource));
  last_delete_policy = policy;
  Stored s = it->second;
  if (policy == "Foreground") {
    Value* md = s.obj.Find("metadata");
    md->Set("deletionTimestamp", Now());
    md->Set("deletionGracePeriodSeconds", 0);
    Value fin = Value::EmptyArray();
    fin.Append("foregroundDeletion");
    md->Set("finalizers", fin);
    md->Set("resourceVersion", std::to_string(++rv));
    WriteMetadata(&s);
    Emit("MODIFIED", t, s.obj);
    Reply(res, 200, s.obj);
  } else {
    Value d = Details(t.name, t.group, t.info.resource);
    d.Set("uid",
          s.obj.FindPath({"metadata", "uid"}) ? *s.obj.FindPath({"metadata", "uid"}) : Value(""));
    Reply(res, 200, StatusBody(200, "", "", d));
  }
  // The garbage collector's part: the object goes (dependents are not modelled).
  objects.erase(key);
  ++rv;
  s.obj.Find("metadata")->Set("resourceVersion", std::to_string(rv));
  Emit("DELETED", t, s.obj);
}

void FakeApiServer::Impl::Read(const httplib::Request& req, httplib::Response& res,
                               const Target& t) {
  std::string api_version = t.group.empty() ? t.version : t.group + "/" + t.version;
  if (!t.name.empty()) {
    auto it = objects.find(Key(t.group, t.info.resource, t.ns, t.name));
    if (it == objects.end())
      return Fail(res, 404, "NotFound", t.info.resource + " \"" + t.name + "\" not found",
                  Details(t.name, t.group, t.info.resource));
    return Reply(res, 200, it->second.obj);
  }
  std::string selector = req.get_param_value("labelSelector");
  Value items = Value::EmptyArray();
  std::string prefix = Key(t.group, t.info.resource, "", "");
  prefix.resize(prefix.size() - 2);  // "group|resource"
  for (const auto& [k, s] : objects) {
    if (!StartsWith(k, prefix + "|")) continue;
    if (!t.ns.empty() && s.obj.FindPath({"metadata", "namespace"}) &&
        s.obj.FindPath({"metadata", "namespace"})->as_string() != t.ns)
      continue;
    if (!MatchesSelector(s.obj.FindPath({"metadata", "labels"}), selector)) continue;
    Value item = s.obj;  // list items carry no kind/apiVersion of their own
    item.Erase("kind");
    item.Erase("apiVersion");
    items.Append(item);
  }
  Value list = Value::EmptyObject();
  list.Set("kind", t.info.kind + "List");
  list.Set("apiVersion", api_version);
  Value md = Value::EmptyObject();
  md.Set("resourceVersion", std::to_string(rv));
  list.Set("metadata", md);
  list.Set("items", items);
  Reply(res, 200, list);
}

}  // namespace plumb::target::kubernetes::testing
