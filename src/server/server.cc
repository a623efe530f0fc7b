#include "server/server.h"

#include <httplib.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "core/fs.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/strings.h"
#include "pipeline/pipeline.h"
#include "resource/codec.h"
#include "server/logs.h"
#include "server/task_pool.h"
#include "server/tls.h"
#include "server/web_files.h"
#include "server/webhook.h"

namespace plumb::server {
using resource::Value;

namespace {
int HttpCode(Code c) {
  switch (c) {
    case Code::kInvalidArgument:
      return 400;
    case Code::kNotFound:
      return 404;
    case Code::kAlreadyExists:
      return 409;
    case Code::kAborted:
      return 409;
    case Code::kFailedPrecondition:
      return 412;
    case Code::kPermissionDenied:
      return 403;
    case Code::kUnauthenticated:
      return 401;
    case Code::kUnavailable:
      return 503;
    case Code::kDeadlineExceeded:
      return 504;
    case Code::kUnimplemented:
      return 501;
    default:
      return 500;
  }
}

void Reply(httplib::Response& res, int code, const Value& body) {
  res.status = code;
  res.set_content(resource::ToJson(body) + "\n", "application/json");
}

void ReplyError(httplib::Response& res, const Status& s) {
  Value v;
  v.Set("error", s.message());
  v.Set("code", CodeName(s.code()));
  Reply(res, HttpCode(s.code()), v);
}

bool Matches(const std::string& filter, const std::string& value) {
  return filter.empty() || filter == value;
}

size_t ParseSize(const std::string& s, size_t fallback) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos)
    return fallback;
  return static_cast<size_t>(std::stoll(s));
}
}  // namespace

Result<std::string> LoadOrCreateAdminToken(const std::string& state_dir) {
  std::string path = state_dir + "/token";
  auto existing = fs::ReadFile(path);
  if (existing.ok() && !Trim(*existing).empty()) return Trim(*existing);
  RETURN_IF_ERROR(fs::MakeDirs(state_dir));
  std::string token = RandomHex(32);
  RETURN_IF_ERROR(fs::WriteFileAtomic(path, token + "\n", 0600, true));
  return token;
}

Result<std::map<std::string, std::string>> LoadTokensFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, fs::ReadFile(path));
  std::map<std::string, std::string> out;
  int line_no = 0;
  for (const std::string& raw : Split(text, '\n')) {
    ++line_no;
    std::string line = Trim(raw);
    if (line.empty() || line[0] == '#') continue;
    size_t sp = line.find_first_of(" \t");
    std::string role = sp == std::string::npos ? "" : Trim(line.substr(sp));
    if (sp == std::string::npos || (role != "admin" && role != "read-only"))
      return InvalidArgument(path + ":" + std::to_string(line_no) +
                             ": expected \"TOKEN ROLE\" with ROLE admin or read-only");
    if (sp < 16)
      return InvalidArgument(path + ":" + std::to_string(line_no) +
                             ": the token is shorter than 16 characters");
    out[line.substr(0, sp)] = role;
  }
  return out;
}

Result<std::map<std::string, std::string>> LoadWebhookSecretsFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, fs::ReadFile(path));
  std::map<std::string, std::string> out;
  std::map<std::string, int> first_line;
  int line_no = 0;
  for (const std::string& raw : Split(text, '\n')) {
    ++line_no;
    std::string line = Trim(raw);
    if (line.empty() || line[0] == '#') continue;
    std::string where = path + ":" + std::to_string(line_no);
    size_t sp = line.find_first_of(" \t");
    std::string secret = sp == std::string::npos ? "" : Trim(line.substr(sp));
    if (secret.empty()) return InvalidArgument(where + R"(: expected "REPO_URL SECRET")");
    std::string repo = CanonicalRepoUrl(line.substr(0, sp));
    if (auto [it, fresh] = first_line.emplace(repo, line_no); !fresh)
      return InvalidArgument(where + ": " + line.substr(0, sp) + " already has a secret on line " +
                             std::to_string(it->second));
    out[repo] = secret;
  }
  return out;
}

struct Server::Impl {
  engine::Engine* engine;
  ServerOptions options;
  std::string admin_token;
  std::unique_ptr<httplib::Server> http;  // an SSLServer with TLS
  std::thread thread;
  std::string url;
  bool loopback = false;
  // Stop(): long streams (logs -f) end at their next poll.
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;  // guarded by stop_mu

