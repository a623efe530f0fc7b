// Test helpers for target/kubernetes: an API-server test double and a client for it.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "target/kubernetes/client.h"
#include "target/kubernetes/fake_apiserver.h"

namespace plumb::target::kubernetes {

class KubeFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = testing::FakeApiServer::Start({.fixtures_dir = PLUMB_KUBE_TESTDATA});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    config_.server = server_->url();
    config_.token = "admin-token";
    client_ = NewClient(config_, options_);
  }
  std::unique_ptr<KubeClient> NewClient(const ClusterConfig& config, const ClientOptions& o) {
    auto c = KubeClient::Create(config, o, &clock_);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }
  SystemClock clock_;
  ClientOptions options_{.backoff_base = Duration(5), .backoff_max = Duration(50)};
  ClusterConfig config_;
  std::unique_ptr<testing::FakeApiServer> server_;
  std::unique_ptr<KubeClient> client_;
};

}  // namespace plumb::target::kubernetes
