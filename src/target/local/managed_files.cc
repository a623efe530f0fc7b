#include "target/local/managed_files.h"

#include <sys/stat.h>

#include <algorithm>
#include <functional>
#include <set>

#include "core/fs.h"
#include "core/strings.h"
#include "target/local/spec.h"

namespace plumb::target::local {

std::string ManagedFile::OwnerKey(const std::string& app, const resource::ResourceId& id) {
  return app + '\x1f' + id.Key();
}

const std::string* InternText(std::string_view s) {
  static std::mutex mu;
  static auto* texts = new std::set<std::string, std::less<>>();  // never freed
  std::lock_guard<std::mutex> lock(mu);
  auto it = texts->find(s);
  if (it == texts->end()) it = texts->emplace(s).first;
  return &*it;
}

OwnerKeyText::OwnerKeyText(std::string_view key) {
  // The name starts after the application's '\x1f' and the id's three '/' (group, kind,
  // namespace); any split gives the key back, this one keeps the name short.
  size_t at = key.find('\x1f');
  for (int slashes = 0; at != std::string_view::npos && slashes < 3; ++slashes)
    at = key.find('/', at + 1);
  size_t name_at = at == std::string_view::npos ? 0 : at + 1;
  if (name_at > 0) prefix_ = InternText(key.substr(0, name_at));
  name_ = std::string(key.substr(name_at));
}

std::string OwnerKeyText::str() const { return (prefix_ ? *prefix_ : std::string()) + name_; }

bool OwnerKeyText::operator==(std::string_view key) const {
  std::string_view prefix = prefix_ ? std::string_view(*prefix_) : std::string_view();
  return key.size() == prefix.size() + name_.size() && key.substr(0, prefix.size()) == prefix &&
         key.substr(prefix.size()) == name_;
}

std::string ManagedFile::app() const {
  std::string key = owner.str();
  return key.substr(0, key.find('\x1f'));
}

resource::ResourceId ManagedFile::id() const {
  std::string key = owner.str();
  size_t sep = key.find('\x1f');
  auto id = resource::ResourceId::FromKey(sep == std::string::npos ? "" : key.substr(sep + 1));
  return id.ok() ? *id : resource::ResourceId{};
}

std::string ContentDigest(const ManagedFile& file, std::string_view content) {
  return !file.digest_key ? Sha256Hex(content) : SecretContentDigest(*file.digest_key, content);
}

std::optional<ManagedFile> ManagedFiles::Find(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return std::nullopt;
  return it->second;
}

void ManagedFiles::Set(const std::string& path, ManagedFile file) {
  std::lock_guard<std::mutex> lock(mu_);
  file.touched = ++ticks_;
  ChangedLocked(path);
  auto [it, inserted] = files_.insert_or_assign(path, std::move(file));
  if (inserted && ++dir_refs_[fs::Dirname(path)] == 1) ++dirs_version_;
}

void ManagedFiles::Erase(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (files_.erase(path) == 0) return;
  ChangedLocked(path);
  auto it = dir_refs_.find(fs::Dirname(path));
  if (it != dir_refs_.end() && --it->second == 0) {
    dir_refs_.erase(it);
    ++dirs_version_;
  }
}

void ManagedFiles::SetWriting(const std::string& path, bool writing) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return;
  it->second.writing = writing;
  ChangedLocked(path);
}

void ManagedFiles::SetWritten(const std::string& path, const FileStamp& stamp, uint64_t since) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return;
  it->second.writing = false;
  it->second.verified = stamp;
  it->second.verified_since = stamp.ino != 0 ? since : 0;
  ChangedLocked(path);
}

void ManagedFiles::SetVerified(const std::string& path, const FileStamp& stamp, uint64_t since) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return;
  it->second.verified = stamp;
  it->second.verified_since = stamp.ino != 0 ? since : 0;
  ChangedLocked(path);
}

