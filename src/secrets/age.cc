#include "secrets/age.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <optional>

#include "core/strings.h"
#include "secrets/age_format.h"
#include "secrets/bech32.h"

namespace plumb::secrets {
namespace {

using internal::AgeHeader;
using internal::AgeStanza;

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

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;
using PKeyCtx = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;

// Holds key material and wipes it when it goes.
struct Wiped {
  std::string bytes;
  ~Wiped() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

unsigned char* U(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }
const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

Status HeaderError(const std::string& what) { return InvalidArgument("age: header: " + what); }
Status PayloadError(const std::string& what) { return InvalidArgument("age: payload: " + what); }

bool RandomBytes(size_t n, std::string* out) {
  out->assign(n, '\0');
  return RAND_bytes(U(*out), static_cast<int>(n)) == 1;
}

// HKDF-SHA256 (RFC 5869); an empty salt is HKDF's default salt.
bool Hkdf(std::string_view ikm, std::string_view salt, std::string_view info, std::string* out) {
  static EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kdf == nullptr) return false;
  std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(EVP_KDF_CTX_new(kdf),
                                                                EVP_KDF_CTX_free);
  if (!ctx) return false;
  OSSL_PARAM params[5];
  OSSL_PARAM* p = params;
  char digest[] = "SHA256";
  *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(ikm.data()),
                                           ikm.size());
  if (!salt.empty()) {
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()),
                                             salt.size());
  }
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()),
                                           info.size());
  *p = OSSL_PARAM_construct_end();
  out->assign(kKeyBytes, '\0');
  return EVP_KDF_derive(ctx.get(), U(*out), out->size(), params) == 1;
}

bool HmacSha256(std::string_view key, std::string_view data, std::string* out) {
  out->assign(32, '\0');
  unsigned int len = 0;
  return HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), U(data), data.size(), U(*out),
              &len) != nullptr &&
         len == 32;
}

// ChaCha20-Poly1305 with a 12-byte nonce and no AAD. Sealing appends ciphertext||tag to
// `out`; opening takes ciphertext||tag and appends the plaintext only when the tag verifies.
bool ChaCha(bool seal, std::string_view key, std::string_view nonce, std::string_view in,
            std::string* out) {
  if (!seal && in.size() < kTagBytes) return false;
  std::string_view body = seal ? in : in.substr(0, in.size() - kTagBytes);
  if (body.size() > (1u << 30)) return false;
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  if (!ctx ||
      EVP_CipherInit_ex(ctx.get(), EVP_chacha20_poly1305(), nullptr, nullptr, nullptr, seal) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, 12, nullptr) != 1 ||
      EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, U(key), U(nonce), -1) != 1) {
    return false;
  }
  if (!seal) {
    std::string tag(in.substr(body.size()));
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, kTagBytes, tag.data()) != 1) {
      return false;
    }
  }
  std::string buf(body.size() + kTagBytes, '\0');
  int n = 0;
  int total = 0;
  if (!body.empty() &&
      EVP_CipherUpdate(ctx.get(), U(buf), &n, U(body), static_cast<int>(body.size())) != 1) {
    OPENSSL_cleanse(buf.data(), buf.size());
    return false;
  }
  total = n;
  if (EVP_CipherFinal_ex(ctx.get(), U(buf) + total, &n) != 1) {
    OPENSSL_cleanse(buf.data(), buf.size());  // opening decrypts before it checks the tag
    return false;
  }
  total += n;
  if (seal) {
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, kTagBytes, U(buf) + total) != 1) {
      return false;
    }
    total += kTagBytes;
  }
  out->append(buf.data(), static_cast<size_t>(total));
  OPENSSL_cleanse(buf.data(), buf.size());
  return true;
}

const std::string& ZeroNonce() {
  static const std::string* nonce = new std::string(12, '\0');
  return *nonce;
}

std::shared_ptr<EVP_PKEY> X25519Key(std::string_view raw, bool is_private) {
  EVP_PKEY* k = is_private
                    ? EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, U(raw), raw.size())
                    : EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, U(raw), raw.size());
  if (k == nullptr) ERR_clear_error();
  return std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free);
}

