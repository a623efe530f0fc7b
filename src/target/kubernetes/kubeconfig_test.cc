#include "target/kubernetes/kubeconfig.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "core/fs.h"
#include "core/strings.h"

namespace plumb::target::kubernetes {
namespace {

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = fs::MakeTempDir("kubeconfig-test");
    ASSERT_TRUE(d.ok());
    dir_ = *d;
  }
  void TearDown() override { (void)fs::RemoveAll(dir_); }
  std::string Write(const std::string& name, const std::string& text, int mode = 0600) {
    std::string p = fs::JoinPath(dir_, name);
    EXPECT_TRUE(fs::WriteFileAtomic(p, text, mode).ok());
    return p;
  }
  std::string dir_;
};

constexpr const char* kConfig = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: prod-cluster
  cluster:
    server: https://prod.example.com:6443/
    certificate-authority: certs/ca.pem
- name: dev-cluster
  cluster:
    server: https://127.0.0.1:6443
    insecure-skip-tls-verify: true
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user}
- name: prod
  context: {cluster: prod-cluster, user: prod-user, namespace: shop}
users:
- name: dev-user
  user:
    token: dev-token
- name: prod-user
  user:
    client-certificate-data: Q0VSVA==
    client-key: certs/key.pem
)";

TEST_F(KubeconfigTest, CurrentContextByDefault) {
  auto c = ParseKubeconfig(kConfig, dir_);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->context, "dev");
  EXPECT_EQ(c->server, "https://127.0.0.1:6443");
  EXPECT_TRUE(c->insecure_skip_tls_verify);
  EXPECT_EQ(c->token, "dev-token");
  EXPECT_EQ(c->namespace_, "default");
}

TEST_F(KubeconfigTest, NamedContextResolvesFilesRelativeToTheKubeconfig) {
  ASSERT_TRUE(fs::MakeDirs(fs::JoinPath(dir_, "certs")).ok());
  Write("certs/ca.pem", "CA PEM");
  Write("certs/key.pem", "KEY PEM");
  std::string path = Write("config", kConfig);
  auto c = LoadKubeconfig(path, "prod");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server, "https://prod.example.com:6443");  // trailing slash dropped
  EXPECT_EQ(c->ca_pem, "CA PEM");
  EXPECT_EQ(c->client_cert_pem, "CERT");  // from -data, base64
  EXPECT_EQ(c->client_key_pem, "KEY PEM");
  EXPECT_EQ(c->namespace_, "shop");
}

TEST_F(KubeconfigTest, UnknownContextIsNotFoundAndNamesIt) {
  auto c = ParseKubeconfig(kConfig, dir_, "staging");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kNotFound);
  EXPECT_NE(c.status().message().find("staging"), std::string::npos);
}

TEST_F(KubeconfigTest, ErrorsNeverShowTheToken) {
  std::string bad = std::string(kConfig) + "  bogus: [\n";
  auto c = ParseKubeconfig(bad, dir_);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().find("dev-token"), std::string::npos);
}

TEST_F(KubeconfigTest, ExecPluginTokenIsCachedUntilItExpires) {
  std::string count = fs::JoinPath(dir_, "count");
  // The plugin checks what kubectl sends it (KUBERNETES_EXEC_INFO, its env) and answers
  // a token that expires at a fixed time.
  std::string plugin =
      Write("plugin.sh",
            "#!/bin/sh\n"
            "echo run >> " +
                count +
                "\n"
                "case \"$KUBERNETES_EXEC_INFO\" in *'\"kind\":\"ExecCredential\"'*) ;; "
                "*) echo no exec info >&2; exit 3;; esac\n"
                "[ \"$PLUGIN_MODE\" = ok ] || { echo bad env >&2; exit 4; }\n"
                "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
                "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"t-'$(wc -l < " +
                count + ")'\",\"expirationTimestamp\":\"2023-11-14T22:15:00Z\"}}'\n",
            0755);
  std::string config = std::string(kConfig) +
                       "- name: exec-user\n  user:\n    exec:\n"
                       "      apiVersion: client.authentication.k8s.io/v1\n"
                       "      command: ./plugin.sh\n      interactiveMode: Never\n"
                       "      env: [{name: PLUGIN_MODE, value: ok}]\n";
  config += "";
  std::string text = config;
  text.replace(text.find("contexts:\n"), 10,
               "contexts:\n- name: exec\n  context: {cluster: dev-cluster, user: exec-user}\n");
  auto c = ParseKubeconfig(text, dir_, "exec");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->has_exec);
  // 2023-11-14T22:13:20Z is the fake clock's start; the token expires 100 s later.
  FakeClock clock;
  CredentialSource creds(*c, &clock);
  auto t1 = creds.Get();
  ASSERT_TRUE(t1.ok()) << t1.status().ToString();
  EXPECT_EQ(t1->token, "t-1");
  EXPECT_EQ(creds.Get()->token, "t-1");  // cached
  clock.Advance(Duration(101000));
  EXPECT_EQ(creds.Get()->token, "t-2");  // expired: the plugin ran again
  creds.Invalidate();                    // a 401
  EXPECT_EQ(creds.Get()->token, "t-3");
}

TEST_F(KubeconfigTest, ExecPluginFailureShowsStderrNotStdout) {
  Write("fail.sh", "#!/bin/sh\necho secret-token-on-stdout\necho 'login expired' >&2\nexit 1\n",
        0755);
  ClusterConfig c;
  c.server = "https://127.0.0.1:1";
  c.has_exec = true;
  c.exec = {.api_version = "client.authentication.k8s.io/v1",
            .command = fs::JoinPath(dir_, "fail.sh")};
  FakeClock clock;
  CredentialSource creds(c, &clock);
  auto t = creds.Get();
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), Code::kUnauthenticated);
  EXPECT_NE(t.status().message().find("login expired"), std::string::npos);
  EXPECT_EQ(t.status().message().find("secret-token"), std::string::npos);
}

TEST_F(KubeconfigTest, InClusterConfigFromServiceAccountFiles) {
  Write("token", "sa-token\n");
  Write("ca.crt", "CA");
  Write("namespace", "plumbline");
  unsetenv("KUBERNETES_SERVICE_HOST");
  EXPECT_EQ(LoadInClusterConfig(dir_).status().code(), Code::kFailedPrecondition);
  setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto c = LoadInClusterConfig(dir_);
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server, "https://10.96.0.1:443");
  EXPECT_EQ(c->namespace_, "plumbline");
  EXPECT_EQ(c->ca_pem, "CA");
  FakeClock clock;
  CredentialSource creds(*c, &clock);
  EXPECT_EQ(creds.Get()->token, "sa-token");
  Write("token", "rotated");  // projected tokens rotate: read again after a minute
  clock.Advance(Duration(61000));
  EXPECT_EQ(creds.Get()->token, "rotated");
}

TEST(Rfc3339Test, Parses) {
  auto t = ParseRfc3339("2026-11-26T11:35:13.016328Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(UnixMillis(*t), 1795692913016);
  EXPECT_EQ(UnixMillis(*ParseRfc3339("2026-11-26T12:35:13+01:00")), 1795692913000);
  EXPECT_FALSE(ParseRfc3339("yesterday").ok());
}

}  // namespace
}  // namespace plumb::target::kubernetes
