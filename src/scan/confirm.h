// scan (internal): what turns a regex match into a finding, or not: entropy, placeholders,
// values that are not secrets (sealed, SOPS, UUIDs, hashes, references), per-rule checks,
// and redaction. Pure functions, no I/O.
#pragma once

#include <string>
#include <string_view>

#include "scan/scan.h"

namespace plumb::scan::internal {

// Shannon entropy of the bytes of `s`, in bits per byte (0 for an empty string).
double ShannonEntropy(std::string_view s);

// An obvious placeholder: EXAMPLE, xxxx, <...>, ${...}, {{...}}, a run of one character.
bool IsPlaceholder(std::string_view secret);

// A Bitnami/plumbline sealed value: base64 whose first two bytes are the length of an RSA
// ciphertext (256, 384 or 512) that fits in the rest.
bool IsSealedValue(std::string_view value);

// A canonical UUID, or a hex string of a digest's length (32, 40, 56, 64, 96, 128).
bool IsUuidOrHash(std::string_view value);

// Whether the secret `secret` that `rule` matched is a finding. `after` is the text that
// follows the match (for checks that look past it, e.g. a private key's body).
bool Confirm(const Rule& rule, std::string_view secret, std::string_view after);

// "AKIA*****": at most 4 leading characters (fewer for short secrets), then five stars.
std::string Redact(std::string_view secret);

}  // namespace plumb::scan::internal
