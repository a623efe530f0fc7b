#include "target/kubernetes/client.h"

#include <httplib.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "core/fs.h"
#include "core/strings.h"
#include "resource/codec.h"

namespace plumb::target::kubernetes {
namespace {

using resource::Value;
using Steady = std::chrono::steady_clock;

struct ServerAddress {
  bool tls = true;
  std::string host;
  int port = 443;
};

Result<ServerAddress> ParseServer(const std::string& server) {
  ServerAddress a;
  std::string rest;
  if (StartsWith(server, "https://")) {
    rest = server.substr(8);
  } else if (StartsWith(server, "http://")) {
    a.tls = false;
    a.port = 80;
    rest = server.substr(7);
  } else {
    return InvalidArgument("server \"" + server + "\" is not an http(s) URL");
  }
  if (size_t slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  size_t colon = rest.rfind(':');
  if (!rest.empty() && rest[0] == '[') {  // [v6]:port
    size_t close = rest.find(']');
    if (close == std::string::npos) return InvalidArgument("server \"" + server + "\": bad host");
    a.host = rest.substr(1, close - 1);
    colon = rest.find(':', close);
  } else {
    a.host = rest.substr(0, colon);
  }
  if (colon != std::string::npos) {
    try {
      a.port = std::stoi(rest.substr(colon + 1));
    } catch (...) {
      return InvalidArgument("server \"" + server + "\": bad port");
    }
  }
  if (a.host.empty()) return InvalidArgument("server \"" + server + "\": no host");
  return a;
}

bool PemParses(const std::string& pem, bool key) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  bool ok = false;
  if (key) {
    EVP_PKEY* k = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    ok = k != nullptr;
    EVP_PKEY_free(k);
  } else {
    X509* c = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    ok = c != nullptr;
    X509_free(c);
  }
  BIO_free(bio);
  return ok;
}

bool Retryable(const HttpResponse& r) {
  return r.status == 429 || r.status == 502 || r.status == 503 || r.status == 504 ||
         (r.status == 500 && !r.retry_after.empty());
}

Duration RetryAfter(const std::string& header) {
  if (header.empty()) return Duration(0);
  try {
    return Duration(static_cast<int64_t>(std::stod(header) * 1000));
  } catch (...) {
    return Duration(0);  // an HTTP-date: fall back to our own back-off
  }
}

}  // namespace

std::string QueryEscape(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Status StatusFromResponse(const HttpResponse& r, const std::string& what) {
  std::string message, reason;
  if (StartsWith(r.content_type, "application/json")) {
    auto v = resource::ParseJson(r.body, "Status");
    if (v.ok() && v->GetString("kind") == "Status") {
      message = v->GetString("message");
      reason = v->GetString("reason");
    }
  }
  if (message.empty()) {
    message = r.status == 404
                  ? "the server does not serve this path (is the API group installed?)"
                  : "HTTP " + std::to_string(r.status) + ": " + Trim(r.body.substr(0, 200));
  }
  std::string m = what + ": " + message;
  if (!reason.empty()) m += " (" + reason + ")";
  switch (r.status) {
    case 400:
    case 422:
      return InvalidArgument(m);
    case 401:
      return Unauthenticated(m);
    case 403:
      return PermissionDenied(m);
    case 404:
      return NotFound(m);
    case 409:
      return reason == "AlreadyExists" ? AlreadyExists(m) : Aborted(m);
    case 410:
      return FailedPrecondition(m);
    case 429:
    case 502:
    case 503:
    case 504:
      return Unavailable(m);
    default:
      return Internal(m);
  }
}

struct KubeClient::Impl {
  ClusterConfig config;
  ClientOptions options;
  ServerAddress address;
  CredentialSource creds;
  std::string ca_dir;  // holds ca.crt for httplib (it loads only that file)
  std::string ca_file;
  ClientStats stats;

  std::mutex pool_mu;
  std::vector<std::unique_ptr<httplib::ClientImpl>> pool;
  std::string pool_cert;  // the client certificate the pooled connections present

  std::mutex bucket_mu;
  double tokens = 0;
  Steady::time_point last_refill;

  std::mutex watch_mu;
  std::set<httplib::ClientImpl*> watches;
  bool cancelled = false;

  Impl(ClusterConfig c, ClientOptions o, ServerAddress a, const Clock* clock)
      : config(c), options(o), address(a), creds(std::move(c), clock) {
    tokens = options.burst;
    last_refill = Steady::now();
  }
  ~Impl() {
    if (!ca_dir.empty()) (void)fs::RemoveAll(ca_dir);
  }

  std::unique_ptr<httplib::ClientImpl> NewClient(const Credential& cred, Duration read_timeout) {
    std::unique_ptr<httplib::ClientImpl> c;
    if (address.tls) {
      X509* cert = nullptr;
      EVP_PKEY* key = nullptr;
      if (!cred.client_cert_pem.empty()) {
        BIO* b = BIO_new_mem_buf(cred.client_cert_pem.data(),
                                 static_cast<int>(cred.client_cert_pem.size()));
        cert = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
        BIO_free(b);
        b = BIO_new_mem_buf(cred.client_key_pem.data(),
                            static_cast<int>(cred.client_key_pem.size()));
        key = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
        BIO_free(b);
      }
      auto ssl = std::make_unique<httplib::SSLClient>(address.host, address.port, cert, key);
      X509_free(cert);  // the SSL context holds its own references
      EVP_PKEY_free(key);
      if (config.insecure_skip_tls_verify) {
        ssl->enable_server_certificate_verification(false);
      } else {
        ssl->enable_server_certificate_verification(true);
        if (!ca_file.empty()) ssl->set_ca_cert_path(ca_file.c_str());
      }
      c = std::move(ssl);
    } else {
      c = std::make_unique<httplib::ClientImpl>(address.host, address.port);
    }
    c->set_keep_alive(true);
    c->set_url_encode(false);
    c->set_connection_timeout(options.connect_timeout);
    c->set_read_timeout(read_timeout);
    c->set_write_timeout(options.timeout);
    return c;
  }

  std::unique_ptr<httplib::ClientImpl> Acquire(const Credential& cred) {
    {
      std::lock_guard<std::mutex> lock(pool_mu);
      if (pool_cert != cred.client_cert_pem) {  // a new client certificate: new connections
        pool.clear();
        pool_cert = cred.client_cert_pem;
      }
      if (!pool.empty()) {
        auto c = std::move(pool.back());
        pool.pop_back();
        return c;
      }
    }
    return NewClient(cred, options.timeout);
  }

  void Release(std::unique_ptr<httplib::ClientImpl> c, const Credential& cred) {
    std::lock_guard<std::mutex> lock(pool_mu);
    if (pool_cert == cred.client_cert_pem &&
        pool.size() < static_cast<size_t>(std::max(1, options.pool_size)))
      pool.push_back(std::move(c));
  }

  void Throttle() {
    if (options.qps <= 0) return;
    Duration wait(0);
    {
      std::lock_guard<std::mutex> lock(bucket_mu);
      auto now = Steady::now();
      double elapsed = std::chrono::duration<double>(now - last_refill).count();
      last_refill = now;
      tokens = std::min<double>(std::max(1, options.burst), tokens + elapsed * options.qps);
      tokens -= 1;
      if (tokens < 0) wait = Duration(static_cast<int64_t>(-tokens / options.qps * 1000) + 1);
    }
    if (wait.count() > 0) {
      stats.throttled_ms += wait.count();
      std::this_thread::sleep_for(wait);
    }
  }

  httplib::Headers Headers(const HttpRequest& r, const Credential& cred) {
    httplib::Headers h = {{"Accept", r.accept}, {"User-Agent", options.user_agent}};
    if (!r.content_type.empty()) h.emplace("Content-Type", r.content_type);
    if (!cred.token.empty()) h.emplace("Authorization", "Bearer " + cred.token);
    return h;
  }

  static std::string Target(const HttpRequest& r) {
    return r.query.empty() ? r.path : r.path + "?" + r.query;
  }

  Duration Backoff(int attempt) const {
    int64_t ms = options.backoff_base.count();
    for (int i = 0; i < attempt && ms < options.backoff_max.count(); ++i) ms *= 2;
    return Duration(std::min(ms, options.backoff_max.count()));
  }
};

KubeClient::KubeClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KubeClient::~KubeClient() = default;
const ClusterConfig& KubeClient::config() const { return impl_->config; }
const ClientStats& KubeClient::stats() const { return impl_->stats; }

Result<std::unique_ptr<KubeClient>> KubeClient::Create(const ClusterConfig& config,
                                                       const ClientOptions& options,
                                                       const Clock* clock) {
  ASSIGN_OR_RETURN(ServerAddress address, ParseServer(config.server));
  if (!config.ca_pem.empty() && !PemParses(config.ca_pem, false))
    return InvalidArgument("cluster " + config.server + ": certificate-authority is not PEM");
  if (!config.client_cert_pem.empty() && !PemParses(config.client_cert_pem, false))
    return InvalidArgument("cluster " + config.server + ": client-certificate is not PEM");
  if (!config.client_key_pem.empty() && !PemParses(config.client_key_pem, true))
    return InvalidArgument("cluster " + config.server + ": client-key is not a PEM private key");
  auto impl = std::make_unique<Impl>(config, options, address, clock);
  if (address.tls && !config.ca_pem.empty() && !config.insecure_skip_tls_verify) {
    ASSIGN_OR_RETURN(impl->ca_dir, fs::MakeTempDir("plumb-kube-ca"));
    impl->ca_file = fs::JoinPath(impl->ca_dir, "ca.crt");
    RETURN_IF_ERROR(fs::WriteFileAtomic(impl->ca_file, config.ca_pem, 0644));
  }
  return std::unique_ptr<KubeClient>(new KubeClient(std::move(impl)));
}

Result<HttpResponse> KubeClient::Do(const HttpRequest& request) {
  Impl& d = *impl_;
  std::string what = request.method + " " + d.config.server + request.path;
  bool refreshed = false;
  for (int attempt = 0;; ++attempt) {
    d.Throttle();
    auto cred = d.creds.Get();
    if (!cred.ok()) return cred.status().WithContext(what);
    auto client = d.Acquire(*cred);
    httplib::Request req;
    req.method = request.method;
    req.path = Impl::Target(request);
    req.headers = d.Headers(request, *cred);
    req.body = request.body;
    d.stats.requests++;
    httplib::Result res = client->send(req);
    if (!res) {
      std::string err = httplib::to_string(res.error());
      if (attempt >= d.options.max_retries)
        return Unavailable(what + ": " + err + " after " + std::to_string(attempt + 1) +
                           " attempts");
      d.stats.retries++;
      std::this_thread::sleep_for(d.Backoff(attempt));
      continue;
    }
    HttpResponse out{.status = res->status,
                     .content_type = res->get_header_value("Content-Type"),
                     .body = std::move(res->body),
                     .retry_after = res->get_header_value("Retry-After")};
    d.Release(std::move(client), *cred);
    if (out.status == 401 && !refreshed && d.creds.CanRefresh()) {
      refreshed = true;  // an expired token: ask the plugin or file again, once
      d.creds.Invalidate();
      --attempt;
      continue;
    }
    if (Retryable(out) && attempt < d.options.max_retries) {
      d.stats.retries++;
      Duration wait = std::max(d.Backoff(attempt),
                               std::min(RetryAfter(out.retry_after), d.options.retry_after_max));
      std::this_thread::sleep_for(wait);
      continue;
    }
    return out;
  }
}

Result<Value> KubeClient::DoJson(const HttpRequest& request) {
  ASSIGN_OR_RETURN(HttpResponse r, Do(request));
  std::string what = request.method + " " + request.path;
  if (r.status < 200 || r.status >= 300) return StatusFromResponse(r, what);
  auto v = resource::ParseJson(r.body, what);
  if (!v.ok()) return Internal(what + ": the server's answer is not JSON");
  return v;
}

Status KubeClient::Watch(const std::string& path, const std::string& query,
                         const EventFn& on_event) {
  Impl& d = *impl_;
  std::string what = "watch " + path;
  d.Throttle();
  ASSIGN_OR_RETURN(Credential cred, d.creds.Get());
  // The server ends a watch after timeoutSeconds (or its own limit, <= 30 min): wait that
  // long for the next line.
  auto client = d.NewClient(cred, Duration(35 * 60 * 1000));
  {
    std::lock_guard<std::mutex> lock(d.watch_mu);
    if (d.cancelled) return Aborted(what + ": cancelled");
    d.watches.insert(client.get());
  }
  HttpRequest hr{.path = path, .query = query};
  httplib::Request req;
  req.method = "GET";
  req.path = Impl::Target(hr);
  req.headers = d.Headers(hr, cred);
  int status = 0;
  std::string content_type, buffer, error_body;
  bool stopped = false;
  Status parse_error;
  req.response_handler = [&](const httplib::Response& r) {
    status = r.status;
    content_type = r.get_header_value("Content-Type");
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (status < 200 || status >= 300) {
      if (error_body.size() < 65536) error_body.append(data, n);
      return true;
    }
    buffer.append(data, n);
    size_t start = 0;
    for (size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view line(buffer.data() + start, nl - start);
      if (Trim(line).empty()) continue;
      auto ev = resource::ParseJson(line, what);
      if (!ev.ok()) {
        parse_error = Internal(what + ": an event is not JSON");
        return false;
      }
      if (!on_event(*ev)) {
        stopped = true;
        return false;
      }
    }
    buffer.erase(0, start);
    return true;
  };
  d.stats.requests++;
  httplib::Result res = client->send(req);
  {
    std::lock_guard<std::mutex> lock(d.watch_mu);
    d.watches.erase(client.get());
    if (d.cancelled && !stopped) return Aborted(what + ": cancelled");
  }
  if (!parse_error.ok()) return parse_error;
  if (stopped) return Status::Ok();
  if (status != 0 && (status < 200 || status >= 300))
    return StatusFromResponse(
        HttpResponse{.status = status, .content_type = content_type, .body = error_body}, what);
  if (!res) return Unavailable(what + ": " + httplib::to_string(res.error()));
  return Status::Ok();
}

void KubeClient::CancelWatches() {
  std::lock_guard<std::mutex> lock(impl_->watch_mu);
  impl_->cancelled = true;
  for (httplib::ClientImpl* c : impl_->watches) c->stop();
}

}  // namespace plumb::target::kubernetes
