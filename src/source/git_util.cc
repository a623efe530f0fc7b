#include "source/git_util.h"

#include <algorithm>
#include <cctype>
#include <mutex>

#include "core/strings.h"

namespace plumb::source::internal {
namespace {

std::string LastGitMessage(const std::string& url) {
  const git_error* e = git_error_last();
  std::string msg = (e != nullptr && e->message != nullptr) ? e->message : "unknown libgit2 error";
  if (!url.empty()) {
    std::string redacted = RedactUrl(url);
    for (size_t pos = msg.find(url); pos != std::string::npos;
         pos = msg.find(url, pos + redacted.size())) {
      msg.replace(pos, url.size(), redacted);
    }
  }
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == '.')) msg.pop_back();
  return msg;
}

int LastGitClass() {
  const git_error* e = git_error_last();
  return e != nullptr ? e->klass : GIT_ERROR_NONE;
}

bool IsTransportClass(int klass) {
  return klass == GIT_ERROR_NET || klass == GIT_ERROR_HTTP || klass == GIT_ERROR_SSL ||
         klass == GIT_ERROR_SSH || klass == GIT_ERROR_OS || klass == GIT_ERROR_CALLBACK;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int CredentialsCallback(git_credential** out, const char* /*url*/, const char* username_from_url,
                        unsigned int allowed_types, void* payload) {
  auto* state = static_cast<RemotePayload*>(payload);
  if (state == nullptr || state->credential_attempts++ > 0) return GIT_EAUTH;
  if ((allowed_types & GIT_CREDENTIAL_SSH_KEY) != 0) {
    return git_credential_ssh_key_from_agent(
        out, username_from_url != nullptr ? username_from_url : "git");
  }
  if ((allowed_types & GIT_CREDENTIAL_USERNAME) != 0) {
    return git_credential_username_new(out,
                                       username_from_url != nullptr ? username_from_url : "git");
  }
  return GIT_PASSTHROUGH;
}

int PushUpdateReferenceCallback(const char* refname, const char* status, void* payload) {
  auto* state = static_cast<RemotePayload*>(payload);
  if (status != nullptr && state != nullptr) {
    if (!state->rejected.empty()) state->rejected += "; ";
    state->rejected += std::string(refname != nullptr ? refname : "?") + ": " + status;
  }
  return 0;
}

}  // namespace

void EnsureLibgit2() {
  static std::once_flag once;
  std::call_once(once, [] {
    git_libgit2_init();
    // Pack files are read through mapped windows that stay mapped (and resident) until a
    // limit is reached: 1 GiB windows, 8 GiB in all by default, so a mirror's whole pack
    // (19 MB for 100,000 Files) stayed in the operator's memory after every render. Small
    // windows under a small limit read the same data with a few more mmap calls.
    git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, static_cast<size_t>(1) << 20);
    git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, static_cast<size_t>(4) << 20);
    // Objects are checked against their ids when they are fetched (the indexer hashes every
    // object of a pack it receives), as git does; not again on every read, as libgit2 does
    // by default: a cold sync's render and secret scan read the whole tree, and hashing
    // it (SHA-1 with collision detection) twice was ~10% of their CPU at 10,000 Files.
    git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
  });
}

Status GitError(int rc, const std::string& what, const std::string& url) {
  std::string msg = what + ": " + LastGitMessage(url);
  int klass = LastGitClass();
  switch (rc) {
    case GIT_ENOTFOUND:
      return NotFound(msg);
    case GIT_EAUTH:
      return Unauthenticated(msg);
    case GIT_ENONFASTFORWARD:
    case GIT_ELOCKED:
    case GIT_EMODIFIED:
      return Aborted(msg);
    case GIT_ECERTIFICATE:
      return Unavailable(msg);
    default:
      break;
  }
  if (klass == GIT_ERROR_NET || klass == GIT_ERROR_HTTP || klass == GIT_ERROR_SSL ||
      klass == GIT_ERROR_SSH) {
    return Unavailable(msg);
  }
  return Internal(msg);
}