  enum class Need { kRead, kAdmin };

  // "admin", "read-only", or "" for an unknown token. Constant-time per comparison.
  std::string RoleOf(const std::string& token) {
    if (token.empty()) return "";
    if (ConstantTimeEquals(token, admin_token)) return "admin";
    std::string role;
    for (const auto& [t, r] : options.tokens)
      if (ConstantTimeEquals(token, t)) role = r;
    return role;
  }

  // Returns true when the request may go on; otherwise fills `res` (401/403).
  bool Authorize(const httplib::Request& req, httplib::Response& res, Need need) {
    std::string auth = req.get_header_value("Authorization");
    std::string token;
    if (StartsWith(auth, "Bearer ")) token = Trim(auth.substr(7));
    std::string role = RoleOf(token);
    if (role == "admin") return true;
    if (role == "read-only") {
      if (need == Need::kRead) return true;
      log::Warn("read-only token refused for a change",
                {{"method", req.method}, {"path", req.path}});
      ReplyError(res, PermissionDenied("this token is read-only; changes need an admin token"));
      return false;
    }
    if (need == Need::kRead && options.anonymous_read) return true;
    if (token.empty()) {
      log::Warn("request without a token refused",
                {{"method", req.method}, {"path", req.path}, {"remote", req.remote_addr}});
      ReplyError(res, Unauthenticated("this call needs a token: pass --token, set PLUMB_TOKEN, "
                                      "or share the operator's --state-dir"));
    } else {
      log::Warn("request with an unknown token refused",
                {{"method", req.method}, {"path", req.path}, {"remote", req.remote_addr}});
      ReplyError(res, Unauthenticated("the token is not valid for this operator"));
    }
    return false;
  }

  std::string Initiator(const httplib::Request& req) {
    std::string who = req.get_header_value("X-Plumb-User");
    if (who.empty() || who.size() > 200) who = "api";
    return who;
  }

