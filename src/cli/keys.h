// cli: the sealed-secrets verbs. `plumb keys ...` manages the operator's keys in
// STATE_DIR/keys (keys.cc); `plumb seal` seals a Secret offline with only the public
// certificate and `plumb reseal` re-encrypts sealed files to the newest key (seal.cc).
// Each returns the process exit code: 0 done, 2 error (printed to stderr, never a secret).
#pragma once

#include <string>
#include <vector>

#include "cli/client.h"
#include "core/clock.h"
#include "secrets/keys.h"

namespace plumb::secrets {
class KeyStore;
}

namespace plumb::cli {

struct KeysOptions {
  std::string state_dir;  // "" = DefaultStateDir(); the keys are in STATE_DIR/keys
  int bits = secrets::kDefaultKeyBits;
  std::string output = "table";  // table | json
  std::string file;              // backup: where to write ("" = stdout); restore: what to read
};

// verb: init | rotate | list | export-public | backup | restore | age-init.
int CmdKeys(const std::string& verb, const KeysOptions& o);

// FailedPrecondition: `dir` holds no keys (what to do about it).
Status NoKeysHere(const std::string& dir);

// For plumb run: adds a newer sealing key when the newest is older than `period` (0: never),
// logging it (or why it failed: the old keys go on sealing). Thread-safe.
void RenewSealingKeyIfDue(secrets::KeyStore& store, Duration period, int bits);

struct SealOptions {
  std::string cert_file;  // --cert; else the certificate is fetched from the operator
  ClientOptions client;   // --operator URL (as server) and --ca-file
  std::string scope = "strict";
  std::string name, ns;                   // override or (with --from-*) set the Secret's
  std::vector<std::string> from_literal;  // k=v
  std::vector<std::string> from_file;     // [k=]path
  std::string merge_into;                 // a sealed file to add the keys to, in place
  std::string output = "yaml";            // yaml | json
};
int CmdSeal(const SealOptions& o);

// Rewrites each file in place: every SealedSecret in it sealed again to the newest key of
// STATE_DIR/keys; other documents are kept as they were, byte for byte.
int CmdReseal(const std::string& state_dir, const std::vector<std::string>& files);

}  // namespace plumb::cli
