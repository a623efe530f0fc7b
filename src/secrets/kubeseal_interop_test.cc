// Interoperability with an independent Sealed Secrets encryptor: @linode/kubeseal-encrypt
// (npm, installed into tests/npm by `make test`) seals with the certificate our KeyStore
// serves, and we unseal. A missing node or package fails the test: it never passes by
// skipping.
#include <gtest/gtest.h>

#include <cstdlib>

#include "core/fs.h"
#include "core/strings.h"
#include "core/subprocess.h"
#include "resource/codec.h"
#include "resource/resource.h"
#include "secrets/keystore.h"
#include "secrets/sealed_secret.h"

namespace plumb::secrets {
namespace {

using resource::Value;

std::string NpmDir() {
  const char* src = std::getenv("PLUMB_SOURCE_DIR");
  return std::string(src != nullptr ? src : ".") + "/tests/npm";
}

// Runs the npm package on `values`; returns {"namespace-wide": {...}, "strict": {...}}.
Value SealWithKubesealEncrypt(const std::string& cert_file, const std::string& ns,
                              const std::string& name, const Value& values) {
  Value input = Value::EmptyObject();
  input.Set("namespace", ns);
  input.Set("name", name);
  input.Set("values", values);
  auto run = RunSubprocess({"node", NpmDir() + "/kubeseal_encrypt.cjs", cert_file},
                           {.working_dir = NpmDir(), .stdin_data = resource::ToJson(input)});
  EXPECT_TRUE(run.ok()) << "cannot run node (install Debian's nodejs): " << run.status().ToString();
  if (!run.ok()) return Value();
  EXPECT_EQ(run->exit_code, 0) << run->err
                               << "\n(is @linode/kubeseal-encrypt installed? `make test` runs "
                                  "`npm ci` in tests/npm)";
  auto out = resource::ParseJson(run->out, "kubeseal_encrypt.cjs output");
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? *out : Value();
}

Value SealedManifest(const std::string& ns, const std::string& name, const Value& encrypted,
                     Scope scope) {
  Value m = Value::EmptyObject();
  m.Set("apiVersion", kSealedSecretApiVersion);
  m.Set("kind", "SealedSecret");
  Value& meta = m.Set("metadata", Value::EmptyObject());
  meta.Set("name", name);
  meta.Set("namespace", ns);
  if (scope == Scope::kNamespaceWide) {
    meta.Set("annotations", Value::EmptyObject()).Set(kNamespaceWideAnnotation, "true");
  }
  m.Set("spec", Value::EmptyObject()).Set("encryptedData", encrypted);
  return m;
}

TEST(KubesealInteropTest, WeUnsealWhatKubesealEncryptSealsWithOurCertificate) {
  fs::TempDir tmp(fs::MakeTempDir("kubeseal-interop-").value());
  auto store = KeyStore::Open(tmp.path() + "/keys");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->Init(2048).ok());
  std::string cert_file = tmp.path() + "/cert.pem";
  ASSERT_TRUE(fs::WriteFileAtomic(cert_file, (*store)->CertificatePem().value()).ok());

  Value values = Value::EmptyObject();
  values.Set("password", "p4ss w0rd");
  values.Set("utf8", "h\xc3\xa9llo \xe2\x9c\x93");
  values.Set("empty", "");
  Value sealed = SealWithKubesealEncrypt(cert_file, "prod", "db", values);
  ASSERT_TRUE(sealed.is_object());

  const auto keys = (*store)->Current()->sealing;
  for (auto [scope, field] :
       {std::pair{Scope::kStrict, "strict"}, std::pair{Scope::kNamespaceWide, "namespace-wide"}}) {
    SCOPED_TRACE(field);
    const Value* enc = sealed.Find(field);
    ASSERT_NE(enc, nullptr);
    auto secret = UnsealSealedSecret(SealedManifest("prod", "db", *enc, scope), keys, "v1");
    ASSERT_TRUE(secret.ok()) << secret.status().ToString();
    for (const auto& [k, v] : values.as_object()) {
      auto got = resource::SecretValue(*secret, k);
      ASSERT_TRUE(got.ok()) << k;
      EXPECT_EQ(*got, v.as_string()) << k;
    }
  }
  // Strict values are bound to the name: moved, they do not unseal.
  auto moved = UnsealSealedSecret(
      SealedManifest("prod", "other", *sealed.Find("strict"), Scope::kStrict), keys, "v1");
  EXPECT_FALSE(moved.ok());
}

}  // namespace
}  // namespace plumb::secrets
