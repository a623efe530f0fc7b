// Test helpers for target/kubernetes: an API-server test double and a client for it.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "resource/codec.h"
#include "resource/resource.h"
#include "target/kubernetes/client.h"
#include "target/kubernetes/fake_apiserver.h"

namespace plumb::target::kubernetes {

// The resources of a YAML stream, as from a file app.yaml.
inline std::vector<resource::Resource> ParseResources(const std::string& yaml) {
  auto docs = resource::ParseYaml(yaml, "app.yaml");
  EXPECT_TRUE(docs.ok()) << docs.status().ToString();
  std::vector<resource::Resource> out;
  if (!docs.ok()) return out;
  for (auto& d : *docs) {
    auto r = resource::Resource::FromValue(d.value, {"app.yaml", d.line});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) out.push_back(*r);
  }
  return out;
}

class KubeFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = testing::FakeApiServer::Start(fake_options_);
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
  // Set before SetUp() (e.g. .controllers = true).
  testing::FakeApiServerOptions fake_options_{.fixtures_dir = PLUMB_KUBE_TESTDATA};
  SystemClock clock_;
  ClientOptions options_{.backoff_base = Duration(5), .backoff_max = Duration(50)};
  ClusterConfig config_;
  std::unique_ptr<testing::FakeApiServer> server_;
  std::unique_ptr<KubeClient> client_;
};

}  // namespace plumb::target::kubernetes
