#include "target/local/row_cipher.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <memory>

#include "core/strings.h"

namespace plumb::target::local {
namespace {

constexpr std::string_view kPrefix = "enc1:";
constexpr size_t kKeyBytes = 32, kNonceBytes = 12, kTagBytes = 16;

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* Bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

}  // namespace

Result<RowCipher> RowCipher::New(std::string key) {
  if (!key.empty() && key.size() != kKeyBytes)
    return InvalidArgument("local target: secret_key must be 32 bytes, not " +
                           std::to_string(key.size()));
  return RowCipher(std::move(key));
}

RowCipher RowCipher::Deferred(std::function<std::string()> source) {
  RowCipher c;
  c.lazy_ = std::make_shared<Lazy>();
  c.lazy_->source = std::move(source);
  return c;
}

const std::string& RowCipher::key() const {
  if (!lazy_) return key_;
  std::call_once(lazy_->once, [this] {
    lazy_->key = lazy_->source();
    lazy_->source = nullptr;
    if (lazy_->key.size() != kKeyBytes) std::abort();
  });
  return lazy_->key;
}

bool RowCipher::IsSealed(std::string_view text) { return StartsWith(text, kPrefix); }

std::string RowCipher::Seal(std::string_view plaintext, std::string_view aad) const {
  if (!enabled()) return std::string(plaintext);
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  unsigned char* nonce = Bytes(out);
  unsigned char* ct = nonce + kNonceBytes;
  int len = 0, fin = 0;
  Ctx ctx(EVP_CIPHER_CTX_new());
  // Any failure here is a broken OpenSSL (out of memory, no RNG): a bug-level condition
  // we cannot store around, so it aborts rather than writing the plaintext.
  if (!ctx || RAND_bytes(nonce, kNonceBytes) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, Bytes(key()), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), ct, &len, Bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), ct + len, &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, ct + plaintext.size()) != 1) {
    std::abort();
  }
  return std::string(kPrefix) + Base64Encode(out);
}

Result<std::string> RowCipher::Open(std::string_view text, std::string_view aad) const {
  if (!enabled()) return FailedPrecondition("encrypted record, and no secret key is configured");
  std::string raw;
  if (!IsSealed(text) || !Base64Decode(text.substr(kPrefix.size()), &raw) ||
      raw.size() < kNonceBytes + kTagBytes) {
    return FailedPrecondition("not an enc1 record");
  }
  const size_t n = raw.size() - kNonceBytes - kTagBytes;
  std::string out(n, '\0');
  const unsigned char* nonce = Bytes(std::string_view(raw));
  const unsigned char* ct = nonce + kNonceBytes;
  std::string tag = raw.substr(kNonceBytes + n);
  int len = 0, fin = 0;
  Ctx ctx(EVP_CIPHER_CTX_new());
  bool ok =
      ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, Bytes(key()), nonce) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), Bytes(out), &len, ct, static_cast<int>(n)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, Bytes(tag)) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), Bytes(out) + len, &fin) == 1;
  if (!ok) {
    OPENSSL_cleanse(out.data(), out.size());
    return FailedPrecondition("does not decrypt: another key, another record, or tampered with");
  }
  return out;
}

std::string RowCipher::SubKey(std::string_view purpose) const {
  return enabled() ? HmacSha256Hex(key(), purpose) : "";
}

}  // namespace plumb::target::local
