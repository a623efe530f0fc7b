#include "engine/notify.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <condition_variable>
#include <mutex>

#include "core/strings.h"
#include "resource/codec.h"

namespace plumb::engine {
namespace {
using resource::Resource;

constexpr const char* kUrl = "http://127.0.0.1:9/hooks/T0-secret-path";
constexpr const char* kToken = "tok-4d1e-planted";

// The resources of one YAML stream, as the renderer gives them ("notify.yaml").
std::vector<Resource> Parse(const std::string& yaml) {
  std::vector<Resource> out;
  auto docs = resource::ParseYaml(yaml, "notify.yaml");
  EXPECT_TRUE(docs.ok()) << docs.status().message();
  for (auto& d : *docs) out.push_back(*Resource::FromValue(d.value, {"notify.yaml", d.line}));
  return out;
}

std::string NotificationYaml(const std::string& provider) {
  return "apiVersion: plumbline.dev/v1\nkind: Notification\nmetadata:\n  name: ops\nspec:\n"
         "  provider:\n" +
         provider + "  triggers: [SyncSucceeded]\n";
}

constexpr const char* kFromSecret =
    "    type: webhook\n"
    "    urlFrom: {secretKeyRef: {name: hooks, key: url}}\n"
    "    tokenFrom: {secretKeyRef: {name: hooks, key: token}}\n";

std::string SecretYaml(const std::string& api_version, const std::string& section,
                       const std::string& url, const std::string& token) {
  return "apiVersion: " + api_version + "\nkind: Secret\nmetadata:\n  name: hooks\n" + section +
         ":\n  url: \"" + url + "\"\n  token: \"" + token + "\"\n";
}

// Parses the Notification (the first document) against the whole stream as desired set.
Result<NotificationSpec> FromYaml(const std::string& yaml) {
  std::vector<Resource> all = Parse(yaml);
  return NotificationFromResource(all.at(0), "root", all);
}

void ExpectNoValues(const Status& s) {
  EXPECT_EQ(s.message().find("T0-secret-path"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find(kToken), std::string::npos) << s.message();
}

TEST(NotificationTest, UrlAndTokenComeFromStringData) {
  auto n = FromYaml(NotificationYaml(kFromSecret) + "---\n" +
                    SecretYaml("local.plumbline.dev/v1", "stringData", kUrl, kToken));
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(n->url, kUrl);
  EXPECT_EQ(n->token, kToken);
}

TEST(NotificationTest, DataOfAnyGroupIsBase64DecodedAndTrimmed) {
  auto n = FromYaml(NotificationYaml(kFromSecret) + "---\n" +
                    SecretYaml("v1", "data", Base64Encode(std::string(kUrl) + "\n"),
                               Base64Encode(std::string(kToken) + "\n")));
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(n->url, kUrl);
  EXPECT_EQ(n->token, kToken);
}

TEST(NotificationTest, InlineUrlNeedsNoSecret) {
  auto n = FromYaml(NotificationYaml("    url: https://example.com/x\n"));
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(n->url, "https://example.com/x");
  EXPECT_EQ(n->token, "");
}

TEST(NotificationTest, MissingSecretOrKeyIsNamedByFileLineAndRef) {
  auto n = FromYaml(NotificationYaml(kFromSecret));
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().message(),
            "notify.yaml:1: Notification ops: spec.provider.urlFrom: Secret hooks is not in this "
            "Application's path");
  n = FromYaml(NotificationYaml(kFromSecret) + "---\n" +
               "apiVersion: v1\nkind: Secret\nmetadata:\n  name: hooks\n"
               "stringData:\n  url: \"" +
               kUrl + "\"\n");
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("spec.provider.tokenFrom: Secret hooks has no key token"),
            std::string::npos)
      << n.status().message();
  ExpectNoValues(n.status());
}

TEST(NotificationTest, BadValuesFromSecretsAreNamedNeverShown) {
  auto n = FromYaml(NotificationYaml(kFromSecret) + "---\n" +
                    SecretYaml("v1", "stringData", "ftp://h/T0-secret-path", kToken));
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("the URL from Secret hooks/url must be an http://"),
            std::string::npos)
      << n.status().message();
  ExpectNoValues(n.status());

  n = FromYaml(NotificationYaml(kFromSecret) + "---\n" +
               SecretYaml("v1", "stringData", kUrl, std::string(kToken) + "\\r\\nX-Evil: 1"));
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("the token from Secret hooks/token holds a space or control"),
            std::string::npos)
      << n.status().message();
  ExpectNoValues(n.status());

  n = FromYaml(NotificationYaml(kFromSecret) + "---\n" +
               SecretYaml("v1", "data", "!!T0-secret-path", Base64Encode(kToken)));
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("Secret hooks/url is not valid base64"), std::string::npos)
      << n.status().message();
  ExpectNoValues(n.status());

  n = FromYaml(NotificationYaml("    url: " + std::string(kUrl) +
                                "\n    urlFrom: {secretKeyRef: {name: hooks, key: url}}\n"));
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("either url or urlFrom"), std::string::npos);
}

