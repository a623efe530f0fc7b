// target/local internal: the files the runtime manages (every app), by path, with what
// each must contain. LocalTarget uses it to refuse two owners for one path; the Watcher
// reads it to know what to watch and what is drift. Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "resource/resource.h"
#include "target/local/file_state.h"
#include "target/target.h"

namespace plumb::target::local {

// HexDigest: see target/target.h (an inventory entry's applied hash is one too).
using target::HexDigest;

// The key ManagedFile::OwnerKey makes (app, '\x1f', id.Key()), kept as two parts: the
// part before the object's name (the Application, group, kind and namespace), interned so
// that the Files of one Application and kind share one copy, and the name, short enough
// for the string's own buffer. About 50 bytes less per managed file than the whole key on
// the heap. Equal to the key it was made from (compares with it as a string).
class OwnerKeyText {
 public:
  OwnerKeyText() = default;
  OwnerKeyText(std::string_view key);                                            // NOLINT
  OwnerKeyText(const std::string& key) : OwnerKeyText(std::string_view(key)) {}  // NOLINT
  std::string str() const;
  bool operator==(std::string_view key) const;
  bool operator==(const std::string& key) const { return *this == std::string_view(key); }
  bool operator==(const OwnerKeyText& o) const {
    return prefix_ == o.prefix_ && name_ == o.name_;  // prefixes are interned
  }

 private:
  const std::string* prefix_ = nullptr;  // interned, never freed; nullptr: ""
  std::string name_;
};

// `s` interned: one copy for the process's life, shared by every caller that asks for an
// equal text. For the few distinct texts many records hold (owner prefixes, digest keys).
const std::string* InternText(std::string_view s);

struct ManagedFile {
  // Who owns it: the Application and the object, as one key (app, '\x1f', id.Key())
  // (app() and id() take it apart).
  OwnerKeyText owner;
  std::string app() const;
  resource::ResourceId id() const;
  static std::string OwnerKey(const std::string& app, const resource::ResourceId& id);
  // Digest of the content last applied: Sha256Hex, or for content from a Secret the keyed
  // SecretContentDigest under *digest_key (the value itself is never kept).
  HexDigest content_digest;
  const std::string* digest_key = nullptr;  // InternText; nullptr: a plain Sha256Hex
  int mode = 0644;
  bool writing = false;  // the runtime is writing it right now: not drift, look again later
  // The file at a moment it held what was applied: as the runtime wrote it, or as a read
  // found it (ino 0: unknown). While a stat still shows this stamp the file holds what
  // was applied, and neither the watcher nor Observe need read it.
  FileStamp verified;
  // A moment (Tick()) taken before the stat of `verified`; 0: none. No event read since
  // (QuietSince) means the file is still as verified, without a stat.
  uint64_t verified_since = 0;
  uint64_t touched = 0;  // Tick() of the last watcher event for it (or of its last Set)
};

// The digest of `content` as `file` records it (see ManagedFile::content_digest).
std::string ContentDigest(const ManagedFile& file, std::string_view content);

class ManagedFiles {
 public:
  std::optional<ManagedFile> Find(const std::string& path) const;
  void Set(const std::string& path, ManagedFile file);
  void Erase(const std::string& path);
  // Marks a managed path as being written (or done); no-op for unmanaged paths.
  void SetWriting(const std::string& path, bool writing);
  // Marks a managed path as written, with the stamp of what was written (see
  // ManagedFile::verified) and the moment taken before it.
  void SetWritten(const std::string& path, const FileStamp& stamp, uint64_t since);
  // Records (or, with ino 0, forgets) that `path` held what was applied at `stamp`.
  void SetVerified(const std::string& path, const FileStamp& stamp, uint64_t since);
  // True when `st` (a stat of `path` taken after moment `since`) shows the verified stamp;
  // then `since` becomes the file's verified_since.
  bool MatchesVerified(const std::string& path, const struct stat& st, uint64_t since);
  // `path` showed its verified stamp `stamp` in a stat taken after moment `since`: the file
  // is verified since then (nothing changes when its record holds another stamp now).
  void ConfirmVerified(const std::string& path, const FileStamp& stamp, uint64_t since);
  // True when `path` is known to hold what was applied: quiet since it was verified (no
  // system call), or else an lstat shows the verified stamp (which re-arms the former).
  // `quiet` (optional): set to whether, after this call, the file is quiet since it was
  // verified, so that it stays known unchanged until ChangedSince() names it.
  bool KnownUnchanged(const std::string& path, bool* quiet = nullptr);
  // The paths whose record changed after moment `since` in a way that can end "known
  // unchanged" (an event read, a Set, Erase or write, a new verification), added to
  // `paths`. false: not known (too many changes since, or a change to every file: TouchAll,
  // a directory watched anew or no longer) — then ask KnownUnchanged() for each file.
  // A file that was quiet since its verification at `since` (KnownUnchanged's `quiet`)
  // and is not named here still is.
  bool ChangedSince(uint64_t since, std::vector<std::string>* paths) const;
  // Parent directories of all managed paths.
  std::vector<std::string> Dirs() const;
  // Counts changes of the set Dirs() returns: equal values, same directories.
  uint64_t DirsVersion() const;
  // Every managed path (not the records: a queue overflow or a rescan needs only these,
  // and copying 100,000 records doubled the table's memory).
  std::vector<std::string> Paths() const;
  // Managed paths whose parent directory is `dir`.
  std::vector<std::string> PathsIn(const std::string& dir) const;

  // What the watcher has seen, so that a file can be known unchanged without a stat: a
  // managed file whose directory is watched and that has had no event since a moment its
  // stat showed what was applied still holds it. Moments are Tick() values.
  uint64_t Tick();  // a moment: larger than every earlier one
  // The watcher read an event for `path` (Set() counts as one too). false: not managed.
  bool Touch(const std::string& path);
  void TouchAll();  // events may have been lost (queue overflow, rescan)
  // The watcher watches `dir` since moment `since`; 0: no longer.
  void SetWatched(const std::string& dir, uint64_t since);
  // True when `path` is managed, its directory was watched before moment `since`, and no
  // event for it was read since.
  bool QuietSince(const std::string& path, uint64_t since) const;

 private:
  bool QuietLocked(const std::string& path, const ManagedFile& file, uint64_t since) const;
  // Records a change of `path` for ChangedSince (mu_ held); ForgetChangesLocked: of all.
  void ChangedLocked(const std::string& path);
  void ForgetChangesLocked();

  mutable std::mutex mu_;
  std::map<std::string, ManagedFile> files_;       // GUARDED_BY(mu_)
  std::map<std::string, int> dir_refs_;            // GUARDED_BY(mu_)
  uint64_t dirs_version_ = 0;                      // GUARDED_BY(mu_)
  uint64_t ticks_ = 0;                             // GUARDED_BY(mu_)
  std::map<std::string, uint64_t> watched_since_;  // GUARDED_BY(mu_): dir -> moment
  // GUARDED_BY(mu_): the changes after moment changes_from_ (ChangedSince), in order; at
  // most kMaxChanges (then forgotten: changes_from_ moves on).
  static constexpr size_t kMaxChanges = 4096;
  std::vector<std::pair<uint64_t, std::string>> changes_;
  uint64_t changes_from_ = 0;
};

}  // namespace plumb::target::local
