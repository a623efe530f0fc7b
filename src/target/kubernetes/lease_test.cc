#include "target/kubernetes/lease.h"

#include <gtest/gtest.h>

#include "core/fs.h"
#include "resource/codec.h"
#include "target/kubernetes/kube_test_util.h"

namespace plumb::target::kubernetes {
namespace {

using LeaseTest = KubeFixture;

TEST(MicroTimeTest, FormatsAsTheServerDoes) {
  EXPECT_EQ(FormatMicroTime(TimePoint(std::chrono::microseconds(1795692913016328))),
            "2026-11-26T11:35:13.016328Z");  // 50-lease-create-post.json
}

TEST_F(LeaseTest, OneLeaderAtATimeAndTakeoverOnlyAfterExpiry) {
  FakeClock clock_a, clock_b;
  LeaseOptions o{.ns = "default", .identity = "plumbline-a"};
  LeaderElector a(client_.get(), o, &clock_a);
  o.identity = "plumbline-b";
  LeaderElector b(client_.get(), o, &clock_b);
  server_->ClearRequests();
  ASSERT_TRUE(*a.TryAcquireOrRenew());   // created (POST)
  ASSERT_FALSE(*b.TryAcquireOrRenew());  // held
  clock_a.Advance(Duration(5000));
  clock_b.Advance(Duration(5000));
  ASSERT_TRUE(*a.TryAcquireOrRenew());   // renewed (PUT)
  ASSERT_FALSE(*b.TryAcquireOrRenew());  // b sees the renewal now...
  clock_b.Advance(Duration(10000));      // ...and 10 s later it is still valid
  ASSERT_FALSE(*b.TryAcquireOrRenew());
  clock_b.Advance(Duration(6000));  // 16 s without a renewal (by b's clock): expired
  ASSERT_TRUE(*b.TryAcquireOrRenew());
  auto lease =
      server_->Get("/apis/coordination.k8s.io/v1/namespaces/default/leases/plumbline-leader");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ(lease->FindPath({"spec"})->GetString("holderIdentity"), "plumbline-b");
  EXPECT_EQ(lease->FindPath({"spec", "leaseTransitions"})->as_int(), 1);
  clock_a.Advance(Duration(1000));
  EXPECT_FALSE(*a.TryAcquireOrRenew());  // a sees b's fresh renewal
  // b stops cleanly and gives the lease up: a takes it at once.
  ASSERT_TRUE(b.Release().ok());
  EXPECT_TRUE(*a.TryAcquireOrRenew());
  // The requests are the recorded ones (50, 51): POST to the collection and PUT of the
  // object, application/json, fieldManager=plumbline.
  for (const auto& r : server_->Requests()) {
    if (r.method == "GET") continue;
    SCOPED_TRACE(r.body);
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_EQ(r.query, "fieldManager=plumbline");
    if (r.method == "POST") {
      EXPECT_EQ(r.path, "/apis/coordination.k8s.io/v1/namespaces/default/leases");
    } else {
      EXPECT_EQ(r.method, "PUT");
      EXPECT_EQ(r.path, "/apis/coordination.k8s.io/v1/namespaces/default/leases/plumbline-leader");
    }
  }
}

TEST_F(LeaseTest, AStaleUpdateLosesWith409) {
  // 52: a PUT with an old resourceVersion is refused; only one of two contenders wins.
  FakeClock clock;
  LeaderElector a(client_.get(), {.ns = "default", .identity = "a"}, &clock);
  ASSERT_TRUE(*a.TryAcquireOrRenew());
  auto lease = client_->DoJson(
      {.path = "/apis/coordination.k8s.io/v1/namespaces/default/leases/plumbline-leader"});
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(*a.TryAcquireOrRenew());  // moves resourceVersion on
  auto stale = client_->Do({.method = "PUT",
                            .path = "/apis/coordination.k8s.io/v1/namespaces/default/leases/"
                                    "plumbline-leader",
                            .query = "fieldManager=plumbline",
                            .content_type = "application/json",
                            .body = resource::ToJson(*lease)});
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(stale->status, 409);
  auto want = resource::ParseJson(
      *fs::ReadFile(std::string(PLUMB_KUBE_TESTDATA) + "/52-lease-put-stale-409.json"));
  auto got = resource::ParseJson(stale->body);
  EXPECT_EQ(got->GetString("message"), want->FindPath({"response", "body"})->GetString("message"));
  EXPECT_EQ(*got->Find("details"), *want->FindPath({"response", "body", "details"}));
}

}  // namespace
}  // namespace plumb::target::kubernetes
