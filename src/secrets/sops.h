// secrets: decryption of SOPS files (getsops/sops) whose data key is held by age recipients,
// as Flux's kustomize-controller decrypts them. SOPS encrypts each leaf value of a YAML/JSON
// document separately with AES-256-GCM under one data key, binding it to its key path (the
// AAD), and protects the whole document with a MAC: a SHA-512 over the plaintext leaf values
// in document order, itself encrypted under the data key with the `lastmodified` time as AAD.
// The data key is stored in `sops.age[].enc`, an armored age file per recipient.
//
// Only age key sources are supported (not KMS, PGP, Vault) and one key group (no Shamir
// splitting); comment-based rules (encrypted_comment_regex) are refused, because the
// document tree carries no comments. Unencrypted values enter the MAC as sops' YAML reader
// (YAML 1.2) sees them; a plain `yes` or `on` that our YAML 1.1 reader takes for a boolean
// therefore fails the MAC check (refused, never wrongly accepted).
//
// Thread-safe. Errors never contain plaintext; they name the key path that failed.
#pragma once

#include <vector>

#include "core/status.h"
#include "resource/value.h"
#include "secrets/age.h"

namespace plumb::secrets {

// True when the document has a top-level "sops" mapping with a "mac" (a SOPS-encrypted file).
bool IsSopsEncrypted(const resource::Value& doc);

// Decrypts every ENC[AES256_GCM,...] value of a SOPS document with the data key that one of
// `identities` unwraps from sops.age[], and verifies sops.mac. Honours encrypted_regex,
// encrypted_suffix, unencrypted_regex, unencrypted_suffix (default "_unencrypted") and
// mac_only_encrypted as sops does. Returns the document without its "sops" key, values in
// their original types (str, int, float, bool). Errors:
//   InvalidArgument  not a SOPS document, malformed metadata or ENC value, a value that does
//                    not decrypt (named by key path), "SOPS MAC mismatch: ..."
//   NotFound         no identity unwraps the data key
//   Unimplemented    Shamir key groups, comment-based encryption rules
Result<resource::Value> SopsDecrypt(const resource::Value& doc,
                                    const std::vector<AgeIdentity>& identities);

}  // namespace plumb::secrets
