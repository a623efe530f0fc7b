#include "secrets/sealed_secret.h"

#include <gtest/gtest.h>

#include "core/strings.h"
#include "resource/codec.h"

namespace plumb::secrets {
namespace {

using resource::Value;

constexpr int kTestBits = 2048;

Value Yaml(const std::string& text) {
  auto docs = resource::ParseYaml(text, "test.yaml");
  EXPECT_TRUE(docs.ok()) << docs.status().ToString();
  return docs.ok() && !docs->empty() ? (*docs)[0].value : Value();
}

const char kSecret[] = R"(
apiVersion: v1
kind: Secret
metadata:
  name: db
  labels: {app: web}
  annotations:
    note: kept
    kubectl.kubernetes.io/last-applied-configuration: '{"data":{"password":"c2VjcmV0"}}'
type: Opaque
data:
  password: c2VjcmV0
stringData:
  user: admin
)";

class SealedSecretTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    key_ = new PrivateKey(PrivateKey::Generate(kTestBits).value());
    old_key_ = new PrivateKey(PrivateKey::Generate(kTestBits).value());
  }
  static void TearDownTestSuite() {
    delete key_;
    delete old_key_;
  }
  static Value Seal(const std::string& secret, Scope scope, const PrivateKey& k = *key_) {
    auto s = SealSecret(Yaml(secret), k.public_key(), scope);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : Value();
  }
  static Result<Value> Unseal(const Value& sealed) {
    return UnsealSealedSecret(sealed, {*key_, *old_key_}, "local.plumbline.dev/v1");
  }
  static Value Renamed(Value sealed, const std::string& name, const std::string& ns) {
    Value* meta = sealed.Find("metadata");
    meta->Set("name", name);
    meta->Set("namespace", ns);
    return sealed;
  }
  static PrivateKey* key_;
  static PrivateKey* old_key_;
};
PrivateKey* SealedSecretTest::key_ = nullptr;
PrivateKey* SealedSecretTest::old_key_ = nullptr;

TEST_F(SealedSecretTest, SealsInKubesealsLayout) {
  Value sealed = Seal(kSecret, Scope::kStrict);
  EXPECT_EQ(sealed.GetString("apiVersion"), "bitnami.com/v1alpha1");
  EXPECT_EQ(sealed.GetString("kind"), "SealedSecret");
  EXPECT_EQ(sealed.FindPath({"metadata", "name"})->as_string(), "db");
  EXPECT_EQ(sealed.FindPath({"metadata", "namespace"})->as_string(), "default");
  EXPECT_EQ(sealed.FindPath({"metadata", "annotations"}), nullptr);
  const Value* enc = sealed.FindPath({"spec", "encryptedData"});
  ASSERT_NE(enc, nullptr);
  ASSERT_EQ(enc->size(), 2u);
  EXPECT_EQ(enc->as_object()[0].first, "password");  // sorted
  EXPECT_EQ(enc->as_object()[1].first, "user");
  const Value* tmpl = sealed.FindPath({"spec", "template"});
  EXPECT_EQ(tmpl->GetString("type"), "Opaque");
  EXPECT_EQ(tmpl->FindPath({"metadata", "labels"})->GetString("app"), "web");
  const Value* ann = tmpl->FindPath({"metadata", "annotations"});
  EXPECT_EQ(ann->GetString("note"), "kept");
  EXPECT_EQ(ann->Find("kubectl.kubernetes.io/last-applied-configuration"), nullptr);
  std::string text = resource::ToYaml(sealed);
  EXPECT_EQ(text.find("c2VjcmV0"), std::string::npos);
  EXPECT_EQ(text.find("admin"), std::string::npos);
}

TEST_F(SealedSecretTest, RoundTripsAtEveryScope) {
  for (Scope scope : {Scope::kStrict, Scope::kNamespaceWide, Scope::kClusterWide}) {
    Value sealed = Seal(kSecret, scope);
    EXPECT_EQ(ScopeOf(sealed), scope);
    auto secret = Unseal(sealed);
    ASSERT_TRUE(secret.ok()) << ScopeName(scope) << ": " << secret.status().ToString();
    EXPECT_EQ(secret->GetString("apiVersion"), "local.plumbline.dev/v1");
    EXPECT_EQ(secret->GetString("kind"), "Secret");
    EXPECT_EQ(secret->GetString("type"), "Opaque");
    EXPECT_EQ(secret->FindPath({"metadata", "name"})->as_string(), "db");
    EXPECT_EQ(secret->FindPath({"metadata", "labels"})->GetString("app"), "web");
    EXPECT_EQ(secret->FindPath({"data", "password"})->as_string(), "c2VjcmV0");
    EXPECT_EQ(secret->FindPath({"data", "user"})->as_string(), Base64Encode("admin"));
  }
}

TEST_F(SealedSecretTest, StrictScopeBindsNameAndNamespace) {
  Value sealed = Seal(kSecret, Scope::kStrict);
  for (auto [name, ns] : {std::pair{"other", "default"}, std::pair{"db", "prod"}}) {
    auto moved = Unseal(Renamed(sealed, name, ns));
    ASSERT_FALSE(moved.ok());
    EXPECT_EQ(moved.status().message(),
              std::string("SealedSecret ") + ns + "/" + name +
                  ": key password does not unseal: wrong key or scope, or tampered");
  }
}

