#include "secrets/sops.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <charconv>
#include <cmath>
#include <memory>
#include <optional>
#include <regex>

#include "core/strings.h"

namespace plumb::secrets {
namespace {

using resource::Value;

constexpr size_t kDataKeyBytes = 32;
constexpr size_t kGcmTagBytes = 16;

// sops' MACOnlyEncryptedInitialization: SHA-256("sops"), hashed first when mac_only_encrypted
// is set so that the two kinds of MAC never coincide.
constexpr unsigned char kMacOnlyEncryptedInit[32] = {
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69};

struct Wiped {
  std::string bytes;
  ~Wiped() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

unsigned char* U(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }
const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

Status SopsError(const std::string& what) { return InvalidArgument("sops: " + what); }

// Which leaves are encrypted, as sops' Tree.shouldBeEncrypted decides from the key path.
struct Rules {
  std::string unencrypted_suffix;
  std::string encrypted_suffix;
  std::optional<std::regex> unencrypted_regex;
  std::optional<std::regex> encrypted_regex;
  bool mac_only_encrypted = false;

  bool Encrypted(const std::vector<std::string>& path) const {
    auto any = [&](auto&& pred) {
      for (const auto& p : path) {
        if (pred(p)) return true;
      }
      return false;
    };
    bool encrypted = true;
    if (!unencrypted_suffix.empty() &&
        any([&](const std::string& p) { return EndsWith(p, unencrypted_suffix); })) {
      encrypted = false;
    }
    if (!encrypted_suffix.empty()) {
      encrypted = any([&](const std::string& p) { return EndsWith(p, encrypted_suffix); });
    }
    if (unencrypted_regex &&
        any([&](const std::string& p) { return std::regex_search(p, *unencrypted_regex); })) {
      encrypted = false;
    }
    if (encrypted_regex) {
      encrypted = any([&](const std::string& p) { return std::regex_search(p, *encrypted_regex); });
    }
    return encrypted;
  }
};

Result<std::string> MetaString(const Value& meta, std::string_view key) {
  const Value* v = meta.Find(key);
  if (v == nullptr || v->is_null()) return std::string();
  if (!v->is_string()) return SopsError(std::string(key) + " is not a string");
  return v->as_string();
}

Result<Rules> ReadRules(const Value& meta) {
  for (const char* key : {"encrypted_comment_regex", "unencrypted_comment_regex"}) {
    ASSIGN_OR_RETURN(std::string v, MetaString(meta, key));
    if (!v.empty()) {
      return Unimplemented(std::string("sops: ") + key +
                           " is not supported (comments are not part of the document tree)");
    }
  }
  Rules rules;
  ASSIGN_OR_RETURN(rules.unencrypted_suffix, MetaString(meta, "unencrypted_suffix"));
  ASSIGN_OR_RETURN(rules.encrypted_suffix, MetaString(meta, "encrypted_suffix"));
  ASSIGN_OR_RETURN(std::string unencrypted_regex, MetaString(meta, "unencrypted_regex"));
  ASSIGN_OR_RETURN(std::string encrypted_regex, MetaString(meta, "encrypted_regex"));
  int set = !rules.unencrypted_suffix.empty() + !rules.encrypted_suffix.empty() +
            !unencrypted_regex.empty() + !encrypted_regex.empty();
  if (set > 1) {
    return SopsError(
        "more than one of unencrypted_suffix, encrypted_suffix, unencrypted_regex, "
        "encrypted_regex is set");
  }
  if (set == 0) rules.unencrypted_suffix = "_unencrypted";  // sops' default
  auto compile = [](const std::string& text, const char* name,
                    std::optional<std::regex>* out) -> Status {
    if (text.empty()) return Status::Ok();
    if (text.size() > 1024) return SopsError(std::string(name) + " is longer than 1024 bytes");
    try {
      out->emplace(text, std::regex::ECMAScript);
    } catch (const std::regex_error&) {
      return SopsError(std::string(name) + " is not a regular expression we can read");
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(compile(unencrypted_regex, "unencrypted_regex", &rules.unencrypted_regex));
  RETURN_IF_ERROR(compile(encrypted_regex, "encrypted_regex", &rules.encrypted_regex));
  if (const Value* m = meta.Find("mac_only_encrypted"); m != nullptr && !m->is_null()) {
    if (!m->is_bool()) return SopsError("mac_only_encrypted is not a boolean");
    rules.mac_only_encrypted = m->as_bool();
  }
  return rules;
}

// The age entries holding the data key: sops.age, or the age entries of the one key group.
Result<std::vector<const Value*>> AgeEntries(const Value& meta) {
  const Value* list = meta.Find("age");
  if (const Value* groups = meta.Find("key_groups"); groups != nullptr && !groups->is_null()) {
    if (!groups->is_array()) return SopsError("key_groups is not a list");
    if (groups->size() > 1) {
      return Unimplemented("sops: Shamir key groups (more than one key group) are not supported");
    }
    if (groups->size() == 1) list = groups->as_array()[0].Find("age");
  }
  std::vector<const Value*> out;
  if (list == nullptr || list->is_null()) return out;
  if (!list->is_array()) return SopsError("age is not a list");
  for (const auto& e : list->as_array()) out.push_back(&e);
  return out;
}

Result<std::string> DataKey(const Value& meta, const std::vector<AgeIdentity>& identities) {
  ASSIGN_OR_RETURN(std::vector<const Value*> entries, AgeEntries(meta));
  if (entries.empty()) {
    return FailedPrecondition("sops: the file has no age recipient (only KMS, PGP or Vault keys?)");
  }
  Status last_error;
  std::string recipients;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Value& e = *entries[i];
    std::string where = "sops.age[" + std::to_string(i) + "]";
    std::string recipient = e.GetString("recipient");
    recipients += (recipients.empty() ? "" : ", ") + recipient;
    const Value* enc = e.Find("enc");
    if (enc == nullptr || !enc->is_string()) {
      last_error = SopsError(where + ".enc is missing or not a string");
      continue;
    }
    auto key = AgeDecrypt(enc->as_string(), identities);
    if (!key.ok()) {
      if (key.status().code() != Code::kNotFound) last_error = key.status().WithContext(where);
      continue;
    }
    Wiped wiped{std::move(*key)};
    if (wiped.bytes.size() != kDataKeyBytes) {
      last_error = SopsError(where + ": the data key is not 32 bytes");
      continue;
    }
    return std::string(wiped.bytes);
  }
  if (!last_error.ok()) return last_error;
  return NotFound("sops: no age identity matches the file's recipients (" + recipients + ")");
}

// Go's strconv.FormatFloat(f, 'f', -1, 64): shortest round-trip digits, never an exponent.
std::string FormatFloat(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  char buf[512];
  auto r = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

// The bytes a leaf adds to the MAC (sops' ToBytes).
std::string MacBytes(const Value& v) {
  switch (v.type()) {
    case Value::Type::kString:
      return v.as_string();
    case Value::Type::kInt:
      return std::to_string(v.as_int());
    case Value::Type::kDouble:
      return FormatFloat(v.as_double());
    case Value::Type::kBool:
      return v.as_bool() ? "True" : "False";
    default:
      return "";
  }
}

// One ENC[AES256_GCM,data:...,iv:...,tag:...,type:...] value, decoded.
struct EncValue {
  std::string data, iv, tag, type;
};

bool ParseEnc(std::string_view s, EncValue* out) {
  constexpr std::string_view kPrefix = "ENC[AES256_GCM,";
  if (!StartsWith(s, kPrefix) || !EndsWith(s, "]")) return false;
  s = s.substr(kPrefix.size(), s.size() - kPrefix.size() - 1);
  std::vector<std::string> parts = Split(s, ',');
  if (parts.size() != 4) return false;
  const char* names[4] = {"data:", "iv:", "tag:", "type:"};
  for (int i = 0; i < 4; ++i) {
    if (!StartsWith(parts[i], names[i])) return false;
    parts[i].erase(0, std::string_view(names[i]).size());
  }
  out->type = parts[3];
  return Base64Decode(parts[0], &out->data) && Base64Decode(parts[1], &out->iv) &&
         Base64Decode(parts[2], &out->tag) && !out->iv.empty() && out->tag.size() == kGcmTagBytes;
}

// AES-256-GCM open with the value's own IV and `aad`; false when the tag does not verify.
bool GcmOpen(std::string_view key, const EncValue& enc, std::string_view aad, std::string* out) {
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      EVP_CIPHER_CTX_free);
  if (!ctx || enc.data.size() > (1u << 30) || enc.iv.size() > 1024 ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(enc.iv.size()),
                          nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, U(key), U(enc.iv)) != 1) {
    return false;
  }
  int n = 0;
  if (!aad.empty() &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &n, U(aad), static_cast<int>(aad.size())) != 1) {
    return false;
  }
  std::string buf(enc.data.size() + kGcmTagBytes, '\0');
  int total = 0;
  if (!enc.data.empty() && EVP_DecryptUpdate(ctx.get(), U(buf), &n, U(enc.data),
                                             static_cast<int>(enc.data.size())) != 1) {
    return false;
  }
  total = n;
  std::string tag = enc.tag;
  bool ok = EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kGcmTagBytes, tag.data()) == 1 &&
            EVP_DecryptFinal_ex(ctx.get(), U(buf) + total, &n) == 1;
  if (ok) out->assign(buf.data(), static_cast<size_t>(total + n));
  OPENSSL_cleanse(buf.data(), buf.size());
  ERR_clear_error();
  return ok;
}

// Go's strconv.ParseBool.
std::optional<bool> ParseBool(std::string_view s) {
  for (std::string_view t : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (s == t) return true;
  }
  for (std::string_view f : {"0", "f", "F", "FALSE", "false", "False"}) {
    if (s == f) return false;
  }
  return std::nullopt;
}

// Decrypts one ENC value into a typed Value; errors name `where`, never the plaintext.
Result<Value> DecryptLeaf(std::string_view key, const std::string& text, std::string_view aad,
                          const std::string& where) {
  EncValue enc;
  if (!ParseEnc(text, &enc)) {
    return SopsError(where + ": not an ENC[AES256_GCM,data:...,iv:...,tag:...,type:...] value");
  }
  Wiped plain;
  if (!GcmOpen(key, enc, aad, &plain.bytes)) {
    return SopsError(where + ": does not decrypt (the value or its key path was altered)");
  }
  const std::string& p = plain.bytes;
  if (enc.type == "str" || enc.type == "bytes") return Value(std::string(p));
  if (enc.type == "int" || enc.type == "int64") {
    std::string_view digits = p;
    if (StartsWith(digits, "+")) digits.remove_prefix(1);
    int64_t i = 0;
    auto r = std::from_chars(digits.data(), digits.data() + digits.size(), i);
    if (digits.empty() || r.ec != std::errc() || r.ptr != digits.data() + digits.size()) {
      return SopsError(where + ": decrypted value is not an int");
    }
    return Value(i);
  }
  if (enc.type == "float") {
    double d = 0;
    auto r = std::from_chars(p.data(), p.data() + p.size(), d);
    if (p.empty() || r.ec != std::errc() || r.ptr != p.data() + p.size()) {
      return SopsError(where + ": decrypted value is not a float");
    }
    return Value(d);
  }
  if (enc.type == "bool") {
    auto b = ParseBool(p);
    if (!b) return SopsError(where + ": decrypted value is not a bool");
    return Value(*b);
  }
  return SopsError(where + ": unknown value type \"" + enc.type.substr(0, 16) + "\"");
}

class Walker {
 public:
  Walker(const Rules& rules, std::string_view key, EVP_MD_CTX* mac)
      : rules_(rules), key_(key), mac_(mac) {}

