#include "server/webhook.h"

#include <gtest/gtest.h>

#include <map>

#include "core/fs.h"
#include "core/strings.h"
#include "server/server.h"

namespace plumb::server {
namespace {

HeaderFn Headers(std::map<std::string, std::string> h) {
  return [h](const std::string& k) {
    auto it = h.find(k);
    return it == h.end() ? std::string() : it->second;
  };
}

const char* kGithubPush = R"({"ref":"refs/heads/staging","repository":{
  "clone_url":"https://github.com/acme/config.git","ssh_url":"git@github.com:acme/config.git",
  "html_url":"https://github.com/acme/config"}})";

TEST(WebhookTest, GithubSignatureIsHmacSha256OfTheBody) {
  std::string sig = "sha256=" + HmacSha256Hex("s3cret", kGithubPush);
  EXPECT_TRUE(
      VerifyWebhook("github", Headers({{"X-Hub-Signature-256", sig}}), kGithubPush, "s3cret").ok());
  EXPECT_EQ(VerifyWebhook("github", Headers({{"X-Hub-Signature-256", sig}}),
                          std::string(kGithubPush) + " ", "s3cret")
                .code(),
            Code::kUnauthenticated);
  EXPECT_EQ(VerifyWebhook("github", Headers({}), kGithubPush, "s3cret").code(),
            Code::kUnauthenticated);
  EXPECT_EQ(
      VerifyWebhook("github", Headers({{"X-Hub-Signature-256", sig}}), kGithubPush, "other").code(),
      Code::kUnauthenticated);
}

TEST(WebhookTest, KnownHmacVector) {
  // RFC 4231 test case 2.
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(WebhookTest, GitlabTokenGiteaAndGeneric) {
  EXPECT_TRUE(VerifyWebhook("gitlab", Headers({{"X-Gitlab-Token", "tok"}}), "{}", "tok").ok());
  EXPECT_FALSE(VerifyWebhook("gitlab", Headers({{"X-Gitlab-Token", "tak"}}), "{}", "tok").ok());
  std::string body = R"({"repo":"/srv/git/config.git","branch":"main"})";
  EXPECT_TRUE(
      VerifyWebhook("gitea", Headers({{"X-Gitea-Signature", HmacSha256Hex("k", body)}}), body, "k")
          .ok());
  EXPECT_TRUE(VerifyWebhook("generic",
                            Headers({{"X-Plumb-Signature", "sha256=" + HmacSha256Hex("k", body)}}),
                            body, "k")
                  .ok());
  EXPECT_EQ(VerifyWebhook("bitbucket", Headers({}), body, "k").code(), Code::kInvalidArgument);
  EXPECT_EQ(VerifyWebhook("generic", Headers({}), body, "").code(), Code::kFailedPrecondition);
}

TEST(WebhookTest, ParsesPushesAndPings) {
  auto ev = ParsePushEvent("github", Headers({{"X-GitHub-Event", "push"}}), kGithubPush);
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_EQ(ev->branch, "staging");
  EXPECT_EQ(ev->repo_urls.size(), 3u);
  auto ping = ParsePushEvent("github", Headers({{"X-GitHub-Event", "ping"}}), "{}");
  ASSERT_TRUE(ping.ok());
  EXPECT_TRUE(ping->ping);
  auto tag = ParsePushEvent("github", Headers({{"X-GitHub-Event", "push"}}),
                            R"({"ref":"refs/tags/v1","repository":{"clone_url":"x"}})");
  ASSERT_TRUE(tag.ok());
  EXPECT_EQ(tag->branch, "");
  auto gen = ParsePushEvent("generic", Headers({}), R"({"repo":"/a/b.git","ref":"refs/heads/x"})");
  ASSERT_TRUE(gen.ok());
  EXPECT_EQ(gen->branch, "x");
  EXPECT_FALSE(ParsePushEvent("generic", Headers({}), "[1]").ok());
  EXPECT_FALSE(ParsePushEvent("generic", Headers({}), "{").ok());
  EXPECT_FALSE(ParsePushEvent("github", Headers({{"X-GitHub-Event", "issues"}}), "{}").ok());
}

HeaderFn GithubSigned(const std::string& secret, const std::string& body) {
  return Headers({{"X-GitHub-Event", "push"},
                  {"X-Hub-Signature-256", "sha256=" + HmacSha256Hex(secret, body)}});
}

const char* kOtherPush = R"({"ref":"refs/heads/main","repository":{
  "clone_url":"https://github.com/acme/other.git"}})";

