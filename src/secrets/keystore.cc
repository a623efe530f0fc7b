#include "secrets/keystore.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/x509.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <thread>
#include <utility>

#include "core/clock.h"
#include "core/fs.h"
#include "core/strings.h"
#include "secrets/keystore_format.h"

namespace plumb::secrets {
namespace {

constexpr const char* kOwnAgeFile = "identities.agekey";

std::string ModeText(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Names of the entries of `dir`, sorted, without temp files of a write in progress.
Result<std::vector<std::string>> ListDir(const std::string& dir) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(dir));
  names.erase(std::remove_if(names.begin(), names.end(),
                             [](const std::string& n) { return StartsWith(n, ".plumb-tmp-"); }),
              names.end());
  return names;
}

// A key file others can read is a leaked key; refuse it rather than serve with it.
Status CheckPrivateFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return Unavailable("cannot stat " + path + ": " + std::strerror(errno));
  if ((st.st_mode & 077) != 0)
    return FailedPrecondition(path + " has mode " + ModeText(st.st_mode) +
                              ": a key file must be readable by its owner only; check who may "
                              "have read it, then run: chmod 600 " +
                              path);
  return Status::Ok();
}

Result<KeyInfo> InfoFor(const PrivateKey& key, std::string id, int64_t created) {
  return KeyInfo{.id = std::move(id),
                 .created_unix = created,
                 .bits = key.bits(),
                 .fingerprint = PublicKeyFingerprint(key.public_key())};
}

bool NewerFirst(const KeyInfo& a, const KeyInfo& b) {
  if (a.created_unix != b.created_unix) return a.created_unix > b.created_unix;
  return a.id > b.id;
}

// Keys and infos in one order, newest first.
std::shared_ptr<KeySet> MakeSet(std::vector<std::pair<KeyInfo, PrivateKey>> keys,
                                std::vector<std::string> age) {
  std::sort(keys.begin(), keys.end(),
            [](const auto& a, const auto& b) { return NewerFirst(a.first, b.first); });
  auto set = std::make_shared<KeySet>();
  for (auto& [info, key] : keys) {
    set->sealing_info.push_back(std::move(info));
    set->sealing.push_back(std::move(key));
  }
  set->age_identities = std::move(age);
  return set;
}

std::vector<std::pair<KeyInfo, PrivateKey>> Pairs(const KeySet& set) {
  std::vector<std::pair<KeyInfo, PrivateKey>> out;
  for (size_t i = 0; i < set.sealing.size(); i++)
    out.emplace_back(set.sealing_info[i], set.sealing[i]);
  return out;
}

// What a key directory holds: its sealing keys, its age identities (in file order, each
// once) and those of them in the store's own file.
struct DirKeys {
  std::vector<std::pair<KeyInfo, PrivateKey>> keys;
  std::vector<std::string> age, own_age;
};

Result<DirKeys> LoadDir(const std::string& dir) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
  DirKeys out;
  for (const std::string& name : names) {
    std::string path = fs::JoinPath(dir, name);
    bool is_key = EndsWith(name, ".pem") && StartsWith(name, kKeyIdPrefix);
    bool is_age = EndsWith(name, ".agekey");
    if (!is_key && !is_age) continue;
    RETURN_IF_ERROR(CheckPrivateFile(path));
    ASSIGN_OR_RETURN(std::string text, fs::ReadFile(path));
    if (is_age) {
      std::vector<std::string> ids;
      RETURN_IF_ERROR(ParseAgeFile(path, text, &ids));
      for (auto& id : ids) {
        if (name == kOwnAgeFile) out.own_age.push_back(id);
        if (!Contains(out.age, id)) out.age.push_back(std::move(id));
      }
      continue;
    }
    std::string id = name.substr(0, name.size() - 4);
    int64_t created = CreatedFromId(id);
    if (created < 0)
      return InvalidArgument(path + ": the name is not sealed-secrets-key-<unix time>-<4 hex>.pem");
    auto key = PrivateKey::FromPem(text);
    if (!key.ok()) return key.status().WithContext(path);
    ASSIGN_OR_RETURN(KeyInfo info, InfoFor(*key, id, created));
    out.keys.emplace_back(std::move(info), std::move(*key));
  }
  return out;
}

