#include "target/kubernetes/kubeconfig.h"

#include <cstdlib>
#include <ctime>

#include "core/fs.h"
#include "core/strings.h"
#include "core/subprocess.h"
#include "resource/codec.h"

namespace plumb::target::kubernetes {
namespace {

using resource::Value;

// Finds `name` in a kubeconfig list of {name, <field>: {...}}.
const Value* FindNamed(const Value& config, const char* list, const char* field,
                       const std::string& name) {
  const Value* items = config.Find(list);
  if (!items || !items->is_array()) return nullptr;
  for (const Value& item : items->as_array()) {
    if (item.GetString("name") == name) {
      const Value* v = item.Find(field);
      static const Value kEmpty = Value::EmptyObject();
      return v && v->is_object() ? v : &kEmpty;
    }
  }
  return nullptr;
}

std::string Resolve(const std::string& dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || dir.empty()) return path;
  return fs::JoinPath(dir, path);
}

// PEM from `<key>-data` (base64) or the file `<key>`.
Status ReadPem(const Value& obj, const std::string& key, const std::string& dir,
               const std::string& where, std::string* out) {
  std::string data = obj.GetString(key + "-data");
  if (!data.empty()) {
    if (!Base64Decode(data, out)) return InvalidArgument(where + "." + key + "-data: not base64");
    return Status::Ok();
  }
  std::string file = obj.GetString(key);
  if (file.empty()) return Status::Ok();
  auto text = fs::ReadFile(Resolve(dir, file));
  if (!text.ok()) return text.status().WithContext(where + "." + key);
  *out = std::move(*text);
  return Status::Ok();
}

bool IsTrue(const Value* v) {
  return v && ((v->is_bool() && v->as_bool()) || (v->is_string() && v->as_string() == "true"));
}

}  // namespace

Result<TimePoint> ParseRfc3339(const std::string& text) {
  struct tm tm = {};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return InvalidArgument("not an RFC 3339 time: " + text);
  int64_t ms = 0;
  if (*end == '.') {
    int digits = 0;
    for (++end; *end >= '0' && *end <= '9'; ++end, ++digits)
      if (digits < 3) ms = ms * 10 + (*end - '0');
    for (; digits < 3; ++digits) ms *= 10;
  }
  int64_t offset = 0;
  if (*end == '+' || *end == '-') {
    int hh = 0, mm = 0;
    if (sscanf(end + 1, "%d:%d", &hh, &mm) != 2) return InvalidArgument("bad time zone: " + text);
    offset = (hh * 3600 + mm * 60) * (*end == '-' ? -1 : 1);
  } else if (*end != 'Z' && *end != 'z') {
    return InvalidArgument("not an RFC 3339 time: " + text);
  }
  int64_t secs = static_cast<int64_t>(timegm(&tm)) - offset;
  return FromUnixMillis(secs * 1000 + ms);
}

