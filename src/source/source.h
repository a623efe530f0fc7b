// source: git through libgit2. One bare mirror per repository URL under a cache
// directory, fetched at most once per interval however many Applications follow it;
// resolve branch/tag/commit; read a subtree at a commit (symlinks resolved, never
// outside the subtree); changed paths between commits; write commits and push
// (rollback, promotion); create repositories (plumb init).
//
// Thread-safety: every RepoCache method may be called from several threads; calls on
// one URL are serialised by a per-URL lock, calls on different URLs run in parallel.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace plumb::source {

struct CommitInfo {
  std::string id;  // 40 hex
  std::string author_name;
  std::string author_email;
  int64_t time_unix = 0;        // author time, seconds
  std::string message;          // full message
  size_t parents = 0;           // filled by LocalRepo::Commits only
  std::string Summary() const;  // first line
};

// One file of a tree at a commit, after symlink resolution.
struct TreeFile {
  std::string path;         // relative to the repository root, '/'-separated
  std::string blob_id;      // 40 hex; the content's git blob id (the symlink target's, for links)
  uint32_t mode = 0100644;  // 0100644 or 0100755 (a resolved symlink reports its target's)
  std::string via_symlink;  // non-empty when `path` is a symlink: the link's literal target
};

struct Signature {
  std::string name = "plumbline";
  std::string email = "plumbline@localhost";
  // A private key to sign the commit with (the text of an OpenSSH private key file, or an
  // ASCII-armored OpenPGP secret key, unprotected); empty: the commit is not signed.
  std::string signing_key;
  std::string signing_passphrase;  // of an OpenPGP signing key that has one
};

// A public key trusted to sign what the operator applies (spec.source.verify.keys).
struct TrustedKey {
  enum class Type { kSsh, kPgp };
  Type type = Type::kSsh;
  // kSsh: one or more authorized_keys-style lines ("ssh-ed25519 AAAA... alice");
  // kPgp: an ASCII-armored OpenPGP public key block (one or more keys).
  std::string key;
};

// A signed git object as git signs it: `signature` over exactly `signed_data`.
struct SignedObject {
  std::string kind;         // "commit" or "tag"
  std::string id;           // the object's id (40 hex)
  std::string name;         // for messages: the short commit id, or "tag v1.2"
  std::string commit;       // the commit: the object itself, or the one the tag points at
  std::string signature;    // ASCII-armored ("-----BEGIN ..."); empty when unsigned
  std::string signed_data;  // the object's content without the signature
};

// Who signed, once verified: "SSH key ED25519 SHA256:..." or "OpenPGP key FINGERPRINT".
struct Verification {
  std::string signer;
};

// Verifies `object`'s signature against `keys` with the real tools: `ssh-keygen -Y verify`
// (namespace "git") for SSH signatures, `gpg --verify` in a throw-away GNUPGHOME (mode
// 0700, agent never started) holding only `keys` for OpenPGP ones. Errors:
// FailedPrecondition when unsigned; PermissionDenied when the signature is bad or made by
// a key not in `keys` (the signer's key id or fingerprint named); InvalidArgument for a key
// the tools cannot read; NotFound when gpg or ssh-keygen is not installed. Thread-safe.
Result<Verification> VerifySignature(const SignedObject& object,
                                     const std::vector<TrustedKey>& keys);

// Signs `data` as git signs a commit, with the real tools: `ssh-keygen -Y sign -n git` for
// an OpenSSH private key, `gpg --detach-sign --armor` in a throw-away GNUPGHOME (its agent
// stopped afterwards) for an OpenPGP secret key. Returns the ASCII-armored signature.
// InvalidArgument when `key` is neither or the tool cannot use it (a passphrase-protected
// key without its `passphrase` among them); NotFound when ssh-keygen or gpg is not installed.
// Thread-safe.
Result<std::string> SignData(const std::string& data, const std::string& key,
                             const std::string& passphrase = "");

