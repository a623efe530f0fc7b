// secrets: one SOPS leaf value: decrypting ENC[AES256_GCM,data:...,iv:...,tag:...,type:...]
// into a value of its original type, and the bytes a leaf adds to the SOPS MAC, both as
// getsops/sops does them (aes/cipher.go, sops.go ToBytes). Internal to the secrets module.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "resource/value.h"

namespace plumb::secrets::internal {

// Decrypts `text` with the 32-byte data `key` and `aad` (the key path joined with ':' plus a
// trailing ':', or lastmodified for the MAC). Types: str and bytes give a string, int and
// int64 an int, float a double, bool a bool. InvalidArgument "sops: WHERE: ..." when the text
// is not an ENC value, does not verify, or its plaintext is not of its type; the message
// never holds the plaintext.
Result<resource::Value> DecryptSopsValue(std::string_view key, const std::string& text,
                                         std::string_view aad, const std::string& where);

// The bytes a leaf adds to the MAC (sops' ToBytes): strings as they are, ints in decimal,
// doubles as Go's FormatFloat(f, 'f', -1, 64), booleans "True"/"False".
std::string SopsMacBytes(const resource::Value& v);

}  // namespace plumb::secrets::internal