// An exclusive lock on DIR/.lock while it lives (flock: the kernel drops it when the
// process dies, so a kill -9 never leaves the directory locked).
class DirLock {
 public:
  // Taken by every writer of keys. Files made by another user than the directory's owner
  // (`sudo plumb keys ...` on an operator's directory) would be 0600 and theirs: the
  // operator could not read them and would not start. Refused before anything is made.
  static Result<DirLock> Take(const std::string& dir, std::chrono::milliseconds wait) {
    struct stat st;
    if (::stat(dir.c_str(), &st) == 0 && st.st_uid != ::geteuid())
      return FailedPrecondition(dir + " belongs to uid " + std::to_string(st.st_uid) +
                                ", not to this process (uid " + std::to_string(::geteuid()) +
                                "): keys written now would be unreadable by the operator; run "
                                "this as the directory's owner (e.g. sudo -u OWNER plumb ...)");
    std::string path = fs::JoinPath(dir, ".lock");
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return Unavailable("cannot open " + path + ": " + std::strerror(errno));
    DirLock lock(fd);
    // Another plumb process holds it while it makes a key (seconds for RSA-4096). One
    // stuck (stopped, or hung on a dead disk) must not hang this one without a word.
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK && errno != EINTR)
        return Unavailable("cannot lock " + path + ": " + std::strerror(errno));
      if (std::chrono::steady_clock::now() >= deadline)
        return Unavailable("another process has held " + path + " for " + FormatDuration(wait) +
                           " (making a key takes seconds): is a plumb process stopped or "
                           "hung? `fuser -v " +
                           path + "` names it");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return lock;
  }
  DirLock(DirLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  DirLock& operator=(DirLock&&) = delete;
  ~DirLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace

std::string PublicKeyFingerprint(const PublicKey& key) {
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(key.get(), &der);
  if (n <= 0) return "";
  std::string out = Sha256Hex(std::string_view(reinterpret_cast<char*>(der), n));
  OPENSSL_free(der);
  return out;
}

Result<std::unique_ptr<KeyStore>> KeyStore::Open(const std::string& dir) {
  if (dir.empty()) return InvalidArgument("the key directory is not set");
  if (!fs::IsDirectory(dir)) {
    RETURN_IF_ERROR(fs::MakeDirs(fs::Dirname(dir)));
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      return Unavailable("cannot create " + dir + ": " + std::strerror(errno));
    ::chmod(dir.c_str(), 0700);  // whatever the umask
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0)
    return Unavailable("cannot stat " + dir + ": " + std::strerror(errno));
  if ((st.st_mode & 022) != 0)
    return FailedPrecondition(dir + " has mode " + ModeText(st.st_mode) +
                              ": others could replace the operator's keys; run: chmod 700 " + dir);

  auto store = std::unique_ptr<KeyStore>(new KeyStore(dir));
  ASSIGN_OR_RETURN(DirKeys found, LoadDir(dir));
  store->own_age_ = std::move(found.own_age);
  store->current_ = MakeSet(std::move(found.keys), std::move(found.age));
  return store;
}

std::shared_ptr<const KeySet> KeyStore::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

void KeyStore::PublishLocked(std::shared_ptr<const KeySet> next) { current_ = std::move(next); }

Result<KeyInfo> KeyStore::AddKeyLocked(const PrivateKey& key, int64_t created_unix, std::string id,
                                       std::string cert) {
  std::string base = fs::JoinPath(dir_, id);
  std::string pem = key.ToPem();
  if (pem.empty()) return Internal("cannot encode the private key " + id);
  RETURN_IF_ERROR(fs::WriteFileAtomic(base + ".pem", pem, 0600));
  if (cert.empty()) {
    ASSIGN_OR_RETURN(cert, key.SelfSignedCertificatePem({.not_before_unix = created_unix}));
  }
  RETURN_IF_ERROR(fs::WriteFileAtomic(base + ".crt", cert, 0600));
  RETURN_IF_ERROR(fs::SyncFilesystem(dir_));
  ASSIGN_OR_RETURN(KeyInfo info, InfoFor(key, std::move(id), created_unix));
  auto pairs = Pairs(*current_);
  pairs.emplace_back(info, key);
  PublishLocked(MakeSet(std::move(pairs), current_->age_identities));
  return info;
}

KeyStore::~KeyStore() {
  if (init_thread_.joinable()) init_thread_.join();
}

void KeyStore::InitInBackground(int bits, std::function<void(const Result<KeyInfo>&)> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!current_->sealing.empty()) return;
  }
  {
    std::lock_guard<std::mutex> lock(init_mu_);
    if (initializing_ || init_thread_.joinable()) return;
    initializing_ = true;
  }
  init_thread_ =
      std::thread([this, bits, done = std::move(done)] { (void)GenerateFirstAndWake(bits, done); });
}

