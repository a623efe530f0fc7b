// target/local internal: encryption of the local.db records that carry Secret data.
// AES-256-GCM (OpenSSL EVP) under a 32-byte key the operator derives from its own key
// material; a fresh random 12-byte nonce per record; the record's identity as additional
// authenticated data, so a ciphertext moved to another row does not open. Format,
// versioned: "enc1:" + base64(nonce || ciphertext || 16-byte tag). Thread-safe (no
// mutable state).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
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
  // A cipher whose key comes later: `source` runs once, on the thread of the first Seal,
  // Open or SubKey, and may block (the operator's first start generates its sealing key
  // while the first sync runs). It must return 32 bytes; anything else aborts, since a
  // Secret row is never stored unencrypted by a cipher that claimed to be enabled.
  static RowCipher Deferred(std::function<std::string()> source);
  RowCipher() = default;

  bool enabled() const { return !key_.empty() || lazy_ != nullptr; }
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
  struct Lazy {
    std::once_flag once;
    std::function<std::string()> source;
    std::string key;
  };
  explicit RowCipher(std::string key) : key_(std::move(key)) {}
  const std::string& key() const;

  std::string key_;             // the key when given at once
  std::shared_ptr<Lazy> lazy_;  // or where it comes from
};

}  // namespace plumb::target::local
