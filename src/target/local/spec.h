// target/local internal: validation of File and ConfigMap specs into their canonical
// Expected() bodies, and the --allow-path policy. Pure except for the policy's look at
// the file system (realpath of existing parents). Thread-safe.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/status.h"
#include "resource/resource.h"
#include "resource/value.h"
#include "target/target.h"

namespace plumb::target::local {

inline constexpr const char* kApiVersion = "local.plumbline.dev/v1";

// Canonical file mode "0644" from a string ("0644", "644", "0o644") or a number (420, as
// YAML 1.1 reads 0644). Only permission bits (at most 0777). InvalidArgument naming
// spec.mode otherwise.
Result<std::string> ParseFileMode(const resource::Value& v);
// "0644" -> 0644. The input must be canonical (from ParseFileMode).
int ModeBits(const std::string& canonical);
// 0644 -> "0644".
std::string FormatMode(int bits);

// The directories CheckWritable's look found to be real directories (or missing) all the
// way below an allowed directory, remembered for one plan: the Files of one directory cost
// one look at it instead of one each. Only a plan's early answer rests on it (the write
// checks the way on disk again, FileWriter). Its owner empties it whenever the file system
// may have changed under it (LocalTarget: when a plan begins, at Flush, at any apply,
// remove or publish). Thread-safe.
class DirCache {
 public:
  bool Knows(const std::string& allowed, const std::string& dir) const;
  void Add(const std::string& allowed, const std::string& dir);
  void Clear();

 private:
  static std::string KeyOf(const std::string& allowed, const std::string& dir);
  mutable std::mutex mu_;
  std::unordered_set<std::string> dirs_;  // GUARDED_BY(mu_): allowed '\0' dir
};

// OK when `path` (absolute, normalised) may be written: it lies strictly below one of
// `allow_paths` lexically, and the real path of its deepest existing parent directory lies
// under the real path of an allowed directory (so a symlinked directory cannot lead
// outside). PermissionDenied otherwise, and when `allow_paths` is empty. `dirs` (optional):
// a parent found there is not looked at again; one found fine is added.
Status CheckWritable(const std::vector<std::string>& allow_paths, const std::string& path,
                     DirCache* dirs = nullptr);
// The lexical half of CheckWritable: `path` lies strictly below one of `allow_paths`.
Status CheckAllowed(const std::vector<std::string>& allow_paths, const std::string& path);

// How ResolveFile checks the allow-path policy: kFull is CheckWritable; kLexical is
// CheckAllowed, for a caller that writes through FileWriter, which checks the way on disk
// as it writes.
enum class PathCheck { kFull, kLexical };

// A File resolved: its canonical body, and the bytes to write. The body of a File whose
// content comes from a Secret (spec.fromSecret) holds no part of the value: spec.content
// is resource::kMaskedValue and spec.contentHash a keyed digest of the value
// (SecretContentDigest under `digest_key`), so a changed value changes the body, and a
// diff, status or local.db row shows only that it changed.
struct ResolvedFile {
  resource::Value body;
  std::string content;
  bool from_secret = false;
};

inline constexpr const char* kContentHashField = "contentHash";

// The canonical File: path resolved (relative under ctx.local_root), content (inline, or
// from a ConfigMap or Secret of the same namespace in ctx.desired), mode as "0644" (0600
// by default for content from a Secret). Checks the allow-path policy. Errors name the
// file:line and field; a missing Secret/key names which and what to do, never a value.
Result<ResolvedFile> ResolveFile(const AppContext& ctx, const resource::Resource& r,
                                 const std::vector<std::string>& allow_paths,
                                 const std::string& digest_key, PathCheck check = PathCheck::kFull,
                                 DirCache* dirs = nullptr);
// The path ResolveFile makes of a non-empty spec.path `raw`: normalised, a relative one
// under ctx.local_root; "" when it is relative and there is no local root.
std::string FilePathOf(const AppContext& ctx, const std::string& raw);
// ResolveFile(...).body (kFull, with `dirs`).
Result<resource::Value> ExpectedFile(const AppContext& ctx, const resource::Resource& r,
                                     const std::vector<std::string>& allow_paths,
                                     const std::string& digest_key, DirCache* dirs = nullptr);
// spec.contentHash of secret-derived content: HMAC-SHA256 under `key`, 32 hex digits.
std::string SecretContentDigest(const std::string& key, std::string_view content);

// The canonical body of a ConfigMap: data values must be strings.
Result<resource::Value> ExpectedConfigMap(const resource::Resource& r);

// The metadata every local kind keeps: name, namespace, labels, annotations as given.
resource::Value CanonicalMetadata(const resource::Resource& r);

}  // namespace plumb::target::local
