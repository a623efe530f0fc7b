#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/strings.h"
#include "secrets/keys.h"
#include "secrets/sealed.h"

namespace plumb::secrets {
namespace {

// RSA-2048 keeps the suite fast; the format does not depend on the key size.
constexpr int kTestBits = 2048;

std::string Hex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string Raw(const std::string& b64) {
  std::string raw;
  EXPECT_TRUE(Base64Decode(b64, &raw));
  return raw;
}

std::string ReadTestdata(const std::string& name) {
  const char* src = std::getenv("PLUMB_SOURCE_DIR");
  std::string path = std::string(src != nullptr ? src : ".") + "/src/secrets/testdata/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class SealedTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    key_ = new PrivateKey(PrivateKey::Generate(kTestBits).value());
    other_key_ = new PrivateKey(PrivateKey::Generate(kTestBits).value());
  }
  static void TearDownTestSuite() {
    delete key_;
    delete other_key_;
  }
  static std::string Seal(std::string_view label, std::string_view plaintext) {
    return SealValue(key_->public_key(), label, plaintext).value();
  }
  static Status UnsealStatus(const std::string& b64, std::string_view label = "prod/db") {
    return UnsealValue(*key_, label, b64).status();
  }
  static PrivateKey* key_;
  static PrivateKey* other_key_;
};
PrivateKey* SealedTest::key_ = nullptr;
PrivateKey* SealedTest::other_key_ = nullptr;

TEST(ScopeLabelTest, MatchesBitnamiLabels) {
  EXPECT_EQ(ScopeLabel(Scope::kStrict, "prod", "db"), "prod/db");
  EXPECT_EQ(ScopeLabel(Scope::kNamespaceWide, "prod", "db"), "prod");
  EXPECT_EQ(ScopeLabel(Scope::kClusterWide, "prod", "db"), "");
}

TEST_F(SealedTest, RoundTripsAtEveryScope) {
  for (Scope scope : {Scope::kStrict, Scope::kNamespaceWide, Scope::kClusterWide}) {
    std::string label = ScopeLabel(scope, "prod", "db");
    for (std::string plaintext : {std::string(""), std::string("p4ssw0rd"),
                                  std::string("\0binary\xff\n", 9), std::string(100000, 'x')}) {
      std::string sealed = Seal(label, plaintext);
      auto back = UnsealValue(*key_, label, sealed);
      ASSERT_TRUE(back.ok()) << back.status().ToString();
      EXPECT_EQ(*back, plaintext);
    }
  }
}

TEST_F(SealedTest, EachSealIsDifferent) {
  EXPECT_NE(Seal("prod/db", "same"), Seal("prod/db", "same"));
}

TEST_F(SealedTest, LayoutIsLengthRsaCiphertextGcmCiphertextTag) {
  std::string raw = Raw(Seal("prod/db", "p4ssw0rd"));
  ASSERT_GE(raw.size(), 2u);
  size_t rsa_len = (static_cast<unsigned char>(raw[0]) << 8) | static_cast<unsigned char>(raw[1]);
  EXPECT_EQ(rsa_len, kTestBits / 8u);
  EXPECT_EQ(raw.size(), 2 + rsa_len + 8 + 16);
}

TEST_F(SealedTest, StrictValueMovedElsewhereDoesNotUnseal) {
  std::string sealed = Seal(ScopeLabel(Scope::kStrict, "prod", "db"), "p4ssw0rd");
  for (std::string label :
       {ScopeLabel(Scope::kStrict, "prod", "cache"), ScopeLabel(Scope::kStrict, "staging", "db"),
        ScopeLabel(Scope::kNamespaceWide, "prod", "db"),
        ScopeLabel(Scope::kClusterWide, "prod", "db")}) {
    auto r = UnsealValue(*key_, label, sealed);
    ASSERT_FALSE(r.ok()) << label;
    EXPECT_NE(r.status().message().find("does not unseal"), std::string::npos);
  }
}

TEST_F(SealedTest, NamespaceWideValueUnsealsOnlyInItsNamespace) {
  std::string sealed = Seal(ScopeLabel(Scope::kNamespaceWide, "prod", ""), "v");
  EXPECT_TRUE(UnsealValue(*key_, ScopeLabel(Scope::kNamespaceWide, "prod", "any"), sealed).ok());
  EXPECT_FALSE(UnsealValue(*key_, ScopeLabel(Scope::kNamespaceWide, "dev", "any"), sealed).ok());
}

TEST_F(SealedTest, AFlippedBitAnywhereIsRefused) {
  const std::string plaintext = "top secret plaintext";
  std::string raw = Raw(Seal("prod/db", plaintext));
  // Every byte: the length, the RSA ciphertext, the GCM body and the tag.
  for (size_t i = 0; i < raw.size(); ++i) {
    std::string tampered = raw;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    auto r = UnsealValue(*key_, "prod/db", Base64Encode(tampered));
    ASSERT_FALSE(r.ok()) << "byte " << i;
    EXPECT_EQ(r.status().message().find(plaintext), std::string::npos);
  }
}

TEST_F(SealedTest, TruncatedGarbageAndEmptyInputsAreRefused) {
  std::string raw = Raw(Seal("prod/db", "p4ssw0rd"));
  for (size_t n = 0; n < raw.size(); ++n) {
    EXPECT_FALSE(UnsealStatus(Base64Encode(raw.substr(0, n))).ok()) << n;
  }
  EXPECT_FALSE(UnsealStatus(Base64Encode(raw + "extra")).ok());
  EXPECT_FALSE(UnsealStatus("").ok());
  EXPECT_FALSE(UnsealStatus("not base64 !!!").ok());
  EXPECT_FALSE(UnsealStatus("AAAA").ok());
  EXPECT_FALSE(UnsealStatus(Base64Encode(std::string("\xff\xff") + std::string(70000, 'a'))).ok());
  EXPECT_FALSE(UnsealStatus(Base64Encode(std::string("\x00\x00", 2) + std::string(40, 'a'))).ok());
  Status s = UnsealStatus("not base64 !!!");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("base64"), std::string::npos);
}

