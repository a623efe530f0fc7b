// secrets: the operator's key store, a directory (STATE_DIR/keys) holding every sealing key
// pair it ever had and its age identities. Sealing uses the newest key; unsealing tries them
// all, newest first, so values sealed before a rotation keep working. One backup file holds
// everything, so a fresh operator restores from it alone (disaster recovery).
//
// On disk (every file mode 0600, the directory 0700):
//   sealed-secrets-key-<unix, 10 digits>-<4 hex>.pem  the private key, PKCS#1 PEM
//   sealed-secrets-key-<...>.crt                       its self-signed certificate (cached so the
//                                                      served certificate stays the same)
//   *.agekey                                           age identities, one AGE-SECRET-KEY-1... a
//                                                      line (`#` comments), as age-keygen writes
// Key ids sort by creation time, as the file names do.
//
// Thread-safety: every method may be called from any thread. Readers take an immutable
// snapshot (Current) and never wait for a writer beyond a pointer copy.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/status.h"
#include "secrets/keys.h"

namespace plumb::secrets {

struct KeyInfo {
  std::string id;  // sealed-secrets-key-<unix>-<4 hex>
  int64_t created_unix = 0;
  int bits = 0;
  std::string fingerprint;  // hex SHA-256 of the public key's DER (SubjectPublicKeyInfo)
};

// An immutable snapshot of the store.
struct KeySet {
  std::vector<PrivateKey> sealing;          // newest first
  std::vector<KeyInfo> sealing_info;        // same order
  std::vector<std::string> age_identities;  // "AGE-SECRET-KEY-1..." lines, in the order added
};

class KeyStore {
 public:
  // Opens the store in `dir`, creating it (mode 0700) when missing, and loads every key.
  // FailedPrecondition, saying which chmod fixes it, when the directory is writable by
  // others or a key file is readable by anyone but its owner; InvalidArgument naming the
  // file when a key file does not parse.
  static Result<std::unique_ptr<KeyStore>> Open(const std::string& dir);

  ~KeyStore();
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  const std::string& dir() const { return dir_; }
  // How long a writer of keys waits for another process's lock on the directory before
  // it gives up saying so (default 2 minutes: making a key takes seconds). For tests.
  void set_lock_wait(std::chrono::milliseconds wait) { lock_wait_ = wait; }

  // The keys as they are now; later writes do not change a snapshot already taken.
  std::shared_ptr<const KeySet> Current() const;

  // Generates the first key. AlreadyExists when the store has one, or when another process
  // made one meanwhile (it is loaded then).
  Result<KeyInfo> Init(int bits = kDefaultKeyBits);
  // Generates the first key on a thread of its own when the store has none (RSA-4096
  // takes 0.5-5 s), so the operator's first sync does not wait for it; a no-op when a key
  // exists. `done` runs on that thread with the result (not when another process made the
  // key meanwhile: that one is loaded). What needs the key (EnsureKey and every method
  // below that calls it) waits for the generation; Current() does not: a snapshot taken
  // meanwhile has no sealing key.
  void InitInBackground(int bits, std::function<void(const Result<KeyInfo>&)> done);
  // For a process that may never need the key (plumb run --once, plumb keys export-public):
  // when the store has no sealing key, the first call that needs one (EnsureKey,
  // CertificatePem, Backup, DerivedKey) generates it on its caller's thread while the
  // others wait; `done` runs there with the result, as for InitInBackground.
  void GenerateWhenNeeded(int bits, std::function<void(const Result<KeyInfo>&)> done);
  // Returns once no InitInBackground generation is running.
  void WaitForKeys() const;
  // The store has a sealing key once this returns OK: it waits for a generation under
  // way, or makes the key when GenerateWhenNeeded armed that. FailedPrecondition when
  // there is none and none is to be made; the generation's error when it failed.
  // The first key is made at most once: within the process (one generation at a time)
  // and across processes sharing the directory (a lock file, STATE_DIR/keys/.lock; a key
  // another process made meanwhile is loaded instead), so a key local.db rows are
  // encrypted under is never replaced by a second "first" key.
  Status EnsureKey();
  // Adds a newer key (created `now_unix`, 0 = now): sealing uses it from then on, old keys
  // stay for unsealing. Creation times are strictly increasing, so a second rotation
  // within the same second is still the newest.
  Result<KeyInfo> Rotate(int bits = kDefaultKeyBits, int64_t now_unix = 0);
  // Rotates when there is no key or the newest is older than `period_seconds` at
  // `now_unix`. Returns whether it rotated.
  Result<bool> RenewIfDue(int64_t period_seconds, int64_t now_unix, int bits = kDefaultKeyBits);

