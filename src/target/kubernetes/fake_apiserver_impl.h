// target/kubernetes (tests only): the inside of the API-server test double, shared by its
// files — fake_apiserver.cc (the server, routing, authentication, test controls),
// fake_discovery.cc (discovery documents, CRDs, URL paths), fake_apply.cc (server-side
// apply, defaults, metadata), fake_crud.cc (create, replace, merge patch, delete, get,
// list), fake_watch.cc (watch history and streams) and fake_controllers.cc (what the
// controllers would write). Nothing outside these files includes it. Every Impl method
// runs with `mu` held unless it says otherwise.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "resource/value.h"
#include "target/kubernetes/fake_apiserver.h"
#include "target/kubernetes/fake_fields.h"

namespace plumb::target::kubernetes::testing {

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

// A Job that the simulated controller finishes later (fake.plumbline.dev/job-duration-ms).
struct PendingJob {
  Target target;
  int64_t due_ms = 0;  // MonotonicMillis()
};

// The time as the API server writes it ("2024-05-01T10:00:00Z").
std::string Now();
// A metav1.Status body.
resource::Value StatusBody(int code, const std::string& reason, const std::string& message,
                           resource::Value details = resource::Value());
void Reply(httplib::Response& res, int code, const resource::Value& body);
void Fail(httplib::Response& res, int code, const std::string& reason, const std::string& message,
          resource::Value details = resource::Value());
// A DNS-1123 subdomain.
bool ValidName(const std::string& n);
resource::Value StatsValue(const FakeApiStats& stats);
resource::Value Details(const std::string& name, const std::string& group, const std::string& kind);

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
  std::string last_delete_policy;
  std::map<std::string, PendingJob> pending_jobs;  // by Key()
  FakeApiStats stats;
  std::set<int> client_ports;
  bool stopping = false;

  // fake_apiserver.cc: routing, authentication, the request log, test controls
  static std::string Key(const std::string& group, const std::string& resource,
                         const std::string& ns, const std::string& name);
  bool Authorized(const httplib::Request& req, httplib::Response& res, const Target* t);
  void Record(const httplib::Request& req);
  // The verb a request counts as in FakeApiStats.
  std::string VerbOf(const httplib::Request& req);
  bool Control(const httplib::Request& req, httplib::Response& res);
  void Handle(const httplib::Request& req, httplib::Response& res);

  // fake_discovery.cc: discovery documents, CRDs served, URL paths
  Status LoadDiscovery();
  // The namespaces every cluster has.
  void SeedNamespaces();
  void AddDiscovery(const std::string& path, const Value& body);
  // Adds a CRD's group/version to discovery (as the apiextensions server does).
  void ServeCrd(const Value& crd);
  // Parses /api/v1/..., /apis/G/V/... Returns false (text/plain 404) for a path of no
  // served group/version; `info.resource` empty when the resource is unknown.
  bool Parse(const std::string& path, Target* t, bool* unknown_resource);

  // fake_apply.cc: server-side apply, defaults, metadata
  std::string NextUid();
  // Fills in what the real server defaults, for the kinds the tests use.
  static void Default(const ResourceInfo& info, Value* obj, const Value* old);
  // Rebuilds metadata in the real server's key order, with managedFields.
  static void WriteMetadata(Stored* s);
  static bool SameContent(const Value& a, const Value& b);
  static bool GenerationChanges(const Value& before, const Value& after);
  void Apply(const httplib::Request& req, httplib::Response& res, const Target& t);

  // fake_crud.cc: create, replace, merge patch, delete, get and list
  // POST to a collection (JSON): creates, 409 AlreadyExists when the name is taken.
  void Create(const httplib::Request& req, httplib::Response& res, const Target& t);
  // PUT of a whole object: 409 Conflict when metadata.resourceVersion is not the stored one.
  void Replace(const httplib::Request& req, httplib::Response& res, const Target& t);
  static Value AppliedFieldsValue(const Value& v);
  void Update(const httplib::Request& req, httplib::Response& res, const Target& t);
  void Delete(const httplib::Request& req, httplib::Response& res, const Target& t);
  void Read(const httplib::Request& req, httplib::Response& res, const Target& t);

  // fake_watch.cc: the watch history and watch streams
  void Emit(const std::string& type, const Target& t, const Value& obj);
  bool Matches(const WatchEvent& e, const Target& t, const std::string& selector);
  static std::string EventLine(const std::string& type, const Value& obj);
  void Watch(const httplib::Request& req, httplib::Response& res, const Target& t);

  // fake_controllers.cc: what controllers would write
  // What kube-controller-manager would write: the rollout done, the Job complete.
  void RunController(const Target& t, const std::string& key);
  // Ends the Jobs whose duration has passed (called before each request is handled).
  void FinishDueJobs();
  // Sets .status as kube-controller-manager would (its own managedFields entry).
  void WriteControllerStatus(const Target& t, Stored* s, Value status);
  void EstablishCrd(const Target& t, const std::string& key);
};

}  // namespace plumb::target::kubernetes::testing
