#include "target/local/spec_process.h"

#include <csignal>
#include <cstring>
#include <set>

#include "core/strings.h"
#include "resource/codec.h"
#include "target/local/spec.h"

namespace plumb::target::local {
namespace {

using resource::Resource;
using resource::ResourceId;
using resource::Value;

Status InputError(const Resource& r, const std::string& what) {
  std::string origin = r.origin().ToString();
  return InvalidArgument(origin.empty() ? what : origin + ": " + what);
}

Status CheckFields(const Resource& r, const Value& obj, const std::string& where,
                   const std::set<std::string>& known) {
  if (!obj.is_object()) return InputError(r, where + ": must be a map");
  for (const auto& [k, v] : obj.as_object()) {
    if (!known.count(k)) {
      std::vector<std::string> names(known.begin(), known.end());
      return InputError(r, where + "." + k + ": unknown field (takes " + Join(names, ", ") + ")");
    }
  }
  return Status::Ok();
}

Result<std::string> NonEmptyString(const Resource& r, const Value* v, const std::string& where) {
  if (!v || !v->is_string() || v->as_string().empty())
    return InputError(r, where + ": must be a non-empty string");
  if (v->as_string().find('\0') != std::string::npos)
    return InputError(r, where + ": contains a NUL byte");
  return v->as_string().str();
}

Result<std::vector<std::string>> StringList(const Resource& r, const Value* v,
                                            const std::string& where) {
  if (!v || !v->is_array() || v->as_array().empty())
    return InputError(r, where + ": must be a non-empty list of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < v->as_array().size(); ++i) {
    const Value& e = v->as_array()[i];
    if (e.is_int()) {  // `- 8080` in an argv list: what the user meant is the text
      out.push_back(std::to_string(e.as_int()));
      continue;
    }
    ASSIGN_OR_RETURN(std::string s, NonEmptyString(r, &e, where + "[" + std::to_string(i) + "]"));
    out.push_back(std::move(s));
  }
  return out;
}

// A non-negative number of seconds (fractions allowed) -> Duration.
Result<Duration> Seconds(const Resource& r, const Value* v, const std::string& where,
                         Duration fallback) {
  if (!v || v->is_null()) return fallback;
  if (!v->is_number() || v->as_double() < 0 || v->as_double() > 1e9)
    return InputError(r, where + ": must be a number of seconds >= 0");
  return Duration(static_cast<int64_t>(v->as_double() * 1000 + 0.5));
}

Result<int> Int(const Resource& r, const Value* v, const std::string& where, int fallback, int min,
                int max) {
  if (!v || v->is_null()) return fallback;
  if (!v->is_int() || v->as_int() < min || v->as_int() > max)
    return InputError(r, where + ": must be a whole number from " + std::to_string(min) + " to " +
                             std::to_string(max));
  return static_cast<int>(v->as_int());
}

// The data of a ConfigMap or Secret of this namespace in the desired set, as plain text
// values (Secret data decoded). NotFound-ish InvalidArgument when absent.
Result<const Resource*> FindSource(const AppContext& ctx, const Resource& r, const char* kind,
                                   const std::string& name) {
  if (ctx.desired)
    for (const Resource& d : *ctx.desired)
      if (d.id().group == r.id().group && d.id().kind == kind && d.id().ns == r.id().ns &&
          d.id().name == name) {
        if (!d.Annotation(resource::kUnavailableAnnotation).empty())
          return InputError(r, std::string(kind) + " " + name +
                                   " is unavailable: it did not unseal or was refused (see "
                                   "its own error, at " +
                                   d.origin().ToString() + ")");
        return &d;
      }
  return static_cast<const Resource*>(nullptr);
}

Result<std::map<std::string, std::string>> SourceData(const Resource& r, const Resource& src,
                                                      const std::string& where) {
  if (src.id().kind == "Secret") {
    auto values = resource::SecretValues(src.body());
    if (!values.ok())
      return InputError(r, where + ": Secret " + src.id().name + " " + values.status().message());
    return values;
  }
  std::map<std::string, std::string> out;
  if (const Value* data = src.body().Find("data"); data && data->is_object()) {
    for (const auto& [k, v] : data->as_object()) {
      if (!v.is_string())
        return InputError(
            r, where + ": ConfigMap " + src.id().name + " key " + k + " is not a string");
      out[k] = v.as_string();
    }
  }
  return out;
}

Status ResolveEnv(const AppContext& ctx, const Resource& r, const Value& spec,
                  std::vector<std::pair<std::string, std::string>>* env) {
  auto set = [&](const std::string& k, std::string v) {
    for (auto& [name, value] : *env)
      if (name == k) {
        value = std::move(v);
        return;
      }
    env->emplace_back(k, std::move(v));
  };
  if (const Value* from = spec.Find("envFrom"); from && !from->is_null()) {
    if (!from->is_array()) return InputError(r, "spec.envFrom: must be a list");
    for (size_t i = 0; i < from->as_array().size(); ++i) {
      const Value& e = from->as_array()[i];
      const std::string where = "spec.envFrom[" + std::to_string(i) + "]";
      RETURN_IF_ERROR(CheckFields(r, e, where, {"configMapRef", "secretRef", "prefix"}));
      const Value* cm = e.Find("configMapRef");
      const Value* sec = e.Find("secretRef");
      if ((cm != nullptr) == (sec != nullptr))
        return InputError(r, where + ": set exactly one of configMapRef, secretRef");
      const Value& ref = cm ? *cm : *sec;
      const char* kind = cm ? "ConfigMap" : "Secret";
      RETURN_IF_ERROR(
          CheckFields(r, ref, where + (cm ? ".configMapRef" : ".secretRef"), {"name", "optional"}));
      ASSIGN_OR_RETURN(std::string name, NonEmptyString(r, ref.Find("name"), where + ".name"));
      const Value* optional = ref.Find("optional");
      ASSIGN_OR_RETURN(const Resource* src, FindSource(ctx, r, kind, name));
      if (!src) {
        if (optional && optional->is_bool() && optional->as_bool()) continue;
        return InputError(
            r, where + ": " + kind + " " + name + " is not in the desired set of this Application");
      }
      ASSIGN_OR_RETURN(auto data, SourceData(r, *src, where));
      std::string prefix = e.GetString("prefix");
      for (auto& [k, v] : data) set(prefix + k, std::move(v));
    }
  }
  if (const Value* list = spec.Find("env"); list && !list->is_null()) {
    if (!list->is_array()) return InputError(r, "spec.env: must be a list of {name, value}");
    for (size_t i = 0; i < list->as_array().size(); ++i) {
      const Value& e = list->as_array()[i];
      const std::string where = "spec.env[" + std::to_string(i) + "]";
      RETURN_IF_ERROR(CheckFields(r, e, where, {"name", "value", "valueFrom"}));
      ASSIGN_OR_RETURN(std::string name, NonEmptyString(r, e.Find("name"), where + ".name"));
      if (name.find('=') != std::string::npos)
        return InputError(r, where + ".name: must not contain '='");
      const Value* value = e.Find("value");
      const Value* from = e.Find("valueFrom");
      if (from && !from->is_null()) {
        if (value) return InputError(r, where + ": set either value or valueFrom, not both");
        RETURN_IF_ERROR(
            CheckFields(r, *from, where + ".valueFrom", {"configMapKeyRef", "secretKeyRef"}));
        const Value* cm = from->Find("configMapKeyRef");
        const Value* sec = from->Find("secretKeyRef");
        if ((cm != nullptr) == (sec != nullptr))
          return InputError(r, where + ".valueFrom: set one of configMapKeyRef, secretKeyRef");
        const Value& ref = cm ? *cm : *sec;
        const char* kind = cm ? "ConfigMap" : "Secret";
        const std::string rw = where + ".valueFrom." + (cm ? "configMapKeyRef" : "secretKeyRef");
        RETURN_IF_ERROR(CheckFields(r, ref, rw, {"name", "key", "optional"}));
        ASSIGN_OR_RETURN(std::string src_name, NonEmptyString(r, ref.Find("name"), rw + ".name"));
        ASSIGN_OR_RETURN(std::string key, NonEmptyString(r, ref.Find("key"), rw + ".key"));
        const Value* optional = ref.Find("optional");
        bool is_optional = optional && optional->is_bool() && optional->as_bool();
        ASSIGN_OR_RETURN(const Resource* src, FindSource(ctx, r, kind, src_name));
        if (!src) {
          if (is_optional) continue;
          return InputError(r, rw + ": " + kind + " " + src_name +
                                   " is not in the desired set of this Application");
        }
        ASSIGN_OR_RETURN(auto data, SourceData(r, *src, rw));
        auto it = data.find(key);
        if (it == data.end()) {
          if (is_optional) continue;
          return InputError(r, rw + ": " + kind + " " + src_name + " has no key " + JsonQuote(key));
        }
        set(name, it->second);
      } else if (value && value->is_string()) {
        set(name, value->as_string());
      } else if (value && (value->is_number() || value->is_bool())) {
        return InputError(r, where + ".value: must be a string (quote it)");
      } else if (value && !value->is_null()) {
        return InputError(r, where + ".value: must be a string");
      } else {
        set(name, "");
      }
    }
  }
  return Status::Ok();
}

Result<Probe> ParseProbe(const Resource& r, const Value& v, const std::string& where,
                         const std::vector<PortSpec>& ports) {
  RETURN_IF_ERROR(
      CheckFields(r, v, where,
                  {"httpGet", "tcpSocket", "exec", "initialDelaySeconds", "periodSeconds",
                   "timeoutSeconds", "failureThreshold", "successThreshold"}));
  Probe p;
  int kinds = 0;
  auto port_of = [&](const Value& holder, const std::string& w) -> Result<std::string> {
    const Value* port = holder.Find("port");
    if (port && port->is_int()) {
      if (port->as_int() < 1 || port->as_int() > 65535)
        return InputError(r, w + ".port: must be 1-65535 or a port name");
      return std::to_string(port->as_int());
    }
    ASSIGN_OR_RETURN(std::string name, NonEmptyString(r, port, w + ".port"));
    for (const PortSpec& ps : ports)
      if (ps.name == name) return name;
    std::vector<std::string> names;
    for (const PortSpec& ps : ports) names.push_back(ps.name);
    return InputError(r, w + ".port: no port named " + JsonQuote(name) + " in spec.ports (" +
                             (names.empty() ? "none" : Join(names, ", ")) + ")");
  };
  if (const Value* h = v.Find("httpGet")) {
    ++kinds;
    p.kind = Probe::Kind::kHttpGet;
    RETURN_IF_ERROR(CheckFields(r, *h, where + ".httpGet", {"path", "port"}));
    ASSIGN_OR_RETURN(p.port, port_of(*h, where + ".httpGet"));
    p.path = h->GetString("path", "/");
    if (p.path.empty() || p.path[0] != '/' || p.path.find_first_of("\r\n ") != std::string::npos)
      return InputError(r, where + ".httpGet.path: must start with / and hold no spaces");
  }
  if (const Value* t = v.Find("tcpSocket")) {
    ++kinds;
    p.kind = Probe::Kind::kTcpSocket;
    RETURN_IF_ERROR(CheckFields(r, *t, where + ".tcpSocket", {"port"}));
    ASSIGN_OR_RETURN(p.port, port_of(*t, where + ".tcpSocket"));
  }
  if (const Value* e = v.Find("exec")) {
    ++kinds;
    p.kind = Probe::Kind::kExec;
    RETURN_IF_ERROR(CheckFields(r, *e, where + ".exec", {"command"}));
    ASSIGN_OR_RETURN(p.exec, StringList(r, e->Find("command"), where + ".exec.command"));
  }
  if (kinds != 1) return InputError(r, where + ": set exactly one of httpGet, tcpSocket, exec");
  ASSIGN_OR_RETURN(p.initial_delay, Seconds(r, v.Find("initialDelaySeconds"),
                                            where + ".initialDelaySeconds", Duration(0)));
  ASSIGN_OR_RETURN(p.period,
                   Seconds(r, v.Find("periodSeconds"), where + ".periodSeconds", Duration(10000)));
  ASSIGN_OR_RETURN(p.timeout,
                   Seconds(r, v.Find("timeoutSeconds"), where + ".timeoutSeconds", Duration(1000)));
  if (p.period.count() < 10) return InputError(r, where + ".periodSeconds: at least 0.01");
  if (p.timeout.count() < 1) return InputError(r, where + ".timeoutSeconds: must be > 0");
  ASSIGN_OR_RETURN(p.failure_threshold,
                   Int(r, v.Find("failureThreshold"), where + ".failureThreshold", 3, 1, 1000000));
  ASSIGN_OR_RETURN(p.success_threshold,
                   Int(r, v.Find("successThreshold"), where + ".successThreshold", 1, 1, 1000000));
  return p;
}

// "512Mi", "1G", "1000" -> bytes as text; "" on error.
std::string ParseQuantityBytes(const Value& v) {
  if (v.is_int() && v.as_int() > 0) return std::to_string(v.as_int());
  if (!v.is_string()) return "";
  const std::string& s = v.as_string();
  size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  if (i == 0 || i > 15) return "";
  int64_t n = std::stoll(s.substr(0, i));
  static const std::pair<const char*, int64_t> kUnits[] = {
      {"", 1},           {"k", 1000},           {"K", 1000},         {"M", 1000000},
      {"G", 1000000000}, {"Ki", 1024},          {"Mi", 1024 * 1024}, {"Gi", 1024LL << 20},
      {"Ti", 1LL << 40}, {"T", 1000000000000LL}};
  for (const auto& [unit, mult] : kUnits)
    if (s.substr(i) == unit) return std::to_string(n * mult);
  return "";
}

// "500m" or "0.5" or 1 -> cgroup cpu.max "50000 100000"; "" on error.
std::string ParseCpu(const Value& v) {
  double cores = 0;
  if (v.is_number()) {
    cores = v.as_double();
  } else if (v.is_string() && !v.as_string().empty()) {
    const std::string& s = v.as_string();
    char* end = nullptr;
    double n = std::strtod(s.c_str(), &end);
    if (end && std::string(end) == "m")
      cores = n / 1000;
    else if (end && *end == '\0')
      cores = n;
  }
  if (cores <= 0 || cores > 4096) return "";
  return std::to_string(static_cast<int64_t>(cores * 100000)) + " 100000";
}

Status ParseCommon(const AppContext& ctx, const Resource& r, const Value& spec, bool job,
                   RunTemplate* t) {
  ASSIGN_OR_RETURN(t->shim.argv, StringList(r, spec.Find("command"), "spec.command"));
  RETURN_IF_ERROR(ResolveEnv(ctx, r, spec, &t->shim.env));
  if (const Value* wd = spec.Find("workingDir"); wd && !wd->is_null()) {
    ASSIGN_OR_RETURN(t->shim.working_dir, NonEmptyString(r, wd, "spec.workingDir"));
    if (t->shim.working_dir[0] != '/')
      return InputError(r, "spec.workingDir: must be an absolute path");
  }
  std::string policy = spec.GetString("restartPolicy", job ? "Never" : "Always");
  if (policy == "Always" && !job) {
    t->shim.restart = RestartPolicy::kAlways;
  } else if (policy == "OnFailure") {
    t->shim.restart = RestartPolicy::kOnFailure;
  } else if (policy == "Never") {
    t->shim.restart = RestartPolicy::kNever;
  } else {
    return InputError(r, "spec.restartPolicy: " + JsonQuote(policy) + " is not one of " +
                             (job ? "OnFailure, Never" : "Always, OnFailure, Never"));
  }
  if (const Value* sig = spec.Find("stopSignal"); sig && !sig->is_null()) {
    int n = sig->is_string() ? ParseSignal(sig->as_string())
            : sig->is_int()  ? ParseSignal(std::to_string(sig->as_int()))
                             : 0;
    if (n == 0) return InputError(r, "spec.stopSignal: not a signal name (e.g. SIGTERM, SIGINT)");
    t->shim.stop_signal = n;
  }
  ASSIGN_OR_RETURN(t->shim.grace, Seconds(r, spec.Find("terminationGracePeriodSeconds"),
                                          "spec.terminationGracePeriodSeconds", Duration(30000)));
  if (const Value* res = spec.Find("resources"); res && !res->is_null()) {
    RETURN_IF_ERROR(CheckFields(r, *res, "spec.resources", {"limits"}));
    if (const Value* lim = res->Find("limits"); lim && !lim->is_null()) {
      RETURN_IF_ERROR(CheckFields(r, *lim, "spec.resources.limits",
                                  {"memory", "cpu", "openFiles", "addressSpace"}));
      if (const Value* v = lim->Find("openFiles")) {
        ASSIGN_OR_RETURN(int n, Int(r, v, "spec.resources.limits.openFiles", -1, 1, 1 << 30));
        t->shim.limit_open_files = n;
      }
      if (const Value* v = lim->Find("addressSpace")) {
        std::string b = ParseQuantityBytes(*v);
        if (b.empty())
          return InputError(r, "spec.resources.limits.addressSpace: a size such as 512Mi");
        t->shim.limit_address_space = std::stoll(b);
      }
      if (const Value* v = lim->Find("memory")) {
        t->memory_max = ParseQuantityBytes(*v);
        if (t->memory_max.empty())
          return InputError(r, "spec.resources.limits.memory: a size such as 256Mi");
      }
      if (const Value* v = lim->Find("cpu")) {
        t->cpu_max = ParseCpu(*v);
        if (t->cpu_max.empty())
          return InputError(r, "spec.resources.limits.cpu: cores such as 0.5 or 500m");
      }
    }
  }
  return Status::Ok();
}

Status ParsePorts(const Resource& r, const Value& spec, std::vector<PortSpec>* out) {
  const Value* ports = spec.Find("ports");
  if (!ports || ports->is_null()) return Status::Ok();
  if (!ports->is_array()) return InputError(r, "spec.ports: must be a list of {name, port}");
  std::set<std::string> names;
  for (size_t i = 0; i < ports->as_array().size(); ++i) {
    const Value& p = ports->as_array()[i];
    const std::string where = "spec.ports[" + std::to_string(i) + "]";
    RETURN_IF_ERROR(CheckFields(r, p, where, {"name", "port"}));
    PortSpec ps;
    ASSIGN_OR_RETURN(ps.name, NonEmptyString(r, p.Find("name"), where + ".name"));
    for (char c : ps.name)
      if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
        return InputError(r, where + ".name: letters, digits, '-' and '_' only");
    if (!names.insert(ps.name).second)
      return InputError(r, where + ".name: " + JsonQuote(ps.name) + " is named twice");
    ASSIGN_OR_RETURN(ps.port, Int(r, p.Find("port"), where + ".port", 0, 1, 65535));
    out->push_back(std::move(ps));
  }
  return Status::Ok();
}

Result<std::string> IntOrPercent(const Resource& r, const Value* v, const std::string& where,
                                 const std::string& fallback) {
  if (!v || v->is_null()) return fallback;
  if (v->is_int() && v->as_int() >= 0) return std::to_string(v->as_int());
  if (v->is_string()) {
    const std::string& s = v->as_string();
    if (s.size() >= 2 && s.back() == '%' && s.size() <= 4 &&
        s.find_first_not_of("0123456789") == s.size() - 1 && std::stoi(s) <= 100)
      return s;
  }
  return InputError(r, where + ": a whole number or a percentage such as \"25%\"");
}

// The keyed hash of what a replica runs. Replica count and rollout pacing are not part
// of it: scaling does not restart replicas.
std::string TemplateHash(const RunTemplate& t, const std::string& hash_key,
                         const std::string& extra) {
  RunTemplate copy = t;
  copy.hash.clear();
  copy.replicas = 0;
  copy.max_surge = copy.max_unavailable = "";
  copy.progress_deadline = Duration(0);
  return HmacSha256Hex(hash_key, RunTemplateToJson(copy) + extra).substr(0, 16);
}

Result<Value> ExpectedRunning(const AppContext& ctx, const Resource& r,
                              const std::string& hash_key) {
  ASSIGN_OR_RETURN(RunTemplate t, ResolveTemplate(ctx, r, hash_key));
  Value out = Value::EmptyObject();
  out.Set("apiVersion", kApiVersion);
  out.Set("kind", r.id().kind);
  Value meta = Value::EmptyObject();
  meta.Set("name", r.id().name);
  if (!r.id().ns.empty()) meta.Set("namespace", r.id().ns);
  const Value* in = r.body().Find("metadata");
  if (const Value* labels = in ? in->Find("labels") : nullptr; labels && !labels->is_null())
    meta.Set("labels", *labels);
  Value annotations = Value::EmptyObject();
  if (const Value* a = in ? in->Find("annotations") : nullptr; a && a->is_object())
    annotations = *a;
  annotations.Set(kTemplateHashAnnotation, t.hash);
  meta.Set("annotations", std::move(annotations));
  out.Set("metadata", std::move(meta));
  out.Set("spec", *r.body().Find("spec"));
  return out;
}

}  // namespace

int ParseSignal(const std::string& name) {
  static const std::pair<const char*, int> kSignals[] = {
      {"TERM", SIGTERM}, {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"HUP", SIGHUP},
      {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"WINCH", SIGWINCH}};
  std::string n = StartsWith(name, "SIG") ? name.substr(3) : name;
  for (const auto& [s, num] : kSignals)
    if (n == s) return num;
  if (!n.empty() && n.size() <= 2 && n.find_first_not_of("0123456789") == std::string::npos) {
    int v = std::stoi(n);
    if (v >= 1 && v <= 31) return v;
  }
  return 0;
}

Result<RunTemplate> ResolveTemplate(const AppContext& ctx, const Resource& r,
                                    const std::string& hash_key) {
  const bool job = r.id().kind == "Job";
  const Value* spec = r.body().Find("spec");
  if (!spec || !spec->is_object()) return InputError(r, "spec: must be a map with spec.command");
  RunTemplate t;
  if (job) {
    RETURN_IF_ERROR(CheckFields(
        r, *spec, "spec",
        {"command", "env", "envFrom", "workingDir", "restartPolicy", "stopSignal",
         "terminationGracePeriodSeconds", "backoffLimit", "activeDeadlineSeconds", "resources"}));
  } else {
    RETURN_IF_ERROR(CheckFields(
        r, *spec, "spec",
        {"replicas", "command", "env", "envFrom", "workingDir", "ports", "readinessProbe",
         "livenessProbe", "restartPolicy", "stopSignal", "terminationGracePeriodSeconds",
         "strategy", "progressDeadlineSeconds", "resources"}));
  }
  RETURN_IF_ERROR(ParseCommon(ctx, r, *spec, job, &t));
  std::string extra;
  if (job) {
    ASSIGN_OR_RETURN(t.backoff_limit,
                     Int(r, spec->Find("backoffLimit"), "spec.backoffLimit", 6, 0, 1000));
    ASSIGN_OR_RETURN(t.active_deadline, Seconds(r, spec->Find("activeDeadlineSeconds"),
                                                "spec.activeDeadlineSeconds", Duration(0)));
    // A hook runs again on each sync: the engine marks each run with an annotation.
    if (const Value* run = r.body().FindPath({"metadata", "annotations", "plumbline.dev/hook-run"});
        run && run->is_string())
      extra = "\nhook-run=" + run->as_string();
    t.shim.restart = RestartPolicy::kNever;  // attempts are the supervisor's (backoffLimit)
    if (spec->GetString("restartPolicy") == "OnFailure") extra += "\nOnFailure";
  } else {
    ASSIGN_OR_RETURN(t.replicas, Int(r, spec->Find("replicas"), "spec.replicas", 1, 0, 10000));
    RETURN_IF_ERROR(ParsePorts(r, *spec, &t.ports));
    for (const char* which : {"readinessProbe", "livenessProbe"}) {
      const Value* p = spec->Find(which);
      if (!p || p->is_null()) continue;
      ASSIGN_OR_RETURN(Probe probe, ParseProbe(r, *p, std::string("spec.") + which, t.ports));
      (std::string(which) == "readinessProbe" ? t.readiness : t.liveness) = std::move(probe);
    }
    if (const Value* st = spec->Find("strategy"); st && !st->is_null()) {
      RETURN_IF_ERROR(CheckFields(r, *st, "spec.strategy", {"type", "rollingUpdate"}));
      std::string type = st->GetString("type", "RollingUpdate");
      if (type != "RollingUpdate")
        return InputError(r, "spec.strategy.type: only RollingUpdate is supported");
      if (const Value* ru = st->Find("rollingUpdate"); ru && !ru->is_null()) {
        RETURN_IF_ERROR(
            CheckFields(r, *ru, "spec.strategy.rollingUpdate", {"maxSurge", "maxUnavailable"}));
        ASSIGN_OR_RETURN(t.max_surge, IntOrPercent(r, ru->Find("maxSurge"),
                                                   "spec.strategy.rollingUpdate.maxSurge", "25%"));
        ASSIGN_OR_RETURN(t.max_unavailable,
                         IntOrPercent(r, ru->Find("maxUnavailable"),
                                      "spec.strategy.rollingUpdate.maxUnavailable", "25%"));
      }
    }
    for (const PortSpec& p : t.ports)
      if (p.port != 0 && t.replicas > 1)
        return InputError(r, "spec.ports: port " + p.name + " is fixed (" + std::to_string(p.port) +
                                 "), so only one replica can hold it; drop `port` to let "
                                 "plumbline give each replica its own, or set replicas: 1");
    ASSIGN_OR_RETURN(t.progress_deadline,
                     Seconds(r, spec->Find("progressDeadlineSeconds"),
                             "spec.progressDeadlineSeconds", Duration(600000)));
  }
  t.hash = TemplateHash(t, hash_key, extra);
  return t;
}

std::pair<int, int> SurgeAndUnavailable(const RunTemplate& t) {
  auto resolve = [&](const std::string& v, bool round_up) {
    if (v.empty()) return 0;
    if (v.back() != '%') return std::stoi(v);
    int pct = std::stoi(v);
    int64_t scaled = int64_t{pct} * t.replicas;
    return static_cast<int>(round_up ? (scaled + 99) / 100 : scaled / 100);
  };
  int surge = resolve(t.max_surge, true);
  int unavailable = resolve(t.max_unavailable, false);
  for (const PortSpec& p : t.ports)
    if (p.port != 0) surge = 0;  // a fixed port cannot be held twice
  if (surge == 0 && unavailable == 0) unavailable = 1;
  return {surge, unavailable};
}

Result<Value> ExpectedProcess(const AppContext& ctx, const Resource& r,
                              const std::string& hash_key) {
  return ExpectedRunning(ctx, r, hash_key);
}

Result<Value> ExpectedJob(const AppContext& ctx, const Resource& r, const std::string& hash_key) {
  return ExpectedRunning(ctx, r, hash_key);
}

Result<Value> ExpectedSecret(const Resource& r) {
  for (const auto& [k, v] : r.body().as_object())
    if (k != "apiVersion" && k != "kind" && k != "metadata" && k != "data" && k != "stringData" &&
        k != "type" && k != "immutable")
      return InputError(r, k + ": unknown field (Secret takes data, stringData, type)");
  Value data = Value::EmptyObject();
  if (const Value* d = r.body().Find("data"); d && !d->is_null()) {
    if (!d->is_object()) return InputError(r, "data: must be a map of base64 strings");
    for (const auto& [k, v] : d->as_object()) {
      std::string plain;
      // The value itself is never quoted back: it is a secret.
      if (!v.is_string() || !Base64Decode(v.as_string(), &plain))
        return InputError(
            r, "data." + k + ": not valid base64 (use stringData for plain text values)");
      data.Set(k, Base64Encode(plain));
    }
  }
  if (const Value* sd = r.body().Find("stringData"); sd && !sd->is_null()) {
    if (!sd->is_object()) return InputError(r, "stringData: must be a map of strings");
    for (const auto& [k, v] : sd->as_object()) {
      if (!v.is_string()) return InputError(r, "stringData." + k + ": must be a string (quote it)");
      data.Set(k, Base64Encode(v.as_string()));
    }
  }
  Value out = Value::EmptyObject();
  out.Set("apiVersion", kApiVersion);
  out.Set("kind", "Secret");
  Value meta = Value::EmptyObject();
  meta.Set("name", r.id().name);
  if (!r.id().ns.empty()) meta.Set("namespace", r.id().ns);
  const Value* in = r.body().Find("metadata");
  for (const char* field : {"labels", "annotations"})
    if (const Value* v = in ? in->Find(field) : nullptr; v && !v->is_null()) meta.Set(field, *v);
  out.Set("metadata", std::move(meta));
  out.Set("type", r.body().GetString("type", "Opaque"));
  out.Set("data", std::move(data));
  return out;
}

std::string RunTemplateToJson(const RunTemplate& t) {
  Value v = Value::EmptyObject();
  auto shim = resource::ParseJson(ShimSpecToJson(t.shim), "shim");
  v.Set("shim", shim.ok() ? *shim : Value());
  Value ports = Value::EmptyArray();
  for (const PortSpec& p : t.ports) {
    Value pv = Value::EmptyObject();
    pv.Set("name", p.name);
    pv.Set("port", p.port);
    ports.Append(std::move(pv));
  }
  v.Set("ports", std::move(ports));
  auto probe = [](const std::optional<Probe>& p) {
    if (!p) return Value();
    Value pv = Value::EmptyObject();
    pv.Set("kind", static_cast<int>(p->kind));
    pv.Set("path", p->path);
    pv.Set("port", p->port);
    Value exec = Value::EmptyArray();
    for (const auto& a : p->exec) exec.Append(a);
    pv.Set("exec", std::move(exec));
    pv.Set("initialDelayMs", static_cast<int64_t>(p->initial_delay.count()));
    pv.Set("periodMs", static_cast<int64_t>(p->period.count()));
    pv.Set("timeoutMs", static_cast<int64_t>(p->timeout.count()));
    pv.Set("failureThreshold", p->failure_threshold);
    pv.Set("successThreshold", p->success_threshold);
    return pv;
  };
  v.Set("readiness", probe(t.readiness));
  v.Set("liveness", probe(t.liveness));
  v.Set("hash", t.hash);
  v.Set("replicas", t.replicas);
  v.Set("maxSurge", t.max_surge);
  v.Set("maxUnavailable", t.max_unavailable);
  v.Set("progressDeadlineMs", static_cast<int64_t>(t.progress_deadline.count()));
  v.Set("backoffLimit", t.backoff_limit);
  v.Set("activeDeadlineMs", static_cast<int64_t>(t.active_deadline.count()));
  v.Set("memoryMax", t.memory_max);
  v.Set("cpuMax", t.cpu_max);
  return resource::ToJson(v);
}

Result<RunTemplate> RunTemplateFromJson(const std::string& json, const std::string& where) {
  ASSIGN_OR_RETURN(Value v, resource::ParseJson(json, where));
  RunTemplate t;
  const Value* shim = v.Find("shim");
  if (!shim) return InvalidArgument(where + ": no shim spec");
  ASSIGN_OR_RETURN(t.shim, ShimSpecFromJson(resource::ToJson(*shim), where));
  auto num = [&](const Value& o, const char* k, int64_t fallback) {
    const Value* x = o.Find(k);
    return x && x->is_int() ? x->as_int() : fallback;
  };
  if (const Value* ports = v.Find("ports"); ports && ports->is_array())
    for (const Value& p : ports->as_array())
      t.ports.push_back({p.GetString("name"), static_cast<int>(num(p, "port", 0))});
  auto probe = [&](const char* k) -> std::optional<Probe> {
    const Value* pv = v.Find(k);
    if (!pv || !pv->is_object()) return std::nullopt;
    Probe p;
    p.kind = static_cast<Probe::Kind>(num(*pv, "kind", 1));
    p.path = pv->GetString("path", "/");
    p.port = pv->GetString("port");
    if (const Value* e = pv->Find("exec"); e && e->is_array())
      for (const Value& a : e->as_array())
        if (a.is_string()) p.exec.push_back(a.as_string());
    p.initial_delay = Duration(num(*pv, "initialDelayMs", 0));
    p.period = Duration(num(*pv, "periodMs", 10000));
    p.timeout = Duration(num(*pv, "timeoutMs", 1000));
    p.failure_threshold = static_cast<int>(num(*pv, "failureThreshold", 3));
    p.success_threshold = static_cast<int>(num(*pv, "successThreshold", 1));
    return p;
  };
  t.readiness = probe("readiness");
  t.liveness = probe("liveness");
  t.hash = v.GetString("hash");
  t.replicas = static_cast<int>(num(v, "replicas", 1));
  t.max_surge = v.GetString("maxSurge", "25%");
  t.max_unavailable = v.GetString("maxUnavailable", "25%");
  t.progress_deadline = Duration(num(v, "progressDeadlineMs", 600000));
  t.backoff_limit = static_cast<int>(num(v, "backoffLimit", 6));
  t.active_deadline = Duration(num(v, "activeDeadlineMs", 0));
  t.memory_max = v.GetString("memoryMax");
  t.cpu_max = v.GetString("cpuMax");
  return t;
}

}  // namespace plumb::target::local
