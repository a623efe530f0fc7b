#include "engine/application.h"

#include <gtest/gtest.h>

#include "resource/codec.h"

namespace plumb::engine {
namespace {

resource::Resource Parse(const std::string& yaml) {
  auto docs = resource::ParseYaml(yaml, "apps.yaml");
  EXPECT_TRUE(docs.ok()) << docs.status().ToString();
  return *resource::Resource::FromValue((*docs)[0].value, {"apps.yaml", (*docs)[0].line});
}

TEST(ApplicationTest, ChildDefaultsToParentRepoAndBranch) {
  AppSpec parent{.name = "root", .repo = "/srv/repo.git", .branch = "staging"};
  auto spec = AppSpecFromResource(Parse(R"(apiVersion: plumbline.dev/v1
kind: Application
metadata: {name: web}
spec:
  source: {path: apps/web}
  sync: {prune: false, interval: 30s}
)"),
                                  parent);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->repo, "/srv/repo.git");
  EXPECT_EQ(spec->branch, "staging");
  EXPECT_EQ(spec->path, "apps/web");
  EXPECT_FALSE(spec->sync.prune);
  EXPECT_TRUE(spec->sync.self_heal);
  EXPECT_EQ(spec->sync.interval.count(), 30000);
  EXPECT_EQ(spec->parent, "root");
}

TEST(ApplicationTest, KubernetesTargetIsReadAndSurvivesStorage) {
  AppSpec parent{.name = "root", .repo = "r"};
  auto spec = AppSpecFromResource(Parse(R"(apiVersion: plumbline.dev/v1
kind: Application
metadata: {name: shop}
spec:
  source: {path: apps/shop}
  target:
    kubernetes: {kubeconfig: /etc/kube/config, context: prod, namespace: shop}
)"),
                                  parent);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ASSERT_TRUE(spec->kubernetes.has_value());
  EXPECT_EQ(spec->kubernetes->kubeconfig, "/etc/kube/config");
  EXPECT_EQ(spec->kubernetes->context, "prod");
  EXPECT_EQ(spec->kubernetes->ns, "shop");
  auto back = AppSpec::FromValue(spec->ToValue());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_TRUE(back->kubernetes.has_value());
  EXPECT_EQ(*back->kubernetes, *spec->kubernetes);
  EXPECT_FALSE(AppSpec::FromValue(AppSpec{.name = "x", .repo = "r"}.ToValue())->kubernetes);
  auto bad = AppSpecFromResource(Parse(R"(apiVersion: plumbline.dev/v1
kind: Application
metadata: {name: shop}
spec:
  source: {path: apps/shop}
  target:
    kubernetes: {server: https://x}
)"),
                                 parent);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("target.kubernetes.server: unknown field"),
            std::string::npos)
      << bad.status().message();
}

TEST(ApplicationTest, BadFieldsNameTheOrigin) {
  AppSpec parent{.name = "root", .repo = "r"};
  auto spec = AppSpecFromResource(Parse(R"(apiVersion: plumbline.dev/v1
kind: Application
metadata: {name: web}
spec:
  source: {path: apps/web}
  sync: {interval: soon}
)"),
                                  parent);
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("apps.yaml:1"), std::string::npos);
  EXPECT_NE(spec.status().message().find("interval"), std::string::npos);
}

TEST(ApplicationTest, SpecRoundTripsThroughValue) {
  AppSpec s{.name = "a", .repo = "r", .branch = "b", .path = "p", .local_root = "/srv"};
  s.sync.interval = Duration(1500);
  s.sync.self_heal = false;
  auto back = AppSpec::FromValue(s.ToValue());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(resource::ToJson(back->ToValue()), resource::ToJson(s.ToValue()));
}

TEST(ApplicationTest, PromotionPolicyIsReadAndSurvivesStorage) {
  AppSpec parent{.name = "root", .repo = "/srv/repo.git", .branch = "main"};
  auto spec = AppSpecFromResource(Parse(R"(apiVersion: plumbline.dev/v1
kind: Application
metadata: {name: production}
spec:
  source: {branch: production, path: deploy}
  promotion: {from: staging, auto: true, after: 90s}
)"),
                                  parent);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->promotion.from, "staging");
  EXPECT_TRUE(spec->promotion.automated);
  EXPECT_EQ(spec->promotion.after.count(), 90000);
  auto stored = AppSpec::FromValue(spec->ToValue());
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(stored->promotion.from, "staging");
  EXPECT_EQ(stored->promotion.after.count(), 90000);

  auto missing = AppSpecFromResource(Parse(R"(apiVersion: plumbline.dev/v1
kind: Application
metadata: {name: production}
spec:
  source: {path: deploy}
  promotion: {auto: true}
)"),
                                     parent);
  EXPECT_EQ(missing.status().code(), Code::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("spec.promotion.from is missing"), std::string::npos)
      << missing.status().message();
}