Result<ClusterConfig> ParseKubeconfig(const std::string& text, const std::string& dir,
                                      const std::string& context) {
  ASSIGN_OR_RETURN(auto docs, resource::ParseYaml(text, "kubeconfig"));
  if (docs.size() != 1 || !docs[0].value.is_object())
    return InvalidArgument("kubeconfig: expected one YAML mapping");
  const Value& config = docs[0].value;
  ClusterConfig out;
  out.context = context.empty() ? config.GetString("current-context") : context;
  if (out.context.empty())
    return NotFound("kubeconfig: no context given and no current-context set");
  const Value* ctx = FindNamed(config, "contexts", "context", out.context);
  if (!ctx) return NotFound("kubeconfig: no context named \"" + out.context + "\"");
  std::string cluster_name = ctx->GetString("cluster"), user_name = ctx->GetString("user");
  out.namespace_ = ctx->GetString("namespace", "default");
  const Value* cluster = FindNamed(config, "clusters", "cluster", cluster_name);
  if (!cluster)
    return NotFound("kubeconfig: context \"" + out.context + "\" names cluster \"" + cluster_name +
                    "\", which is not defined");
  std::string where = "kubeconfig: clusters[" + cluster_name + "]";
  out.server = cluster->GetString("server");
  if (!StartsWith(out.server, "https://") && !StartsWith(out.server, "http://"))
    return InvalidArgument(where + ".server: must be an https:// URL, got \"" + out.server + "\"");
  while (EndsWith(out.server, "/")) out.server.pop_back();
  out.insecure_skip_tls_verify = IsTrue(cluster->Find("insecure-skip-tls-verify"));
  out.ca_data_b64 = cluster->GetString("certificate-authority-data");
  RETURN_IF_ERROR(ReadPem(*cluster, "certificate-authority", dir, where, &out.ca_pem));

  if (user_name.empty()) return out;  // anonymous
  const Value* user = FindNamed(config, "users", "user", user_name);
  if (!user)
    return NotFound("kubeconfig: context \"" + out.context + "\" names user \"" + user_name +
                    "\", which is not defined");
  where = "kubeconfig: users[" + user_name + "]";
  RETURN_IF_ERROR(ReadPem(*user, "client-certificate", dir, where, &out.client_cert_pem));
  RETURN_IF_ERROR(ReadPem(*user, "client-key", dir, where, &out.client_key_pem));
  if (out.client_cert_pem.empty() != out.client_key_pem.empty())
    return InvalidArgument(where + ": client-certificate and client-key must be given together");
  out.token = user->GetString("token");
  out.token_file = Resolve(dir, user->GetString("tokenFile"));
  if (const Value* exec = user->Find("exec"); exec && exec->is_object()) {
    out.has_exec = true;
    out.exec.api_version = exec->GetString("apiVersion");
    out.exec.command = Resolve(dir, exec->GetString("command"));
    // A bare command name is looked up in PATH, as kubectl does; "./x" is relative.
    if (exec->GetString("command").find('/') == std::string::npos)
      out.exec.command = exec->GetString("command");
    out.exec.interactive_mode = exec->GetString("interactiveMode", "IfAvailable");
    out.exec.provide_cluster_info = IsTrue(exec->Find("provideClusterInfo"));
    if (out.exec.command.empty()) return InvalidArgument(where + ".exec.command: required");
    if (out.exec.api_version != "client.authentication.k8s.io/v1" &&
        out.exec.api_version != "client.authentication.k8s.io/v1beta1")
      return InvalidArgument(where + ".exec.apiVersion: \"" + out.exec.api_version +
                             "\" is not client.authentication.k8s.io/v1 or v1beta1");
    if (out.exec.interactive_mode == "Always")
      return InvalidArgument(where +
                             ".exec.interactiveMode: Always needs a terminal, which the "
                             "operator never has");
    if (const Value* args = exec->Find("args"); args && args->is_array())
      for (const Value& a : args->as_array())
        if (a.is_string()) out.exec.args.push_back(a.as_string());
    if (const Value* env = exec->Find("env"); env && env->is_array())
      for (const Value& e : env->as_array())
        out.exec.env.push_back(e.GetString("name") + "=" + e.GetString("value"));
  }
  return out;
}

Result<ClusterConfig> LoadKubeconfig(const std::string& path, const std::string& context) {
  auto text = fs::ReadFile(path);
  if (!text.ok()) return text.status().WithContext("kubeconfig " + path);
  auto config = ParseKubeconfig(*text, fs::Dirname(path), context);
  if (!config.ok()) return config.status().WithContext(path);
  return config;
}

Result<ClusterConfig> LoadInClusterConfig(const std::string& sa_dir) {
  const char* host = getenv("KUBERNETES_SERVICE_HOST");
  const char* port = getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port)
    return FailedPrecondition(
        "not running in a Pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are unset");
  ClusterConfig out;
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6
  out.server = "https://" + h + ":" + port;
  out.token_file = fs::JoinPath(sa_dir, "token");
  if (!fs::Exists(out.token_file))
    return FailedPrecondition("in-cluster: no service-account token at " + out.token_file);
  auto ca = fs::ReadFile(fs::JoinPath(sa_dir, "ca.crt"));
  if (!ca.ok()) return ca.status().WithContext("in-cluster CA");
  out.ca_pem = std::move(*ca);
  if (auto ns = fs::ReadFile(fs::JoinPath(sa_dir, "namespace")); ns.ok() && !Trim(*ns).empty())
    out.namespace_ = Trim(*ns);
  return out;
}

