// secrets: Bech32 (BIP 173) as age uses it for keys: "age1..." recipients and
// "AGE-SECRET-KEY-1..." identities. Unlike BIP 173 there is no 90-character limit, and the
// checksum is the original Bech32 one (not Bech32m). Internal to the secrets module.
#pragma once

#include <string>
#include <string_view>

namespace plumb::secrets::internal {

// Encodes `data` (bytes, regrouped into 5-bit words) under `hrp`, in lowercase. The caller
// uppercases the result when the format wants it (age identities).
std::string Bech32Encode(std::string_view hrp, std::string_view data);

// Decodes a Bech32 string. False on mixed case, characters outside the alphabet, a bad
// checksum or padding bits that are not zero. `hrp` is returned in the case of the input,
// so callers can require the case the format prescribes.
bool Bech32Decode(std::string_view text, std::string* hrp, std::string* data);

}  // namespace plumb::secrets::internal
