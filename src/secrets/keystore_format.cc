#include "secrets/keystore_format.h"

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/strings.h"

namespace plumb::secrets {
namespace {

constexpr const char* kBackupIdHeader = "Key-Id: ";
constexpr const char* kBackupCreatedHeader = "Key-Created: ";

}  // namespace

// "sealed-secrets-key-0001700000000-ab12": the creation time first so ids sort by age.
std::string KeyId(int64_t created_unix) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%010" PRId64 "-", created_unix);
  return std::string(kKeyIdPrefix) + buf + RandomHex(2);
}

// The creation time an id carries, or -1 when `id` is not one of ours.
int64_t CreatedFromId(std::string_view id) {
  if (!StartsWith(id, kKeyIdPrefix)) return -1;
  std::string_view rest = id.substr(kKeyIdPrefix.size());
  size_t dash = rest.find('-');
  if (dash == 0 || dash == std::string_view::npos || rest.size() - dash - 1 != 4) return -1;
  int64_t created = 0;
  for (char c : rest.substr(0, dash)) {
    if (c < '0' || c > '9' || created > (INT64_MAX - 9) / 10) return -1;
    created = created * 10 + (c - '0');
  }
  for (char c : rest.substr(dash + 1))
    if (!std::isxdigit(static_cast<unsigned char>(c))) return -1;
  return created;
}

bool ValidAgeIdentity(std::string_view line) {
  if (!StartsWith(line, kAgeIdentityPrefix) || line.size() < kAgeIdentityPrefix.size() + 10)
    return false;
  for (char c : line.substr(kAgeIdentityPrefix.size()))
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
  return true;
}

// The identities of an .agekey file: AGE-SECRET-KEY-1 lines; `#` comments and blank lines
// skipped. Errors name the line, never its text.
Status ParseAgeFile(const std::string& name, std::string_view text, std::vector<std::string>* out) {
  int line_no = 0;
  for (const std::string& raw : Split(text, '\n')) {
    line_no++;
    std::string line = Trim(raw);
    if (line.empty() || line[0] == '#') continue;
    if (!ValidAgeIdentity(line))
      return InvalidArgument(name + ":" + std::to_string(line_no) +
                             ": not an age identity (AGE-SECRET-KEY-1...)");
    out->push_back(line);
  }
  return Status::Ok();
}

std::string FormatBackup(const KeySet& set,
                         const std::function<std::string(const std::string& id)>& cert_of) {
  std::string out =
      "# plumbline key backup: every sealing key and age identity of one operator.\n"
      "# SECRET: whoever holds this file can read every sealed secret. Keep it offline.\n"
      "# Restore with `plumb keys restore -f FILE --state-dir DIR`.\n";
  // Oldest first, so the file reads in the order the keys were made.
  for (size_t i = set.sealing.size(); i-- > 0;) {
    out += "\n";
    out += kBackupIdHeader + set.sealing_info[i].id + "\n";
    out += kBackupCreatedHeader + std::to_string(set.sealing_info[i].created_unix) + "\n";
    out += set.sealing[i].ToPem();
    std::string cert = cert_of(set.sealing_info[i].id);
    if (StartsWith(cert, "-----BEGIN CERTIFICATE-----")) out += cert;
  }
  if (!set.age_identities.empty()) out += "\n# age identities\n";
  for (const auto& id : set.age_identities) out += id + "\n";
  return out;
}

Result<ParsedBackup> ParseBackup(std::string_view text) {
  ParsedBackup out;
  std::vector<std::string> lines = Split(text, '\n');
  std::string id;
  int64_t created = -1;
  for (size_t i = 0; i < lines.size(); i++) {
    std::string where = "backup line " + std::to_string(i + 1);
    std::string line = Trim(lines[i]);
    if (line.empty() || line[0] == '#') continue;
    if (StartsWith(line, kBackupIdHeader)) {
      id = Trim(line.substr(std::strlen(kBackupIdHeader)));
      if (CreatedFromId(id) < 0) return InvalidArgument(where + ": not a key id: " + id);
      continue;
    }
    if (StartsWith(line, kBackupCreatedHeader)) {
      std::string n = Trim(line.substr(std::strlen(kBackupCreatedHeader)));
      char* end = nullptr;
      created = std::strtoll(n.c_str(), &end, 10);
      if (n.empty() || *end != '\0' || created < 0)
        return InvalidArgument(where + ": Key-Created is not a unix time");
      continue;
    }
    if (StartsWith(line, kAgeIdentityPrefix)) {
      if (!ValidAgeIdentity(line)) return InvalidArgument(where + ": malformed age identity");
      out.age.push_back(line);
      continue;
    }
    bool is_key = StartsWith(line, "-----BEGIN ") && EndsWith(line, "PRIVATE KEY-----");
    if (is_key || line == "-----BEGIN CERTIFICATE-----") {
      std::string end_line = "-----END " + line.substr(11);
      std::string pem = line + "\n";
      size_t j = i + 1;
      for (; j < lines.size() && Trim(lines[j]) != end_line; j++) pem += Trim(lines[j]) + "\n";
      if (j == lines.size()) return InvalidArgument(where + ": no " + end_line + " follows");
      pem += end_line + "\n";
      if (!is_key) {
        // A key's certificate: kept when it carries the key it follows, else remade.
        auto pub = PublicKey::FromPem(pem);
        if (!pub.ok()) return pub.status().WithContext(where);
        if (!out.keys.empty() &&
            PublicKeyFingerprint(*pub) == PublicKeyFingerprint(out.keys.back().key.public_key()))
          out.keys.back().cert = pem;
        i = j;
        continue;
      }
      auto key = PrivateKey::FromPem(pem);
      if (!key.ok()) return key.status().WithContext(where);
      if (!id.empty() && created < 0) created = CreatedFromId(id);
      out.keys.push_back({.id = id, .created = created, .key = std::move(*key)});
      id.clear();
      created = -1;
      i = j;
      continue;
    }
    return InvalidArgument(where +
                           ": not part of a plumbline key backup (expected Key-Id:, "
                           "Key-Created:, a PEM private key or an age identity)");
  }
  if (!id.empty() || created >= 0)
    return InvalidArgument("the backup ends after a Key-Id/Key-Created without its key");
  return out;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace plumb::secrets
