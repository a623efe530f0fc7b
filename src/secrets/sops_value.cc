#include "secrets/sops_value.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <charconv>
#include <cmath>
#include <memory>
#include <optional>

#include "core/strings.h"
#include "secrets/age_crypto.h"

namespace plumb::secrets::internal {
namespace {

using resource::Value;

constexpr size_t kGcmTagBytes = 16;

Status SopsError(const std::string& what) { return InvalidArgument("sops: " + what); }

// Go's strconv.FormatFloat(f, 'f', -1, 64): shortest round-trip digits, never an exponent.
std::string FormatFloat(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  char buf[512];
  auto r = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::fixed);
  return std::string(buf, r.ptr);
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

}  // namespace

std::string SopsMacBytes(const Value& v) {
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

Result<Value> DecryptSopsValue(std::string_view key, const std::string& text, std::string_view aad,
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

}  // namespace plumb::secrets::internal