  void Routes();
  void LogRoutes();        // logs.cc's HTTP side: GET .../logs, .../processes, POST .../scale
  void PipelineRoutes();   // environments and promotion
  void DashboardRoutes();  // the dashboard's files at every other GET path
  // Waits up to `d` for Stop(); returns true when stopping.
  bool WaitStop(Duration d) {
    std::unique_lock<std::mutex> l(stop_mu);
    return stop_cv.wait_for(l, d, [&] { return stopping; });
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { Stop(); }

Result<std::unique_ptr<Server>> Server::Create(engine::Engine* engine, ServerOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->engine = engine;
  impl->options = std::move(options);
  const std::string& cert = impl->options.tls_cert;
  const std::string& key = impl->options.tls_key;
  if (cert.empty() != key.empty())
    return InvalidArgument("--tls-cert and --tls-key go together: give both for HTTPS");
  if (cert.empty()) {
    impl->http = std::make_unique<httplib::Server>();
  } else {
    Status tls;
    auto https = std::make_unique<httplib::SSLServer>(
        [&](SSL_CTX& ctx) { return (tls = ConfigureTls(&ctx, cert, key)).ok(); });
    RETURN_IF_ERROR(tls);
    if (!https->is_valid()) return Internal("cannot set up TLS with " + cert + " and " + key);
    impl->http = std::move(https);
  }
  ASSIGN_OR_RETURN(impl->admin_token, LoadOrCreateAdminToken(impl->options.state_dir));
  metrics::Default().Describe("plumb_webhook_requests_total", metrics::Type::kCounter,
                              "Webhook requests by provider and result.");
  // Threads as connections need them (TaskPool), up to options.threads.
  struct PoolQueue : httplib::TaskQueue {
    explicit PoolQueue(size_t n) : pool(n) {}
    void enqueue(std::function<void()> fn) override { pool.Enqueue(std::move(fn)); }
    void shutdown() override { pool.Shutdown(); }
    TaskPool pool;
  };
  const size_t threads = static_cast<size_t>(std::max(1, impl->options.threads));
  impl->http->new_task_queue = [threads] { return new PoolQueue(threads); };
  // An answer goes out as headers, then body: with Nagle's algorithm the body waits for
  // the client's delayed ACK of the headers (40 ms on Linux), longer than a list takes.
  impl->http->set_tcp_nodelay(true);
  impl->Routes();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::Impl::Routes() {
  using Req = const httplib::Request&;
  using Res = httplib::Response&;
  http->Get("/healthz", [](Req, Res res) { res.set_content("ok\n", "text/plain"); });

  // The sealing certificate, open to anyone (a public key), as kubeseal --fetch-cert reads it.
  http->Get("/api/v1/keys/public.pem", [this](Req, Res res) {
    Result<std::string> pem =
        options.public_cert_pem
            ? options.public_cert_pem()
            : Result<std::string>(NotFound("this operator has no sealing keys"));
    if (!pem.ok()) return ReplyError(res, pem.status());
    res.set_content(*pem, "application/x-pem-file");
  });

  // Open on a loopback listener (scrapers there are local); a token otherwise.
  http->Get("/metrics", [this](Req req, Res res) {
    if (!loopback && !Authorize(req, res, Need::kRead)) return;
    res.set_content(metrics::Default().Render(), "text/plain; version=0.0.4; charset=utf-8");
  });

  http->Get("/api/v1/images", [this](Req req, Res res) {
    if (!Authorize(req, res, Need::kRead)) return;
    if (!options.images_status) return ReplyError(res, NotFound("no image automation"));
    Value v = options.images_status();
    std::string app = req.get_param_value("app");
    if (!app.empty()) {
      for (const char* list : {"repositories", "policies", "automations"}) {
        Value kept = Value::EmptyArray();
        for (const auto& item : v.Find(list)->as_array())
          if (item.GetString("app") == app) kept.Append(item);
        v.Set(list, std::move(kept));
      }
    }
    Reply(res, 200, v);
  });

  http->Get("/api/v1/applications", [this](Req req, Res res) {
    if (!Authorize(req, res, Need::kRead)) return;
    std::string fname = req.get_param_value("name"), fsync = req.get_param_value("sync"),
                fhealth = req.get_param_value("health"), frepo = req.get_param_value("repo"),
                fbranch = req.get_param_value("branch"), fq = req.get_param_value("q");
    engine::AppListOptions list{
        .after = req.get_param_value("continue"),
        .limit = std::clamp<size_t>(ParseSize(req.get_param_value("limit"), 500), 1, 5000)};
    if (!(fname + fsync + fhealth + frepo + fbranch + fq).empty())
      list.match = [&](const engine::AppSpec& spec, const engine::AppStatus& status) {
        return Matches(fname, spec.name) && Matches(fsync, status.sync) &&
               Matches(fhealth, status.health) && Matches(frepo, spec.repo) &&
               Matches(fbranch, spec.branch) &&
               (fq.empty() || spec.name.find(fq) != std::string::npos ||
                spec.repo.find(fq) != std::string::npos || spec.path.find(fq) != std::string::npos);
      };
    engine::AppPage page = engine->ListAppsPage(list);
    Value items = Value::EmptyArray();
    for (const auto& a : page.items) {  // without the rows: their count and summary
      Value v;
      v.Set("name", a.spec.name);
      v.Set("spec", a.spec.ToValue());
      Value& status = v.Set("status", a.status.SummaryToValue());
      status.Set("resourceCount", static_cast<int64_t>(a.resource_count));
      status.Set("resourceSummary", a.status.resources.Summarize().ToValue());
      items.Append(std::move(v));
    }
    Value out;
    out.Set("items", std::move(items));
    out.Set("continue", page.next);
    Reply(res, 200, out);
  });

  http->Get(R"(/api/v1/applications/([^/]+))", [this](Req req, Res res) {
    if (!Authorize(req, res, Need::kRead)) return;
    auto app = engine->GetApp(req.matches[1]);  // the rows are shared, not copied
    if (!app.ok()) return ReplyError(res, app.status());
    // ?resources=false: no rows (the counts stay); sync, health, offset, limit: some rows.
    // A value that is not what the parameter takes is refused, never read as "all rows".
    std::optional<engine::ResourceFilter> filter;
    const std::string resources = req.get_param_value("resources");
    if (!resources.empty() && resources != "true" && resources != "false")
      return ReplyError(res,
                        InvalidArgument("resources=" + resources +
                                        ": must be true or false (false leaves the rows out)"));
    const bool selects = req.has_param("sync") || req.has_param("health") ||
                         req.has_param("offset") || req.has_param("limit");
    if (resources == "false" && selects)
      return ReplyError(res, InvalidArgument("resources=false leaves the rows out: it does not go "
                                             "with sync, health, offset or limit"));
    if (resources != "false") {
      filter.emplace();
      filter->sync = req.get_param_value("sync");
      filter->health = req.get_param_value("health");
      filter->counted = selects;
      for (auto [name, field] : {std::pair{"offset", &filter->offset}, {"limit", &filter->limit}}) {
        if (!req.has_param(name)) continue;
        const std::string text = req.get_param_value(name);
        constexpr size_t kNone = static_cast<size_t>(-1);
        const size_t n = ParseSize(text, kNone);
        if (n == kNone)
          return ReplyError(res, InvalidArgument(std::string(name) + "=" + text +
                                                 ": must be a whole number from 0 to 999999999"));
        *field = n;
      }
    }
    // The rows are written from the packed list as the answer is sent, never as a Value
    // tree or one text: 100,000 rows are 17 MB of JSON.
    Value head;
    head.Set("name", app->spec.name);
    head.Set("spec", app->spec.ToValue());
    std::string start = resource::ToJson(head);
    start.pop_back();  // '}'
    start += ",\"status\":";
    res.status = 200;
    res.set_chunked_content_provider("application/json", [view = std::move(app).value(), filter,
                                                          start = std::move(start)](
                                                             size_t, httplib::DataSink& sink) {
      auto write = [&sink](std::string_view s) {
        return sink.write(s.data(), s.size()) ? Status::Ok() : Unavailable("the client went away");
      };
      Status s = write(start);
      if (s.ok()) s = view.status.WriteJson(write, filter ? &*filter : nullptr);
      if (s.ok()) s = write("}\n");
      if (!s.ok()) return false;
      sink.done();
      return true;
    });
  });

  http->Get(R"(/api/v1/applications/([^/]+)/diff)", [this](Req req, Res res) {
    if (!Authorize(req, res, Need::kRead)) return;
    auto d = engine->Diff(req.matches[1]);
    if (!d.ok()) return ReplyError(res, d.status());
    Value v;
    v.Set("app", d->app);
    v.Set("revision", d->revision);
    v.Set("drift", d->drift);
    v.Set("diff", d->text);
    v.Set("items", d->items);
    Reply(res, 200, v);
  });

  http->Get(R"(/api/v1/applications/([^/]+)/history)", [this](Req req, Res res) {
    if (!Authorize(req, res, Need::kRead)) return;
    auto rows = engine->History(req.matches[1], ParseSize(req.get_param_value("limit"), 0));
    if (!rows.ok()) return ReplyError(res, rows.status());
    Value items = Value::EmptyArray();
    for (const auto& r : *rows) items.Append(r.ToValue());
    Value v;
    v.Set("items", std::move(items));
    Reply(res, 200, v);
  });

  auto events = [this](Req req, Res res, const std::string& app) {
    if (!Authorize(req, res, Need::kRead)) return;
    int64_t after = static_cast<int64_t>(ParseSize(req.get_param_value("after"), 0));
    // tail=N: start after the newest N events of the whole operator (the dashboard's
    // "recent events" without paging from the first one).
    if (size_t tail = ParseSize(req.get_param_value("tail"), 0); tail > 0)
      after = std::max<int64_t>(after, engine->LastEventId() - static_cast<int64_t>(tail));
    auto rows = engine->Events(app, after, ParseSize(req.get_param_value("limit"), 1000));
    if (!rows.ok()) return ReplyError(res, rows.status());
    Value items = Value::EmptyArray();
    for (const auto& e : *rows) items.Append(e.ToValue());
    Value v;
    v.Set("items", std::move(items));
    Reply(res, 200, v);
  };
  http->Get("/api/v1/events", [this, events](Req req, Res res) {
    std::string app = req.get_param_value("app");
    if (req.get_param_value("watch") != "true") return events(req, res, app);
    if (!Authorize(req, res, Need::kRead)) return;
    // Server-sent events: what is stored after `after` (default: from now on), then live.
    int64_t after = static_cast<int64_t>(ParseSize(req.get_param_value("after"), 0));
    if (req.get_param_value("after").empty()) after = engine->LastEventId();
    auto cursor = std::make_shared<int64_t>(after);
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream", [this, app, cursor](size_t, httplib::DataSink& sink) {
          // Walk every event (the cursor is global) and send those of `app`.
          auto rows = engine->Events("", *cursor, 500);
          if (rows.ok() && !rows->empty()) {
            std::string chunk;
            for (const auto& e : *rows) {
              *cursor = e.id;
              if (!app.empty() && e.app != app) continue;
              chunk += "id: " + std::to_string(e.id) + "\nevent: " + e.reason +
                       "\ndata: " + resource::ToJson(e.ToValue()) + "\n\n";
            }
            return chunk.empty() || sink.write(chunk.data(), chunk.size());
          }
          engine->WaitForEvents(*cursor, Duration(15000));
          auto more = engine->Events("", *cursor, 1);
          if (!more.ok() || more->empty()) {
            const char kPing[] = ": keep-alive\n\n";
            return sink.write(kPing, sizeof kPing - 1);
          }
          return true;
        });
  });
  http->Get(R"(/api/v1/applications/([^/]+)/events)",
            [events](Req req, Res res) { events(req, res, req.matches[1]); });

  http->Post(R"(/api/v1/applications/([^/]+)/sync)", [this](Req req, Res res) {
    if (!Authorize(req, res, Need::kAdmin)) return;
    engine::SyncRequest sr{.trigger = "user", .initiator = Initiator(req), .manual = true};
    if (!req.body.empty()) {
      auto body = resource::ParseJson(req.body, "request body");
      if (!body.ok()) return ReplyError(res, body.status());
      if (const Value* d = body->Find("dryRun"); d && d->is_bool()) sr.dry_run = d->as_bool();
    }
    auto r = engine->Sync(req.matches[1], sr);
    if (!r.ok()) return ReplyError(res, r.status());
    Reply(res, 200, r->ToValue());
  });

  http->Post(R"(/api/v1/applications/([^/]+)/refresh)", [this](Req req, Res res) {
    if (!Authorize(req, res, Need::kAdmin)) return;
    Status s = engine->Refresh(req.matches[1]);
    if (!s.ok()) return ReplyError(res, s);
    Value v;
    v.Set("queued", true);
    Reply(res, 202, v);
  });

  for (const char* verb : {"suspend", "resume"}) {
    bool suspend = std::string(verb) == "suspend";
    http->Post(std::string(R"(/api/v1/applications/([^/]+)/)") + verb,
               [this, suspend](Req req, Res res) {
                 if (!Authorize(req, res, Need::kAdmin)) return;
                 Status s = engine->SetSuspended(req.matches[1], suspend, Initiator(req));
                 if (!s.ok()) return ReplyError(res, s);
                 Value v;
                 v.Set("suspended", suspend);
                 Reply(res, 200, v);
               });
  }

  http->Post(R"(/api/v1/applications/([^/]+)/rollback)", [this](Req req, Res res) {
    if (!Authorize(req, res, Need::kAdmin)) return;
    auto body = resource::ParseJson(req.body, "request body");
    if (!body.ok()) return ReplyError(res, body.status());
    std::string rev = body->GetString("revision");
    if (rev.empty()) return ReplyError(res, InvalidArgument("revision is required"));
    auto commit = engine->Rollback(req.matches[1], rev, Initiator(req));
    if (!commit.ok()) return ReplyError(res, commit.status());
    Value v;
    v.Set("commit", *commit);
    v.Set("revision", rev);
    Reply(res, 200, v);
  });

  LogRoutes();
  PipelineRoutes();

  // Git webhooks: signature first, then one fetch per repository for the Applications
  // that follow the pushed branch.
  http->Post(R"(/api/v1/webhooks/([a-z]+))", [this](Req req, Res res) {
    std::string provider = req.matches[1];
    auto count = [&](const std::string& result) {
      metrics::Default().Add("plumb_webhook_requests_total",
                             {{"provider", provider}, {"result", result}});
    };
    if (!options.webhooks.enabled()) {
      count("disabled");
      return ReplyError(res, NotFound("webhooks are disabled: start the operator with "
                                      "--webhook-secret-file FILE or --webhook-secrets FILE"));
    }
    HeaderFn header = [&req](const std::string& k) { return req.get_header_value(k.c_str()); };
    // The payload names the repository whose secret must have signed it; nothing in it is
    // trusted until that signature checks out.
    auto push = ParsePushEvent(provider, header, req.body);
    auto secret = VerifyPush(provider, header, req.body, options.webhooks,
                             push.ok() ? push->repo_urls : std::vector<std::string>{});
    if (!secret.ok()) {
      const Status& bad = secret.status();
      count(bad.code() == Code::kInvalidArgument ? "bad_request" : "unauthorized");
      engine->RecordEvent(
          "", "Warning", "WebhookRejected",
          provider + " webhook from " + req.remote_addr + " refused: " + bad.message());
      return ReplyError(res, bad);
    }
    if (!push.ok()) {
      count("bad_request");
      return ReplyError(res, push.status());
    }
    Value out;
    Value queued = Value::EmptyArray();
    if (!push->ping && !push->branch.empty()) {
      std::vector<std::string> urls;
      for (const auto& u : push->repo_urls) urls.push_back(CanonicalRepoUrl(u));
      auto names = engine->NotifyPush([&](const engine::AppSpec& spec) {
        if (spec.branch != push->branch) return false;
        std::string mine = CanonicalRepoUrl(spec.repo);
        return std::find(urls.begin(), urls.end(), mine) != urls.end() &&
               options.webhooks.For(spec.repo) == *secret;
      });
      for (const auto& n : names) queued.Append(n);
      engine->RecordEvent("", "Normal", "WebhookReceived",
                          provider + " push to " + push->branch + " of " + push->repo_urls.front() +
                              ": " + std::to_string(names.size()) + " Application(s) queued");
    }
    count("accepted");
    out.Set("queued", std::move(queued));
    Reply(res, 202, out);
  });

  DashboardRoutes();

  http->set_exception_handler([](Req, Res res, std::exception_ptr) {
    ReplyError(res, Internal("the request failed inside the operator"));
  });
}

// The dashboard: open to anyone (its API calls carry the token). Registered last, so
// it answers only paths no other route took; unknown /api/ paths get a JSON 404.
void Server::Impl::DashboardRoutes() {
  http->Get(".*", [](const httplib::Request& req, httplib::Response& res) {
    const WebFile* file = ResolveWebPath(req.path);
    if (file == nullptr)
      return ReplyError(res,
                        NotFound(std::string(req.path.starts_with("/api") ? "no such API path: "
                                                                          : "no such file: ") +
                                 req.path.substr(0, 200)));
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                   "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Referrer-Policy", "no-referrer");
    // Assets are named after their content and kept for good; index.html is revalidated
    // (a 304 when unchanged).
    res.set_header("Cache-Control", std::string(WebCacheControl(*file)));
    std::string etag = WebETag(*file);
    res.set_header("ETag", etag);
    if (req.get_header_value("If-None-Match") == etag) {
      res.status = 304;
      return;
    }
    res.set_content(file->body.data(), file->body.size(), std::string(WebContentType(file->path)));
  });
}

