#include "core/strings.h"
#include "resource/codec.h"
#include "target/kubernetes/fake_apiserver_impl.h"

namespace plumb::target::kubernetes::testing {

using resource::Value;

std::string FakeApiServer::Impl::NextUid() {
  char buf[48];  // room for any int64 (-Wformat-truncation at -O2)
  snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012lld",
           static_cast<long long>(++uid_counter));
  return buf;
}

// Fills in what the real server defaults, for the kinds the tests use.
void FakeApiServer::Impl::Default(const ResourceInfo& info, Value* obj, const Value* old) {
  if (info.kind == "Deployment" || info.kind == "StatefulSet") {
    Value* spec = obj->Find("spec");
    if (!spec) return;
    if (!spec->Find("replicas")) spec->Set("replicas", 1);
    if (!spec->Find("revisionHistoryLimit")) spec->Set("revisionHistoryLimit", 10);
    if (info.kind == "Deployment" && !spec->Find("progressDeadlineSeconds"))
      spec->Set("progressDeadlineSeconds", 600);
  } else if (info.kind == "Secret") {
    if (!obj->Find("type")) obj->Set("type", "Opaque");
  } else if (info.kind == "Service") {
    Value* spec = obj->Find("spec");
    if (!spec) return;
    if (!spec->Find("type")) spec->Set("type", "ClusterIP");
    if (!spec->Find("sessionAffinity")) spec->Set("sessionAffinity", "None");
    if (!spec->Find("clusterIP")) {
      const Value* was = old ? old->FindPath({"spec", "clusterIP"}) : nullptr;
      spec->Set("clusterIP", was ? *was : Value("10.96.0.42"));
    }
    if (Value* ports = spec->Find("ports"); ports && ports->is_array())
      for (Value& p : ports->as_array()) {
        if (!p.Find("protocol")) p.Set("protocol", "TCP");
        if (!p.Find("targetPort") && p.Find("port")) p.Set("targetPort", *p.Find("port"));
      }
  } else if (info.kind == "Namespace") {
    if (!obj->FindPath({"spec", "finalizers"})) {
      Value f = Value::EmptyArray();
      f.Append("kubernetes");
      obj->Set("spec", Value::EmptyObject()).Set("finalizers", f);
    }
    if (!obj->FindPath({"status", "phase"}))
      obj->Set("status", Value::EmptyObject()).Set("phase", "Active");
  }
}

