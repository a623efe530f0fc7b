// secrets: the operator's RSA key pairs for sealed secrets (compatible with Bitnami Sealed
// Secrets): generation, PEM encoding and the self-signed certificate that carries the
// public key, as `kubeseal --fetch-cert` serves it. Anyone with the public key can seal;
// only the holder of the private key can unseal (see sealed.h).
//
// Key objects are immutable after construction, cheap to copy (they share the underlying
// OpenSSL key) and safe to use from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace plumb::secrets {

// RSA-4096, as the Sealed Secrets controller generates by default.
inline constexpr int kDefaultKeyBits = 4096;

class PublicKey {
 public:
  // Reads a PEM "PUBLIC KEY" (SubjectPublicKeyInfo) or a PEM
  // certificate (the public key inside it). InvalidArgument when it is none of these or
  // not an RSA key.
  static Result<PublicKey> FromPem(std::string_view pem);

  // PEM "PUBLIC KEY" (SubjectPublicKeyInfo).
  std::string ToPem() const;
  // Size of the modulus in bits.
  int bits() const;
  // Borrowed; valid as long as this object (or a copy) lives.
  EVP_PKEY* get() const { return key_.get(); }

 private:
  friend class PrivateKey;
  explicit PublicKey(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {}
  std::shared_ptr<EVP_PKEY> key_;
};

struct CertificateOptions {
  std::string common_name = "plumb sealed secrets";
  int validity_days = 3650;     // ten years, as Bitnami's controller does
  int64_t not_before_unix = 0;  // 0: now; tests pass a fixed time
};

class PrivateKey {
 public:
  // A fresh RSA key pair (65537 as exponent). InvalidArgument for bits below 2048.
  static Result<PrivateKey> Generate(int bits = kDefaultKeyBits);
  // Reads an unencrypted PEM private key, PKCS#1 ("RSA PRIVATE KEY", as Bitnami stores
  // tls.key) or PKCS#8 ("PRIVATE KEY"). InvalidArgument when it is not an RSA private key
  // or is encrypted (we never prompt for a passphrase).
  static Result<PrivateKey> FromPem(std::string_view pem);

  // PEM "RSA PRIVATE KEY" (PKCS#1), the form Bitnami's key secrets hold. The caller owns the
  // secret text: write it only to files of mode 0600.
  std::string ToPem() const;
  PublicKey public_key() const;
  int bits() const;
  EVP_PKEY* get() const { return key_.get(); }

  // A self-signed X.509 v3 certificate (SHA-256) for this key's public half, PEM encoded.
  Result<std::string> SelfSignedCertificatePem(const CertificateOptions& options = {}) const;

 private:
  explicit PrivateKey(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {}
  std::shared_ptr<EVP_PKEY> key_;
};

}  // namespace plumb::secrets
