// secrets: sealing and unsealing single values in the format of Bitnami Sealed Secrets
// (kubeseal writes it, the Sealed Secrets controller reads it), so that a SealedSecret made
// by either tool unseals with the other's key.
//
// A sealed value is standard padded base64 of:
//   uint16 big-endian length of the RSA ciphertext || RSA ciphertext || AES ciphertext || tag
// where a fresh 32-byte session key encrypts the value with AES-256-GCM (all-zero 12-byte
// nonce, which is safe because the key is used once; no AAD; 16-byte tag) and is itself
// encrypted with RSA-OAEP (SHA-256 for hash and MGF1) whose OAEP label is the scope label.
// The label binds a value to where it may be used: a strict value moved to another Secret
// name or namespace does not unseal.
//
// All functions are thread-safe. Errors never contain plaintext.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "secrets/keys.h"

namespace plumb::secrets {

enum class Scope {
  kStrict,         // bound to namespace and name (kubeseal's default)
  kNamespaceWide,  // any name in the namespace
  kClusterWide,    // anywhere
};

// "namespace/name", "namespace" or "" for the three scopes.
std::string ScopeLabel(Scope scope, std::string_view ns, std::string_view name);

// Seals `plaintext` for the holder of `key`'s private half, bound to `label` (ScopeLabel).
// Returns the base64 text that goes into spec.encryptedData; each call gives a different
// text. Internal only when OpenSSL fails (out of memory or entropy).
Result<std::string> SealValue(const PublicKey& key, std::string_view label,
                              std::string_view plaintext);

// The plaintext of a sealed value (base64, whitespace ignored). InvalidArgument when the
// text is not base64 or too short to hold the layout, and "does not unseal: wrong key or
// scope, or tampered" when the RSA or the GCM part does not verify: which one failed is not
// said, so that the error is no oracle.
Result<std::string> UnsealValue(const PrivateKey& key, std::string_view label,
                                std::string_view sealed_base64);

namespace internal {

// SealValue with a given session key (exactly 32 bytes), for test vectors: the RSA part still
// uses OAEP's random seed, the GCM part is then a function of key and plaintext alone.
Result<std::string> SealValueWithSessionKey(const PublicKey& key, std::string_view label,
                                            std::string_view plaintext,
                                            std::string_view session_key);

}  // namespace internal
}  // namespace plumb::secrets