// Which kind of private key `key` holds ("SSH", "OpenPGP") or InvalidArgument naming what
// is expected. For checking a --signing-key file when the operator starts.
Result<std::string> SigningKeyType(const std::string& key);

// Everything the operator knows about a fetch of a repository.
struct FetchStats {
  int64_t duration_ms = 0;
  bool skipped = false;  // fetched recently enough (max_age), nothing done
};

enum class MergeStrategy {
  kMerge,  // a normal three-way merge (fast-forward when possible)
  kOurs,   // `git merge -s ours`: a merge commit that keeps the branch's tree as it is
};

struct MergeRequest {
  std::string into;    // the branch merged into
  std::string commit;  // what is merged: a commit id, or a branch/tag name
  MergeStrategy strategy = MergeStrategy::kMerge;
  std::string message;  // of a merge commit (a fast-forward writes none)
  Signature author;
  bool dry_run = false;  // compute the outcome, push nothing
};

struct MergeResult {
  // UpToDate: `commit` is already in the branch; FastForward: the branch moves to
  // `commit`; MergeCommit: a new commit with parents (head, commit); Conflict: nothing
  // written, `conflicts` lists the files.
  std::string outcome;
  std::string previous_head;
  std::string new_head;  // the branch head afterwards ("" for a dry-run merge commit)
  std::string commit;    // the merged commit's full id
  size_t ahead = 0;      // commits `commit` brings that the branch lacks
  size_t behind = 0;     // commits the branch has that `commit` lacks (its own)
  std::vector<std::string> conflicts;
};

// The lines one change adds to one file (what a secret scan of a diff reads): the blob
// the file holds afterwards and the 1-based numbers, in that blob, of the added lines.
struct AddedLines {
  std::string path;
  std::string blob_id;     // 40 hex
  std::vector<int> lines;  // sorted, ascending; never empty
  // RepoCache::AddedBetween: a file added whole (every line) comes with the blob's text,
  // read once by the diff, so the scan need not read it again.
  bool has_text = false;
  std::string text;
};

// What one commit adds (against its parents; a root commit adds all its files).
struct CommitAdditions {
  CommitInfo commit;
  std::vector<AddedLines> files;  // binary files and deletions are left out
};

// A repository opened in place (a working clone, found from any directory inside it, or
// a bare repository) for reading its history, index and blobs: what `plumb scan` reads.
// Not thread-safe: use one per thread.
class LocalRepo {
 public:
  // Opens the repository holding `dir` (searching upwards like git). NotFound when `dir`
  // is in no repository.
  static Result<std::unique_ptr<LocalRepo>> Open(const std::string& dir);
  ~LocalRepo();
  LocalRepo(const LocalRepo&) = delete;
  LocalRepo& operator=(const LocalRepo&) = delete;

  // The working directory ("" for a bare repository) and the git directory.
  std::string WorkDir() const;
  std::string GitDir() const;

  // Commits of `range`, newest first: "A..B" (reachable from B, not from A), "REV" (all
  // reachable from REV), "" (reachable from HEAD, every branch and every tag). Merge
  // commits are included (`parents` > 1).
  Result<std::vector<CommitInfo>> Commits(const std::string& range);

  // What `commit` adds against its parent (a root commit: all its lines). A merge adds
  // the lines that are new against every parent, as gitleaks counts them: what its conflict
  // resolution or an "evil merge" wrote, not what the merged commits brought (a history
  // walk visits those commits).
  Result<CommitAdditions> Additions(const std::string& commit);

  // What the index adds against HEAD (`git diff --cached`): the staged blobs and lines.
  Result<std::vector<AddedLines>> StagedAdditions();

  // A blob's content. NotFound when absent.
  Result<std::string> ReadBlob(const std::string& blob_id);

