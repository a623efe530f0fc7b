#include "secrets/sops.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <memory>
#include <optional>
#include <regex>

#include "core/strings.h"
#include "secrets/age_crypto.h"
#include "secrets/sops_value.h"

namespace plumb::secrets {
namespace {

using internal::U;
using internal::Wiped;
using resource::Value;

constexpr size_t kDataKeyBytes = 32;

// sops' MACOnlyEncryptedInitialization: SHA-256("sops"), hashed first when mac_only_encrypted
// is set so that the two kinds of MAC never coincide.
constexpr unsigned char kMacOnlyEncryptedInit[32] = {
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69};

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
  return v->as_string().str();
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

class Walker {
 public:
  Walker(const Rules& rules, std::string_view key, EVP_MD_CTX* mac)
      : rules_(rules), key_(key), mac_(mac) {}

  // Decrypts `v` in place, adding each leaf to the MAC, in document order.
  Status Walk(Value& v, const std::string& where) {
    if (v.is_object()) {
      for (auto& [k, child] : v.as_object()) {
        path_.push_back(k);
        Status s = Walk(child, where.empty() ? k.str() : where + "." + k);
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
        ASSIGN_OR_RETURN(
            v, internal::DecryptSopsValue(key_, v.as_string(), Join(path_, ":") + ":", where));
      }
    }
    if (!rules_.mac_only_encrypted || encrypted) {
      Wiped bytes{internal::SopsMacBytes(v)};
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

// sops uses lastmodified as Go's time.Format(time.RFC3339) writes it back: without fractional
// seconds, and "Z" for a zero offset.
std::string Rfc3339Seconds(std::string t) {
  if (size_t dot = t.find('.'); dot != std::string::npos) {
    size_t end = dot + 1;
    while (end < t.size() && t[end] >= '0' && t[end] <= '9') ++end;
    t = t.substr(0, dot) + t.substr(end);
  }
  if (EndsWith(t, "+00:00") || EndsWith(t, "-00:00")) t = t.substr(0, t.size() - 6) + "Z";
  return t;
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
  auto stored = internal::DecryptSopsValue(key.bytes, mac_value->as_string(),
                                           Rfc3339Seconds(lastmodified), "sops.mac");
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