  // Decrypts `v` in place, adding each leaf to the MAC, in document order.
  Status Walk(Value& v, const std::string& where) {
    if (v.is_object()) {
      for (auto& [k, child] : v.as_object()) {
        path_.push_back(k);
        Status s = Walk(child, where.empty() ? k : where + "." + k);
        path_.pop_back();
        RETURN_IF_ERROR(s);
      }
      return Status::Ok();
    }
    if (v.is_array()) {
      auto& items = v.as_array();
      for (size_t i = 0; i < items.size(); ++i) {
        RETURN_IF_ERROR(Walk(items[i], where + "[" + std::to_string(i) + "]"));
      }
      return Status::Ok();
    }
    if (v.is_null()) return Status::Ok();  // sops neither encrypts nor MACs a null
    if (rules_.encrypted_regex || rules_.unencrypted_regex) {
      for (const auto& p : path_) {
        // std::regex recurses per character: keep keys that meet a regex short.
        if (p.size() > 4096) return SopsError(where + ": key longer than 4096 bytes");
      }
    }
    bool encrypted = false;
    try {
      encrypted = rules_.Encrypted(path_);
    } catch (const std::regex_error&) {  // std::regex gives up on too complex a match
      return SopsError(where + ": the encryption rule's regular expression failed to match");
    }
    if (encrypted) {
      if (!v.is_string()) {
        return SopsError(where + ": should be encrypted but is a plain " + v.TypeName());
      }
      if (!v.as_string().empty()) {  // sops leaves empty strings as they are
        ASSIGN_OR_RETURN(v, DecryptLeaf(key_, v.as_string(), Join(path_, ":") + ":", where));
      }
    }
    if (!rules_.mac_only_encrypted || encrypted) {
      Wiped bytes{MacBytes(v)};
      if (EVP_DigestUpdate(mac_, bytes.bytes.data(), bytes.bytes.size()) != 1) {
        return Internal("sops: SHA-512 failed");
      }
    }
    return Status::Ok();
  }