bool ManagedFiles::MatchesVerified(const std::string& path, const struct stat& st, uint64_t since) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end() || it->second.verified.ino == 0 ||
      !(it->second.verified == FileStamp::Of(st)))
    return false;
  it->second.verified_since = since;
  return true;
}

void ManagedFiles::ConfirmVerified(const std::string& path, const FileStamp& stamp,
                                   uint64_t since) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end() || stamp.ino == 0 || !(it->second.verified == stamp)) return;
  it->second.verified_since = std::max(it->second.verified_since, since);
}

bool ManagedFiles::KnownUnchanged(const std::string& path, bool* quiet) {
  if (quiet) *quiet = false;
  FileStamp stamp;
  uint64_t since;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(path);
    if (it == files_.end() || it->second.verified.ino == 0) return false;
    if (QuietLocked(path, it->second, it->second.verified_since)) {
      if (quiet) *quiet = true;
      return true;
    }
    stamp = it->second.verified;
    since = ++ticks_;  // before the stat
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || !(stamp == FileStamp::Of(st)))
    return false;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end() || !(it->second.verified == stamp)) return false;
  it->second.verified_since = since;
  if (quiet) *quiet = QuietLocked(path, it->second, since);
  return true;
}

bool ManagedFiles::ChangedSince(uint64_t since, std::vector<std::string>* paths) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (since < changes_from_) return false;
  // In order of moments: the ones after `since` are at the end.
  auto it = std::upper_bound(changes_.begin(), changes_.end(), since,
                             [](uint64_t t, const auto& c) { return t < c.first; });
  for (; it != changes_.end(); ++it) paths->push_back(it->second);
  return true;
}

void ManagedFiles::ChangedLocked(const std::string& path) {
  if (changes_.size() >= kMaxChanges) {
    ForgetChangesLocked();
    return;
  }
  changes_.emplace_back(++ticks_, path);
}

void ManagedFiles::ForgetChangesLocked() {
  changes_.clear();
  changes_.shrink_to_fit();
  changes_from_ = ++ticks_;
}

uint64_t ManagedFiles::DirsVersion() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dirs_version_;
}

std::vector<std::string> ManagedFiles::Dirs() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  out.reserve(dir_refs_.size());
  for (const auto& [dir, n] : dir_refs_) out.push_back(dir);
  return out;
}

std::vector<std::string> ManagedFiles::Paths() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  out.reserve(files_.size());
  for (const auto& entry : files_) out.push_back(entry.first);
  return out;
}

std::vector<std::string> ManagedFiles::PathsIn(const std::string& dir) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  const std::string prefix = dir == "/" ? "/" : dir + "/";
  for (auto it = files_.lower_bound(prefix); it != files_.end() && StartsWith(it->first, prefix);
       ++it) {
    if (fs::Dirname(it->first) == dir) out.push_back(it->first);
  }
  return out;
}

}  // namespace plumb::target::local

namespace plumb::target::local {

uint64_t ManagedFiles::Tick() {
  std::lock_guard<std::mutex> lock(mu_);
  return ++ticks_;
}

bool ManagedFiles::Touch(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return false;
  it->second.touched = ++ticks_;
  ChangedLocked(path);
  return true;
}

void ManagedFiles::TouchAll() {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t now = ++ticks_;
  for (auto& [path, file] : files_) file.touched = now;
  ForgetChangesLocked();
}

void ManagedFiles::SetWatched(const std::string& dir, uint64_t since) {
  std::lock_guard<std::mutex> lock(mu_);
  if (since == 0)
    watched_since_.erase(dir);
  else
    watched_since_[dir] = since;
  ForgetChangesLocked();
}

bool ManagedFiles::QuietSince(const std::string& path, uint64_t since) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  return it != files_.end() && QuietLocked(path, it->second, since);
}

bool ManagedFiles::QuietLocked(const std::string& path, const ManagedFile& file,
                               uint64_t since) const {
  if (since == 0 || file.touched >= since) return false;
  auto w = watched_since_.find(fs::Dirname(path));
  return w != watched_since_.end() && w->second < since;
}

}  // namespace plumb::target::local
