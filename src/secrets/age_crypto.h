// secrets: the OpenSSL 3 primitives age and SOPS are built from (HKDF-SHA256, HMAC-SHA256,
// ChaCha20-Poly1305, X25519, random bytes), as small functions on byte strings that report
// failure with false. Internal to the secrets module. Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

typedef struct evp_pkey_st EVP_PKEY;

namespace plumb::secrets::internal {

// Holds key material or plaintext and wipes it when it goes.
struct Wiped {
  std::string bytes;
  ~Wiped();
};

inline unsigned char* U(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }
inline const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// `n` bytes from OpenSSL's CSPRNG.
bool RandomBytes(size_t n, std::string* out);

// 32 bytes of HKDF-SHA256 (RFC 5869); an empty salt is HKDF's default salt.
bool HkdfSha256(std::string_view ikm, std::string_view salt, std::string_view info,
                std::string* out);

bool HmacSha256(std::string_view key, std::string_view data, std::string* out);

// ChaCha20-Poly1305 (RFC 8439) with a 32-byte key, a 12-byte nonce and no AAD. Sealing
// appends ciphertext||tag to `out`; opening takes ciphertext||tag and appends the plaintext
// only when the tag verifies (what it decrypted before the check is wiped).
bool ChaCha20Poly1305(bool seal, std::string_view key, std::string_view nonce, std::string_view in,
                      std::string* out);
// Twelve zero bytes: the nonce of a key used once (age's stanza bodies).
const std::string& ZeroNonce();

// An X25519 key from its raw 32 bytes; null when OpenSSL refuses them.
std::shared_ptr<EVP_PKEY> X25519Key(std::string_view raw, bool is_private);
// The raw 32-byte public key; empty on failure.
std::string X25519PublicKey(EVP_PKEY* key);
// X25519(ours, theirs). False when OpenSSL refuses or the result is all zero (`their_public`
// is a low-order point).
bool X25519(EVP_PKEY* ours, std::string_view their_public, std::string* shared);

}  // namespace plumb::secrets::internal