  // The newest key's self-signed certificate (PEM), made once and kept beside the key so
  // it is the same on every call and every restart. FailedPrecondition with no key.
  Result<std::string> CertificatePem();

  // Stores an age identity ("AGE-SECRET-KEY-1...") in a 0600 file; one already held is
  // ignored. InvalidArgument (without the identity in the message) when malformed.
  Status AddAgeIdentity(const std::string& identity_line);

  // One text file holding every sealing key (PEM, each preceded by its id and creation
  // time and followed by its certificate, so a restored operator serves the same one) and
  // every age identity. Secret: the caller writes it with mode 0600.
  std::string Backup();
  // Loads a Backup() text into this store; keys and identities already held are skipped,
  // so restoring twice is harmless. Also takes bare PEM RSA private keys (as exported
  // from a Bitnami controller's key Secrets). All or nothing: InvalidArgument naming the
  // line when any part does not parse, and nothing is written.
  Status Restore(std::string_view backup_text);

  // 32 bytes derived with HKDF-SHA256 from the OLDEST sealing key and `purpose`: a key
  // that stays the same across rotations, for encrypting local state at rest.
  // FailedPrecondition when there is no key.
  Result<std::string> DerivedKey(std::string_view purpose);

 private:
  explicit KeyStore(std::string dir) : dir_(std::move(dir)) {}
  // Writes a key and its certificate (`cert_pem`, or a new one when empty) and publishes a
  // snapshot with it; mu_ held.
  Result<KeyInfo> AddKeyLocked(const PrivateKey& key, int64_t created_unix, std::string id,
                               std::string cert_pem = "");
  Status WriteAgeFileLocked(const std::vector<std::string>& identities);
  void PublishLocked(std::shared_ptr<const KeySet> next);
  Result<KeyInfo> RotateNow(int bits, int64_t now_unix);
  // Makes the first key, holding the directory's lock file: nullopt when the store (after
  // loading what another process may have written) already has one. Not under mu_.
  Result<std::optional<KeyInfo>> GenerateFirst(int bits);
  // GenerateFirst for the thread that set initializing_: tells `done` what it made (or
  // why not), then clears initializing_ and wakes the waiters.
  Status GenerateFirstAndWake(int bits, const std::function<void(const Result<KeyInfo>&)>& done);
  // Loads sealing keys written to the directory by another process; mu_ held.
  Status LoadNewKeysLocked();

  const std::string dir_;
  std::chrono::milliseconds lock_wait_{std::chrono::minutes(2)};
  mutable std::mutex mu_;                  // serialises writers and guards current_
  std::shared_ptr<const KeySet> current_;  // guarded by mu_
  std::vector<std::string> own_age_;       // identities in identities.agekey; guarded by mu_
  mutable std::mutex init_mu_;             // guards initializing_ and on_demand_*; before mu_
  mutable std::condition_variable init_cv_;
  bool initializing_ = false;  // a generation of the first key is running
  int on_demand_bits_ = 0;     // GenerateWhenNeeded: the first key's size; 0: not armed
  std::function<void(const Result<KeyInfo>&)> on_demand_done_;
  std::thread init_thread_;  // joined by the destructor
};

// The fingerprint KeyInfo carries: hex SHA-256 of the DER SubjectPublicKeyInfo.
std::string PublicKeyFingerprint(const PublicKey& key);

}  // namespace plumb::secrets
