#include "secrets/age.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <optional>

#include "core/strings.h"
#include "secrets/age_crypto.h"
#include "secrets/age_format.h"
#include "secrets/bech32.h"

namespace plumb::secrets {
namespace {

using internal::AgeHeader;
using internal::AgeStanza;
using internal::ChaCha20Poly1305;
using internal::HkdfSha256;
using internal::HmacSha256;
using internal::RandomBytes;
using internal::U;
using internal::Wiped;
using internal::X25519;
using internal::X25519Key;
using internal::X25519PublicKey;
using internal::ZeroNonce;

constexpr std::string_view kIdentityHrp = "AGE-SECRET-KEY-";
constexpr std::string_view kRecipientHrp = "age";
constexpr std::string_view kX25519Info = "age-encryption.org/v1/X25519";
constexpr std::string_view kScryptSaltPrefix = "age-encryption.org/v1/scrypt";
constexpr size_t kKeyBytes = 32;      // X25519 keys and shares, ChaCha20-Poly1305 keys
constexpr size_t kFileKeyBytes = 16;  // the file key every stanza wraps
constexpr size_t kTagBytes = 16;      // Poly1305
constexpr size_t kWrappedKeyBytes = kFileKeyBytes + kTagBytes;
constexpr size_t kPayloadNonceBytes = 16;
constexpr size_t kChunkBytes = 64 * 1024;
constexpr size_t kScryptSaltBytes = 16;
constexpr int kMaxScryptWorkFactor = 22;  // as age's default limit: 2^22 takes seconds and 4 GiB

Status HeaderError(const std::string& what) { return InvalidArgument("age: header: " + what); }
Status PayloadError(const std::string& what) { return InvalidArgument("age: payload: " + what); }

// A decimal scrypt work factor: no sign, no leading zero, 1..22.
bool ParseWorkFactor(std::string_view s, int* out) {
  if (s.empty() || s.size() > 2 || s[0] == '0') return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// Checks the stanzas of the types we know before anything is unwrapped, so a malformed file
// is refused whichever identity is tried first.
Status ValidateStanzas(const std::vector<AgeStanza>& stanzas) {
  for (const auto& s : stanzas) {
    std::string raw;
    if (s.type == "X25519") {
      if (s.args.size() != 1) return HeaderError("an X25519 stanza has exactly one argument");
      if (!internal::AgeBase64Decode(s.args[0], false, &raw) || raw.size() != kKeyBytes) {
        return HeaderError("X25519 share is not 32 bytes of canonical base64");
      }
      if (s.body.size() != kWrappedKeyBytes) {
        return HeaderError("X25519 stanza body is not a 16-byte wrapped file key");
      }
    } else if (s.type == "scrypt") {
      if (stanzas.size() != 1) return HeaderError("an scrypt stanza must be the only stanza");
      if (s.args.size() != 2) return HeaderError("an scrypt stanza has a salt and a work factor");
      if (!internal::AgeBase64Decode(s.args[0], false, &raw) || raw.size() != kScryptSaltBytes) {
        return HeaderError("scrypt salt is not 16 bytes of canonical base64");
      }
      int work_factor = 0;
      if (!ParseWorkFactor(s.args[1], &work_factor)) {
        return HeaderError("scrypt work factor is not a decimal number without leading zeros");
      }
      if (work_factor > kMaxScryptWorkFactor) {
        return HeaderError("scrypt work factor " + std::to_string(work_factor) +
                           " is above the limit " + std::to_string(kMaxScryptWorkFactor));
      }
      if (s.body.size() != kWrappedKeyBytes) {
        return HeaderError("scrypt stanza body is not a 16-byte wrapped file key");
      }
    }
  }
  return Status::Ok();
}

// The file key from an X25519 stanza (validated), nullopt when it is not for `id`.
Result<std::optional<std::string>> UnwrapX25519(const AgeStanza& s, const AgeIdentity& id) {
  std::string share;
  internal::AgeBase64Decode(s.args[0], false, &share);
  Wiped shared;
  if (!X25519(id.get(), share, &shared.bytes)) {
    return HeaderError("X25519 share is a low-order point (all-zero shared secret)");
  }
  Wiped wrap_key;
  if (!HkdfSha256(shared.bytes, share + id.public_key(), kX25519Info, &wrap_key.bytes)) {
    return Internal("age: HKDF failed");
  }
  std::string file_key;
  if (!ChaCha20Poly1305(/*seal=*/false, wrap_key.bytes, ZeroNonce(), s.body, &file_key)) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(std::move(file_key));
}

Result<std::optional<std::string>> UnwrapScrypt(const AgeStanza& s, std::string_view passphrase) {
  std::string salt;
  internal::AgeBase64Decode(s.args[0], false, &salt);
  salt = std::string(kScryptSaltPrefix) + salt;
  int work_factor = 0;
  ParseWorkFactor(s.args[1], &work_factor);
  const uint64_t n = uint64_t{1} << work_factor;
  const uint64_t r = 8;
  Wiped key{std::string(kKeyBytes, '\0')};
  if (EVP_PBE_scrypt(passphrase.data(), passphrase.size(), U(salt), salt.size(), n, r, 1,
                     /*maxmem=*/128 * r * n + (1 << 20), U(key.bytes), key.bytes.size()) != 1) {
    ERR_clear_error();
    return Internal("age: scrypt failed (out of memory?)");
  }
  std::string file_key;
  if (!ChaCha20Poly1305(/*seal=*/false, key.bytes, ZeroNonce(), s.body, &file_key)) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(std::move(file_key));
}

// The 12-byte STREAM nonce: 11-byte big-endian chunk counter, then the last-chunk flag.
std::string StreamNonce(uint64_t counter, bool last) {
  std::string nonce(12, '\0');
  for (int i = 10; i >= 3 && counter != 0; --i) {
    nonce[i] = static_cast<char>(counter & 0xff);
    counter >>= 8;
  }
  nonce[11] = last ? 1 : 0;
  return nonce;
}

Result<std::string> DecryptPayload(std::string_view payload_key, std::string_view rest) {
  if (rest.empty()) return PayloadError("no STREAM chunk after the nonce");
  std::string out;
  for (uint64_t counter = 0;; ++counter) {
    bool last = rest.size() <= kChunkBytes + kTagBytes;
    std::string_view chunk = last ? rest : rest.substr(0, kChunkBytes + kTagBytes);
    Status error;
    if (chunk.size() < kTagBytes) {
      error = PayloadError("chunk " + std::to_string(counter) + " is truncated");
    } else if (last && chunk.size() == kTagBytes && counter > 0) {
      error = PayloadError("the final chunk is empty (only the first chunk may be)");
    } else if (!ChaCha20Poly1305(/*seal=*/false, payload_key, StreamNonce(counter, last), chunk,
                                 &out)) {
      error = PayloadError("chunk " + std::to_string(counter) +
                           " does not verify (altered, truncated, or data after the end)");
    }
    if (!error.ok()) {
      OPENSSL_cleanse(out.data(), out.size());
      return error;
    }
    if (last) return out;
    rest.remove_prefix(chunk.size());
  }
}

// The recipient's raw X25519 public key from "age1...".
Result<std::string> ParseRecipient(std::string_view text) {
  std::string hrp;
  std::string data;
  if (!internal::Bech32Decode(Trim(text), &hrp, &data) || hrp != kRecipientHrp ||
      data.size() != kKeyBytes) {
    return InvalidArgument("not an age X25519 recipient (want age1...)");
  }
  return data;
}

}  // namespace

Result<AgeIdentity> AgeIdentity::Generate() {
  Wiped raw;
  if (!RandomBytes(kKeyBytes, &raw.bytes)) {
    ERR_clear_error();
    return Internal("no random bytes for an age identity");
  }
  auto key = X25519Key(raw.bytes, /*is_private=*/true);
  if (!key) return Internal("cannot make an X25519 key");
  std::string pub = X25519PublicKey(key.get());
  if (pub.empty()) return Internal("cannot read an X25519 public key");
  return AgeIdentity(std::move(key), std::move(pub));
}

Result<AgeIdentity> AgeIdentity::Parse(std::string_view text) {
  Wiped trimmed{Trim(text)};
  std::string hrp;
  Wiped data;
  if (!internal::Bech32Decode(trimmed.bytes, &hrp, &data.bytes) || hrp != kIdentityHrp ||
      data.bytes.size() != kKeyBytes) {
    return InvalidArgument("not an age identity (want AGE-SECRET-KEY-1... in uppercase)");
  }
  auto key = X25519Key(data.bytes, /*is_private=*/true);
  if (!key) return InvalidArgument("not an age identity: not an X25519 key");
  std::string pub = X25519PublicKey(key.get());
  if (pub.empty()) return Internal("cannot read an X25519 public key");
  return AgeIdentity(std::move(key), std::move(pub));
}

std::string AgeIdentity::ToString() const {
  Wiped raw{std::string(kKeyBytes, '\0')};
  size_t len = raw.bytes.size();
  if (EVP_PKEY_get_raw_private_key(key_.get(), U(raw.bytes), &len) != 1 || len != kKeyBytes) {
    return "";
  }
  std::string out = internal::Bech32Encode(kIdentityHrp, raw.bytes);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string AgeIdentity::Recipient() const {
  return internal::Bech32Encode(kRecipientHrp, public_key_);
}

Result<std::vector<AgeIdentity>> ParseAgeIdentities(std::string_view file_text) {
  std::vector<AgeIdentity> out;
  int line_no = 0;
  for (const std::string& raw : Split(file_text, '\n')) {
    ++line_no;
    Wiped line{Trim(raw)};
    if (line.bytes.empty() || line.bytes[0] == '#') continue;
    auto id = AgeIdentity::Parse(line.bytes);
    if (!id.ok()) return id.status().WithContext("identity file line " + std::to_string(line_no));
    out.push_back(std::move(*id));
  }
  if (out.empty()) return InvalidArgument("no AGE-SECRET-KEY-1 line in the identity file");
  return out;
}

Result<std::string> AgeDecrypt(std::string_view file, const std::vector<AgeIdentity>& identities,
                               std::string_view passphrase) {
  std::string dearmored;
  std::string_view bin = file;
  if (internal::LooksArmored(file)) {
    ASSIGN_OR_RETURN(dearmored, internal::AgeArmorDecode(file));
    bin = dearmored;
  }
  ASSIGN_OR_RETURN(AgeHeader header, internal::ParseAgeHeader(bin));
  RETURN_IF_ERROR(ValidateStanzas(header.stanzas));

  Wiped file_key;
  bool found = false;
  for (const auto& s : header.stanzas) {
    std::optional<std::string> key;
    if (s.type == "X25519") {
      for (const auto& id : identities) {
        ASSIGN_OR_RETURN(key, UnwrapX25519(s, id));
        if (key) break;
      }
    } else if (s.type == "scrypt" && !passphrase.empty()) {
      ASSIGN_OR_RETURN(key, UnwrapScrypt(s, passphrase));
    }
    if (key) {
      file_key.bytes = std::move(*key);
      OPENSSL_cleanse(key->data(), key->size());
      found = true;
      break;
    }
  }
  if (!found) {
    std::string types;
    for (const auto& s : header.stanzas) types += (types.empty() ? "" : ", ") + s.type;
    return NotFound("age: no identity matched the file's recipient stanzas (" +
                    (types.empty() ? std::string("none") : types) + ")");
  }

  Wiped mac_key;
  std::string mac;
  if (!HkdfSha256(file_key.bytes, "", "header", &mac_key.bytes) ||
      !HmacSha256(mac_key.bytes, bin.substr(0, header.mac_input_len), &mac)) {
    return Internal("age: HMAC failed");
  }
  if (CRYPTO_memcmp(mac.data(), header.mac.data(), mac.size()) != 0) {
    return InvalidArgument("age: header MAC mismatch: the header was altered");
  }
  std::string_view payload = bin.substr(header.payload_offset);
  if (payload.size() < kPayloadNonceBytes) return HeaderError("file ends before the payload nonce");
  Wiped payload_key;
  if (!HkdfSha256(file_key.bytes, payload.substr(0, kPayloadNonceBytes), "payload",
                  &payload_key.bytes)) {
    return Internal("age: HKDF failed");
  }
  return DecryptPayload(payload_key.bytes, payload.substr(kPayloadNonceBytes));
}

Result<std::string> AgeEncrypt(std::string_view plaintext,
                               const std::vector<std::string>& recipients, bool armor) {
  if (recipients.empty()) return InvalidArgument("age: no recipient to encrypt to");
  Wiped file_key;
  if (!RandomBytes(kFileKeyBytes, &file_key.bytes)) {
    ERR_clear_error();
    return Internal("no random bytes for an age file key");
  }
  std::vector<AgeStanza> stanzas;
  for (size_t i = 0; i < recipients.size(); ++i) {
    auto their = ParseRecipient(recipients[i]);
    if (!their.ok()) return their.status().WithContext("recipient " + std::to_string(i + 1));
    ASSIGN_OR_RETURN(AgeIdentity ephemeral, AgeIdentity::Generate());
    Wiped shared;
    if (!X25519(ephemeral.get(), *their, &shared.bytes)) {
      return InvalidArgument("recipient " + std::to_string(i + 1) +
                             ": not a usable X25519 public key (low order)");
    }
    Wiped wrap_key;
    if (!HkdfSha256(shared.bytes, ephemeral.public_key() + *their, kX25519Info, &wrap_key.bytes)) {
      return Internal("age: HKDF failed");
    }
    AgeStanza s{.type = "X25519", .args = {internal::AgeBase64Encode(ephemeral.public_key())}};
    if (!ChaCha20Poly1305(/*seal=*/true, wrap_key.bytes, ZeroNonce(), file_key.bytes, &s.body)) {
      return Internal("age: ChaCha20-Poly1305 failed");
    }
    stanzas.push_back(std::move(s));
  }
  std::string out = internal::EncodeAgeHeaderForMac(stanzas);
  Wiped mac_key;
  std::string mac;
  if (!HkdfSha256(file_key.bytes, "", "header", &mac_key.bytes) ||
      !HmacSha256(mac_key.bytes, out, &mac)) {
    return Internal("age: HMAC failed");
  }
  out += " " + internal::AgeBase64Encode(mac) + "\n";

  std::string nonce;
  Wiped payload_key;
  if (!RandomBytes(kPayloadNonceBytes, &nonce) ||
      !HkdfSha256(file_key.bytes, nonce, "payload", &payload_key.bytes)) {
    ERR_clear_error();
    return Internal("age: no random bytes for the payload nonce");
  }
  out += nonce;
  out.reserve(out.size() + plaintext.size() + (plaintext.size() / kChunkBytes + 1) * kTagBytes);
  uint64_t counter = 0;
  do {
    std::string_view chunk = plaintext.substr(0, kChunkBytes);
    plaintext.remove_prefix(chunk.size());
    bool last = plaintext.empty();
    if (!ChaCha20Poly1305(/*seal=*/true, payload_key.bytes, StreamNonce(counter++, last), chunk,
                          &out)) {
      return Internal("age: ChaCha20-Poly1305 failed");
    }
  } while (!plaintext.empty());
  return armor ? internal::AgeArmorEncode(out) : out;
}

}  // namespace plumb::secrets