// Environments and promotion.
void Server::Impl::PipelineRoutes() {
  using Req = const httplib::Request&;
  using Res = httplib::Response&;
  http->Get("/api/v1/environments", [this](Req req, Res res) {
    if (!Authorize(req, res, Need::kRead)) return;
    Reply(res, 200, pipeline::ListEnvironments(*engine, req.get_param_value("repo")));
  });
  http->Get("/api/v1/environments/diff", [this](Req req, Res res) {
    if (!Authorize(req, res, Need::kRead)) return;
    std::string from = req.get_param_value("from"), to = req.get_param_value("to");
    if (from.empty() || to.empty())
      return ReplyError(res, InvalidArgument("from and to are required (environment names)"));
    auto d = pipeline::DiffEnvironments(*engine, from, to);
    if (!d.ok()) return ReplyError(res, d.status());
    Reply(res, 200, *d);
  });
  // A refused promotion (gate, conflict) is a 200 with `result` Blocked or Conflict:
  // the attempt was made and recorded; its report says why.
  http->Post("/api/v1/promotions", [this](Req req, Res res) {
    if (!Authorize(req, res, Need::kAdmin)) return;
    auto body = resource::ParseJson(req.body, "request body");
    if (!body.ok()) return ReplyError(res, body.status());
    auto flag = [&](const char* key) {
      const Value* v = body->Find(key);
      return v != nullptr && v->is_bool() && v->as_bool();
    };
    pipeline::PromoteRequest pr{.from = body->GetString("from"),
                                .to = body->GetString("to"),
                                .app = body->GetString("app"),
                                .commit = body->GetString("commit"),
                                .ours = flag("ours"),
                                .force = flag("force"),
                                .dry_run = flag("dryRun"),
                                .initiator = Initiator(req)};
    if (pr.from.empty() || pr.to.empty())
      return ReplyError(res, InvalidArgument("from and to are required (environment names)"));
    auto r = pipeline::Promote(*engine, pr);
    if (!r.ok()) return ReplyError(res, r.status());
    Reply(res, 200, r->ToValue());
  });
}

