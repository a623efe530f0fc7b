// secrets (internal to the key store): the text formats of STATE_DIR/keys and of the key
// backup. Key ids ("sealed-secrets-key-<unix, 10 digits>-<4 hex>"), age identity lines
// (.agekey files) and the backup file:
//
//   # comments
//   Key-Id: sealed-secrets-key-1795728608-f989
//   Key-Created: 1795728608
//   -----BEGIN RSA PRIVATE KEY----- ... (the key)
//   -----BEGIN CERTIFICATE----- ...     (its certificate, optional)
//   AGE-SECRET-KEY-1...                 (age identities, one a line)
//
// Errors name the line, never a key.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "secrets/keys.h"
#include "secrets/keystore.h"

namespace plumb::secrets {

inline constexpr std::string_view kKeyIdPrefix = "sealed-secrets-key-";
inline constexpr std::string_view kAgeIdentityPrefix = "AGE-SECRET-KEY-1";

// A fresh id for a key created at `created_unix`: the time first, so ids sort by age.
std::string KeyId(int64_t created_unix);
// The creation time an id carries, or -1 when `id` is not one.
int64_t CreatedFromId(std::string_view id);

// "AGE-SECRET-KEY-1" followed by Bech32 letters and digits.
bool ValidAgeIdentity(std::string_view line);
// Appends the identities of an .agekey file (`#` comments and blank lines skipped) to `out`.
// InvalidArgument "NAME:LINE: ..." for any other line.
Status ParseAgeFile(const std::string& name, std::string_view text, std::vector<std::string>* out);

struct BackupKey {
  std::string id;        // "" when the backup gave none (a bare PEM key)
  int64_t created = -1;  // -1 when none given
  PrivateKey key;
  std::string cert;  // the certificate that followed the key, when it carries this key
};
struct ParsedBackup {
  std::vector<BackupKey> keys;
  std::vector<std::string> age;
};

// The backup text of `set`, oldest key first; `cert_of(id)` gives a key's certificate PEM
// ("" for none).
std::string FormatBackup(const KeySet& set,
                         const std::function<std::string(const std::string& id)>& cert_of);
// Reads a backup (or bare PEM RSA private keys). InvalidArgument naming the line.
Result<ParsedBackup> ParseBackup(std::string_view text);

bool Contains(const std::vector<std::string>& v, const std::string& s);

}  // namespace plumb::secrets
