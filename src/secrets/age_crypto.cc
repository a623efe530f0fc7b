#include "secrets/age_crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

namespace plumb::secrets::internal {
namespace {

constexpr size_t kKeyBytes = 32;  // X25519 keys, HKDF outputs, ChaCha20-Poly1305 keys
constexpr size_t kTagBytes = 16;  // Poly1305

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;
using PKeyCtx = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;

}  // namespace

Wiped::~Wiped() { OPENSSL_cleanse(bytes.data(), bytes.size()); }

bool RandomBytes(size_t n, std::string* out) {
  out->assign(n, '\0');
  return RAND_bytes(U(*out), static_cast<int>(n)) == 1;
}

bool HkdfSha256(std::string_view ikm, std::string_view salt, std::string_view info,
                std::string* out) {
  static EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kdf == nullptr) return false;
  std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(EVP_KDF_CTX_new(kdf),
                                                                EVP_KDF_CTX_free);
  if (!ctx) return false;
  OSSL_PARAM params[5];
  OSSL_PARAM* p = params;
  char digest[] = "SHA256";
  *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(ikm.data()),
                                           ikm.size());
  if (!salt.empty()) {
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()),
                                             salt.size());
  }
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()),
                                           info.size());
  *p = OSSL_PARAM_construct_end();
  out->assign(kKeyBytes, '\0');
  return EVP_KDF_derive(ctx.get(), U(*out), out->size(), params) == 1;
}

bool HmacSha256(std::string_view key, std::string_view data, std::string* out) {
  out->assign(32, '\0');
  unsigned int len = 0;
  return HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), U(data), data.size(), U(*out),
              &len) != nullptr &&
         len == 32;
}

bool ChaCha20Poly1305(bool seal, std::string_view key, std::string_view nonce, std::string_view in,
                      std::string* out) {
  if (!seal && in.size() < kTagBytes) return false;
  std::string_view body = seal ? in : in.substr(0, in.size() - kTagBytes);
  if (body.size() > (1u << 30)) return false;
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  if (!ctx ||
      EVP_CipherInit_ex(ctx.get(), EVP_chacha20_poly1305(), nullptr, nullptr, nullptr, seal) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, 12, nullptr) != 1 ||
      EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, U(key), U(nonce), -1) != 1) {
    return false;
  }
  if (!seal) {
    std::string tag(in.substr(body.size()));
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, kTagBytes, tag.data()) != 1) {
      return false;
    }
  }
  std::string buf(body.size() + kTagBytes, '\0');
  int n = 0;
  int total = 0;
  if (!body.empty() &&
      EVP_CipherUpdate(ctx.get(), U(buf), &n, U(body), static_cast<int>(body.size())) != 1) {
    OPENSSL_cleanse(buf.data(), buf.size());
    return false;
  }
  total = n;
  if (EVP_CipherFinal_ex(ctx.get(), U(buf) + total, &n) != 1) {
    OPENSSL_cleanse(buf.data(), buf.size());  // opening decrypts before it checks the tag
    return false;
  }
  total += n;
  if (seal) {
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, kTagBytes, U(buf) + total) != 1) {
      return false;
    }
    total += kTagBytes;
  }
  out->append(buf.data(), static_cast<size_t>(total));
  OPENSSL_cleanse(buf.data(), buf.size());
  return true;
}

const std::string& ZeroNonce() {
  static const std::string* nonce = new std::string(12, '\0');
  return *nonce;
}

std::shared_ptr<EVP_PKEY> X25519Key(std::string_view raw, bool is_private) {
  EVP_PKEY* k = is_private
                    ? EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, U(raw), raw.size())
                    : EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, U(raw), raw.size());
  if (k == nullptr) ERR_clear_error();
  return std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free);
}

std::string X25519PublicKey(EVP_PKEY* key) {
  std::string out(kKeyBytes, '\0');
  size_t len = out.size();
  if (EVP_PKEY_get_raw_public_key(key, U(out), &len) != 1 || len != kKeyBytes) return "";
  return out;
}

bool X25519(EVP_PKEY* ours, std::string_view their_public, std::string* shared) {
  auto peer = X25519Key(their_public, /*is_private=*/false);
  if (!peer) return false;
  PKeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, ours, nullptr), EVP_PKEY_CTX_free);
  size_t len = kKeyBytes;
  shared->assign(kKeyBytes, '\0');
  bool ok = ctx && EVP_PKEY_derive_init(ctx.get()) == 1 &&
            EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) == 1 &&
            EVP_PKEY_derive(ctx.get(), U(*shared), &len) == 1 && len == kKeyBytes;
  ERR_clear_error();
  return ok && *shared != std::string(kKeyBytes, '\0');
}

}  // namespace plumb::secrets::internal
