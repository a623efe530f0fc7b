#include "target/kubernetes/client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/fs.h"
#include "core/strings.h"
#include "core/subprocess.h"
#include "resource/codec.h"
#include "target/kubernetes/discovery.h"
#include "target/kubernetes/kube_test_util.h"

namespace plumb::target::kubernetes {
namespace {

using resource::Value;

constexpr const char* kConfigMap =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\n  namespace: demo\n"
    "  labels:\n    app.plumbline.dev/name: demo\ndata:\n  greeting: hello\n";
constexpr const char* kNamespace = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n";

HttpRequest Apply(const std::string& path, const std::string& body) {
  return {.method = "PATCH",
          .path = path,
          .query = "fieldManager=plumbline&force=true",
          .content_type = "application/apply-patch+yaml",
          .body = body};
}

using ClientTest = KubeFixture;

TEST_F(ClientTest, QueryEscapeMatchesTheRecordedSelector) {
  // 26-list-configmaps-selector.json
  EXPECT_EQ("labelSelector=" + QueryEscape("app.plumbline.dev/name=demo"),
            "labelSelector=app.plumbline.dev%2Fname%3Ddemo");
}

TEST_F(ClientTest, DiscoveryResolvesKindsFromTheRecordedDocumentsAndCaches) {
  Discovery d(client_.get());
  auto dep = d.Resolve("apps/v1", "Deployment");
  ASSERT_TRUE(dep.ok()) << dep.status().ToString();
  EXPECT_EQ(dep->resource, "deployments");
  EXPECT_TRUE(dep->namespaced);
  EXPECT_EQ(dep->ObjectPath("demo", "web"), "/apis/apps/v1/namespaces/demo/deployments/web");
  auto ns = d.Resolve("v1", "Namespace");
  ASSERT_TRUE(ns.ok());
  EXPECT_FALSE(ns->namespaced);
  EXPECT_EQ(ns->ObjectPath("", "demo"), "/api/v1/namespaces/demo");
  int fetches = d.fetches();
  ASSERT_TRUE(d.Resolve("apps/v1", "StatefulSet").ok());
  EXPECT_EQ(d.fetches(), fetches);  // cached
  auto crd = d.ResolveGroupKind("apiextensions.k8s.io", "CustomResourceDefinition");
  ASSERT_TRUE(crd.ok()) << crd.status().ToString();
  EXPECT_EQ(crd->version, "v1");
  EXPECT_FALSE(crd->namespaced);
}

TEST_F(ClientTest, UnservedKindIsAClearError) {
  Discovery d(client_.get());
  auto w = d.Resolve("example.com/v1", "Widget");
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Code::kNotFound);
  EXPECT_NE(w.status().message().find("does not serve example.com/v1"), std::string::npos)
      << w.status().message();
  auto k = d.Resolve("apps/v1", "Widget");
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.status().message().find("no kind Widget"), std::string::npos);
}

TEST_F(ClientTest, DiscoveryAsksAgainForAKindItDoesNotKnowYet) {
  Discovery d(client_.get());
  ASSERT_FALSE(d.Resolve("example.com/v1", "Widget").ok());
  ASSERT_TRUE(client_->DoJson(Apply("/api/v1/namespaces/demo", kNamespace)).ok());
  std::string text = *fs::ReadFile(std::string(PLUMB_KUBE_TESTDATA) + "/46-ssa-crd-widgets.json");
  auto rec = resource::ParseJson(text);
  ASSERT_TRUE(rec.ok());
  auto crd = client_->DoJson(Apply(rec->FindPath({"request"})->GetString("path"),
                                   rec->FindPath({"request"})->GetString("body")));
  ASSERT_TRUE(crd.ok()) << crd.status().ToString();
  auto w = d.Resolve("example.com/v1", "Widget");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->resource, "widgets");
}

