#include "server/webhook.h"

#include <gtest/gtest.h>

#include <map>

#include "core/strings.h"

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