TEST(WebhookTest, ARepositorysOwnSecretReplacesTheSharedOne) {
  WebhookSecrets secrets{.shared = "shared",
                         .by_repo = {{CanonicalRepoUrl("git@github.com:acme/config"), "own"}}};
  EXPECT_EQ(secrets.For("https://github.com/acme/config.git"), "own");
  EXPECT_EQ(secrets.For("https://github.com/acme/other"), "shared");
  std::vector<std::string> config = {"https://github.com/acme/config.git",
                                     "git@github.com:acme/config.git"};
  auto own = VerifyPush("github", GithubSigned("own", kGithubPush), kGithubPush, secrets, config);
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  EXPECT_EQ(*own, "own");
  EXPECT_EQ(VerifyPush("github", GithubSigned("shared", kGithubPush), kGithubPush, secrets, config)
                .status()
                .code(),
            Code::kUnauthenticated);
  // The shared secret still opens repositories without their own; "own" does not.
  std::vector<std::string> other = {"https://github.com/acme/other.git"};
  auto shared =
      VerifyPush("github", GithubSigned("shared", kOtherPush), kOtherPush, secrets, other);
  ASSERT_TRUE(shared.ok()) << shared.status().ToString();
  EXPECT_EQ(*shared, "shared");
  EXPECT_FALSE(
      VerifyPush("github", GithubSigned("own", kOtherPush), kOtherPush, secrets, other).ok());
  // A payload naming no repository needs the shared secret.
  EXPECT_TRUE(VerifyPush("github", GithubSigned("shared", "{}"), "{}", secrets, {}).ok());
  EXPECT_FALSE(VerifyPush("github", GithubSigned("own", "{}"), "{}", secrets, {}).ok());
  EXPECT_EQ(VerifyPush("bitbucket", Headers({}), "{}", secrets, config).status().code(),
            Code::kInvalidArgument);
}

TEST(WebhookTest, OwnSecretsAloneLeaveOtherRepositoriesClosed) {
  WebhookSecrets secrets{.by_repo = {{CanonicalRepoUrl("https://github.com/acme/config"), "own"}}};
  EXPECT_TRUE(secrets.enabled());
  auto refused = VerifyPush("github", GithubSigned("", kOtherPush), kOtherPush, secrets,
                            {"https://github.com/acme/other.git"});
  EXPECT_EQ(refused.status().code(), Code::kUnauthenticated);
  EXPECT_NE(refused.status().message().find("no webhook secret is configured for "
                                            "https://github.com/acme/other.git"),
            std::string::npos);
  // A payload that also names another repository is verified with the named
  // repository's secret; the caller acts only on repositories whose secret that is.
  std::vector<std::string> both = {"https://github.com/acme/other.git",
                                   "https://github.com/acme/config.git"};
  auto own = VerifyPush("github", GithubSigned("own", kGithubPush), kGithubPush, secrets, both);
  ASSERT_TRUE(own.ok());
  EXPECT_NE(secrets.For(both[0]), *own);
  EXPECT_EQ(secrets.For(both[1]), *own);
  EXPECT_FALSE(WebhookSecrets{}.enabled());
}

TEST(WebhookTest, AGithubPingNamesItsRepository) {
  auto ping = ParsePushEvent("github", Headers({{"X-GitHub-Event", "ping"}}),
                             R"({"zen":"x","repository":{"clone_url":"https://h/a/b.git"}})");
  ASSERT_TRUE(ping.ok());
  EXPECT_TRUE(ping->ping);
  EXPECT_EQ(ping->repo_urls, std::vector<std::string>{"https://h/a/b.git"});
}

TEST(WebhookTest, SecretsFileMapsRepositoriesAndNeverEchoesASecret) {
  auto d = fs::MakeTempDir("plumb-webhook-test");
  ASSERT_TRUE(d.ok());
  fs::TempDir dir(*d);
  std::string path = dir.path() + "/secrets";
  ASSERT_TRUE(
      fs::WriteFileAtomic(path,
                          "# repo secret\n\nhttps://github.com/acme/config.git  s3cret-one\n"
                          "/srv/git/local.git\ts3cret-two\n",
                          0600)
          .ok());
  auto m = LoadWebhookSecretsFile(path);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(*m, (std::map<std::string, std::string>{{"github.com/acme/config", "s3cret-one"},
                                                    {"/srv/git/local", "s3cret-two"}}));
  ASSERT_TRUE(
      fs::WriteFileAtomic(path, "git@github.com:acme/config s3cret-one\nnot-a-pair\n", 0600).ok());
  auto bad = LoadWebhookSecretsFile(path);
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find(path + ":2:"), std::string::npos);
  ASSERT_TRUE(fs::WriteFileAtomic(path,
                                  "git@github.com:acme/config s3cret-one\n"
                                  "https://github.com/acme/config.git s3cret-two\n",
                                  0600)
                  .ok());
  auto twice = LoadWebhookSecretsFile(path);
  EXPECT_NE(twice.status().message().find(path + ":2: https://github.com/acme/config.git already "
                                                 "has a secret on line 1"),
            std::string::npos)
      << twice.status().message();
  for (const auto& s : {bad.status(), twice.status()})
    EXPECT_EQ(s.message().find("s3cret"), std::string::npos) << s.message();
}

TEST(WebhookTest, CanonicalRepoUrlsCompareAcrossForms) {
  std::string a = CanonicalRepoUrl("https://GitHub.com/acme/config.git");
  EXPECT_EQ(a, "github.com/acme/config");
  EXPECT_EQ(CanonicalRepoUrl("git@github.com:acme/config.git"), a);
  EXPECT_EQ(CanonicalRepoUrl("ssh://git@github.com:22/acme/config"), a);
  EXPECT_EQ(CanonicalRepoUrl("https://user:pw@github.com/acme/config/"), a);
  EXPECT_EQ(CanonicalRepoUrl("/srv/git/./config.git"), CanonicalRepoUrl("file:///srv/git/config"));
  EXPECT_NE(CanonicalRepoUrl("https://github.com/acme/other"), a);
}

}  // namespace
}  // namespace plumb::server