TEST_F(ClientTest, ErrorsCarryTheStatusMessageAndReason) {
  auto missing = client_->DoJson({.path = "/api/v1/namespaces/demo/configmaps/does-not-exist"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("configmaps \"does-not-exist\" not found (NotFound)"),
            std::string::npos)
      << missing.status().message();
  auto unserved = client_->DoJson(Apply("/apis/example.com/v1/namespaces/demo/widgets/w", "x"));
  ASSERT_FALSE(unserved.ok());
  EXPECT_NE(unserved.status().message().find("does not serve this path"), std::string::npos);
}

TEST_F(ClientTest, RetriesA429StormHonouringRetryAfter) {
  server_->FailNext(2, 429, "1");
  int64_t start = MonotonicMillis();
  auto r = client_->Do({.path = "/api/v1"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_GE(MonotonicMillis() - start, 2000);  // two Retry-After: 1
  EXPECT_EQ(client_->stats().retries.load(), 2);
  // A storm longer than the retries: the 429 is the answer, an Unavailable error.
  ClientOptions o = options_;
  o.max_retries = 2;
  auto c = NewClient(config_, o);
  server_->FailNext(10, 429);
  auto j = c->DoJson({.path = "/api/v1"});
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), Code::kUnavailable);
  EXPECT_TRUE(j.status().transient());
  server_->FailNext(0, 0);
}

TEST_F(ClientTest, ConnectionsAreKeptAliveAndReused) {
  // One caller after another: one connection for every request.
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(client_->DoJson({.path = "/api/v1/namespaces"}).ok());
  EXPECT_EQ(server_->Stats().requests, 50);
  EXPECT_EQ(server_->Stats().connections, 1);
  // Four callers at once: at most four connections (the pool keeps up to pool_size idle).
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i)
        if (!client_->DoJson({.path = "/api/v1/namespaces/default"}).ok()) failures++;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(server_->Stats().requests, 150);
  EXPECT_LE(server_->Stats().connections, 4);
}

TEST_F(ClientTest, ConnectionLossIsRetriedThenUnavailable) {
  ClusterConfig dead = config_;
  dead.server = "http://127.0.0.1:1";
  ClientOptions o = options_;
  o.max_retries = 2;
  auto c = NewClient(dead, o);
  auto r = c->Do({.path = "/api"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_EQ(c->stats().requests.load(), 3);
}

TEST_F(ClientTest, ExpiredTokenFromAFileIsReadAgainAfter401) {
  auto dir = fs::MakeTempDir("kube-token");
  ASSERT_TRUE(dir.ok());
  std::string file = fs::JoinPath(*dir, "token");
  server_->AddToken("old-token");
  ASSERT_TRUE(fs::WriteFileAtomic(file, "old-token").ok());
  ClusterConfig c = config_;
  c.token.clear();
  c.token_file = file;
  auto client = NewClient(c, options_);
  ASSERT_TRUE(client->DoJson({.path = "/api/v1"}).ok());
  server_->RevokeToken("old-token");  // it expired; the file already holds the new one
  server_->AddToken("new-token");
  ASSERT_TRUE(fs::WriteFileAtomic(file, "new-token").ok());
  auto r = client->DoJson({.path = "/api/v1"});
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  // A token nobody renews stays refused: 401 Unauthenticated, and the token is in no message.
  server_->RevokeToken("new-token");
  auto e = client->DoJson({.path = "/api/v1"});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), Code::kUnauthenticated);
  EXPECT_EQ(e.status().message().find("new-token"), std::string::npos);
  (void)fs::RemoveAll(*dir);
}

TEST_F(ClientTest, NoTokenIsForbiddenAsAnonymous) {
  ClusterConfig c = config_;
  c.token.clear();
  auto r = NewClient(c, options_)->DoJson({.path = "/api/v1/namespaces/demo/configmaps"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kPermissionDenied);
  EXPECT_NE(r.status().message().find("system:anonymous"), std::string::npos);
}

TEST_F(ClientTest, TokenBucketLimitsTheRate) {
  ClientOptions o = options_;
  // A slow rate, so that a request slowed by a loaded machine (65 ms under ASan at load 13)
  // still comes back before its next token: at 20/s it did not, nothing waited, and the
  // throttled time stayed 0.
  o.qps = 2;
  o.burst = 1;
  auto c = NewClient(config_, o);
  int64_t start = MonotonicMillis();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c->Do({.path = "/api"}).ok());
  // 1 at once, then 2 at 2/s: at least 1 s.
  EXPECT_GE(MonotonicMillis() - start, 990);
  EXPECT_GT(c->stats().throttled_ms.load(), 0);
}