// Rebuilds metadata in the real server's key order, with managedFields.
void FakeApiServer::Impl::WriteMetadata(Stored* s) {
  Value md = s->obj.Find("metadata") ? *s->obj.Find("metadata") : Value::EmptyObject();
  Value out = Value::EmptyObject();
  for (const char* k : {"name", "generateName", "namespace", "uid", "resourceVersion", "generation",
                        "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                        "labels", "annotations", "ownerReferences", "finalizers"})
    if (const Value* v = md.Find(k)) out.Set(k, *v);
  Value mf = Value::EmptyArray();
  for (const Manager& m : s->managers) {
    Value e = Value::EmptyObject();
    e.Set("manager", m.name);
    e.Set("operation", m.operation);
    e.Set("apiVersion", m.api_version);
    e.Set("time", m.time);
    e.Set("fieldsType", "FieldsV1");
    e.Set("fieldsV1", FieldsV1(m.fields));
    mf.Append(e);
  }
  if (mf.size() > 0) out.Set("managedFields", mf);
  // kind, apiVersion, metadata first, as the server writes them.
  Value obj = Value::EmptyObject();
  obj.Set("kind", s->obj.GetString("kind"));
  obj.Set("apiVersion", s->obj.GetString("apiVersion"));
  obj.Set("metadata", out);
  for (const auto& [k, v] : s->obj.as_object())
    if (k != "kind" && k != "apiVersion" && k != "metadata") obj.Set(k, v);
  s->obj = std::move(obj);
}

bool FakeApiServer::Impl::SameContent(const Value& a, const Value& b) {
  Value x = a, y = b;
  for (Value* v : {&x, &y})
    if (Value* md = v->Find("metadata")) md->Erase("managedFields");
  return x == y;
}

bool FakeApiServer::Impl::GenerationChanges(const Value& before, const Value& after) {
  Value x = before, y = after;
  for (Value* v : {&x, &y}) {
    v->Erase("metadata");
    v->Erase("status");
  }
  return x != y;
}

void FakeApiServer::Impl::Apply(const httplib::Request& req, httplib::Response& res,
                                const Target& t) {
  std::string manager = req.get_param_value("fieldManager");
  bool force = req.get_param_value("force") == "true";
  bool dry_run = req.get_param_value("dryRun") == "All";
  if (manager.empty())
    return Fail(res, 400, "BadRequest",
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is "
                "required for apply patch");
  auto docs = resource::ParseYaml(req.body, "body");
  if (!docs.ok() || docs->size() != 1 || !(*docs)[0].value.is_object())
    return Fail(res, 400, "BadRequest",
                "error decoding YAML: " +
                    (docs.ok() ? std::string("not one object") : docs.status().message()));
  Value applied = (*docs)[0].value;
  std::string api_version = t.group.empty() ? t.version : t.group + "/" + t.version;
  if (applied.GetString("apiVersion") != api_version || applied.GetString("kind") != t.info.kind)
    return Fail(res, 400, "BadRequest",
                "the body of the request (" + applied.GetString("apiVersion") +
                    ", Kind=" + applied.GetString("kind") + ") does not match the resource " +
                    t.info.resource + " in " + api_version);
  const Value* md = applied.Find("metadata");
  if (!md || md->GetString("name") != t.name)
    return Fail(res, 400, "BadRequest",
                "the name of the object (" + (md ? md->GetString("name") : "") +
                    ") does not match the name on the URL (" + t.name + ")");
  if (!ValidName(t.name)) {
    Value causes = Value::EmptyArray();
    Value c = Value::EmptyObject();
    c.Set("reason", "FieldValueInvalid");
    c.Set("message", "Invalid value: \"" + t.name +
                         "\": a DNS-1123 subdomain must consist "
                         "of lower case alphanumeric characters, '-' or '.'");
    c.Set("field", "metadata.name");
    causes.Append(c);
    Value d = Details(t.name, t.group, t.info.kind);
    d.Set("causes", causes);
    return Fail(res, 422, "Invalid",
                t.info.kind + " \"" + t.name + "\" is invalid: metadata.name: Invalid value", d);
  }
  if (t.info.namespaced && !objects.count(Key("", "namespaces", "", t.ns)))
    return Fail(res, 404, "NotFound", "namespaces \"" + t.ns + "\" not found",
                Details(t.ns, "", "namespaces"));
  std::string key = Key(t.group, t.info.resource, t.ns, t.name);
  auto it = objects.find(key);
  bool create = it == objects.end();
  Stored s = create ? Stored{Value::EmptyObject(), {}} : it->second;
  Value before = s.obj;
  std::set<FieldPath> fields = AppliedFields(applied);

  // Conflicts: a field another manager owns, with another value than the applied one.
  std::map<FieldPath, std::string> conflicts;
  for (const Manager& m : s.managers) {
    if (m.name == manager) continue;
    for (const FieldPath& f : fields) {
      if (!m.fields.count(f)) continue;
      const Value* live = GetField(s.obj, f);
      const Value* want = GetField(applied, f);
      if (!live || !want || *live != *want) conflicts[f] = m.name;
    }
  }
  if (!conflicts.empty() && !force) {
    Value causes = Value::EmptyArray();
    std::string msg = "Apply failed with " + std::to_string(conflicts.size()) + " conflict" +
                      (conflicts.size() > 1 ? "s" : "") + ":";
    for (const auto& [f, who] : conflicts) {
      std::string m = "conflict with \"" + who + "\" using " + api_version;
      Value c = Value::EmptyObject();
      c.Set("reason", "FieldManagerConflict");
      c.Set("message", m);
      c.Set("field", FieldString(f));
      causes.Append(c);
      msg += " " + m + ": " + FieldString(f);
    }
    Value d = Value::EmptyObject();
    d.Set("causes", causes);
    return Fail(res, 409, "Conflict", msg, d);
  }
  // Ownership: forced fields leave their other owners; a manager left with nothing goes.
  for (Manager& m : s.managers)
    if (m.name != manager)
      for (const auto& c : conflicts) m.fields.erase(c.first);
  Manager* mine = nullptr;
  for (Manager& m : s.managers)
    if (m.name == manager && m.operation == "Apply") mine = &m;
  std::set<FieldPath> previous = mine ? mine->fields : std::set<FieldPath>{};
  for (const FieldPath& f : previous) {
    if (fields.count(f)) continue;
    bool owned_elsewhere = false;
    for (const Manager& m : s.managers)
      if (&m != mine && m.fields.count(f)) owned_elsewhere = true;
    if (!owned_elsewhere) EraseField(&s.obj, f);
  }
  if (create) {
    s.obj.Set("apiVersion", api_version);
    s.obj.Set("kind", t.info.kind);
    Value nmd = Value::EmptyObject();
    nmd.Set("name", t.name);
    if (t.info.namespaced) nmd.Set("namespace", t.ns);
    s.obj.Set("metadata", nmd);
  }
  for (const FieldPath& f : fields) SetField(&s.obj, f, *GetField(applied, f));
  Default(t.info, &s.obj, create ? nullptr : &before);
  std::vector<Manager> kept;
  bool fields_changed = !mine || mine->fields != fields;
  for (Manager& m : s.managers)
    if (!m.fields.empty() && !(m.name == manager && m.operation == "Apply"))
      kept.push_back(std::move(m));
  s.managers = std::move(kept);
  if (!create && !fields_changed && SameContent(before, s.obj)) {
    return Reply(res, 200, before);  // a no-op: nothing changes, not even the time
  }
  Manager me{manager, "Apply", api_version, Now(), fields};
  s.managers.push_back(me);
  Value* smd = s.obj.Find("metadata");
  if (create) {
    smd->Set("uid", NextUid());
    smd->Set("creationTimestamp", Now());
  }
  if (s.obj.Find("spec") && (create || GenerationChanges(before, s.obj))) {
    const Value* g = before.FindPath({"metadata", "generation"});
    smd->Set("generation", (g && g->is_int() ? g->as_int() : 0) + 1);
  }
  smd->Set("resourceVersion", std::to_string(dry_run ? rv : rv + 1));
  WriteMetadata(&s);
  if (dry_run) return Reply(res, create ? 201 : 200, s.obj);
  ++rv;
  Value answer = s.obj;
  objects[key] = s;
  Emit(create ? "ADDED" : "MODIFIED", t, s.obj);
  if (t.info.kind == "CustomResourceDefinition") EstablishCrd(t, key);
  if (options.controllers) RunController(t, key);
  Reply(res, create ? 201 : 200, answer);
}

}  // namespace plumb::target::kubernetes::testing