Status KeyStore::GenerateFirstAndWake(int bits,
                                      const std::function<void(const Result<KeyInfo>&)>& done) {
  Result<std::optional<KeyInfo>> made = GenerateFirst(bits);
  // `done` first: a failure is reported (and may end the process) before any waiter
  // wakes up to find no key.
  if (done && !made.ok()) done(made.status());
  if (done && made.ok() && *made) done(**made);
  {
    std::lock_guard<std::mutex> lock(init_mu_);
    initializing_ = false;
  }
  init_cv_.notify_all();
  return made.ok() ? Status::Ok() : made.status();
}

void KeyStore::WaitForKeys() const {
  std::unique_lock<std::mutex> lock(init_mu_);
  init_cv_.wait(lock, [this] { return !initializing_; });
}

void KeyStore::GenerateWhenNeeded(int bits, std::function<void(const Result<KeyInfo>&)> done) {
  std::lock_guard<std::mutex> lock(init_mu_);
  on_demand_bits_ = bits;
  on_demand_done_ = std::move(done);
}

Status KeyStore::EnsureKey() {
  std::unique_lock<std::mutex> lock(init_mu_);
  init_cv_.wait(lock, [this] { return !initializing_; });
  if (!Current()->sealing.empty()) return Status::Ok();
  if (on_demand_bits_ <= 0)
    return FailedPrecondition("the operator has no sealing key yet: run `plumb keys init`");
  // This thread generates; the others wait for it as for InitInBackground.
  initializing_ = true;
  const int bits = on_demand_bits_;
  auto done = on_demand_done_;
  lock.unlock();
  return GenerateFirstAndWake(bits, done);
}

Result<std::optional<KeyInfo>> KeyStore::GenerateFirst(int bits) {
  ASSIGN_OR_RETURN(DirLock dir_lock, DirLock::Take(dir_, lock_wait_));
  {
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(LoadNewKeysLocked());
    if (!current_->sealing.empty()) return std::optional<KeyInfo>();
  }
  ASSIGN_OR_RETURN(KeyInfo made, RotateNow(bits, 0));
  return std::optional<KeyInfo>(std::move(made));
}

Status KeyStore::LoadNewKeysLocked() {
  ASSIGN_OR_RETURN(DirKeys found, LoadDir(dir_));
  auto pairs = Pairs(*current_);
  const size_t held = pairs.size();
  for (auto& k : found.keys) {
    bool known = false;
    for (const auto& [info, key] : pairs) known |= info.id == k.first.id;
    if (!known) pairs.push_back(std::move(k));
  }
  if (pairs.size() != held) PublishLocked(MakeSet(std::move(pairs), current_->age_identities));
  return Status::Ok();
}

Result<KeyInfo> KeyStore::Init(int bits) {
  WaitForKeys();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!current_->sealing.empty())
      return AlreadyExists(dir_ + " already holds " + std::to_string(current_->sealing.size()) +
                           " sealing key(s); use `plumb keys rotate` to add a newer one");
  }
  ASSIGN_OR_RETURN(std::optional<KeyInfo> made, GenerateFirst(bits));
  if (!made)
    return AlreadyExists(dir_ +
                         " already holds a sealing key (made meanwhile by another "
                         "process); use `plumb keys rotate` to add a newer one");
  return std::move(*made);
}

