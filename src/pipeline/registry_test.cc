// The registry client against a small registry of the test's own (httplib on 127.0.0.1):
// Debian's docker-registry ignores `n`, so pagination and auth are checked here.
#include "pipeline/registry.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "core/strings.h"

namespace plumb::pipeline {
namespace {

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Get(
        "/v2/team/app/tags/list", [this](const httplib::Request& req, httplib::Response& res) {
          ++requests_;
          if (!Authorized(req, res)) return;
          size_t n = req.has_param("n") ? std::stoul(req.get_param_value("n")) : all_.size();
          size_t start = 0;
          if (req.has_param("last")) {
            while (start < all_.size() && all_[start] != req.get_param_value("last")) ++start;
            ++start;
          }
          std::string body = "{\"name\":\"team/app\",\"tags\":[";
          size_t end = std::min(all_.size(), start + n);
          for (size_t i = start; i < end; ++i) body += (i > start ? ",\"" : "\"") + all_[i] + "\"";
          body += "]}";
          if (end < all_.size())
            res.set_header("Link", "</v2/team/app/tags/list?n=" + std::to_string(n) +
                                       "&last=" + all_[end - 1] + ">; rel=\"next\"");
          res.set_content(body, "application/json");
        });
    server_.Get("/token", [this](const httplib::Request& req, httplib::Response& res) {
      if (req.get_param_value("scope") != "repository:team/app:pull" ||
          req.get_param_value("service") != "test-registry" ||
          (!token_basic_.empty() &&
           req.get_header_value("Authorization") != "Basic " + token_basic_)) {
        res.status = 401;
        return;
      }
      res.set_content("{\"token\":\"tok-123\"}", "application/json");
    });
    server_.Get("/v2/down/tags/list",
                [](const httplib::Request&, httplib::Response& res) { res.status = 503; });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::yield();
  }
  void TearDown() override {
    server_.stop();
    thread_.join();
  }

  bool Authorized(const httplib::Request& req, httplib::Response& res) {
    std::string auth = req.get_header_value("Authorization");
    if (mode_ == "basic" && auth != "Basic " + basic_) {
      res.status = 401;
      res.set_header("WWW-Authenticate", "Basic realm=\"test\"");
      return false;
    }
    if (mode_ == "bearer" && auth != "Bearer tok-123") {
      res.status = 401;
      res.set_header("WWW-Authenticate",
                     "Bearer realm=\"http://127.0.0.1:" + std::to_string(port_) +
                         "/token\",service=\"test-registry\",scope=\"repository:team/app:pull\"");
      return false;
    }
    return true;
  }

  ImageRef Ref(const std::string& repo = "team/app") {
    return ImageRef{.registry = "127.0.0.1:" + std::to_string(port_), .repository = repo};
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  int requests_ = 0;
  std::string mode_;  // "" | basic | bearer
  std::string basic_ = Base64Encode("alice:s3cret");
  std::string token_basic_;  // credentials the token endpoint wants ("" = anonymous)
  std::vector<std::string> all_ = {"1.0.0", "1.1.0",  "1.2.0", "1.3.0-rc1",
                                   "1.3.0", "latest", "2.0.0"};
};

TEST_F(RegistryTest, FollowsLinkPages) {
  auto tags = ListTags(Ref(), {.insecure = true, .page_size = 2});
  ASSERT_TRUE(tags.ok()) << tags.status().message();
  EXPECT_EQ(*tags, all_);
  EXPECT_EQ(requests_, 4);
}

TEST_F(RegistryTest, BasicAuthentication) {
  mode_ = "basic";
  auto tags = ListTags(
      Ref(), {.insecure = true, .username = "alice", .password = "s3cret", .page_size = 3});
  ASSERT_TRUE(tags.ok()) << tags.status().message();
  EXPECT_EQ(tags->size(), all_.size());
  auto denied = ListTags(Ref(), {.insecure = true, .username = "alice", .password = "wrong"});
  EXPECT_EQ(denied.status().code(), Code::kUnauthenticated);
  EXPECT_EQ(denied.status().message().find("wrong"), std::string::npos);
  EXPECT_EQ(ListTags(Ref(), {.insecure = true}).status().code(), Code::kUnauthenticated);
}

TEST_F(RegistryTest, BearerTokenFromTheChallengesRealm) {
  mode_ = "bearer";
  auto tags = ListTags(Ref(), {.insecure = true, .page_size = 4});
  ASSERT_TRUE(tags.ok()) << tags.status().message();
  EXPECT_EQ(tags->size(), all_.size());
  token_basic_ = Base64Encode("bob:pw");
  tags = ListTags(Ref(), {.insecure = true, .username = "bob", .password = "pw"});
  ASSERT_TRUE(tags.ok()) << tags.status().message();
  EXPECT_EQ(ListTags(Ref(), {.insecure = true}).status().code(), Code::kUnauthenticated);
}

TEST_F(RegistryTest, FailuresAreClassified) {
  EXPECT_EQ(ListTags(Ref("down"), {.insecure = true}).status().code(), Code::kUnavailable);
  EXPECT_EQ(ListTags(Ref("nope"), {.insecure = true}).status().code(), Code::kNotFound);
  ImageRef closed{.registry = "127.0.0.1:1", .repository = "a"};
  EXPECT_EQ(ListTags(closed, {.insecure = true, .timeout = Duration(2000)}).status().code(),
            Code::kUnavailable);
}

TEST(ParseImageTest, RegistriesAndHub) {
  auto r = ParseImage("127.0.0.1:5000/team/app");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->registry, "127.0.0.1:5000");
  EXPECT_EQ(r->repository, "team/app");
  r = ParseImage("nginx");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Host(), "registry-1.docker.io");
  EXPECT_EQ(r->repository, "library/nginx");
  EXPECT_EQ(ParseImage("ghcr.io/org/app")->registry, "ghcr.io");
  EXPECT_FALSE(ParseImage("ghcr.io/org/app:1.0").ok());
  EXPECT_FALSE(ParseImage("ghcr.io/org/app@sha256:00").ok());
  EXPECT_FALSE(ParseImage("").ok());
}

}  // namespace
}  // namespace plumb::pipeline