TEST_F(SealedTest, WhitespaceInTheBase64IsIgnored) {
  std::string sealed = Seal("prod/db", "p4ssw0rd");
  std::string wrapped = sealed.substr(0, 60) + "\n  " + sealed.substr(60);
  auto r = UnsealValue(*key_, "prod/db", wrapped);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "p4ssw0rd");
}

TEST_F(SealedTest, AnotherKeyPairCannotUnseal) {
  std::string sealed = Seal("prod/db", "p4ssw0rd");
  auto r = UnsealValue(*other_key_, "prod/db", sealed);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "does not unseal: wrong key or scope, or tampered");
}

// The GCM part of a value sealed with a fixed session key, checked byte for byte against
// Python `cryptography`:
//   AESGCM(bytes(range(32))).encrypt(bytes(12), b"correct horse battery staple", None).hex()
TEST_F(SealedTest, FixedSessionKeyVector) {
  std::string session_key;
  for (int i = 0; i < 32; ++i) session_key += static_cast<char>(i);
  struct Vector {
    std::string plaintext;
    std::string gcm_hex;
  };
  const std::vector<Vector> vectors = {
      {"correct horse battery staple",
       "6dd3c7acd04ff79d60c7db467d0cf3f8a637332151a1135be1eedfe65b38dc223f68868e6cb0869b866ceb1d"},
      {"", "f05d76ae4ab99fe5a6f69b3148c2363d"},
  };
  for (const auto& v : vectors) {
    auto sealed =
        internal::SealValueWithSessionKey(key_->public_key(), "prod/db", v.plaintext, session_key);
    ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
    std::string raw = Raw(*sealed);
    size_t rsa_len = (static_cast<unsigned char>(raw[0]) << 8) | static_cast<unsigned char>(raw[1]);
    ASSERT_EQ(rsa_len, kTestBits / 8u);
    EXPECT_EQ(Hex(raw.substr(2 + rsa_len)), v.gcm_hex);
    // The RSA part is checked by unsealing: it must carry exactly this session key.
    auto back = UnsealValue(*key_, "prod/db", *sealed);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, v.plaintext);
  }
  EXPECT_FALSE(internal::SealValueWithSessionKey(key_->public_key(), "", "x", "short").ok());
}