TEST_F(ClientTest, WatchStreamsEventsAndEndsWithTheServerTimeout) {
  ASSERT_TRUE(client_->DoJson(Apply("/api/v1/namespaces/demo", kNamespace)).ok());
  auto list = client_->DoJson({.path = "/api/v1/namespaces/demo/configmaps"});
  ASSERT_TRUE(list.ok());
  std::string rv = list->FindPath({"metadata"})->GetString("resourceVersion");
  std::vector<std::string> types;
  std::thread watcher([&] {
    Status s =
        client_->Watch("/api/v1/namespaces/demo/configmaps",
                       "watch=1&timeoutSeconds=1&allowWatchBookmarks=true&resourceVersion=" + rv,
                       [&](const Value& ev) {
                         types.push_back(ev.GetString("type"));
                         return true;
                       });
    EXPECT_TRUE(s.ok()) << s.ToString();
  });
  ASSERT_TRUE(
      client_->DoJson(Apply("/api/v1/namespaces/demo/configmaps/app-config", kConfigMap)).ok());
  watcher.join();
  ASSERT_EQ(types.size(), 2u);
  EXPECT_EQ(types[0], "ADDED");
  EXPECT_EQ(types[1], "BOOKMARK");
}

TEST_F(ClientTest, WatchFromACompactedVersionGetsA410ErrorEvent) {
  ASSERT_TRUE(client_->DoJson(Apply("/api/v1/namespaces/demo", kNamespace)).ok());
  ASSERT_TRUE(
      client_->DoJson(Apply("/api/v1/namespaces/demo/configmaps/app-config", kConfigMap)).ok());
  server_->Compact();
  Value error;
  Status s = client_->Watch("/api/v1/namespaces/demo/configmaps", "watch=1&resourceVersion=1",
                            [&](const Value& ev) {
                              error = ev;
                              return true;
                            });
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(error.GetString("type"), "ERROR");
  ASSERT_NE(error.Find("object"), nullptr);
  EXPECT_EQ(error.Find("object")->GetString("reason"), "Expired");
  EXPECT_EQ(error.Find("object")->Find("code")->as_int(), 410);
}

TEST_F(ClientTest, CancelEndsAWatchPromptly) {
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    Status s = client_->Watch("/api/v1/namespaces/demo/configmaps", "watch=1",
                              [](const Value&) { return true; });
    EXPECT_EQ(s.code(), Code::kAborted);
    done = true;
  });
  // Cancel may come before the watch started: it then returns Aborted at once.
  client_->CancelWatches();
  watcher.join();
  EXPECT_TRUE(done);
}

// A real TLS handshake: the server's certificate checked against the kubeconfig CA, the
// client authenticated by its certificate (keys made here with the openssl program).
TEST_F(ClientTest, TlsWithCaAndClientCertificate) {
  auto dir = fs::MakeTempDir("kube-tls");
  ASSERT_TRUE(dir.ok());
  std::string d = *dir;
  auto sh = [&](const std::string& cmd) {
    auto r = RunSubprocess({"sh", "-c", cmd}, {.working_dir = d});
    ASSERT_TRUE(r.ok() && r->exit_code == 0) << cmd << ": " << (r.ok() ? r->err : "");
  };
  sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 -subj /CN=ca "
     "2>/dev/null");
  sh("openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "
     "/CN=127.0.0.1 2>/dev/null && printf 'subjectAltName=IP:127.0.0.1' > ext && openssl x509 "
     "-req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 1 "
     "-extfile ext 2>/dev/null");
  sh("openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=admin "
     "2>/dev/null && openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
     "-out client.crt -days 1 2>/dev/null");
  auto tls = testing::FakeApiServer::Start({.fixtures_dir = PLUMB_KUBE_TESTDATA,
                                            .cert_file = d + "/server.crt",
                                            .key_file = d + "/server.key",
                                            .client_ca_file = d + "/ca.crt"});
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();
  ClusterConfig c{.server = (*tls)->url(),
                  .ca_pem = *fs::ReadFile(d + "/ca.crt"),
                  .client_cert_pem = *fs::ReadFile(d + "/client.crt"),
                  .client_key_pem = *fs::ReadFile(d + "/client.key")};
  auto client = NewClient(c, options_);
  auto r = client->DoJson({.path = "/api/v1"});
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  // Another CA: the server is not trusted.
  ClusterConfig untrusted = c;
  untrusted.ca_pem = *fs::ReadFile(d + "/client.crt");
  ClientOptions o = options_;
  o.max_retries = 0;
  auto bad = NewClient(untrusted, o)->Do({.path = "/api/v1"});
  EXPECT_FALSE(bad.ok());
  (void)fs::RemoveAll(d);
}

}  // namespace
}  // namespace plumb::target::kubernetes
