// target/local internal: the files the runtime manages (every app), by path, with what
// each must contain. LocalTarget uses it to refuse two owners for one path; the Watcher
// reads it to know what to watch and what is drift. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "resource/resource.h"

namespace plumb::target::local {

struct ManagedFile {
  std::string app;
  resource::ResourceId id;
  // Digest of the content last applied: Sha256Hex, or for content from a Secret the keyed
  // SecretContentDigest under digest_key (the value itself is never kept).
  std::string content_digest;
  std::string digest_key;
  int mode = 0644;
  bool writing = false;  // the runtime is writing it right now: not drift, look again later
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
  // Parent directories of all managed paths.
  std::vector<std::string> Dirs() const;
  std::vector<std::pair<std::string, ManagedFile>> Snapshot() const;
  // Managed paths whose parent directory is `dir`.
  std::vector<std::string> PathsIn(const std::string& dir) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, ManagedFile> files_;  // GUARDED_BY(mu_)
  std::map<std::string, int> dir_refs_;       // GUARDED_BY(mu_)
};

}  // namespace plumb::target::local
