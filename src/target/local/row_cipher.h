// target/local internal: encryption of the local.db records that carry Secret data.
// AES-256-GCM (OpenSSL EVP) under a 32-byte key the operator derives from its own key
// material; a fresh random 12-byte nonce per record; the record's identity as additional
// authenticated data, so a ciphertext moved to another row does not open. Format,
// versioned: "enc1:" + base64(nonce || ciphertext || 16-byte tag). Thread-safe (no
// mutable state).
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "core/status.h"

namespace plumb::target::local {

class RowCipher {
 public:
  // `key`: 32 raw bytes, or empty for no encryption (Seal returns its input unchanged).
  // InvalidArgument for any other length.
  static Result<RowCipher> New(std::string key);
  RowCipher() = default;

  bool enabled() const { return !key_.empty(); }
  // Whether `text` is in the encrypted format (whatever the key).
  static bool IsSealed(std::string_view text);
  // `plaintext` encrypted and bound to `aad`; the plaintext itself when not enabled.
  std::string Seal(std::string_view plaintext, std::string_view aad) const;
  // The plaintext of a Seal()ed `text` with the same `aad`. FailedPrecondition when not
  // enabled, when the text is malformed, was sealed under another key or another `aad`,
  // or was tampered with. Messages never include any of the data.
  Result<std::string> Open(std::string_view text, std::string_view aad) const;
  // A key for keyed hashes of data the cipher protects, derived from the cipher's key
  // (HMAC-SHA256 over `purpose`); "" when not enabled.
  std::string SubKey(std::string_view purpose) const;

 private:
  explicit RowCipher(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

}  // namespace plumb::target::local
