// target/kubernetes (tests only): a Kubernetes API server test double on httplib that
// follows the real protocol closely enough for the client and the target to be tested
// against it. Its discovery answers are the documents recorded from a real
// kube-apiserver (testdata/), plus the group/versions of CRDs applied to it.
//
// What it implements, as the real server does:
//   - server-side apply: PATCH application/apply-patch+yaml with fieldManager (required)
//     and force; managedFields per manager (operation Apply/Update); 409 Conflict with a
//     Status whose details.causes name the other manager and field when force is off;
//     dryRun=All answers the would-be object and stores nothing; 201 on create, 200 on
//     update; an identical re-apply changes nothing (same resourceVersion);
//   - merge patches (application/merge-patch+json) by another manager (kubectl edit);
//   - GET, LIST (labelSelector: k=v, k!=v, k, !k), items without kind/apiVersion;
//   - watch (?watch=1) from a resourceVersion, bookmarks when asked for with
//     timeoutSeconds, an ERROR event with a 410 Expired Status for a compacted version;
//   - DELETE with propagationPolicy (query or DeleteOptions body): Status Success;
//     Foreground answers the object with deletionTimestamp and foregroundDeletion, then
//     (as the garbage collector would) removes it;
//   - Status error bodies; bearer tokens (401 unknown, 403 anonymous); the text/plain
//     404 of an unserved group/version; a CRD becomes Established at once and serves its
//     group/version.
// Test controls: faults (a run of 429s with Retry-After), revoking a token, setting an
// object's status (as a controller would), compacting the watch history, and a log of
// every request received. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "resource/value.h"

namespace plumb::target::kubernetes::testing {

// In controllers mode, how a Job ends: "Failed" fails it (so does a container whose command
// is `false`); otherwise it completes.
inline constexpr const char* kFakeJobResultAnnotation = "fake.plumbline.dev/job-result";
// In controllers mode, how long a Job runs ("300": Running for 300 ms, then it ends).
inline constexpr const char* kFakeJobDurationAnnotation = "fake.plumbline.dev/job-duration-ms";

struct FakeApiServerOptions {
  std::string fixtures_dir;  // testdata/ with the recorded discovery documents
  std::vector<std::string> tokens = {"admin-token"};  // accepted bearer tokens
  bool anonymous = true;  // no token: 403 as system:anonymous (false: 401)
  // Act as the controllers would for Deployments, StatefulSets, ReplicaSets and Jobs: each
  // apply is followed by a status update (manager kube-controller-manager, status only)
  // showing every replica ready, or the Job complete or failed (kFakeJobResultAnnotation,
  // command `false`), at once or after kFakeJobDurationAnnotation.
  bool controllers = false;
  // Serve POST /fake/fail?count=N&status=S&retryAfter=R, /fake/revoke?token=T,
  // /fake/token?token=T and /fake/compact (for tests driving a separate process).
  bool control_endpoints = false;
  // TLS (empty: plain HTTP). client_ca_file: client certificates it signs authenticate.
  std::string cert_file, key_file, client_ca_file;
};

struct RecordedRequest {
  std::string method, path, query, content_type, accept, body;
  bool authorized = false;  // carried an Authorization header
  int remote_port = 0;      // the client's source port: one per connection
};

// What the double has served since it started (also GET /fake/stats, as JSON, with
// control_endpoints). Connections are counted by the clients' source ports.
struct FakeApiStats {
  int64_t requests = 0;
  std::map<std::string, int64_t> by_verb;  // "get", "list", "watch", "apply", "apply (dry run)",
                                           // "patch", "delete", "create", "update", "discovery"
  int64_t connections = 0;
};

class FakeApiServer {
 public:
  static Result<std::unique_ptr<FakeApiServer>> Start(const FakeApiServerOptions& options);
  ~FakeApiServer();

  std::string url() const;  // "http://127.0.0.1:PORT" (https with TLS)

  // The next `count` requests (watches excluded) answer `status` (429 or 5xx) with a
  // Status body and, when not empty, a Retry-After header.
  void FailNext(int count, int status, const std::string& retry_after = "");
  void RevokeToken(const std::string& token);
  void AddToken(const std::string& token);
  // Sets .status of a stored object (as its controller would); bumps resourceVersion.
  // `path` is the object's URL path. NotFound when absent.
  Status SetStatus(const std::string& path, const resource::Value& status);
  // The stored object, or NotFound.
  Result<resource::Value> Get(const std::string& path);
  // Forgets the watch history up to now: a watch from an older version gets 410.
  void Compact();
  // Ends every open watch stream (as an API server restart would).
  void CloseWatches();
  std::vector<RecordedRequest> Requests();
  FakeApiStats Stats();
  void ClearRequests();

 private:
  struct Impl;
  explicit FakeApiServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace plumb::target::kubernetes::testing