TEST(ApplicationTest, SourceVerifyTakesInlineSshAndPgpKeys) {
  AppSpec parent{.name = "root", .repo = "r"};
  auto spec = AppSpecFromResource(Parse(R"(apiVersion: plumbline.dev/v1
kind: Application
metadata: {name: web}
spec:
  source:
    path: apps/web
    verify:
      mode: Tag
      keys:
      - ssh: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGaaPZZ+zTluhOaptacFV/stKaY0QVH/1+UViaxwRQga alice"
      - pgp: |
          -----BEGIN PGP PUBLIC KEY BLOCK-----
          mDMEZ
          -----END PGP PUBLIC KEY BLOCK-----
)"),
                                  parent);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->verify.mode, "tag");
  ASSERT_EQ(spec->verify.keys.size(), 2u);
  EXPECT_EQ(spec->verify.keys[0].type, source::TrustedKey::Type::kSsh);
  EXPECT_EQ(spec->verify.keys[1].type, source::TrustedKey::Type::kPgp);
  auto back = AppSpec::FromValue(spec->ToValue());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->verify.Fingerprint(), spec->verify.Fingerprint());
  EXPECT_EQ(resource::ToJson(back->ToValue()), resource::ToJson(spec->ToValue()));
}

TEST(ApplicationTest, SourceVerifyErrorsNameTheField) {
  AppSpec parent{.name = "root", .repo = "r"};
  for (const auto& [verify, want] : std::vector<std::pair<std::string, std::string>>{
           {"{mode: branch, keys: [{ssh: x}]}", "spec.source.verify.mode must be head or tag"},
           {"{mode: head}", "spec.source.verify.keys must list at least one key"},
           {"{keys: [{gpg: x}]}", "spec.source.verify.keys[0] must be"},
           {"{keys: [{pgp: not-armored}]}", "spec.source.verify.keys[0].pgp must be"}}) {
    auto spec = AppSpecFromResource(
        Parse("apiVersion: plumbline.dev/v1\nkind: Application\nmetadata: {name: web}\n"
              "spec:\n  source:\n    path: p\n    verify: " +
              verify + "\n"),
        parent);
    ASSERT_FALSE(spec.ok()) << verify;
    EXPECT_NE(spec.status().message().find(want), std::string::npos) << spec.status().message();
    EXPECT_NE(spec.status().message().find("apps.yaml:1"), std::string::npos);
  }
}

TEST(ApplicationTest, ChildOnTheParentsBranchInheritsVerify) {
  AppSpec parent{.name = "root", .repo = "r", .branch = "main"};
  parent.verify.mode = "head";
  parent.verify.keys = {{source::TrustedKey::Type::kSsh, "ssh-ed25519 AAAA alice"}};
  auto same = AppSpecFromResource(Parse(R"(apiVersion: plumbline.dev/v1
kind: Application
metadata: {name: web}
spec: {source: {path: web}}
)"),
                                  parent);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->verify.Fingerprint(), parent.verify.Fingerprint());
  auto other = AppSpecFromResource(Parse(R"(apiVersion: plumbline.dev/v1
kind: Application
metadata: {name: web}
spec: {source: {path: web, repo: elsewhere}}
)"),
                                   parent);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->verify.enabled());
}

TEST(ApplicationTest, TrustedKeyFileIsPgpWhenArmored) {
  EXPECT_EQ(TrustedKeyFromText("-----BEGIN PGP PUBLIC KEY BLOCK-----\nx\n").type,
            source::TrustedKey::Type::kPgp);
  EXPECT_EQ(TrustedKeyFromText("# ops\nssh-ed25519 AAAA alice\n").type,
            source::TrustedKey::Type::kSsh);
}

TEST(ApplicationTest, ScanPolicyDefaultsToBlockAndRoundTrips) {
  AppSpec parent{.name = "root", .repo = "r"};
  auto plain = AppSpecFromResource(
      Parse("apiVersion: plumbline.dev/v1\nkind: Application\nmetadata: {name: web}\n"
            "spec: {source: {path: web}}\n"),
      parent);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(plain->scan_policy, "block");
  auto warn = AppSpecFromResource(
      Parse("apiVersion: plumbline.dev/v1\nkind: Application\nmetadata: {name: web}\n"
            "spec: {source: {path: web}, scan: {policy: warn}}\n"),
      parent);
  ASSERT_TRUE(warn.ok()) << warn.status().ToString();
  EXPECT_EQ(warn->scan_policy, "warn");
  auto back = AppSpec::FromValue(warn->ToValue());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->scan_policy, "warn");
  auto bad = AppSpecFromResource(
      Parse("apiVersion: plumbline.dev/v1\nkind: Application\nmetadata: {name: web}\n"
            "spec: {source: {path: web}, scan: {policy: loud}}\n"),
      parent);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("spec.scan.policy must be block, warn or off, not loud"),
            std::string::npos)
      << bad.status().message();
}

}  // namespace
}  // namespace plumb::engine