TEST_F(SealedSecretTest, NamespaceWideWorksUnderAnotherNameNotAnotherNamespace) {
  Value sealed = Seal(kSecret, Scope::kNamespaceWide);
  EXPECT_TRUE(Unseal(Renamed(sealed, "other", "default")).ok());
  EXPECT_FALSE(Unseal(Renamed(sealed, "db", "prod")).ok());
  Value cluster = Seal(kSecret, Scope::kClusterWide);
  EXPECT_TRUE(Unseal(Renamed(cluster, "x", "y")).ok());
}

TEST_F(SealedSecretTest, TamperedValueIsRefusedWithoutAPartialSecret) {
  Value sealed = Seal(kSecret, Scope::kStrict);
  Value* enc = sealed.Find("spec")->Find("encryptedData");
  std::string raw;
  ASSERT_TRUE(Base64Decode(enc->GetString("user"), &raw));
  raw.back() ^= 1;
  enc->Set("user", Base64Encode(raw));
  auto out = Unseal(sealed);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(),
            "SealedSecret default/db: key user does not unseal: wrong key or scope, or tampered");
  EXPECT_EQ(out.status().message().find("admin"), std::string::npos);
}

TEST_F(SealedSecretTest, TriesEveryKeySoRotatedKeysKeepWorking) {
  Value sealed = Seal(kSecret, Scope::kStrict, *old_key_);
  EXPECT_TRUE(Unseal(sealed).ok());
  auto only_new = UnsealSealedSecret(sealed, {*key_}, "v1");
  EXPECT_FALSE(only_new.ok());
  auto none = UnsealSealedSecret(sealed, {}, "v1");
  EXPECT_EQ(none.status().code(), Code::kFailedPrecondition);
}

TEST_F(SealedSecretTest, ResealMovesEveryValueToTheNewestKeyKeepingScope) {
  Value sealed = Seal(kSecret, Scope::kNamespaceWide, *old_key_);
  auto resealed = ResealSealedSecret(sealed, {*key_, *old_key_}, key_->public_key());
  ASSERT_TRUE(resealed.ok()) << resealed.status().ToString();
  EXPECT_EQ(ScopeOf(*resealed), Scope::kNamespaceWide);
  auto secret = UnsealSealedSecret(Renamed(*resealed, "other", "default"), {*key_}, "v1");
  ASSERT_TRUE(secret.ok()) << secret.status().ToString();
  EXPECT_EQ(secret->FindPath({"data", "password"})->as_string(), "c2VjcmV0");
  EXPECT_EQ(*resealed->FindPath({"spec", "template"}), *sealed.FindPath({"spec", "template"}));
}

TEST_F(SealedSecretTest, MergeIntoAddsAndReplacesKeysAtTheSealedScope) {
  Value sealed = Seal(kSecret, Scope::kNamespaceWide);
  Value extra = Yaml(R"(
apiVersion: v1
kind: Secret
metadata: {name: ignored}
stringData: {user: root, token: t0k})");
  auto merged = MergeIntoSealed(sealed, extra, key_->public_key());
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ(merged->FindPath({"metadata", "name"})->as_string(), "db");
  auto secret = Unseal(Renamed(*merged, "any", "default"));
  ASSERT_TRUE(secret.ok()) << secret.status().ToString();
  const Value* data = secret->Find("data");
  EXPECT_EQ(data->size(), 3u);
  EXPECT_EQ(data->GetString("user"), Base64Encode("root"));
  EXPECT_EQ(data->GetString("token"), Base64Encode("t0k"));
  EXPECT_EQ(data->GetString("password"), "c2VjcmV0");
}

TEST_F(SealedSecretTest, ReadsTheOlderWholeSecretForm) {
  std::string json = R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"db",)"
                     R"("namespace":"prod"},"type":"Opaque","data":{"k":"dg=="}})";
  Value sealed = Yaml(R"(
apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata: {name: db, namespace: prod}
spec: {})");
  sealed.Find("spec")->Set("data", SealValue(key_->public_key(), "prod/db", json).value());
  auto secret = Unseal(sealed);
  ASSERT_TRUE(secret.ok()) << secret.status().ToString();
  EXPECT_EQ(secret->FindPath({"data", "k"})->as_string(), "dg==");
  EXPECT_EQ(secret->GetString("type"), "Opaque");
  auto resealed = ResealSealedSecret(sealed, {*key_}, key_->public_key());
  ASSERT_TRUE(resealed.ok()) << resealed.status().ToString();
  EXPECT_EQ(resealed->FindPath({"spec", "data"}), nullptr);
  EXPECT_EQ(Unseal(*resealed)->FindPath({"data", "k"})->as_string(), "dg==");
}

TEST_F(SealedSecretTest, RefusesWhatIsNotASecret) {
  auto not_secret = SealSecret(Yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"),
                               key_->public_key(), Scope::kStrict);
  EXPECT_EQ(not_secret.status().code(), Code::kInvalidArgument);
  EXPECT_NE(not_secret.status().message().find("kind \"ConfigMap\": expected a Secret"),
            std::string::npos)
      << not_secret.status().message();
  auto no_name = SealSecret(Yaml("apiVersion: v1\nkind: Secret\nstringData: {a: b}\n"),
                            key_->public_key(), Scope::kStrict);
  EXPECT_NE(no_name.status().message().find("metadata.name"), std::string::npos);
  auto bad_b64 =
      SealSecret(Yaml("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ndata: {k: '%%%'}\n"),
                 key_->public_key(), Scope::kStrict);
  EXPECT_EQ(bad_b64.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseScope("wide").status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace plumb::secrets
