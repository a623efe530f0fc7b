#include "target/kubernetes/fake_apiserver.h"

#include <httplib.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/clock.h"
#include "core/fs.h"
#include "core/strings.h"
#include "resource/codec.h"
#include "resource/resource.h"
#include "target/kubernetes/fake_fields.h"

namespace plumb::target::kubernetes::testing {
namespace {

using resource::Object;
using resource::Value;

struct ResourceInfo {
  std::string group, version, kind, resource;
  bool namespaced = false;
};

struct Manager {
  std::string name, operation, api_version, time;
  std::set<FieldPath> fields;
};

struct Stored {
  Value obj;
  std::vector<Manager> managers;
};

struct WatchEvent {
  int64_t rv = 0;
  std::string type;
  std::string group, resource, ns;
  Value obj;
};

// Where a request points: a group/version, a resource, a namespace and a name.
struct Target {
  std::string group, version;
  ResourceInfo info;
  std::string ns, name;
};

std::string Now() {
  time_t t = time(nullptr);
  char buf[32];
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Value StatusBody(int code, const std::string& reason, const std::string& message,
                 Value details = Value()) {
  Value v = Value::EmptyObject();
  v.Set("kind", "Status");
  v.Set("apiVersion", "v1");
  v.Set("metadata", Value::EmptyObject());
  v.Set("status", code < 300 ? "Success" : "Failure");
  if (!message.empty()) v.Set("message", message);
  if (!reason.empty()) v.Set("reason", reason);
  if (!details.is_null()) v.Set("details", std::move(details));
  v.Set("code", code);
  return v;
}

void Reply(httplib::Response& res, int code, const Value& body) {
  res.status = code;
  res.set_content(resource::ToJson(body), "application/json");
}

void Fail(httplib::Response& res, int code, const std::string& reason, const std::string& message,
          Value details = Value()) {
  Reply(res, code, StatusBody(code, reason, message, std::move(details)));
}

bool ValidName(const std::string& n) {
  if (n.empty() || n.size() > 253) return false;
  for (char c : n)
    if (!(islower(static_cast<unsigned char>(c)) || isdigit(static_cast<unsigned char>(c)) ||
          c == '-' || c == '.'))
      return false;
  return isalnum(static_cast<unsigned char>(n.front())) &&
         isalnum(static_cast<unsigned char>(n.back()));
}

Value Details(const std::string& name, const std::string& group, const std::string& kind) {
  Value d = Value::EmptyObject();
  if (!name.empty()) d.Set("name", name);
  if (!group.empty()) d.Set("group", group);
  d.Set("kind", kind);
  return d;
}

}  // namespace

struct FakeApiServer::Impl {
  FakeApiServerOptions options;
  std::unique_ptr<httplib::Server> server;
  std::thread thread;
  int port = 0;

  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, Value> discovery;  // "/api/v1", "/apis/apps/v1", "/apis", "/api"
  std::map<std::string, std::vector<ResourceInfo>> served;  // "apps/v1" -> resources
  std::map<std::string, Stored> objects;                    // group|resource|ns|name
  std::vector<WatchEvent> history;
  int64_t rv = 150;
  int64_t compacted = 0;
  int64_t uid_counter = 0;
  int watch_epoch = 0;  // CloseWatches() bumps it
  std::set<std::string> tokens;
  int fail_count = 0, fail_status = 0;
  std::string fail_retry_after;
  std::vector<RecordedRequest> requests;
  bool stopping = false;

  static std::string Key(const std::string& group, const std::string& resource,
                         const std::string& ns, const std::string& name) {
    return group + "|" + resource + "|" + ns + "|" + name;
  }

