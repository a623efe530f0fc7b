// secrets: age file encryption (https://age-encryption.org/v1, the C2SP specification), as
// the `age` tool and SOPS write it: X25519 identities and recipients ("AGE-SECRET-KEY-1...",
// "age1..."), decryption of binary and ASCII-armored files with X25519 or scrypt (passphrase)
// stanzas, and encryption to X25519 recipients. Built on OpenSSL 3 (X25519, HKDF-SHA256,
// HMAC-SHA256, ChaCha20-Poly1305, scrypt).
//
// Decryption is strict, as the spec asks: canonical base64, exact header layout, 64 KiB
// STREAM chunks with the last-chunk flag, no trailing data. It never returns part of a
// payload: a file whose last chunk does not verify gives an error and no plaintext.
//
// All functions are thread-safe; AgeIdentity is immutable and cheap to copy. Errors never
// contain key material or plaintext.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace plumb::secrets {

// An X25519 identity: the private key that unwraps files encrypted to its Recipient().
class AgeIdentity {
 public:
  // A fresh random identity. Internal only when OpenSSL has no randomness.
  static Result<AgeIdentity> Generate();
  // Reads "AGE-SECRET-KEY-1..." (Bech32, uppercase as age-keygen writes it; whitespace around
  // it is ignored). InvalidArgument otherwise; the message never contains the text.
  static Result<AgeIdentity> Parse(std::string_view text);

  // "AGE-SECRET-KEY-1...", uppercase. Secret: write it only to files of mode 0600.
  std::string ToString() const;
  // "age1...", the public recipient.
  std::string Recipient() const;

  // The raw 32-byte X25519 public key.
  const std::string& public_key() const { return public_key_; }
  // Borrowed; valid as long as this object (or a copy) lives.
  EVP_PKEY* get() const { return key_.get(); }

 private:
  AgeIdentity(std::shared_ptr<EVP_PKEY> key, std::string public_key)
      : key_(std::move(key)), public_key_(std::move(public_key)) {}
  std::shared_ptr<EVP_PKEY> key_;
  std::string public_key_;
};

// An identity file as age-keygen writes it: '#' comment lines, blank lines, one
// AGE-SECRET-KEY-1 per line. InvalidArgument naming the line number (never its text) when a
// line is neither; InvalidArgument when the file holds no identity.
Result<std::vector<AgeIdentity>> ParseAgeIdentities(std::string_view file_text);

// Decrypts an age file, binary or ASCII-armored ("-----BEGIN AGE ENCRYPTED FILE-----"), with
// the X25519 `identities`, or with `passphrase` for a file encrypted with one (an scrypt
// stanza, work factor at most 2^22). Returns the whole plaintext. Errors (the message says
// what is wrong, never the plaintext):
//   InvalidArgument "age: armor: ..."   the armor is malformed
//   InvalidArgument "age: header: ..."  the header is malformed (including a stanza of a
//                                       known type with wrong arguments or body size, an
//                                       X25519 share of low order, scrypt not alone)
//   NotFound "age: no identity matched" no identity or passphrase unwraps the file key
//   InvalidArgument "age: header MAC mismatch ..."  the header was altered
//   InvalidArgument "age: payload: ..." the payload is truncated, altered or has trailing data
Result<std::string> AgeDecrypt(std::string_view file, const std::vector<AgeIdentity>& identities,
                               std::string_view passphrase = "");

// Encrypts `plaintext` to the X25519 `recipients` ("age1..."), each able to decrypt alone;
// armor=true gives the ASCII-armored form. InvalidArgument when a recipient is malformed or
// the list is empty.
Result<std::string> AgeEncrypt(std::string_view plaintext,
                               const std::vector<std::string>& recipients, bool armor = false);

}  // namespace plumb::secrets