void Server::Impl::LogRoutes() {
  using Req = const httplib::Request&;
  using Res = httplib::Response&;
  http->Get(R"(/api/v1/applications/([^/]+)/logs)", [this](Req req, Res res) {
    if (!Authorize(req, res, Need::kRead)) return;
    std::string app = req.matches[1];
    auto sources = engine->Logs(app, req.get_param_value("kind"), req.get_param_value("name"));
    if (!sources.ok()) return ReplyError(res, sources.status());
    if (std::string want = req.get_param_value("replica"); !want.empty()) {
      size_t index = ParseSize(want, SIZE_MAX);
      std::vector<target::LogSource> picked;
      std::string have;
      for (const auto& src : *sources) {
        have += (have.empty() ? "" : ", ") + src.name;
        if (static_cast<size_t>(src.replica) == index) picked.push_back(src);
      }
      if (picked.empty())
        return ReplyError(res, NotFound("no replica \"" + want +
                                        "\" (replicas: " + (have.empty() ? "none" : have) + ")"));
      *sources = std::move(picked);
    }
    size_t tail = std::min<size_t>(ParseSize(req.get_param_value("tail"), 100), 100000);
    bool follow = req.get_param_value("follow") == "true" || req.get_param_value("follow") == "1";
    bool prefix = sources->size() > 1;  // as `kubectl logs --prefix`
    std::vector<std::string> secrets = engine->SecretValues(app);
    std::string text;
    std::vector<LogFollower::Source> follow_from;
    for (const auto& src : *sources) {
      std::string p = prefix ? "[" + src.name + "] " : "";
      auto t = TailLog(src.path, tail, /*include_partial=*/!follow);
      if (!t.ok()) return ReplyError(res, t.status());
      for (const auto& line : t->lines) text += p + MaskValues(line, secrets) + "\n";
      follow_from.push_back(
          {.path = src.path, .prefix = p, .inode = t->inode, .offset = t->offset});
    }
    if (!follow) {
      res.set_content(text, "text/plain; charset=utf-8");
      return;
    }
    // Streams until the client goes away or the operator stops. A quiet log writes
    // nothing, so the connection itself is watched for the client closing it.
    struct Stream {
      explicit Stream(std::vector<LogFollower::Source> from) : follower(std::move(from)) {}
      LogFollower follower;
      std::string pending;
      std::vector<std::string> secrets;
      int fd = -1;
    };
    auto stream = std::make_shared<Stream>(std::move(follow_from));
    stream->pending = std::move(text);
    stream->secrets = std::move(secrets);
    stream->fd =
        FindConnectionSocket(req.local_addr, req.local_port, req.remote_addr, req.remote_port);
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/plain; charset=utf-8", [this, stream](size_t, httplib::DataSink& sink) {
          if (stream->pending.empty()) {
            for (const auto& line : stream->follower.Poll())
              stream->pending += MaskValues(line, stream->secrets) + "\n";
          }
          if (!stream->pending.empty()) {
            bool ok = sink.write(stream->pending.data(), stream->pending.size());
            stream->pending.clear();
            return ok;
          }
          if (stream->fd >= 0 && PeerClosed(stream->fd)) return false;
          if (WaitStop(Duration(200))) {
            sink.done();
          }
          return true;
        });
  });

  // The replicas of the Application's Processes and Jobs now: state, readiness and
  // restarts each (what `status.resources` cannot say between reconciles).
  http->Get(R"(/api/v1/applications/([^/]+)/processes)", [this](Req req, Res res) {
    if (!Authorize(req, res, Need::kRead)) return;
    auto running =
        engine->Running(req.matches[1], req.get_param_value("kind"), req.get_param_value("name"));
    if (!running.ok()) {
      // An Application that runs nothing has an empty list, not an error.
      if (running.status().code() != Code::kNotFound || !req.get_param_value("name").empty() ||
          !engine->GetApp(req.matches[1]).ok())
        return ReplyError(res, running.status());
      running = std::vector<target::RunningStatus>{};
    }
    Value items = Value::EmptyArray();
    for (const auto& object : *running) {
      Value v;
      v.Set("group", object.id.group);
      v.Set("kind", object.id.kind);
      v.Set("namespace", object.id.ns);
      v.Set("name", object.id.name);
      v.Set("replicas", object.replicas);
      int ready = 0, restarts = 0;
      Value list = Value::EmptyArray();
      for (const auto& r : object.replica_status) {
        ready += r.ready ? 1 : 0;
        restarts += r.restarts;
        Value item;
        item.Set("replica", r.replica);
        item.Set("name", r.name);
        item.Set("state", r.state);
        item.Set("ready", r.ready);
        item.Set("restarts", r.restarts);
        item.Set("pid", r.pid);
        item.Set("startedAt",
                 r.started_ms ? FormatTimeRfc3339(FromUnixMillis(r.started_ms)) : std::string());
        item.Set("lastExit", r.last_exit);
        list.Append(std::move(item));
      }
      v.Set("readyReplicas", ready);
      v.Set("restarts", restarts);
      v.Set("replicaStatus", std::move(list));
      items.Append(std::move(v));
    }
    Value v;
    v.Set("items", std::move(items));
    Reply(res, 200, v);
  });

  http->Post(R"(/api/v1/applications/([^/]+)/scale)", [this](Req req, Res res) {
    if (!Authorize(req, res, Need::kAdmin)) return;
    auto body = resource::ParseJson(req.body, "request body");
    if (!body.ok()) return ReplyError(res, body.status());
    const Value* replicas = body->Find("replicas");
    if (!replicas || !replicas->is_int() || replicas->as_int() < 0 || replicas->as_int() > 100000)
      return ReplyError(res, InvalidArgument("replicas must be a number from 0 to 100000"));
    std::string who = Initiator(req);
    if (std::string via = body->GetString("via"); !via.empty() && via.size() <= 100)
      who += " (" + via + ")";
    auto change =
        engine->ScaleLocal(req.matches[1], body->GetString("kind"), body->GetString("name"),
                           static_cast<int>(replicas->as_int()), who);
    if (!change.ok()) return ReplyError(res, change.status());
    Value v;
    v.Set("group", change->id.group);
    v.Set("kind", change->id.kind);
    v.Set("namespace", change->id.ns);
    v.Set("name", change->id.name);
    v.Set("change", target::ChangeKindName(change->kind));
    v.Set("message", change->message);
    Reply(res, 200, v);
  });
}

