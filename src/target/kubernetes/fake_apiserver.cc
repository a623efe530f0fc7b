#include "core/clock.h"
#include "core/strings.h"
#include "resource/codec.h"
#include "target/kubernetes/fake_apiserver_impl.h"

namespace plumb::target::kubernetes::testing {

using resource::Value;

std::string Now() {
  time_t t = time(nullptr);
  char buf[32];
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Value StatusBody(int code, const std::string& reason, const std::string& message, Value details) {
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
          Value details) {
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

std::string FakeApiServer::Impl::Key(const std::string& group, const std::string& resource,
                                     const std::string& ns, const std::string& name) {
  return group + "|" + resource + "|" + ns + "|" + name;
}

bool FakeApiServer::Impl::Authorized(const httplib::Request& req, httplib::Response& res,
                                     const Target* t) {
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

void FakeApiServer::Impl::Record(const httplib::Request& req) {
  std::string query;
  size_t q = req.target.find('?');
  if (q != std::string::npos) query = req.target.substr(q + 1);
  requests.push_back({req.method, req.path, query, req.get_header_value("Content-Type"),
                      req.get_header_value("Accept"), req.body, req.has_header("Authorization"),
                      req.remote_port});
  stats.requests++;
  stats.by_verb[VerbOf(req)]++;
  // A client's connection is its source port (unique among open connections).
  if (client_ports.insert(req.remote_port).second) stats.connections++;
}

std::string FakeApiServer::Impl::VerbOf(const httplib::Request& req) {
  if (req.method == "PATCH") {
    std::string ct = req.get_header_value("Content-Type");
    if (ct == "application/apply-patch+yaml")
      return req.get_param_value("dryRun") == "All" ? "apply (dry run)" : "apply";
    return "patch";
  }
  if (req.method != "GET")
    return req.method == "DELETE" ? "delete" : req.method == "POST" ? "create" : "update";
  std::string watch = req.get_param_value("watch");
  if (watch == "1" || watch == "true") return "watch";
  // /api/v1/namespaces/N/configmaps/NAME has an odd number of segments after the version
  // only for collections; discovery documents have no resource.
  Target t;
  bool unknown = false;
  if (!Parse(req.path, &t, &unknown) || unknown || t.info.resource.empty()) return "discovery";
  return t.name.empty() ? "list" : "get";
}

bool FakeApiServer::Impl::Control(const httplib::Request& req, httplib::Response& res) {
  if (!options.control_endpoints || !StartsWith(req.path, "/fake/")) return false;
  if (req.method == "GET" && req.path == "/fake/stats") {
    Reply(res, 200, StatsValue(stats));
    return true;
  }
  if (req.method != "POST") return false;
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

void FakeApiServer::Impl::Handle(const httplib::Request& req, httplib::Response& res) {
  std::unique_lock<std::mutex> lock(mu);
  if (Control(req, res)) return;
  if (!pending_jobs.empty()) FinishDueJobs();
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
  // As Go's net/http (kube-apiserver): no limit on the requests of one connection.
  impl->server->set_keep_alive_max_count(1000000);
  impl->server->set_keep_alive_timeout(90);
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

Value StatsValue(const FakeApiStats& stats) {
  Value v = Value::EmptyObject();
  v.Set("requests", stats.requests);
  v.Set("connections", stats.connections);
  Value by = Value::EmptyObject();
  for (const auto& [verb, n] : stats.by_verb) by.Set(verb, n);
  v.Set("byVerb", by);
  return v;
}

FakeApiStats FakeApiServer::Stats() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->stats;
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