CredentialSource::CredentialSource(ClusterConfig config, const Clock* clock)
    : config_(std::move(config)), clock_(clock) {}

void CredentialSource::Invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  have_ = false;
}

Result<Credential> CredentialSource::Get() {
  std::lock_guard<std::mutex> lock(mu_);
  if (have_ && (expires_ == TimePoint{} || clock_->Now() < expires_)) return cached_;
  Credential c{.token = config_.token,
               .client_cert_pem = config_.client_cert_pem,
               .client_key_pem = config_.client_key_pem};
  expires_ = TimePoint{};
  if (config_.has_exec) {
    ASSIGN_OR_RETURN(c, RunExec());
  } else if (!config_.token_file.empty()) {
    auto t = fs::ReadFile(config_.token_file);
    if (!t.ok())
      return Unauthenticated("reading tokenFile " + config_.token_file + ": " +
                             t.status().message());
    c.token = Trim(*t);
    // Projected tokens rotate: read again after a minute.
    expires_ = clock_->Now() + Duration(60000);
  }
  cached_ = c;
  have_ = true;
  return c;
}

Result<Credential> CredentialSource::RunExec() {
  const ExecConfig& e = config_.exec;
  Value info = Value::EmptyObject();
  info.Set("apiVersion", e.api_version);
  info.Set("kind", "ExecCredential");
  Value spec = Value::EmptyObject();
  spec.Set("interactive", false);
  if (e.provide_cluster_info) {
    Value cluster = Value::EmptyObject();
    cluster.Set("server", config_.server);
    if (!config_.ca_data_b64.empty())
      cluster.Set("certificate-authority-data", config_.ca_data_b64);
    else if (!config_.ca_pem.empty())
      cluster.Set("certificate-authority-data", Base64Encode(config_.ca_pem));
    if (config_.insecure_skip_tls_verify) cluster.Set("insecure-skip-tls-verify", true);
    spec.Set("cluster", std::move(cluster));
  }
  info.Set("spec", std::move(spec));
  std::vector<std::string> argv = {e.command};
  argv.insert(argv.end(), e.args.begin(), e.args.end());
  SubprocessOptions so{.timeout = Duration(60000), .max_output = 1 << 20};
  so.extra_env = e.env;
  so.extra_env.push_back("KUBERNETES_EXEC_INFO=" + resource::ToJson(info));
  std::string what = "exec credential plugin " + e.command;
  auto r = RunSubprocess(argv, so);
  if (!r.ok()) return Unauthenticated(what + ": " + r.status().message());
  if (r->exit_code != 0)
    // stderr is the plugin's own message for users (e.g. "login expired"); stdout may hold
    // a credential and is never shown.
    return Unauthenticated(what + " exited with " + std::to_string(r->exit_code) + ": " +
                           Trim(r->err.substr(0, 400)));
  auto out = resource::ParseJson(r->out, "ExecCredential");
  if (!out.ok() || !out->is_object()) return Unauthenticated(what + ": output is not JSON");
  if (out->GetString("kind") != "ExecCredential")
    return Unauthenticated(what + ": output is not an ExecCredential");
  if (out->GetString("apiVersion") != e.api_version)
    return Unauthenticated(what + ": answered apiVersion \"" + out->GetString("apiVersion") +
                           "\", expected \"" + e.api_version + "\"");
  const Value* status = out->Find("status");
  if (!status || !status->is_object()) return Unauthenticated(what + ": no status in its output");
  Credential c{.token = status->GetString("token"),
               .client_cert_pem = status->GetString("clientCertificateData"),
               .client_key_pem = status->GetString("clientKeyData")};
  if (c.token.empty() && c.client_cert_pem.empty())
    return Unauthenticated(what + ": status has neither token nor clientCertificateData");
  if (c.client_cert_pem.empty() != c.client_key_pem.empty())
    return Unauthenticated(what + ": clientCertificateData and clientKeyData go together");
  std::string exp = status->GetString("expirationTimestamp");
  if (!exp.empty()) {
    auto t = ParseRfc3339(exp);
    if (!t.ok()) return Unauthenticated(what + ": bad expirationTimestamp");
    expires_ = *t;
  }
  return c;
}

}  // namespace plumb::target::kubernetes