Status Server::Start() {
  Impl& m = *impl_;
  std::string host = m.options.listen;
  int port = 7420;
  size_t colon = host.rfind(':');
  if (colon == std::string::npos)
    return InvalidArgument("--listen \"" + host + "\": use HOST:PORT, like 127.0.0.1:7420");
  std::string port_text = host.substr(colon + 1);
  host = host.substr(0, colon);
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos)
    return InvalidArgument("--listen: \"" + port_text + "\" is not a port number");
  port = std::stoi(port_text);
  m.loopback =
      host == "127.0.0.1" || host == "localhost" || host == "::1" || StartsWith(host, "127.");
  if (port == 0) {
    port = m.http->bind_to_any_port(host.c_str());
    if (port < 0) return Unavailable("cannot listen on " + m.options.listen);
  } else if (!m.http->bind_to_port(host.c_str(), port)) {
    return Unavailable("cannot listen on " + m.options.listen + " (in use?)");
  }
  m.url = (m.options.tls_cert.empty() ? "http://" : "https://") + host + ":" + std::to_string(port);
  RETURN_IF_ERROR(fs::WriteFileAtomic(m.options.state_dir + "/address", m.url + "\n", 0644));
  m.thread = std::thread([&m] { m.http->listen_after_bind(); });
  return Status::Ok();
}

void Server::Stop() {
  if (!impl_) return;
  {
    std::lock_guard<std::mutex> l(impl_->stop_mu);
    impl_->stopping = true;
    impl_->stop_cv.notify_all();
  }
  impl_->http->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string Server::url() const { return impl_->url; }

}  // namespace plumb::server