Status RemoteError(int rc, const std::string& what, const std::string& url) {
  std::string raw = Lower(LastGitMessage(url));
  int klass = LastGitClass();
  Status s = GitError(rc, what, url);
  if (s.code() == Code::kUnauthenticated || s.code() == Code::kAborted) return s;
  if (raw.find("404") != std::string::npos || raw.find("not found") != std::string::npos ||
      raw.find("could not find repository") != std::string::npos ||
      raw.find("failed to resolve path") != std::string::npos ||
      raw.find("does not appear to be a git repository") != std::string::npos ||
      raw.find("does not exist") != std::string::npos) {
    return Status(Code::kNotFound, s.message());
  }
  if (rc == GIT_EEOF || IsTransportClass(klass) || s.code() == Code::kInternal) {
    return Status(Code::kUnavailable, s.message());
  }
  return s;
}

std::string RedactUrl(const std::string& url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return url;
  size_t auth_start = scheme_end + 3;
  size_t auth_end = url.find_first_of("/?#", auth_start);
  if (auth_end == std::string::npos) auth_end = url.size();
  size_t at = url.rfind('@', auth_end);
  if (at == std::string::npos || at < auth_start) return url;
  std::string scheme = Lower(url.substr(0, scheme_end));
  bool http = scheme == "http" || scheme == "https";
  std::string userinfo = url.substr(auth_start, at - auth_start);
  if (!http && userinfo.find(':') == std::string::npos) return url;
  return url.substr(0, auth_start) + url.substr(at + 1);
}

std::string OidHex(const git_oid& oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, &oid);
  return buf;
}

bool IsFullHex(const std::string& s) {
  if (s.size() != GIT_OID_HEXSZ) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(c) != 0; });
}

Result<std::string> ReadBlobContent(git_repository* repo, const std::string& blob_id) {
  git_oid oid;
  if (!IsFullHex(blob_id) || git_oid_fromstr(&oid, blob_id.c_str()) != 0) {
    return NotFound("no blob " + blob_id);
  }
  git_blob* blob = nullptr;
  int rc = git_blob_lookup(&blob, repo, &oid);
  if (rc != 0) return GitError(rc, "blob " + blob_id);
  BlobPtr owned(blob);
  return std::string(static_cast<const char*>(git_blob_rawcontent(blob)),
                     static_cast<size_t>(git_blob_rawsize(blob)));
}

Result<CommitPtr> LookupCommitById(git_repository* repo, const std::string& hex) {
  bool is_hex = hex.size() >= 4 && hex.size() <= GIT_OID_HEXSZ;
  for (char c : hex) is_hex = is_hex && std::isxdigit(static_cast<unsigned char>(c));
  if (!is_hex) return NotFound("no commit " + hex);
  git_oid oid;
  int rc = git_oid_fromstrn(&oid, hex.data(), hex.size());
  if (rc != 0) return GitError(rc, "commit id " + hex);
  git_object* obj = nullptr;
  rc = git_object_lookup_prefix(&obj, repo, &oid, hex.size(), GIT_OBJECT_ANY);
  if (rc == GIT_ENOTFOUND) return NotFound("no commit " + hex);
  if (rc == GIT_EAMBIGUOUS) return NotFound("commit id " + hex + " is ambiguous");
  if (rc != 0) return GitError(rc, "looking up " + hex);
  ObjectPtr owned(obj);
  git_object* peeled = nullptr;
  rc = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT);
  if (rc != 0) return NotFound(hex + " does not name a commit");
  return CommitPtr(reinterpret_cast<git_commit*>(peeled));
}

Result<TreePtr> CommitTree(git_commit* commit) {
  git_tree* tree = nullptr;
  int rc = git_commit_tree(&tree, commit);
  if (rc != 0) return GitError(rc, "tree of " + OidHex(*git_commit_id(commit)));
  return TreePtr(tree);
}

void SetRemoteCallbacks(git_remote_callbacks* callbacks, RemotePayload* payload) {
  callbacks->credentials = CredentialsCallback;
  callbacks->push_update_reference = PushUpdateReferenceCallback;
  callbacks->payload = payload;
}

}  // namespace plumb::source::internal

#if defined(__SANITIZE_ADDRESS__)
// libgit2 1.5 built with PCRE2 (Debian) leaks the match data of every regular
// expression that does not match (git_regexp_match returns before
// pcre2_match_data_free), which happens on every config lookup (git_remote_lookup,
// git_remote_create, ...). It is not ours to free; keep LeakSanitizer quiet about that
// one library so it still catches our own leaks. Defined here because this object is in
// every binary that uses libgit2 through plumb_source.
extern "C" const char* __lsan_default_suppressions() {  // NOLINT
  return "leak:libpcre2-8.so\n";
}
#endif