 private:
  struct Impl;
  explicit LocalRepo(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Initialises libgit2 (once per process; later calls return at once, a call racing the
// first waits for it). RepoCache and LocalRepo call it themselves; a program may call it
// early on a thread of its own, as plumb run does, so that it overlaps other start-up work.
void InitGit();

class RepoCache {
 public:
  // `dir` holds the mirrors (created if missing): DIR/<first 16 hex of sha256(url)>.git.
  explicit RepoCache(std::string dir);
  ~RepoCache();
  RepoCache(const RepoCache&) = delete;
  RepoCache& operator=(const RepoCache&) = delete;

  // Clones the mirror on first use, then fetches all branches and tags (force, prune).
  // A fetch younger than `max_age` is skipped. Errors: Unavailable (network, remote
  // down: transient), NotFound (no such repository), with the URL named.
  Result<FetchStats> Fetch(const std::string& url, Duration max_age = Duration(0));

  // Resolves `ref` against the mirror: a branch name, a tag name ("v1.2"), "refs/...",
  // or a full/abbreviated commit id. Returns the commit id (tags peeled). NotFound
  // names the ref and URL. Does not fetch.
  Result<std::string> Resolve(const std::string& url, const std::string& ref);

  Result<CommitInfo> GetCommit(const std::string& url, const std::string& commit);

  // The signature of the commit `commit` resolves to (see Resolve), and the data it signs.
  // An unsigned commit has an empty `signature`. Does not fetch.
  Result<SignedObject> CommitSignature(const std::string& url, const std::string& commit);

  // The signature of the annotated tag `tag` ("v1.2" or "refs/tags/v1.2") and the data it
  // signs. NotFound when there is no such tag; FailedPrecondition for a lightweight tag
  // (nothing that could carry a signature); an unsigned annotated tag has an empty
  // `signature`. Does not fetch.
  Result<SignedObject> TagSignature(const std::string& url, const std::string& tag);

  // Lists every file under `path` ("" or "." for the root) at `commit`, recursively,
  // sorted by path. Symlinks are resolved: a link whose target stays inside `path` is
  // reported as the target file (under the link's own path; a link to a directory
  // yields that directory's files); a link leading outside `path` (or a loop) is a
  // PermissionDenied error naming the link and its target. Submodules are skipped.
  // NotFound when `path` does not exist at that commit.
  Result<std::vector<TreeFile>> ListFiles(const std::string& url, const std::string& commit,
                                          const std::string& path);

  // The content of a blob. NotFound when absent.
  Result<std::string> ReadBlob(const std::string& url, const std::string& blob_id);

  // The blob id of the regular file at `path` (from the root) in `commit`. NotFound when
  // there is none (absent, a directory, a symlink or a submodule). Does not fetch.
  Result<std::string> FileBlobId(const std::string& url, const std::string& commit,
                                 const std::string& path);

  // Writes the whole tree of `commit` (files with their modes; symlinks that stay inside
  // the tree materialised as copies; links leading outside are errors) into `dest`,
  // which must exist and be empty. For tools like kustomize that need real files.
  Status Checkout(const std::string& url, const std::string& commit, const std::string& dest);

  // Paths (files) that differ between two commits, sorted. `from` may be "" (everything).
  Result<std::vector<std::string>> ChangedPaths(const std::string& url, const std::string& from,
                                                const std::string& to);

  // Whether `ancestor` is an ancestor of (or equal to) `descendant`.
  Result<bool> IsAncestor(const std::string& url, const std::string& ancestor,
                          const std::string& descendant);

  // Rollback: writes one new commit on `branch` (on top of its current head in the
  // remote) whose tree equals the head's tree except that `path` ("" = whole tree)
  // equals its content at `revision`; pushes it to the remote `url` (a bare repository
  // for local paths) and updates the mirror. Returns the new commit id. If the path
  // already equals the revision's content, returns FailedPrecondition "nothing to roll
  // back". Aborted when the remote moved during the push (retry).
  Result<std::string> CommitPathFromRevision(const std::string& url, const std::string& branch,
                                             const std::string& path, const std::string& revision,
                                             const std::string& message, const Signature& author);

  // Image automation: writes one commit on `branch` whose tree is `parent`'s with each
  // path of `files` holding the new content (existing files keep their mode; new ones are
  // 0100644), pushes it to `url` and updates the mirror. `parent` is the branch head the
  // caller read the files at: Aborted when the branch has moved since (read again and
  // retry). FailedPrecondition "nothing to commit" when the tree would not change.
  // Returns the new commit id.
  Result<std::string> CommitFiles(const std::string& url, const std::string& branch,
                                  const std::string& parent,
                                  const std::map<std::string, std::string>& files,
                                  const std::string& message, const Signature& author);

  // Directory-per-environment promotion: like CommitPathFromRevision, but `path` takes
  // the content `source_path` has at `revision` (the staging directory's content goes
  // into the production directory). FailedPrecondition "nothing to promote" when equal.
  Result<std::string> CommitPathFrom(const std::string& url, const std::string& branch,
                                     const std::string& path, const std::string& revision,
                                     const std::string& source_path, const std::string& message,
                                     const Signature& author);

  // Merges `request.commit` into branch `request.into` of the remote `url` (after a
  // fresh fetch) and pushes the result, never forced. See MergeRequest/MergeResult. A
  // conflict is not an error: the result lists the conflicting files and nothing is
  // written. NotFound for an unknown branch or commit; Aborted when the remote moved
  // during the push (retry).
  Result<MergeResult> Merge(const std::string& url, const MergeRequest& request);

  // How many commits `a` has that `b` does not (ahead), and `b` has that `a` does not
  // (behind). Does not fetch.
  Result<std::pair<size_t, size_t>> AheadBehind(const std::string& url, const std::string& a,
                                                const std::string& b);

  // The commits reachable from `to` but not from `from`, newest first, at most `limit`
  // (0 = all). Does not fetch.
  Result<std::vector<CommitInfo>> Log(const std::string& url, const std::string& from,
                                      const std::string& to, size_t limit = 0);

  // A unified diff (git's patch format, paths relative to the two directories) from the
  // directory `from_path` at commit `from` to `to_path` at commit `to` ("" or "." = the
  // root). A directory absent at one side counts as empty. Does not fetch.
  Result<std::string> DiffText(const std::string& url, const std::string& from,
                               const std::string& from_path, const std::string& to,
                               const std::string& to_path);

  // The lines added from commit `from` ("" = nothing: every line of `to`) to commit `to`,
  // one entry per file (binary files and deletions left out), sorted by path; only files
  // under the directory `path` ("dir/"; "" = the whole tree). For the operator's secret
  // gate: an Application scans its own path, not the other Applications' files. Does not
  // fetch.
  // `on_bound`, when given, is told (before any blob's text is read) a bound of the bytes of
  // text the answer can hold: the sum of the sizes of the blobs the diff adds to. Reads through
  // a handle of its own on the mirror, so other reads of it (a render) run meanwhile.
  Result<std::vector<AddedLines>> AddedBetween(
      const std::string& url, const std::string& from, const std::string& to,
      const std::string& path = "", const std::function<void(uint64_t)>& on_bound = nullptr);

  // The directory holding the mirror of `url` (for diagnostics).
  std::string MirrorPath(const std::string& url) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The git blob id (sha1 of "blob <len>\0<content>") of some bytes, as `git hash-object`.
std::string GitBlobId(const std::string& content);

// plumb init: creates a bare repository at `bare_dir` and a working clone at `work_dir`
// holding `files` (path -> content) in one commit on branch `branches[0]`; every other
// name in `branches` is created at that commit; all are pushed to the bare repository
// and the clone tracks them (origin = bare_dir). Fails with AlreadyExists if either
// directory exists and is not empty.
Status InitRepository(const std::string& bare_dir, const std::string& work_dir,
                      const std::map<std::string, std::string>& files,
                      const std::vector<std::string>& branches, const std::string& message,
                      const Signature& author);

}  // namespace plumb::source