 private:
  const Rules& rules_;
  std::string_view key_;
  EVP_MD_CTX* mac_;
  std::vector<std::string> path_;
};

// Go's time.Format(time.RFC3339) drops fractional seconds: sops uses that form as the AAD.
std::string Rfc3339Seconds(const std::string& t) {
  size_t dot = t.find('.');
  if (dot == std::string::npos) return t;
  size_t end = dot + 1;
  while (end < t.size() && t[end] >= '0' && t[end] <= '9') ++end;
  return t.substr(0, dot) + t.substr(end);
}

}  // namespace

bool IsSopsEncrypted(const Value& doc) {
  const Value* sops = doc.is_object() ? doc.Find("sops") : nullptr;
  return sops != nullptr && sops->is_object() && sops->Find("mac") != nullptr;
}

Result<Value> SopsDecrypt(const Value& doc, const std::vector<AgeIdentity>& identities) {
  if (!IsSopsEncrypted(doc)) {
    return SopsError("not a SOPS-encrypted document (no top-level sops mapping with a mac)");
  }
  const Value& meta = *doc.Find("sops");
  ASSIGN_OR_RETURN(Rules rules, ReadRules(meta));
  const Value* mac_value = meta.Find("mac");
  if (!mac_value->is_string()) return SopsError("sops.mac is not a string");
  ASSIGN_OR_RETURN(std::string lastmodified, MetaString(meta, "lastmodified"));
  if (lastmodified.empty()) return SopsError("sops.lastmodified is missing");
  ASSIGN_OR_RETURN(std::string key_bytes, DataKey(meta, identities));
  Wiped key{std::move(key_bytes)};

  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> mac(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!mac || EVP_DigestInit_ex(mac.get(), EVP_sha512(), nullptr) != 1) {
    return Internal("sops: SHA-512 failed");
  }
  if (rules.mac_only_encrypted &&
      EVP_DigestUpdate(mac.get(), kMacOnlyEncryptedInit, sizeof(kMacOnlyEncryptedInit)) != 1) {
    return Internal("sops: SHA-512 failed");
  }
  Value out = doc;
  out.Erase("sops");
  Walker walker(rules, key.bytes, mac.get());
  Status walked = walker.Walk(out, "");
  if (!walked.ok()) return walked;

  std::string digest(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(mac.get(), U(digest), &len) != 1) return Internal("sops: SHA-512 failed");
  digest.resize(len);
  std::string computed = HexEncode(digest);
  for (char& c : computed) {
    if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
  }
  auto stored =
      DecryptLeaf(key.bytes, mac_value->as_string(), Rfc3339Seconds(lastmodified), "sops.mac");
  if (!stored.ok()) {
    return InvalidArgument("SOPS MAC mismatch: the file was altered after encryption (" +
                           stored.status().message() + ")");
  }
  if (!stored->is_string() || stored->as_string().size() != computed.size() ||
      CRYPTO_memcmp(stored->as_string().data(), computed.data(), computed.size()) != 0) {
    return InvalidArgument("SOPS MAC mismatch: the file was altered after encryption");
  }
  return out;
}

}  // namespace plumb::secrets
