#include "cli/client.h"

#include <httplib.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "core/clock.h"
#include "core/fs.h"
#include "core/strings.h"
#include "resource/codec.h"

namespace plumb::cli {
using resource::Value;

std::string DefaultStateDir() {
  if (const char* d = std::getenv("PLUMB_STATE_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) return std::string(x) + "/plumbline";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.local/state/plumbline";
}

void ResolveClient(ClientOptions* o) {
  if (o->state_dir.empty()) o->state_dir = DefaultStateDir();
  if (o->server.empty())
    if (const char* s = std::getenv("PLUMB_SERVER"); s && *s) o->server = s;
  if (o->server.empty()) {
    auto addr = fs::ReadFile(o->state_dir + "/address");
    if (addr.ok()) o->server = Trim(*addr);
  }
  if (o->server.empty()) o->server = "http://127.0.0.1:7420";
  if (o->ca_file.empty())
    if (const char* c = std::getenv("PLUMB_CA_FILE"); c && *c) o->ca_file = c;
  if (o->token.empty())
    if (const char* t = std::getenv("PLUMB_TOKEN"); t && *t) o->token = t;
  if (o->token.empty()) {
    auto tok = fs::ReadFile(o->state_dir + "/token");
    if (tok.ok()) o->token = Trim(*tok);
  }
}

namespace {
// What every connection to the operator shares. With https, httplib verifies the
// operator's certificate and host name against --ca-file, else the system's CAs.
void Prepare(httplib::Client& client, const ClientOptions& o) {
  client.set_connection_timeout(5, 0);
  if (!o.ca_file.empty()) client.set_ca_cert_path(o.ca_file);
}

// Why a TLS connection to the operator failed, with what to do about it; "" when `e`
// is not about TLS.
std::string TlsProblem(const ClientOptions& o, httplib::Error e) {
  switch (e) {
    case httplib::Error::SSLServerVerification:
      return "the operator at " + o.server +
             " has a TLS certificate this client does not trust: pass --ca-file FILE or set "
             "PLUMB_CA_FILE";
    case httplib::Error::SSLLoadingCerts:
      return "cannot load CA certificates from " + (o.ca_file.empty() ? "the system" : o.ca_file);
    case httplib::Error::SSLConnection:
      return "TLS handshake with the operator at " + o.server + " failed";
    default:
      return "";
  }
}

// TlsProblem, else httplib's name for the error.
std::string TlsOr(const ClientOptions& o, httplib::Error e) {
  std::string tls = TlsProblem(o, e);
  return tls.empty() ? httplib::to_string(e) : tls;
}
}  // namespace

Result<Value> ApiClient::Get(const std::string& path) { return Call("GET", path, ""); }
Result<Value> ApiClient::Post(const std::string& path, const Value& body) {
  return Call("POST", path, resource::ToJson(body));
}

Result<Value> ApiClient::Call(const std::string& method, const std::string& path,
                              const std::string& body) {
  httplib::Client client(o_.server);
  Prepare(client, o_);
  client.set_read_timeout(600, 0);
  httplib::Headers headers;
  if (!o_.token.empty()) headers.emplace("Authorization", "Bearer " + o_.token);
  const char* user = std::getenv("USER");
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  headers.emplace("X-Plumb-User", std::string(user ? user : "unknown") + "@" + host);
  httplib::Result res = method == "GET" ? client.Get(path, headers)
                                        : client.Post(path, headers, body, "application/json");
  if (!res) {
    if (std::string tls = TlsProblem(o_, res.error()); !tls.empty()) return Unavailable(tls);
    return Unavailable("cannot reach the operator at " + o_.server + " (" +
                       httplib::to_string(res.error()) +
                       "): is `plumb run` running? Use --server or --state-dir to find it");
  }
  // The operator is trusted: its answers are not held to the 16 MiB of a repository's
  // file (one Application's status with 100,000 resources is 17 MB).
  auto parsed = resource::ParseJson(res->body, "operator answer", {.max_bytes = size_t{1} << 30});
  if (res->status >= 200 && res->status < 300) {
    if (!parsed.ok())
      return Internal("the operator sent invalid JSON: " + parsed.status().message());
    return *parsed;
  }
  std::string msg = parsed.ok() ? parsed->GetString("error", res->body) : res->body;
  Code code = res->status == 401   ? Code::kUnauthenticated
              : res->status == 403 ? Code::kPermissionDenied
              : res->status == 404 ? Code::kNotFound
              : res->status == 400 ? Code::kInvalidArgument
              : res->status == 412 ? Code::kFailedPrecondition
                                   : Code::kUnavailable;
  return Status(code, msg);
}

Status ApiClient::Stream(const std::string& path,
                         const std::function<bool(const std::string&)>& on_data) {
  httplib::Client client(o_.server);
  Prepare(client, o_);
  client.set_read_timeout(60, 0);  // the operator sends a keep-alive every 15 s
  httplib::Headers headers;
  if (!o_.token.empty()) headers.emplace("Authorization", "Bearer " + o_.token);
  std::string buf;
  int status = 0;
  auto res = client.Get(
      path, headers,
      [&](const httplib::Response& r) {
        status = r.status;
        return true;
      },
      [&](const char* data, size_t len) {
        buf.append(data, len);
        size_t end;
        while ((end = buf.find("\n\n")) != std::string::npos) {
          std::string block = buf.substr(0, end);
          buf.erase(0, end + 2);
          if (status != 200) continue;
          for (const auto& line : Split(block, '\n'))
            if (StartsWith(line, "data: ") && !on_data(line.substr(6))) return false;
        }
        return true;
      });
  if (status == 401) return Unauthenticated("the operator refused the token");
  if (status && status != 200)
    return Unavailable("the operator answered " + std::to_string(status));
  if (!res && res.error() != httplib::Error::Canceled)
    return Unavailable("event stream from " + o_.server + " ended: " + TlsOr(o_, res.error()));
  return Status::Ok();
}

Status ApiClient::StreamText(const std::string& path, bool endless,
                             const std::function<bool(const char*, size_t)>& on_data) {
  httplib::Client client(o_.server);
  Prepare(client, o_);
  // A followed log may stay quiet for hours; the operator ends the stream when it stops.
  client.set_read_timeout(endless ? 365 * 24 * 3600 : 600, 0);
  httplib::Headers headers;
  if (!o_.token.empty()) headers.emplace("Authorization", "Bearer " + o_.token);
  int status = 0;
  std::string error_body;
  bool stopped_by_caller = false;
  auto res = client.Get(
      path, headers,
      [&](const httplib::Response& r) {
        status = r.status;
        return true;
      },
      [&](const char* data, size_t len) {
        if (status < 200 || status >= 300) {
          if (error_body.size() < 65536) error_body.append(data, len);
          return true;
        }
        if (!on_data(data, len)) {
          stopped_by_caller = true;
          return false;
        }
        return true;
      });
  if (!res && !stopped_by_caller)
    return Unavailable("cannot read " + path + " from " + o_.server + " (" +
                       TlsOr(o_, res.error()) + ")");
  if (status >= 200 && status < 300) return Status::Ok();
  auto parsed = resource::ParseJson(error_body, "operator answer");
  std::string msg = parsed.ok() ? parsed->GetString("error", error_body) : error_body;
  Code code = status == 401   ? Code::kUnauthenticated
              : status == 403 ? Code::kPermissionDenied
              : status == 404 ? Code::kNotFound
              : status == 400 ? Code::kInvalidArgument
              : status == 501 ? Code::kUnimplemented
                              : Code::kUnavailable;
  return Status(code, msg);
}

void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::cout << Trim(line) << "\n";
  }
}

int Fail(const Status& s) {
  std::cerr << "plumb: " << s.message() << "\n";
  return 2;
}

void PrintValue(const ClientOptions& o, const Value& v) {
  if (o.output == "yaml")
    std::cout << resource::ToYaml(v);
  else
    std::cout << resource::ToJson(v, 2) << "\n";
}

namespace {
std::string Short(const std::string& sha) { return sha.substr(0, 7); }

std::string Ago(const std::string& rfc3339, int64_t ms) {
  if (!ms) return "never";
  int64_t secs = (UnixMillis(SystemClock().Now()) - ms) / 1000;
  if (secs < 0) secs = 0;
  (void)rfc3339;
  if (secs < 120) return std::to_string(secs) + "s ago";
  if (secs < 7200) return std::to_string(secs / 60) + "m ago";
  return std::to_string(secs / 3600) + "h ago";
}

int64_t IntOf(const Value* v) { return v && v->is_int() ? v->as_int() : 0; }
}  // namespace

int CmdStatus(const ClientOptions& o, const std::string& app, const StatusRows& which) {
  ApiClient c(o);
  if (app.empty() && (which.summary || !which.sync.empty() || !which.health.empty()))
    return Fail(InvalidArgument("plumb status: --summary, --sync and --health need an APP"));
  if (which.summary && (!which.sync.empty() || !which.health.empty()))
    return Fail(InvalidArgument(
        "plumb status: --summary counts every resource and shows no rows; it does not go with "
        "--sync or --health (use one or the other)"));
  if (!app.empty()) {
    std::string query;
    auto add = [&query](const std::string& key, const std::string& value) {
      query += (query.empty() ? "?" : "&") + key + "=" + httplib::detail::encode_query_param(value);
    };
    if (which.summary) add("resources", "false");
    if (!which.sync.empty()) add("sync", which.sync);
    if (!which.health.empty()) add("health", which.health);
    auto v = c.Get("/api/v1/applications/" + app + query);
    if (!v.ok()) return Fail(v.status());
    if (o.output != "table") {
      PrintValue(o, *v);
      return 0;
    }
    const Value& spec = *v->Find("spec");
    const Value& st = *v->Find("status");
    const Value* src = spec.Find("source");
    std::cout << "Name:            " << app << "\n"
              << "Repo:            " << src->GetString("repo") << "\n"
              << "Branch:          " << src->GetString("branch") << "\n"
              << "Path:            " << src->GetString("path") << "\n"
              << "Applied commit:  " << st.GetString("appliedCommit") << "\n"
              << "Head commit:     " << st.GetString("headCommit") << "\n"
              << "Sync:            " << st.GetString("sync") << "\n"
              << "Health:          " << st.GetString("health")
              << (st.GetString("healthMessage").empty()
                      ? ""
                      : " (" + st.GetString("healthMessage") + ")")
              << "\n"
              << "Last reconcile:  " << st.GetString("lastReconcile") << " ("
              << IntOf(st.Find("lastDurationMs")) << " ms)\n"
              << "Last error:      " << st.GetString("lastError") << "\n";
    if (const Value* verify = src->Find("verify"); verify && verify->is_object()) {
      const Value* keys = verify->Find("keys");
      size_t n = keys && keys->is_array() ? keys->as_array().size() : 0;
      std::cout << "Verify:          " << verify->GetString("mode") << " signed by " << n
                << (n == 1 ? " key" : " keys") << "; last verified "
                << (st.GetString("verifiedCommit").empty() ? "(none)"
                                                           : st.GetString("verifiedCommit"))
                << "\n";
    }
    if (const Value* conds = st.Find("conditions"); conds && conds->is_array())
      for (const Value& c : conds->as_array())
        std::cout << "Condition:       " << c.GetString("type") << ": " << c.GetString("message")
                  << "\n";
    if (which.summary) {  // "Resources:       100 (Synced 99, OutOfSync 1; Healthy 100)"
      std::string counts;
      for (const char* key : {"sync", "health"}) {
        const Value* by = st.FindPath({"resourceSummary", key});
        if (!by || !by->is_object()) continue;
        std::string part;
        for (const auto& [name, n] : by->as_object())
          part += (part.empty() ? "" : ", ") + name + " " + std::to_string(IntOf(&n));
        if (!part.empty()) counts += (counts.empty() ? "" : "; ") + part;
      }
      std::cout << "Resources:       " << IntOf(st.Find("resourceCount"))
                << (counts.empty() ? "" : " (" + counts + ")") << "\n";
      return 0;
    }
    std::cout << "\n";
    std::vector<std::vector<std::string>> rows = {
        {"KIND", "NAMESPACE", "NAME", "SYNC", "HEALTH", "MESSAGE"}};
    for (const Value& r : st.Find("resources")->as_array())
      rows.push_back({r.GetString("kind"), r.GetString("namespace"), r.GetString("name"),
                      r.GetString("sync"), r.GetString("health"), r.GetString("message")});
    PrintTable(rows);
    return 0;
  }
  Value all = Value::EmptyArray();
  std::string next;
  do {
    auto v = c.Get("/api/v1/applications?limit=5000" + (next.empty() ? "" : "&continue=" + next));
    if (!v.ok()) return Fail(v.status());
    for (const Value& item : v->Find("items")->as_array()) all.Append(item);
    next = v->GetString("continue");
  } while (!next.empty());
  if (o.output != "table") {
    Value out;
    out.Set("items", all);
    PrintValue(o, out);
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {{"NAME", "REPO", "BRANCH", "PATH", "APPLIED",
                                                 "HEAD", "SYNC", "HEALTH", "RECONCILED", "DURATION",
                                                 "ERROR"}};
  for (const Value& a : all.as_array()) {
    const Value& st = *a.Find("status");
    const Value* src = a.FindPath({"spec", "source"});
    rows.push_back({a.GetString("name"), src->GetString("repo"), src->GetString("branch"),
                    src->GetString("path"), Short(st.GetString("appliedCommit")),
                    Short(st.GetString("headCommit")), st.GetString("sync"), st.GetString("health"),
                    Ago(st.GetString("lastReconcile"), IntOf(st.Find("lastReconcileMs"))),
                    std::to_string(IntOf(st.Find("lastDurationMs"))) + "ms",
                    st.GetString("lastError")});
  }
  PrintTable(rows);
  return 0;
}

int CmdDiff(const ClientOptions& o, const std::string& app) {
  auto v = ApiClient(o).Get("/api/v1/applications/" + app + "/diff");
  if (!v.ok()) return Fail(v.status());
  const Value* drift = v->Find("drift");
  bool has_drift = drift && drift->is_bool() && drift->as_bool();
  if (o.output != "table")
    PrintValue(o, *v);
  else
    std::cout << v->GetString("diff");
  return has_drift ? 1 : 0;
}

int CmdSync(const ClientOptions& o, const std::string& app, bool dry_run) {
  Value body;
  body.Set("dryRun", dry_run);
  auto v = ApiClient(o).Post("/api/v1/applications/" + app + "/sync", body);
  if (!v.ok()) return Fail(v.status());
  if (o.output != "table") {
    PrintValue(o, *v);
  } else {
    std::cout << app << " at " << Short(v->GetString("revision")) << ": " << v->GetString("result")
              << " (" << v->GetString("message") << ")\n";
    std::vector<std::vector<std::string>> rows = {
        {"KIND", "NAMESPACE", "NAME", "CHANGE", "MESSAGE"}};
    for (const Value& c : v->Find("changes")->as_array()) {
      std::string change = c.GetString("change", c.GetString("action"));
      if (change == "unchanged" || change == "none") continue;
      rows.push_back({c.GetString("kind"), c.GetString("namespace"), c.GetString("name"), change,
                      c.GetString("message")});
    }
    if (rows.size() > 1) PrintTable(rows);
  }
  return v->GetString("result") == "Failed" ? 2 : 0;
}

int CmdHistory(const ClientOptions& o, const std::string& app) {
  auto v = ApiClient(o).Get("/api/v1/applications/" + app + "/history");
  if (!v.ok()) return Fail(v.status());
  if (o.output != "table") {
    PrintValue(o, *v);
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "REVISION", "TIME", "TRIGGER", "RESULT", "CHANGES", "COMMIT"}};
  for (const Value& h : v->Find("items")->as_array()) {
    std::string changes;
    for (const Value& c : h.Find("changes")->as_array())
      changes += (changes.empty() ? "" : ", ") + c.GetString("kind") + "/" + c.GetString("name") +
                 (c.GetString("hook").empty() ? "" : " (" + c.GetString("hook") + " hook)") + " " +
                 c.GetString("change");
    if (changes.size() > 80) changes = changes.substr(0, 77) + "...";
    rows.push_back({std::to_string(IntOf(h.Find("id"))), Short(h.GetString("revision")),
                    h.GetString("startedAt"), h.GetString("trigger"), h.GetString("result"),
                    changes.empty() ? h.GetString("message") : changes,
                    h.GetString("commitMessage")});
  }
  PrintTable(rows);
  return 0;
}

int CmdRollback(const ClientOptions& o, const std::string& app, const std::string& revision) {
  Value body;
  body.Set("revision", revision);
  auto v = ApiClient(o).Post("/api/v1/applications/" + app + "/rollback", body);
  if (!v.ok()) return Fail(v.status());
  if (o.output != "table")
    PrintValue(o, *v);
  else
    std::cout << "rolled back " << app << " to " << revision << " with commit "
              << Short(v->GetString("commit")) << "; the operator is applying it\n";
  return 0;
}

int CmdEvents(const ClientOptions& o, const std::string& app, bool follow) {
  if (follow) {
    Status s = ApiClient(o).Stream(
        "/api/v1/events?watch=true&after=0" + (app.empty() ? "" : "&app=" + app),
        [&](const std::string& data) {
          auto e = resource::ParseJson(data, "event");
          if (!e.ok()) return true;
          if (o.output == "json")
            std::cout << data << "\n";
          else
            std::cout << e->GetString("time") << "  " << e->GetString("app") << "  "
                      << e->GetString("type") << "  " << e->GetString("reason") << "  "
                      << e->GetString("message") << "\n";
          std::cout.flush();
          return true;
        });
    return s.ok() ? 0 : Fail(s);
  }
  std::string path = app.empty() ? "/api/v1/events" : "/api/v1/applications/" + app + "/events";
  auto v = ApiClient(o).Get(path);
  if (!v.ok()) return Fail(v.status());
  if (o.output != "table") {
    PrintValue(o, *v);
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {{"TIME", "APP", "TYPE", "REASON", "MESSAGE"}};
  for (const Value& e : v->Find("items")->as_array())
    rows.push_back({e.GetString("time"), e.GetString("app"), e.GetString("type"),
                    e.GetString("reason"), e.GetString("message")});
  PrintTable(rows);
  return 0;
}

int CmdSuspend(const ClientOptions& o, const std::string& app, bool suspend) {
  auto v = ApiClient(o).Post("/api/v1/applications/" + app + (suspend ? "/suspend" : "/resume"),
                             Value::EmptyObject());
  if (!v.ok()) return Fail(v.status());
  std::cout << app << (suspend ? " suspended\n" : " resumed\n");
  return 0;
}

int CmdRefresh(const ClientOptions& o, const std::string& app) {
  auto v = ApiClient(o).Post("/api/v1/applications/" + app + "/refresh", Value::EmptyObject());
  if (!v.ok()) return Fail(v.status());
  std::cout << app << ": refresh queued\n";
  return 0;
}

namespace {
std::string QueryEscape(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}
}  // namespace

int CmdLogs(const ClientOptions& o, const std::string& app, const LogsOptions& lo) {
  std::string path = "/api/v1/applications/" + QueryEscape(app) +
                     "/logs?tail=" + std::to_string(std::max(0, lo.tail)) +
                     (lo.follow ? "&follow=true" : "") +
                     (lo.name.empty() ? "" : "&name=" + QueryEscape(lo.name)) +
                     (lo.kind.empty() ? "" : "&kind=" + QueryEscape(lo.kind)) +
                     (lo.replica >= 0 ? "&replica=" + std::to_string(lo.replica) : "");
  Status s = ApiClient(o).StreamText(path, lo.follow, [](const char* data, size_t len) {
    std::cout.write(data, static_cast<std::streamsize>(len));
    std::cout.flush();
    return static_cast<bool>(std::cout);
  });
  return s.ok() ? 0 : Fail(s);
}

int CmdLocalScale(const ClientOptions& o, const std::string& target, int replicas,
                  const std::string& via) {
  std::vector<std::string> parts = Split(target, '/');
  if (parts.size() < 2 || parts.size() > 3 || parts.front().empty() || parts.back().empty())
    return Fail(InvalidArgument("\"" + target + "\": use APP/NAME (or APP/KIND/NAME)"));
  if (replicas < 0) return Fail(InvalidArgument("replicas must be 0 or more"));
  const std::string& app = parts.front();
  Value body;
  if (parts.size() == 3) body.Set("kind", parts[1]);
  body.Set("name", parts.back());
  body.Set("replicas", replicas);
  body.Set("via", via);
  auto v = ApiClient(o).Post("/api/v1/applications/" + QueryEscape(app) + "/scale", body);
  if (!v.ok()) return Fail(v.status());
  if (o.output != "table") {
    PrintValue(o, *v);
    return 0;
  }
  std::string message = v->GetString("message");
  std::cout << app << ": " << v->GetString("kind") << "/" << v->GetString("name") << " "
            << v->GetString("change") << (message.empty() ? "" : ": " + message) << "\n"
            << "The live count now differs from git: " << app
            << " shows OutOfSync, and with selfHeal the operator puts git's count back.\n";
  return 0;
}

}  // namespace plumb::cli
