#include "secrets/keys.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <ctime>

namespace plumb::secrets {
namespace {

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;

std::shared_ptr<EVP_PKEY> Own(EVP_PKEY* key) {
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

// The reason of the oldest queued OpenSSL error; clears the queue so that it does not leak
// into an unrelated later call.
std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  const char* reason = ERR_reason_error_string(e);
  return reason != nullptr ? reason : "OpenSSL error " + std::to_string(e);
}

Bio ReadBio(std::string_view text) {
  return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), BIO_free);
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

// An encrypted key would otherwise make OpenSSL ask on the operator's terminal.
int NoPassphrase(char*, int, int, void*) { return -1; }

bool AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

}  // namespace

Result<PublicKey> PublicKey::FromPem(std::string_view pem) {
  Bio bio = ReadBio(pem);
  if (!bio) return Internal("cannot allocate a memory BIO");
  EVP_PKEY* key = nullptr;
  if (pem.find("-----BEGIN CERTIFICATE-----") != std::string_view::npos) {
    Cert cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr), X509_free);
    if (cert) key = X509_get_pubkey(cert.get());
  } else {
    key = PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassphrase, nullptr);
  }
  if (key == nullptr) {
    return InvalidArgument("not a PEM public key or certificate: " + OpenSslError());
  }
  std::shared_ptr<EVP_PKEY> owned = Own(key);
  if (!EVP_PKEY_is_a(key, "RSA")) return InvalidArgument("the public key is not an RSA key");
  return PublicKey(std::move(owned));
}

std::string PublicKey::ToPem() const {
  Bio bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) return "";
  return BioText(bio.get());
}

int PublicKey::bits() const { return EVP_PKEY_get_bits(key_.get()); }

Result<PrivateKey> PrivateKey::Generate(int bits) {
  if (bits < 2048) return InvalidArgument("RSA keys need at least 2048 bits");
  EVP_PKEY* key = EVP_RSA_gen(static_cast<unsigned int>(bits));
  if (key == nullptr) return Internal("generating an RSA key: " + OpenSslError());
  return PrivateKey(Own(key));
}

Result<PrivateKey> PrivateKey::FromPem(std::string_view pem) {
  Bio bio = ReadBio(pem);
  if (!bio) return Internal("cannot allocate a memory BIO");
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr);
  if (key == nullptr) {
    return InvalidArgument("not an unencrypted PEM private key: " + OpenSslError());
  }
  std::shared_ptr<EVP_PKEY> owned = Own(key);
  if (!EVP_PKEY_is_a(key, "RSA")) return InvalidArgument("the private key is not an RSA key");
  return PrivateKey(std::move(owned));
}

std::string PrivateKey::ToPem() const {
  Bio bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || PEM_write_bio_PrivateKey_traditional(bio.get(), key_.get(), nullptr, nullptr, 0,
                                                   nullptr, nullptr) != 1) {
    return "";
  }
  return BioText(bio.get());
}

PublicKey PrivateKey::public_key() const {
  // A separate object holding only the public half, so a PublicKey never carries the
  // private key along.
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(key_.get(), &der);
  const unsigned char* p = der;
  EVP_PKEY* pub = n > 0 ? d2i_PUBKEY(nullptr, &p, n) : nullptr;
  OPENSSL_free(der);
  if (pub == nullptr) abort();  // encoding our own valid key cannot fail but for memory
  return PublicKey(Own(pub));
}

int PrivateKey::bits() const { return EVP_PKEY_get_bits(key_.get()); }

Result<std::string> PrivateKey::SelfSignedCertificatePem(const CertificateOptions& options) const {
  Cert cert(X509_new(), X509_free);
  if (!cert) return Internal("cannot allocate a certificate");
  time_t start = options.not_before_unix != 0 ? static_cast<time_t>(options.not_before_unix)
                                              : std::time(nullptr);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> serial(BN_new(), BN_free);
  bool ok = serial && X509_set_version(cert.get(), 2) == 1 &&
            BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
            BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) != nullptr &&
            X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, 0, &start) != nullptr &&
            X509_time_adj_ex(X509_getm_notAfter(cert.get()), options.validity_days, 0, &start) !=
                nullptr &&
            X509_set_pubkey(cert.get(), key_.get()) == 1;
  X509_NAME* name = X509_get_subject_name(cert.get());
  ok = ok &&
       X509_NAME_add_entry_by_txt(
           name, "CN", MBSTRING_UTF8,
           reinterpret_cast<const unsigned char*>(options.common_name.c_str()), -1, -1, 0) == 1 &&
       X509_set_issuer_name(cert.get(), name) == 1 &&
       AddExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE") &&
       AddExtension(cert.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
       AddExtension(cert.get(), NID_subject_key_identifier, "hash") &&
       X509_sign(cert.get(), key_.get(), EVP_sha256()) > 0;
  if (!ok) return Internal("making the certificate: " + OpenSslError());
  Bio bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || PEM_write_bio_X509(bio.get(), cert.get()) != 1) {
    return Internal("encoding the certificate: " + OpenSslError());
  }
  return BioText(bio.get());
}

}  // namespace plumb::secrets
