// target/kubernetes: an HTTP client for one Kubernetes API server, fit for real clusters:
// connections kept alive and reused (a small pool), connect/read timeouts, a QPS/burst
// token bucket, retries with exponential back-off on 429 (honouring Retry-After), on
// 502/503/504 (and 500 when the server sends Retry-After, as client-go does) and on
// connection loss, one retry after a 401 when the credential can be refreshed (exec
// plugin, token file). Tokens and keys never appear in a message or log line.
// Thread-safe: any number of threads may call Do() at once.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/status.h"
#include "resource/value.h"
#include "target/kubernetes/kubeconfig.h"

namespace plumb::target::kubernetes {

struct ClientOptions {
  double qps = 50;  // sustained requests per second (<= 0: unlimited)
  int burst = 100;  // requests allowed at once above qps
  Duration connect_timeout = Duration(10000);
  Duration timeout = Duration(60000);  // read/write timeout of one request
  int max_retries = 5;
  Duration backoff_base = Duration(200);       // doubles per retry...
  Duration backoff_max = Duration(30000);      // ...up to this
  Duration retry_after_max = Duration(60000);  // a longer Retry-After is cut to this
  // Idle keep-alive connections kept (client-go keeps 25 per host): fewer than the callers
  // at once means connections closed and opened again.
  int pool_size = 25;
  std::string user_agent = "plumbline";
};

struct HttpRequest {
  std::string method = "GET";
  std::string path;   // "/api/v1/namespaces/demo/configmaps/x"
  std::string query;  // raw, already percent-encoded ("fieldManager=plumbline&force=true")
  std::string content_type;
  std::string body;
  std::string accept = "application/json";
};

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
  std::string retry_after;
};

// Counters a test or /metrics can read.
struct ClientStats {
  std::atomic<int64_t> requests{0};  // sent on the wire, retries included
  std::atomic<int64_t> retries{0};
  std::atomic<int64_t> throttled_ms{0};  // time spent waiting for the token bucket
};

// Percent-encodes a query parameter value ("app.plumbline.dev/name=x" ->
// "app.plumbline.dev%2Fname%3Dx"), as Go's url.QueryEscape does.
std::string QueryEscape(const std::string& s);

// The error a non-2xx answer means: the Status body's message and reason (or, for the
// text/plain 404 of an unserved group/version, that the server does not serve the path).
// Codes: 400/422 InvalidArgument, 401 Unauthenticated, 403 PermissionDenied,
// 404 NotFound, 409 AlreadyExists (reason AlreadyExists) or Aborted (Conflict),
// 410 FailedPrecondition (Expired/Gone), 429/502/503/504 Unavailable, else Internal.
Status StatusFromResponse(const HttpResponse& r, const std::string& what);

class KubeClient {
 public:
  // Errors: InvalidArgument for a CA or client certificate that does not parse.
  static Result<std::unique_ptr<KubeClient>> Create(const ClusterConfig& config,
                                                    const ClientOptions& options,
                                                    const Clock* clock);
  ~KubeClient();

  // Sends a request with retries. Any HTTP answer is a result (check status); errors
  // are transport failures after the last retry (Unavailable / DeadlineExceeded) or a
  // credential that cannot be had (Unauthenticated).
  Result<HttpResponse> Do(const HttpRequest& request);

  // Do() and, for a 2xx answer, its JSON body; otherwise StatusFromResponse().
  Result<resource::Value> DoJson(const HttpRequest& request);

  // Streams a watch (GET path?query, one JSON event per line), calling on_event for each
  // event until the server ends the stream (Ok), on_event returns false (Ok), Cancel()
  // is called (Aborted) or the connection fails. A non-2xx answer is its Status.
  using EventFn = std::function<bool(const resource::Value& event)>;
  Status Watch(const std::string& path, const std::string& query, const EventFn& on_event);
  // Ends every running Watch() promptly; later Watch() calls return Aborted at once.
  void CancelWatches();

  const ClusterConfig& config() const;
  const ClientStats& stats() const;

 private:
  struct Impl;
  explicit KubeClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace plumb::target::kubernetes
