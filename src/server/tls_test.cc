#include "server/tls.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstring>
#include <memory>

#include "core/fs.h"

namespace plumb::server {
namespace {

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = fs::MakeTempDir("plumb-tls-test");
    ASSERT_TRUE(d.ok());
    dir_ = fs::TempDir(*d);
    ctx_ = SSL_CTX_new(TLS_server_method());
    ASSERT_NE(ctx_, nullptr);
  }
  void TearDown() override { SSL_CTX_free(ctx_); }

  // Writes a new P-256 key to DIR/name.key (encrypted with `passphrase` when given) and
  // a self-signed certificate for it to DIR/name.crt; returns the directory's path prefix.
  std::string MakePair(const std::string& name, const char* passphrase = nullptr) {
    Key key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* subject = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), subject);
    X509_sign(cert.get(), key.get(), EVP_sha256());
    std::string base = dir_.path() + "/" + name;
    BIO* crt = BIO_new_file((base + ".crt").c_str(), "w");
    PEM_write_bio_X509(crt, cert.get());
    BIO_free(crt);
    BIO* pem = BIO_new_file((base + ".key").c_str(), "w");
    auto* pass = reinterpret_cast<const unsigned char*>(passphrase);
    PEM_write_bio_PrivateKey(pem, key.get(), passphrase ? EVP_aes_256_cbc() : nullptr, pass,
                             passphrase ? static_cast<int>(strlen(passphrase)) : 0, nullptr,
                             nullptr);
    BIO_free(pem);
    return base;
  }

  fs::TempDir dir_;
  SSL_CTX* ctx_ = nullptr;
};

TEST_F(TlsTest, LoadsAMatchingPair) {
  std::string a = MakePair("a");
  Status s = ConfigureTls(ctx_, a + ".crt", a + ".key");
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx_), TLS1_2_VERSION);
}

TEST_F(TlsTest, ErrorsNameTheFile) {
  std::string a = MakePair("a");
  std::string b = MakePair("b");
  Status missing = ConfigureTls(ctx_, dir_.path() + "/none.crt", a + ".key");
  EXPECT_EQ(missing.code(), Code::kInvalidArgument);
  EXPECT_NE(missing.message().find("--tls-cert: cannot read " + dir_.path() + "/none.crt"),
            std::string::npos)
      << missing.message();

  ASSERT_TRUE(fs::WriteFileAtomic(dir_.path() + "/junk.pem", "not pem\n").ok());
  Status junk_cert = ConfigureTls(ctx_, dir_.path() + "/junk.pem", a + ".key");
  EXPECT_NE(junk_cert.message().find("--tls-cert: " + dir_.path() + "/junk.pem is not a PEM"),
            std::string::npos)
      << junk_cert.message();
  Status junk_key = ConfigureTls(ctx_, a + ".crt", dir_.path() + "/junk.pem");
  EXPECT_NE(junk_key.message().find("--tls-key: " + dir_.path() + "/junk.pem is not an "),
            std::string::npos)
      << junk_key.message();

  Status mismatch = ConfigureTls(ctx_, a + ".crt", b + ".key");
  EXPECT_EQ(mismatch.code(), Code::kInvalidArgument);
  EXPECT_EQ(mismatch.message(),
            "--tls-key: " + b + ".key is not the private key of the certificate in " + a + ".crt");
}

TEST_F(TlsTest, AnEncryptedKeyIsRefusedWithoutAPrompt) {
  std::string c = MakePair("c", "passphrase");
  Status s = ConfigureTls(ctx_, c + ".crt", c + ".key");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("is not an unencrypted PEM private key"), std::string::npos)
      << s.message();
}

}  // namespace
}  // namespace plumb::server