std::string RawPublicKey(EVP_PKEY* key) {
  std::string out(kKeyBytes, '\0');
  size_t len = out.size();
  if (EVP_PKEY_get_raw_public_key(key, U(out), &len) != 1 || len != kKeyBytes) return "";
  return out;
}

// X25519(ours, theirs). False when OpenSSL refuses (an all-zero result: a low-order point).
bool X25519(EVP_PKEY* ours, std::string_view their_public, std::string* shared) {
  auto peer = X25519Key(their_public, /*is_private=*/false);
  if (!peer) return false;
  PKeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, ours, nullptr), EVP_PKEY_CTX_free);
  size_t len = kKeyBytes;
  shared->assign(kKeyBytes, '\0');
  bool ok = ctx && EVP_PKEY_derive_init(ctx.get()) == 1 &&
            EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) == 1 &&
            EVP_PKEY_derive(ctx.get(), U(*shared), &len) == 1 && len == kKeyBytes;
  ERR_clear_error();
  return ok && *shared != std::string(kKeyBytes, '\0');
}

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
  if (!Hkdf(shared.bytes, share + id.public_key(), kX25519Info, &wrap_key.bytes)) {
    return Internal("age: HKDF failed");
  }
  std::string file_key;
  if (!ChaCha(/*seal=*/false, wrap_key.bytes, ZeroNonce(), s.body, &file_key)) {
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
  if (!ChaCha(/*seal=*/false, key.bytes, ZeroNonce(), s.body, &file_key)) {
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
    } else if (!ChaCha(/*seal=*/false, payload_key, StreamNonce(counter, last), chunk, &out)) {
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
  std::string pub = RawPublicKey(key.get());
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
  std::string pub = RawPublicKey(key.get());
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
  if (!Hkdf(file_key.bytes, "", "header", &mac_key.bytes) ||
      !HmacSha256(mac_key.bytes, bin.substr(0, header.mac_input_len), &mac)) {
    return Internal("age: HMAC failed");
  }
  if (CRYPTO_memcmp(mac.data(), header.mac.data(), mac.size()) != 0) {
    return InvalidArgument("age: header MAC mismatch: the header was altered");
  }
  std::string_view payload = bin.substr(header.payload_offset);
  if (payload.size() < kPayloadNonceBytes) return HeaderError("file ends before the payload nonce");
  Wiped payload_key;
  if (!Hkdf(file_key.bytes, payload.substr(0, kPayloadNonceBytes), "payload", &payload_key.bytes)) {
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
    if (!Hkdf(shared.bytes, ephemeral.public_key() + *their, kX25519Info, &wrap_key.bytes)) {
      return Internal("age: HKDF failed");
    }
    AgeStanza s{.type = "X25519", .args = {internal::AgeBase64Encode(ephemeral.public_key())}};
    if (!ChaCha(/*seal=*/true, wrap_key.bytes, ZeroNonce(), file_key.bytes, &s.body)) {
      return Internal("age: ChaCha20-Poly1305 failed");
    }
    stanzas.push_back(std::move(s));
  }
  std::string out = internal::EncodeAgeHeaderForMac(stanzas);
  Wiped mac_key;
  std::string mac;
  if (!Hkdf(file_key.bytes, "", "header", &mac_key.bytes) ||
      !HmacSha256(mac_key.bytes, out, &mac)) {
    return Internal("age: HMAC failed");
  }
  out += " " + internal::AgeBase64Encode(mac) + "\n";

  std::string nonce;
  Wiped payload_key;
  if (!RandomBytes(kPayloadNonceBytes, &nonce) ||
      !Hkdf(file_key.bytes, nonce, "payload", &payload_key.bytes)) {
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
    if (!ChaCha(/*seal=*/true, payload_key.bytes, StreamNonce(counter++, last), chunk, &out)) {
      return Internal("age: ChaCha20-Poly1305 failed");
    }
  } while (!plaintext.empty());
  return armor ? internal::AgeArmorEncode(out) : out;
}

}  // namespace plumb::secrets