Result<KeyInfo> KeyStore::Rotate(int bits, int64_t now_unix) {
  WaitForKeys();
  // Under the directory's lock, with the keys another process wrote meanwhile: a rotation
  // of an empty store beside a first key being made must not become a second first key.
  ASSIGN_OR_RETURN(DirLock dir_lock, DirLock::Take(dir_, lock_wait_));
  {
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(LoadNewKeysLocked());
  }
  return RotateNow(bits, now_unix);
}

Result<KeyInfo> KeyStore::RotateNow(int bits, int64_t now_unix) {
  // Generating a 4096-bit key takes a while: do it outside the lock.
  ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::Generate(bits));
  if (now_unix == 0) now_unix = static_cast<int64_t>(std::time(nullptr));
  std::lock_guard<std::mutex> lock(mu_);
  int64_t created = now_unix;
  if (!current_->sealing_info.empty())
    created = std::max(created, current_->sealing_info.front().created_unix + 1);
  return AddKeyLocked(key, created, KeyId(created));
}

Result<bool> KeyStore::RenewIfDue(int64_t period_seconds, int64_t now_unix, int bits) {
  WaitForKeys();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!current_->sealing_info.empty() &&
        now_unix - current_->sealing_info.front().created_unix < period_seconds)
      return false;
  }
  ASSIGN_OR_RETURN(DirLock dir_lock, DirLock::Take(dir_, lock_wait_));
  {
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(LoadNewKeysLocked());
    if (!current_->sealing_info.empty() &&
        now_unix - current_->sealing_info.front().created_unix < period_seconds)
      return false;  // another process renewed it meanwhile
  }
  ASSIGN_OR_RETURN(KeyInfo info, RotateNow(bits, now_unix));
  (void)info;
  return true;
}

Result<std::string> KeyStore::CertificatePem() {
  RETURN_IF_ERROR(EnsureKey());
  std::lock_guard<std::mutex> lock(mu_);
  if (current_->sealing.empty())
    return FailedPrecondition("the operator has no sealing key yet: run `plumb keys init`");
  const PrivateKey& key = current_->sealing.front();
  const KeyInfo& info = current_->sealing_info.front();
  std::string path = fs::JoinPath(dir_, info.id + ".crt");
  if (auto cached = fs::ReadFile(path); cached.ok()) {
    // Served only when it still carries this key (a file swapped by hand is remade).
    auto pub = PublicKey::FromPem(*cached);
    if (pub.ok() && PublicKeyFingerprint(*pub) == info.fingerprint) return *cached;
  }
  ASSIGN_OR_RETURN(std::string cert,
                   key.SelfSignedCertificatePem({.not_before_unix = info.created_unix}));
  RETURN_IF_ERROR(fs::WriteFileAtomic(path, cert, 0600));
  RETURN_IF_ERROR(fs::SyncFilesystem(dir_));
  return cert;
}

Status KeyStore::WriteAgeFileLocked(const std::vector<std::string>& identities) {
  std::string text = "# age identities of the plumbline operator (secret: keep mode 0600)\n";
  for (const auto& id : identities) text += id + "\n";
  RETURN_IF_ERROR(fs::WriteFileAtomic(fs::JoinPath(dir_, kOwnAgeFile), text, 0600));
  return fs::SyncFilesystem(dir_);
}

Status KeyStore::AddAgeIdentity(const std::string& identity_line) {
  std::string line = Trim(identity_line);
  if (!ValidAgeIdentity(line))
    return InvalidArgument("not an age identity: expected AGE-SECRET-KEY-1 followed by bech32");
  std::lock_guard<std::mutex> lock(mu_);
  if (Contains(current_->age_identities, line)) return Status::Ok();
  std::vector<std::string> own = own_age_;
  own.push_back(line);
  RETURN_IF_ERROR(WriteAgeFileLocked(own));
  own_age_ = std::move(own);
  auto next = std::make_shared<KeySet>(*current_);
  next->age_identities.push_back(line);
  PublishLocked(std::move(next));
  return Status::Ok();
}