// A receiver on 127.0.0.1 that records the Authorization header of each POST.
class Receiver {
 public:
  Receiver() {
    server_.Post("/hooks/T0-secret-path", [this](const httplib::Request& req, httplib::Response&) {
      std::lock_guard<std::mutex> l(mu_);
      auth_.push_back(req.get_header_value("Authorization"));
      cv_.notify_all();
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Receiver() {
    server_.stop();
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/hooks/T0-secret-path";
  }
  std::vector<std::string> auth() {
    std::lock_guard<std::mutex> l(mu_);
    return auth_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> auth_;
};

class NotifierTest : public ::testing::Test {
 protected:
  NotifierTest()
      : notifier_(Duration(10), [this](const std::string& app, const std::string& type,
                                       const std::string& reason, const std::string& message) {
          std::lock_guard<std::mutex> l(mu_);
          events_.push_back(app + " " + type + " " + reason + " " + message);
          cv_.notify_all();
        }) {}

  // Waits (up to 10 s) until `n` delivery events are recorded; returns them.
  std::vector<std::string> WaitEvents(size_t n) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, std::chrono::seconds(10), [&] { return events_.size() >= n; });
    return events_;
  }

  NotificationSpec Spec(const std::string& url) {
    return {.name = "ops",
            .owner = "root",
            .url = url,
            .token = kToken,
            .triggers = {"SyncSucceeded", "HealthDegraded"},
            .max_attempts = 1};
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> events_;
  Notifier notifier_;
};

TEST_F(NotifierTest, SendsTheTokenAsBearerAndRecordsNeitherUrlNorToken) {
  Receiver receiver;
  notifier_.SetFor("root", {Spec(receiver.url())});
  notifier_.Dispatch(
      {.trigger = "SyncSucceeded", .app = "root", .message = "applied", .time_ms = 1});
  auto events = WaitEvents(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], "root Normal NotificationSent sent SyncSucceeded for root to ops (webhook)");
  EXPECT_EQ(receiver.auth(), std::vector<std::string>{std::string("Bearer ") + kToken});
}

TEST_F(NotifierTest, FailureMessageHoldsNeitherUrlNorToken) {
  notifier_.SetFor("root", {Spec(kUrl)});  // port 9 (discard): nothing listens
  notifier_.Dispatch(
      {.trigger = "SyncSucceeded", .app = "root", .message = "applied", .time_ms = 1});
  auto events = WaitEvents(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_NE(events[0].find("NotificationFailed could not send SyncSucceeded"), std::string::npos);
  ExpectNoValues(Unavailable(events[0]));
}

TEST_F(NotifierTest, IdenticalAlertsWithinTheRateLimitAreSentOnce) {
  Receiver receiver;
  notifier_.SetFor("root", {Spec(receiver.url())});
  Alert a{.trigger = "SyncSucceeded", .app = "root", .message = "applied", .time_ms = 1000};
  notifier_.Dispatch(a);
  a.time_ms += 1000;
  notifier_.Dispatch(a);  // identical, 1 s later: within the default 5 min
  a.message = "applied again";
  notifier_.Dispatch(a);  // a different message is another alert
  auto events = WaitEvents(2);
  EXPECT_EQ(events.size(), 2u);
  EXPECT_EQ(receiver.auth().size(), 2u);
}

TEST_F(NotifierTest, AlertsWithOneSubjectAreIdenticalWhateverTheMessage) {
  Receiver receiver;
  notifier_.SetFor("root", {Spec(receiver.url())});
  // A crash loop: each crash says something new, about the same Process.
  Alert a{.trigger = "HealthDegraded",
          .app = "root",
          .message = "restarting in 92ms",
          .time_ms = 1000,
          .subject = "Degraded Process/worker"};
  notifier_.Dispatch(a);
  a.message = "restarting in 174ms";
  a.time_ms += 1000;
  notifier_.Dispatch(a);
  a.subject = "Degraded Process/api";  // another Process is another alert
  notifier_.Dispatch(a);
  a.subject = "Degraded Process/worker";
  a.time_ms += 300000;  // past the rate limit: sent again
  notifier_.Dispatch(a);
  auto events = WaitEvents(3);
  EXPECT_EQ(events.size(), 3u);
  EXPECT_EQ(receiver.auth().size(), 3u);
}

}  // namespace
}  // namespace plumb::engine
