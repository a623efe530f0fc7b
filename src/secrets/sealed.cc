#include "secrets/sealed.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <memory>

#include "core/strings.h"

namespace plumb::secrets {
namespace {

constexpr size_t kSessionKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

using PKeyCtx = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const char kDoesNotUnseal[] = "does not unseal: wrong key or scope, or tampered";

// Holds a session key or a plaintext and wipes it when it goes.
struct Wiped {
  std::string bytes;
  ~Wiped() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

unsigned char* U(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }
const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// RSA-OAEP with SHA-256 for hash and MGF1 and `label` as OAEP label, as Go's
// rsa.EncryptOAEP(sha256.New(), ...) does.
bool SetOaep(EVP_PKEY_CTX* ctx, std::string_view label) {
  if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) != 1) {
    return false;
  }
  if (label.empty()) return true;
  // set0 takes ownership of an OPENSSL_malloc'ed copy.
  void* copy = OPENSSL_memdup(label.data(), label.size());
  if (copy == nullptr) return false;
  if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, copy, static_cast<int>(label.size())) != 1) {
    OPENSSL_free(copy);
    return false;
  }
  return true;
}

// AES-256-GCM with the all-zero nonce and no AAD. Encrypting appends ciphertext and tag to
// `out`; decrypting takes ciphertext||tag and fails when the tag does not verify.
bool Gcm(bool encrypt, std::string_view key, std::string_view in, std::string* out) {
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  const unsigned char nonce[kNonceBytes] = {};
  if (!ctx ||
      EVP_CipherInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr, encrypt ? 1 : 0) !=
          1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, U(key), nonce, -1) != 1) {
    return false;
  }
  std::string_view body = in;
  if (!encrypt) {
    if (in.size() < kTagBytes) return false;
    body = in.substr(0, in.size() - kTagBytes);
    std::string tag(in.substr(body.size()));
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1) {
      return false;
    }
  }
  // EVP_CipherUpdate takes an int length; values beyond 1 GiB are not secrets.
  if (body.size() > (1u << 30)) return false;
  size_t start = out->size();
  out->resize(start + body.size() + kTagBytes);
  unsigned char* p = U(*out) + start;
  int n = 0;
  int total = 0;
  if (!body.empty() &&
      EVP_CipherUpdate(ctx.get(), p, &n, U(body), static_cast<int>(body.size())) != 1) {
    return false;
  }
  total += n;
  if (EVP_CipherFinal_ex(ctx.get(), p + total, &n) != 1) return false;
  total += n;
  if (encrypt) {
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, p + total) != 1) {
      return false;
    }
    total += kTagBytes;
  }
  out->resize(start + static_cast<size_t>(total));
  return true;
}

}  // namespace

std::string ScopeLabel(Scope scope, std::string_view ns, std::string_view name) {
  switch (scope) {
    case Scope::kStrict:
      return std::string(ns) + "/" + std::string(name);
    case Scope::kNamespaceWide:
      return std::string(ns);
    case Scope::kClusterWide:
      return "";
  }
  return "";
}

Result<std::string> SealValue(const PublicKey& key, std::string_view label,
                              std::string_view plaintext) {
  Wiped session_key{std::string(kSessionKeyBytes, '\0')};
  if (RAND_bytes(U(session_key.bytes), kSessionKeyBytes) != 1) {
    ERR_clear_error();
    return Internal("no random bytes for a session key");
  }
  return internal::SealValueWithSessionKey(key, label, plaintext, session_key.bytes);
}

namespace internal {

Result<std::string> SealValueWithSessionKey(const PublicKey& key, std::string_view label,
                                            std::string_view plaintext,
                                            std::string_view session_key) {
  if (session_key.size() != kSessionKeyBytes) {
    return InvalidArgument("a session key has 32 bytes");
  }
  PKeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr), EVP_PKEY_CTX_free);
  size_t rsa_len = 0;
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 || !SetOaep(ctx.get(), label) ||
      EVP_PKEY_encrypt(ctx.get(), nullptr, &rsa_len, U(session_key), session_key.size()) != 1 ||
      rsa_len > 0xffff) {
    ERR_clear_error();
    return Internal("sealing: RSA-OAEP setup failed");
  }
  std::string out(2 + rsa_len, '\0');
  if (EVP_PKEY_encrypt(ctx.get(), U(out) + 2, &rsa_len, U(session_key), session_key.size()) != 1) {
    ERR_clear_error();
    return Internal("sealing: RSA-OAEP encryption failed");
  }
  out.resize(2 + rsa_len);
  out[0] = static_cast<char>((rsa_len >> 8) & 0xff);
  out[1] = static_cast<char>(rsa_len & 0xff);
  if (!Gcm(/*encrypt=*/true, session_key, plaintext, &out)) {
    ERR_clear_error();
    return Internal("sealing: AES-GCM encryption failed");
  }
  return Base64Encode(out);
}

}  // namespace internal

Result<std::string> UnsealValue(const PrivateKey& key, std::string_view label,
                                std::string_view sealed_base64) {
  std::string raw;
  if (!Base64Decode(sealed_base64, &raw)) return InvalidArgument("sealed value is not base64");
  if (raw.size() < 2) return InvalidArgument("sealed value is too short");
  size_t rsa_len = (static_cast<size_t>(static_cast<unsigned char>(raw[0])) << 8) |
                   static_cast<unsigned char>(raw[1]);
  if (raw.size() < 2 + rsa_len + kTagBytes) {
    return InvalidArgument("sealed value is too short for its RSA length " +
                           std::to_string(rsa_len));
  }
  std::string_view rsa_part = std::string_view(raw).substr(2, rsa_len);
  std::string_view gcm_part = std::string_view(raw).substr(2 + rsa_len);

  PKeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr), EVP_PKEY_CTX_free);
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1 || !SetOaep(ctx.get(), label)) {
    ERR_clear_error();
    return Internal("unsealing: RSA-OAEP setup failed");
  }
  Wiped session_key;
  size_t len = 0;
  if (EVP_PKEY_decrypt(ctx.get(), nullptr, &len, U(rsa_part), rsa_part.size()) != 1) {
    ERR_clear_error();
    return InvalidArgument(kDoesNotUnseal);
  }
  session_key.bytes.resize(len);
  if (EVP_PKEY_decrypt(ctx.get(), U(session_key.bytes), &len, U(rsa_part), rsa_part.size()) != 1 ||
      len != kSessionKeyBytes) {
    ERR_clear_error();
    return InvalidArgument(kDoesNotUnseal);
  }
  session_key.bytes.resize(len);
  std::string plaintext;
  if (!Gcm(/*encrypt=*/false, session_key.bytes, gcm_part, &plaintext)) {
    // GCM decrypts before it checks the tag: wipe what a forged value decrypted to.
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    ERR_clear_error();
    return InvalidArgument(kDoesNotUnseal);
  }
  return plaintext;
}

}  // namespace plumb::secrets