std::string KeyStore::Backup() {
  (void)EnsureKey();  // what there is, when no key can be made
  return FormatBackup(*Current(), [this](const std::string& id) {
    auto cert = fs::ReadFile(fs::JoinPath(dir_, id + ".crt"));
    return cert.ok() ? *cert : std::string();
  });
}

Status KeyStore::Restore(std::string_view backup_text) {
  ASSIGN_OR_RETURN(ParsedBackup parsed, ParseBackup(backup_text));
  WaitForKeys();
  ASSIGN_OR_RETURN(DirLock dir_lock, DirLock::Take(dir_, lock_wait_));
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(LoadNewKeysLocked());
  std::vector<std::string> fingerprints, ids;
  for (const auto& info : current_->sealing_info) {
    fingerprints.push_back(info.fingerprint);
    ids.push_back(info.id);
  }
  int64_t next_created = static_cast<int64_t>(std::time(nullptr));
  if (!current_->sealing_info.empty())
    next_created = std::max(next_created, current_->sealing_info.front().created_unix + 1);
  for (BackupKey& k : parsed.keys) {
    std::string fp = PublicKeyFingerprint(k.key.public_key());
    if (Contains(fingerprints, fp)) continue;  // already held: restoring twice is harmless
    if (k.id.empty() || Contains(ids, k.id)) {
      // A bare PEM key (e.g. from a Bitnami controller) becomes the newest key.
      k.created = next_created++;
      k.id = KeyId(k.created);
    }
    fingerprints.push_back(fp);
    ids.push_back(k.id);
    ASSIGN_OR_RETURN(KeyInfo info, AddKeyLocked(k.key, k.created, k.id, k.cert));
    (void)info;
  }
  std::vector<std::string> own = own_age_;
  bool age_changed = false;
  for (const auto& a : parsed.age) {
    if (Contains(current_->age_identities, a) || Contains(own, a)) continue;
    own.push_back(a);
    age_changed = true;
  }
  if (age_changed) {
    RETURN_IF_ERROR(WriteAgeFileLocked(own));
    auto next = std::make_shared<KeySet>(*current_);
    for (const auto& a : own)
      if (!Contains(next->age_identities, a)) next->age_identities.push_back(a);
    own_age_ = std::move(own);
    PublishLocked(std::move(next));
  }
  return Status::Ok();
}

Result<std::string> KeyStore::DerivedKey(std::string_view purpose) {
  RETURN_IF_ERROR(EnsureKey());
  std::shared_ptr<const KeySet> set = Current();
  if (set->sealing.empty())
    return FailedPrecondition("no sealing key to derive from: run `plumb keys init`");
  const PrivateKey& oldest = set->sealing.back();
  unsigned char* der = nullptr;
  int n = i2d_PrivateKey(oldest.get(), &der);
  if (n <= 0) return Internal("cannot encode the sealing key");
  static constexpr char kSalt[] = "plumbline derived key v1";
  std::string out(32, '\0');
  size_t out_len = out.size();
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr);
  bool ok = ctx != nullptr && EVP_PKEY_derive_init(ctx) > 0 &&
            EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) > 0 &&
            EVP_PKEY_CTX_set1_hkdf_salt(ctx, reinterpret_cast<const unsigned char*>(kSalt),
                                        sizeof kSalt - 1) > 0 &&
            EVP_PKEY_CTX_set1_hkdf_key(ctx, der, n) > 0 &&
            EVP_PKEY_CTX_add1_hkdf_info(ctx, reinterpret_cast<const unsigned char*>(purpose.data()),
                                        static_cast<int>(purpose.size())) > 0 &&
            EVP_PKEY_derive(ctx, reinterpret_cast<unsigned char*>(out.data()), &out_len) > 0 &&
            out_len == out.size();
  EVP_PKEY_CTX_free(ctx);
  OPENSSL_clear_free(der, static_cast<size_t>(n));
  if (!ok) return Internal("HKDF-SHA256 failed");
  return out;
}

}  // namespace plumb::secrets