  Status LoadDiscovery() {
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
  void SeedNamespaces() {
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

  void AddDiscovery(const std::string& path, const Value& body) {
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
  void ServeCrd(const Value& crd) {
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
  bool Parse(const std::string& path, Target* t, bool* unknown_resource) {
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

  bool Authorized(const httplib::Request& req, httplib::Response& res, const Target* t) {
    if (!options.client_ca_file.empty()) return true;  // verified client certificate
    std::string auth = req.get_header_value("Authorization");
    if (auth.empty()) {
      if (!options.anonymous) {
        Fail(res, 401, "Unauthorized", "Unauthorized");
        return false;
      }
      std::string what = t ? t->info.resource : "";
      Fail(res, 403, "Forbidden",
           what + " is forbidden: User \"system:anonymous\" cannot " +
               (req.method == "GET" ? "get" : "patch") + " resource \"" + what +
               "\" in API group \"" + (t ? t->group : "") + "\"",
           Details("", "", what));
      return false;
    }
    if (!StartsWith(auth, "Bearer ") || !tokens.count(auth.substr(7))) {
      Fail(res, 401, "Unauthorized", "Unauthorized");
      return false;
    }
    return true;
  }

  void Record(const httplib::Request& req) {
    std::string query;
    size_t q = req.target.find('?');
    if (q != std::string::npos) query = req.target.substr(q + 1);
    requests.push_back({req.method, req.path, query, req.get_header_value("Content-Type"),
                        req.get_header_value("Accept"), req.body, req.has_header("Authorization")});
  }

  std::string NextUid() {
    char buf[40];
    snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012lld",
             static_cast<long long>(++uid_counter));
    return buf;
  }

  // Fills in what the real server defaults, for the kinds the tests use.
  static void Default(const ResourceInfo& info, Value* obj, const Value* old) {
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
  static void WriteMetadata(Stored* s) {
    Value md = s->obj.Find("metadata") ? *s->obj.Find("metadata") : Value::EmptyObject();
    Value out = Value::EmptyObject();
    for (const char* k :
         {"name", "generateName", "namespace", "uid", "resourceVersion", "generation",
          "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
          "annotations", "ownerReferences", "finalizers"})
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

  void Emit(const std::string& type, const Target& t, const Value& obj) {
    history.push_back({rv, type, t.group, t.info.resource, t.ns, obj});
    cv.notify_all();
  }

  static bool SameContent(const Value& a, const Value& b) {
    Value x = a, y = b;
    for (Value* v : {&x, &y})
      if (Value* md = v->Find("metadata")) md->Erase("managedFields");
    return x == y;
  }

  static bool GenerationChanges(const Value& before, const Value& after) {
    Value x = before, y = after;
    for (Value* v : {&x, &y}) {
      v->Erase("metadata");
      v->Erase("status");
    }
    return x != y;
  }

  void Apply(const httplib::Request& req, httplib::Response& res, const Target& t) {
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

  // What kube-controller-manager would write: the rollout done, the Job complete.
  void RunController(const Target& t, const std::string& key) {
    Stored& s = objects[key];
    Value status = Value::EmptyObject();
    const std::string& kind = t.info.kind;
    if (kind == "Deployment" || kind == "StatefulSet" || kind == "ReplicaSet") {
      const Value* g = s.obj.FindPath({"metadata", "generation"});
      const Value* r = s.obj.FindPath({"spec", "replicas"});
      int64_t replicas = r && r->is_int() ? r->as_int() : 1;
      status.Set("observedGeneration", g && g->is_int() ? g->as_int() : 1);
      status.Set("replicas", replicas);
      status.Set("updatedReplicas", replicas);
      status.Set("readyReplicas", replicas);
      status.Set("availableReplicas", replicas);
      if (kind == "StatefulSet") status.Set("currentReplicas", replicas);
    } else if (kind == "Job") {
      Value c = Value::EmptyObject();
      c.Set("type", "Complete");
      c.Set("status", "True");
      Value conds = Value::EmptyArray();
      conds.Append(c);
      status.Set("conditions", conds);
      status.Set("succeeded", 1);
    } else {
      return;
    }
    const Value* old = s.obj.Find("status");
    if (old && *old == status) return;
    s.obj.Set("status", status);
    std::string api_version = t.group.empty() ? t.version : t.group + "/" + t.version;
    bool found = false;
    for (Manager& m : s.managers)
      if (m.name == "kube-controller-manager") {
        m.time = Now();
        found = true;
      }
    if (!found)
      s.managers.push_back({"kube-controller-manager", "Update", api_version, Now(), {{"status"}}});
    s.obj.Find("metadata")->Set("resourceVersion", std::to_string(++rv));
    WriteMetadata(&s);
    Emit("MODIFIED", t, s.obj);
  }

  // POST to a collection (JSON): creates, 409 AlreadyExists when the name is taken.
  void Create(const httplib::Request& req, httplib::Response& res, const Target& t) {
    auto body = resource::ParseJson(req.body, "body");
    if (!body.ok() || !body->is_object()) return Fail(res, 400, "BadRequest", "not a JSON object");
    std::string name =
        body->FindPath({"metadata"}) ? body->Find("metadata")->GetString("name") : "";
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
    st.managers.push_back({manager.empty() ? "unknown" : manager, "Update", api_version, Now(),
                           AppliedFields(*body)});
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
  void Replace(const httplib::Request& req, httplib::Response& res, const Target& t) {
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
    std::set<FieldPath> changed =
        ChangedFields(AppliedFieldsValue(before), AppliedFieldsValue(next));
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

  static Value AppliedFieldsValue(const Value& v) {
    Value c = v;
    c.Erase("status");
    if (Value* md = c.Find("metadata")) {
      for (const char* k : {"resourceVersion", "managedFields", "uid", "creationTimestamp",
                            "generation", "selfLink"})
        md->Erase(k);
    }
    return c;
  }

  bool Control(const httplib::Request& req, httplib::Response& res) {
    if (!options.control_endpoints || req.method != "POST" || !StartsWith(req.path, "/fake/"))
      return false;
    if (req.path == "/fake/fail") {
      fail_count = atoi(req.get_param_value("count").c_str());
      fail_status = atoi(req.get_param_value("status").c_str());
      fail_retry_after = req.get_param_value("retryAfter");
    } else if (req.path == "/fake/revoke") {
      tokens.erase(req.get_param_value("token"));
    } else if (req.path == "/fake/token") {
      tokens.insert(req.get_param_value("token"));
    } else if (req.path == "/fake/compact") {
      compacted = rv;
      history.clear();
      watch_epoch++;
      cv.notify_all();
    } else {
      return false;
    }
    res.status = 204;
    return true;
  }

  void EstablishCrd(const Target& t, const std::string& key) {
    Stored& s = objects[key];
    ServeCrd(s.obj);
    Value conds = Value::EmptyArray();
    for (const char* type : {"NamesAccepted", "Established"}) {
      Value c = Value::EmptyObject();
      c.Set("type", type);
      c.Set("status", "True");
      c.Set("lastTransitionTime", Now());
      c.Set("reason", type == std::string("Established") ? "InitialNamesAccepted" : "NoConflicts");
      conds.Append(c);
    }
    Value status = Value::EmptyObject();
    status.Set("conditions", conds);
    s.obj.Set("status", status);
    s.obj.Find("metadata")->Set("resourceVersion", std::to_string(++rv));
    Emit("MODIFIED", t, s.obj);
  }

  void Update(const httplib::Request& req, httplib::Response& res, const Target& t) {
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

  void Delete(const httplib::Request& req, httplib::Response& res, const Target& t) {
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
  std::string last_delete_policy;

  void Read(const httplib::Request& req, httplib::Response& res, const Target& t) {
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

  bool Matches(const WatchEvent& e, const Target& t, const std::string& selector) {
    return e.group == t.group && e.resource == t.info.resource && (t.ns.empty() || e.ns == t.ns) &&
           MatchesSelector(e.obj.FindPath({"metadata", "labels"}), selector);
  }

  static std::string EventLine(const std::string& type, const Value& obj) {
    Value ev = Value::EmptyObject();
    ev.Set("type", type);
    ev.Set("object", obj);
    return resource::ToJson(ev) + "\n";
  }

  void Watch(const httplib::Request& req, httplib::Response& res, const Target& t) {
    std::string selector = req.get_param_value("labelSelector");
    std::string from_text = req.get_param_value("resourceVersion");
    bool bookmarks = req.get_param_value("allowWatchBookmarks") == "true";
    int timeout = 0;
    if (req.has_param("timeoutSeconds"))
      timeout = atoi(req.get_param_value("timeoutSeconds").c_str());
    int64_t from = from_text.empty() ? 0 : atoll(from_text.c_str());
    std::vector<std::string> initial;
    if (from == 0) {  // "" or "0": the current state as ADDED events, then changes
      for (const auto& [k, s] : objects) {
        WatchEvent e{0,
                     "ADDED",
                     t.group,
                     t.info.resource,
                     s.obj.FindPath({"metadata", "namespace"})
                         ? s.obj.FindPath({"metadata", "namespace"})->as_string()
                         : "",
                     s.obj};
        if (StartsWith(k, t.group + "|" + t.info.resource + "|") && Matches(e, t, selector))
          initial.push_back(EventLine("ADDED", s.obj));
      }
      from = rv;
    } else if (from < compacted) {
      initial.push_back(EventLine("ERROR", StatusBody(410, "Expired",
                                                      "too old resource version: " + from_text +
                                                          " (" + std::to_string(compacted) + ")")));
      from = -1;  // end after the error, as the real server does
    }
    int epoch = watch_epoch;
    std::string kind = t.info.kind,
                api_version = t.group.empty() ? t.version : t.group + "/" + t.version;
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(timeout > 0 ? timeout : 1800);
    res.status = 200;
    res.set_chunked_content_provider(
        "application/json", [this, t, selector, initial, from, epoch, deadline, bookmarks, timeout,
                             kind, api_version](size_t, httplib::DataSink& sink) mutable {
          for (const std::string& line : initial)
            if (!sink.write(line.data(), line.size())) return false;
          initial.clear();
          int64_t next = from;
          while (next >= 0) {
            std::vector<std::string> lines;
            {
              std::unique_lock<std::mutex> lock(mu);
              cv.wait_for(lock, std::chrono::milliseconds(50));
              if (stopping || watch_epoch != epoch) break;
              for (const WatchEvent& e : history)
                if (e.rv > next && Matches(e, t, selector))
                  lines.push_back(EventLine(e.type, e.obj));
              next = std::max(next, rv);
            }
            for (const std::string& line : lines)
              if (!sink.write(line.data(), line.size())) return false;
            if (!sink.is_writable()) return false;
            if (std::chrono::steady_clock::now() >= deadline) {
              if (bookmarks && timeout > 0) {
                Value bm = Value::EmptyObject();
                bm.Set("kind", kind);
                bm.Set("apiVersion", api_version);
                Value md = Value::EmptyObject();
                md.Set("resourceVersion", std::to_string(next));
                md.Set("creationTimestamp", nullptr);
                bm.Set("metadata", md);
                std::string line = EventLine("BOOKMARK", bm);
                sink.write(line.data(), line.size());
              }
              break;
            }
          }
          sink.done();
          return true;
        });
  }

  void Handle(const httplib::Request& req, httplib::Response& res) {
    std::unique_lock<std::mutex> lock(mu);
    if (Control(req, res)) return;
    Record(req);
    const std::string& path = req.path;
    bool watch = req.get_param_value("watch") == "1" || req.get_param_value("watch") == "true";
    if (fail_count > 0 && !watch) {
      --fail_count;
      if (!fail_retry_after.empty()) res.set_header("Retry-After", fail_retry_after);
      return Fail(res, fail_status, fail_status == 429 ? "TooManyRequests" : "InternalError",
                  fail_status == 429 ? "Too many requests, please try again later."
                                     : "an error on the server has prevented the request",
                  Value());
    }
    Target t;
    bool unknown_resource = false;
    bool parsed = Parse(path, &t, &unknown_resource);
    if (!Authorized(req, res, parsed ? &t : nullptr)) return;
    if (req.method == "GET" && (path == "/api" || path == "/apis" || path == "/version" ||
                                (discovery.count(path) && t.info.resource.empty()))) {
      auto it = discovery.find(path);
      if (it != discovery.end()) return Reply(res, 200, it->second);
      Value v = Value::EmptyObject();
      v.Set("major", "1");
      v.Set("minor", "19");
      v.Set("gitVersion", "v1.19.0");
      return Reply(res, 200, v);
    }
    if (!parsed) {
      res.status = 404;
      res.set_content("404 page not found\n", "text/plain; charset=utf-8");
      return;
    }
    if (unknown_resource)
      return Fail(res, 404, "NotFound", "the server could not find the requested resource",
                  Value::EmptyObject());
    if (t.info.namespaced == false && !t.ns.empty())
      return Fail(res, 404, "NotFound", "the server could not find the requested resource",
                  Value::EmptyObject());
    if (req.method == "GET") {
      if (watch) {
        if (!t.name.empty())
          return Fail(res, 405, "MethodNotAllowed", "watch of a single object by path");
        return Watch(req, res, t);  // the stream itself runs after the lock is released
      }
      return Read(req, res, t);
    }
    if (req.method == "POST" && t.name.empty()) return Create(req, res, t);
    if (req.method == "PUT") return Replace(req, res, t);
    if (t.name.empty())
      return Fail(res, 405, "MethodNotAllowed",
                  "the server does not allow this method on the requested resource");
    if (req.method == "PATCH") {
      std::string ct = req.get_header_value("Content-Type");
      if (ct == "application/apply-patch+yaml") return Apply(req, res, t);
      if (ct == "application/merge-patch+json") return Update(req, res, t);
      return Fail(res, 415, "UnsupportedMediaType",
                  "the body of the request was in an unknown format - accepted media types "
                  "include: application/json-patch+json, application/merge-patch+json, "
                  "application/apply-patch+yaml");
    }
    if (req.method == "DELETE") return Delete(req, res, t);
    Fail(res, 405, "MethodNotAllowed",
         "the server does not allow this method on the requested resource");
  }
};

FakeApiServer::FakeApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

FakeApiServer::~FakeApiServer() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
    impl_->cv.notify_all();
  }
  impl_->server->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

Result<std::unique_ptr<FakeApiServer>> FakeApiServer::Start(const FakeApiServerOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->tokens.insert(options.tokens.begin(), options.tokens.end());
  RETURN_IF_ERROR(impl->LoadDiscovery());
  impl->SeedNamespaces();
  if (!options.cert_file.empty()) {
    impl->server = std::make_unique<httplib::SSLServer>(
        options.cert_file.c_str(), options.key_file.c_str(),
        options.client_ca_file.empty() ? nullptr : options.client_ca_file.c_str());
  } else {
    impl->server = std::make_unique<httplib::Server>();
  }
  if (!impl->server->is_valid()) return Internal("fake apiserver: TLS setup failed");
  impl->server->new_task_queue = [] { return new httplib::ThreadPool(32); };
  Impl* raw = impl.get();
  auto handler = [raw](const httplib::Request& req, httplib::Response& res) {
    raw->Handle(req, res);
  };
  impl->server->Get(".*", handler);
  impl->server->Patch(".*", handler);
  impl->server->Delete(".*", handler);
  impl->server->Post(".*", handler);
  impl->server->Put(".*", handler);
  impl->port = impl->server->bind_to_any_port("127.0.0.1");
  if (impl->port <= 0) return Unavailable("fake apiserver: cannot bind 127.0.0.1");
  impl->thread = std::thread([raw] { raw->server->listen_after_bind(); });
  // stop() before the accept loop runs would be lost: wait until it runs.
  for (int64_t deadline = MonotonicMillis() + 10000;
       !impl->server->is_running() && MonotonicMillis() < deadline;)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return std::unique_ptr<FakeApiServer>(new FakeApiServer(std::move(impl)));
}

std::string FakeApiServer::url() const {
  return std::string(impl_->options.cert_file.empty() ? "http" : "https") +
         "://127.0.0.1:" + std::to_string(impl_->port);
}

void FakeApiServer::FailNext(int count, int status, const std::string& retry_after) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->fail_count = count;
  impl_->fail_status = status;
  impl_->fail_retry_after = retry_after;
}

void FakeApiServer::RevokeToken(const std::string& token) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->tokens.erase(token);
}

void FakeApiServer::AddToken(const std::string& token) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->tokens.insert(token);
}

Status FakeApiServer::SetStatus(const std::string& path, const Value& status) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Target t;
  bool unknown = false;
  if (!impl_->Parse(path, &t, &unknown) || unknown || t.name.empty())
    return InvalidArgument("not an object path: " + path);
  auto it = impl_->objects.find(Impl::Key(t.group, t.info.resource, t.ns, t.name));
  if (it == impl_->objects.end()) return NotFound(path);
  it->second.obj.Set("status", status);
  it->second.obj.Find("metadata")->Set("resourceVersion", std::to_string(++impl_->rv));
  impl_->Emit("MODIFIED", t, it->second.obj);
  return Status::Ok();
}

Result<Value> FakeApiServer::Get(const std::string& path) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Target t;
  bool unknown = false;
  if (!impl_->Parse(path, &t, &unknown) || unknown || t.name.empty())
    return InvalidArgument("not an object path: " + path);
  auto it = impl_->objects.find(Impl::Key(t.group, t.info.resource, t.ns, t.name));
  if (it == impl_->objects.end()) return NotFound(path);
  return it->second.obj;
}

void FakeApiServer::Compact() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->compacted = impl_->rv;
  impl_->history.clear();
}

void FakeApiServer::CloseWatches() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->watch_epoch++;
  impl_->cv.notify_all();
}

std::vector<RecordedRequest> FakeApiServer::Requests() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->requests;
}

void FakeApiServer::ClearRequests() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->requests.clear();
}

}  // namespace plumb::target::kubernetes::testing