// Values sealed by an independent implementation (Python `cryptography`, following
// Bitnami's HybridEncrypt) unseal here, and only under their own label.
TEST(InteropTest, ValuesSealedByPythonUnseal) {
  auto key = PrivateKey::FromPem(ReadTestdata("python_key.pem"));
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  std::istringstream lines(ReadTestdata("python_sealed.txt"));
  std::string line;
  int checked = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t t1 = line.find('\t');
    size_t t2 = line.find('\t', t1 + 1);
    ASSERT_NE(t2, std::string::npos) << line;
    std::string label = line.substr(0, t1);
    std::string plaintext = line.substr(t1 + 1, t2 - t1 - 1);
    std::string sealed = line.substr(t2 + 1);
    auto r = UnsealValue(*key, label, sealed);
    ASSERT_TRUE(r.ok()) << label << ": " << r.status().ToString();
    EXPECT_EQ(*r, plaintext);
    EXPECT_FALSE(UnsealValue(*key, label + "x", sealed).ok());
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

TEST_F(SealedTest, PrivateKeyPemRoundTrip) {
  std::string pem = key_->ToPem();
  EXPECT_EQ(pem.rfind("-----BEGIN RSA PRIVATE KEY-----", 0), 0u);
  auto back = PrivateKey::FromPem(pem);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->ToPem(), pem);
  EXPECT_EQ(back->bits(), kTestBits);
  auto r = UnsealValue(*back, "prod/db", Seal("prod/db", "p4ssw0rd"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "p4ssw0rd");
}

TEST_F(SealedTest, PublicKeyPemRoundTrip) {
  std::string pem = key_->public_key().ToPem();
  EXPECT_EQ(pem.rfind("-----BEGIN PUBLIC KEY-----", 0), 0u);
  auto pub = PublicKey::FromPem(pem);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_EQ(pub->ToPem(), pem);
  EXPECT_EQ(pub->bits(), kTestBits);
  auto sealed = SealValue(*pub, "", "v");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(*UnsealValue(*key_, "", *sealed), "v");
}

TEST_F(SealedTest, CertificateCarriesThePublicKey) {
  auto cert = key_->SelfSignedCertificatePem({.not_before_unix = 1767225600});  // 2026-01-01
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  EXPECT_EQ(cert->rfind("-----BEGIN CERTIFICATE-----", 0), 0u);
  auto pub = PublicKey::FromPem(*cert);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_EQ(pub->ToPem(), key_->public_key().ToPem());
  auto sealed = SealValue(*pub, "prod/db", "from the certificate");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(*UnsealValue(*key_, "prod/db", *sealed), "from the certificate");
  EXPECT_FALSE(UnsealValue(*other_key_, "prod/db", *sealed).ok());
}

TEST(KeysTest, BadPemIsRefused) {
  EXPECT_EQ(PrivateKey::FromPem("").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(PrivateKey::FromPem("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n").status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(PublicKey::FromPem("garbage").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(PublicKey::FromPem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .status()
                .code(),
            Code::kInvalidArgument);
  EXPECT_EQ(PrivateKey::Generate(1024).status().code(), Code::kInvalidArgument);
}

TEST(KeysTest, PublicKeyDoesNotReadAPrivateKey) {
  // A private key is not a public key: a mix-up in key files must not go unnoticed.
  auto key = PrivateKey::FromPem(ReadTestdata("python_key.pem"));
  ASSERT_TRUE(key.ok());
  EXPECT_FALSE(PublicKey::FromPem(key->ToPem()).ok());
}

}  // namespace
}  // namespace plumb::secrets
