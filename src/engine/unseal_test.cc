#include "engine/unseal.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "resource/codec.h"
#include "secrets/keystore.h"
#include "secrets/sealed_secret.h"

namespace plumb::engine {
namespace {

using resource::Resource;
using resource::Value;

Resource Parse(const std::string& yaml, const std::string& file = "x.yaml") {
  auto docs = resource::ParseYaml(yaml, file);
  EXPECT_TRUE(docs.ok()) << docs.status().message();
  auto r = Resource::FromValue((*docs)[0].value, {file, 1});
  EXPECT_TRUE(r.ok()) << r.status().message();
  return *r;
}

const secrets::PrivateKey& Key() {
  static secrets::PrivateKey k = *secrets::PrivateKey::Generate(2048);
  return k;
}

constexpr const char* kSecret = R"(apiVersion: local.plumbline.dev/v1
kind: Secret
metadata:
  name: creds
  labels: {app: web}
stringData:
  password: hunter2-planted
)";

Resource Sealed(const std::string& secret_yaml = kSecret) {
  Resource plain = Parse(secret_yaml);
  auto sealed = secrets::SealSecret(plain.body(), Key().public_key(), secrets::Scope::kStrict);
  EXPECT_TRUE(sealed.ok()) << sealed.status().message();
  auto r = Resource::FromValue(*sealed, {"sealed.yaml", 3});
  EXPECT_TRUE(r.ok()) << r.status().message();
  return *r;
}

TEST(Unseal, SealedSecretBecomesTheLocalSecretItDescribes) {
  secrets::KeySet keys;
  keys.sealing.push_back(Key());
  UnsealOutput out = Unseal({Sealed()}, {.keys = &keys});
  ASSERT_TRUE(out.errors.empty()) << out.errors.begin()->second;
  ASSERT_EQ(out.resources.size(), 1u);
  const Resource& s = out.resources[0];
  EXPECT_EQ(s.api_version(), "local.plumbline.dev/v1");
  EXPECT_EQ(s.id().kind, "Secret");
  EXPECT_EQ(s.id().name, "creds");
  // kubeseal records `default` for a Secret without a namespace; on the local runtime
  // that is no namespace, so a File's fromSecret {name: creds} finds it.
  EXPECT_EQ(s.id().ns, "");
  EXPECT_EQ(s.body().FindPath({"metadata", "namespace"}), nullptr);
  EXPECT_EQ(s.origin().ToString(), "sealed.yaml:3");
  EXPECT_EQ(*resource::SecretValue(s.body(), "password"), "hunter2-planted");
  EXPECT_EQ(s.Label("app"), "web");
  EXPECT_EQ(out.unsealed, 1u);
}

TEST(Unseal, ANamedNamespaceIsKept) {
  secrets::KeySet keys;
  keys.sealing.push_back(Key());
  std::string yaml = kSecret;
  yaml.replace(yaml.find("  name: creds\n"), 13, "  name: creds\n  namespace: prod\n");
  UnsealOutput out = Unseal({Sealed(yaml)}, {.keys = &keys});
  ASSERT_TRUE(out.errors.empty()) << out.errors.begin()->second;
  EXPECT_EQ(out.resources[0].id().ns, "prod");
}

TEST(Unseal, WrongKeyIsAnErrorOnThatResourceOnlyWithoutValues) {
  secrets::KeySet keys;
  keys.sealing.push_back(*secrets::PrivateKey::Generate(2048));  // not the sealing key
  Resource other = Parse(
      "apiVersion: local.plumbline.dev/v1\nkind: File\nmetadata: {name: f}\n"
      "spec: {path: /tmp/x, content: hi}\n");
  UnsealOutput out = Unseal({Sealed(), other}, {.keys = &keys});
  ASSERT_EQ(out.resources.size(), 2u);
  ASSERT_EQ(out.errors.size(), 1u);
  const auto& [key, msg] = *out.errors.begin();
  EXPECT_EQ(key, out.resources[0].id().Key());
  EXPECT_NE(msg.find("sealed.yaml:3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not unseal"), std::string::npos) << msg;
  // The placeholder carries no value at all: the live Secret is left as it is.
  EXPECT_EQ(out.resources[0].body().Find("data"), nullptr);
  EXPECT_EQ(out.resources[0].body().Find("stringData"), nullptr);
  EXPECT_EQ(out.resources[1].id().kind, "File");
}

TEST(Unseal, NoKeysSaysHowToGetThem) {
  UnsealOutput out = Unseal({Sealed()}, {});
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_NE(out.errors.begin()->second.find("plumb keys init"), std::string::npos);
}

TEST(Unseal, RotatedKeysKeepOldValuesWorking) {
  secrets::KeySet keys;
  keys.sealing.push_back(*secrets::PrivateKey::Generate(2048));  // newest
  keys.sealing.push_back(Key());                                 // sealed with this one
  UnsealOutput out = Unseal({Sealed()}, {.keys = &keys});
  EXPECT_TRUE(out.errors.empty());
  EXPECT_EQ(*resource::SecretValue(out.resources[0].body(), "password"), "hunter2-planted");
}

TEST(Unseal, PlaintextSecretInGitIsRefusedUnlessAllowed) {
  Resource plain = Parse(kSecret, "creds.yaml");
  UnsealOutput out = Unseal({plain}, {});
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_NE(out.errors.begin()->second.find("PlaintextSecretInGit"), std::string::npos);
  EXPECT_NE(out.errors.begin()->second.find("creds.yaml:1"), std::string::npos);
  EXPECT_EQ(out.resources[0].body().Find("stringData"), nullptr);
  // Marked, so a File or Process consuming it says it is unavailable, not "no key".
  EXPECT_EQ(out.resources[0].Annotation(resource::kUnavailableAnnotation), "true");
  EXPECT_EQ(out.plaintext.size(), 1u);
  for (const auto& p : out.plaintext) EXPECT_EQ(p.find("hunter2"), std::string::npos);

  UnsealOutput allowed = Unseal({plain}, {.allow_plaintext_secrets = true});
  EXPECT_TRUE(allowed.errors.empty());
  EXPECT_EQ(allowed.plaintext.size(), 1u);
  EXPECT_EQ(*resource::SecretValue(allowed.resources[0].body(), "password"), "hunter2-planted");
}

TEST(Unseal, SopsAgeDocumentDecryptsAndATamperedOneIsRefused) {
  std::ifstream f(PLUMB_SECRETS_TESTDATA "/sops/secret.age.yaml");
  std::stringstream ss;
  ss << f.rdbuf();
  std::ifstream k(PLUMB_SECRETS_TESTDATA "/sops/age.agekey");
  std::stringstream ks;
  ks << k.rdbuf();
  secrets::KeySet keys;
  std::string line;
  while (std::getline(ks, line))
    if (line.rfind("AGE-SECRET-KEY-", 0) == 0) keys.age_identities.push_back(line);
  ASSERT_FALSE(keys.age_identities.empty());
  Resource doc = Parse(ss.str(), "secret.sops.yaml");
  UnsealOutput out = Unseal({doc}, {.keys = &keys});
  ASSERT_TRUE(out.errors.empty()) << out.errors.begin()->second;
  const Resource& s = out.resources[0];
  EXPECT_EQ(s.api_version(), "local.plumbline.dev/v1");  // a core Secret, for this target
  EXPECT_EQ(s.body().Find("sops"), nullptr);
  EXPECT_EQ(*resource::SecretValue(s.body(), "key"), "value");
  EXPECT_TRUE(out.plaintext.empty()) << "SOPS-encrypted in git is not plaintext in git";

  std::string tampered = ss.str();
  size_t at = tampered.find("ENC[AES256_GCM,data:");
  ASSERT_NE(at, std::string::npos);
  at += std::string("ENC[AES256_GCM,data:").size();
  tampered[at] = tampered[at] == 'A' ? 'B' : 'A';
  UnsealOutput bad = Unseal({Parse(tampered, "secret.sops.yaml")}, {.keys = &keys});
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_NE(bad.errors.begin()->second.find("SOPS"), std::string::npos);
  EXPECT_EQ(bad.errors.begin()->second.find("value\""), std::string::npos);
}

TEST(Unseal, ManySealedSecretsUnsealInParallelInOrder) {
  secrets::KeySet keys;
  keys.sealing.push_back(Key());
  std::vector<Resource> in;
  for (int i = 0; i < 12; ++i) {
    std::string yaml = kSecret;
    yaml.replace(yaml.find("name: creds"), 11, "name: c" + std::to_string(i));
    yaml.replace(yaml.find("hunter2-planted"), 15, "v" + std::to_string(i));
    in.push_back(Sealed(yaml));
    if (i % 4 == 0)
      in.push_back(
          Parse("apiVersion: local.plumbline.dev/v1\nkind: ConfigMap\n"
                "metadata: {name: m" +
                std::to_string(i) + "}\n"));
  }
  UnsealOutput out = Unseal(in, {.keys = &keys, .threads = 4});
  ASSERT_TRUE(out.errors.empty()) << out.errors.begin()->second;
  ASSERT_EQ(out.resources.size(), in.size());
  EXPECT_EQ(out.unsealed, 12u);
  int seen = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i].id().kind == "ConfigMap") {
      EXPECT_EQ(out.resources[i].id().name, in[i].id().name);
      continue;
    }
    EXPECT_EQ(out.resources[i].id().name, "c" + std::to_string(seen));
    EXPECT_EQ(*resource::SecretValue(out.resources[i].body(), "password"),
              "v" + std::to_string(seen));
    ++seen;
  }
}

TEST(Unseal, NothingToDoForOrdinaryResources) {
  Resource file = Parse(
      "apiVersion: local.plumbline.dev/v1\nkind: File\nmetadata: {name: f}\n"
      "spec: {path: /tmp/x, content: hi}\n");
  EXPECT_FALSE(NeedsUnseal({file}));
  EXPECT_TRUE(NeedsUnseal({file, Sealed()}));
  // Only a SealedSecret needs the sealing key; a plaintext Secret needs the stage only.
  Resource secret = Parse(
      "apiVersion: local.plumbline.dev/v1\nkind: Secret\nmetadata: {name: s}\n"
      "stringData: {k: v}\n");
  EXPECT_TRUE(NeedsUnseal({file, secret}));
  EXPECT_FALSE(HasSealedSecret({file, secret}));
  EXPECT_TRUE(HasSealedSecret({file, secret, Sealed()}));
}

}  // namespace
}  // namespace plumb::engine
