#include "source/signature.h"

#include "core/strings.h"
#include "source/git_util.h"

namespace plumb::source::internal {
namespace {
// What git accepts as the start of a signature in a tag (gpg-interface.c's formats).
constexpr const char* kSignatureStarts[] = {"-----BEGIN PGP SIGNATURE-----",
                                            "-----BEGIN PGP MESSAGE-----",
                                            "-----BEGIN SSH SIGNATURE-----"};

using OdbPtr = GitPtr<git_odb, git_odb_free>;
using OdbObjectPtr = GitPtr<git_odb_object, git_odb_object_free>;
}  // namespace

Result<SignedObject> ExtractCommitSignature(git_repository* repo, git_commit* commit) {
  SignedObject out;
  out.kind = "commit";
  out.id = OidHex(*git_commit_id(commit));
  out.name = "commit " + out.id.substr(0, 7);
  out.commit = out.id;
  git_buf sig = GIT_BUF_INIT;
  git_buf data = GIT_BUF_INIT;
  git_oid oid = *git_commit_id(commit);
  int rc = git_commit_extract_signature(&sig, &data, repo, &oid, nullptr);
  if (rc == GIT_ENOTFOUND) {
    // Unsigned: the signed data is the whole commit (unused, but complete).
    git_buf_dispose(&sig);
    git_buf_dispose(&data);
    return out;
  }
  if (rc != 0) return GitError(rc, "reading the signature of " + out.name);
  out.signature.assign(sig.ptr, sig.size);
  out.signed_data.assign(data.ptr, data.size);
  git_buf_dispose(&sig);
  git_buf_dispose(&data);
  return out;
}

bool SplitTagSignature(const std::string& content, std::string* data, std::string* signature) {
  size_t line = 0;
  while (line < content.size()) {
    for (const char* start : kSignatureStarts) {
      if (content.compare(line, std::string(start).size(), start) == 0) {
        *data = content.substr(0, line);
        *signature = content.substr(line);
        return true;
      }
    }
    size_t nl = content.find('\n', line);
    if (nl == std::string::npos) break;
    line = nl + 1;
  }
  return false;
}

Result<SignedObject> ExtractTagSignature(git_repository* repo, const std::string& ref_name,
                                         const std::string& url) {
  std::string tag_name = ref_name.substr(std::string("refs/tags/").size());
  git_reference* ref = nullptr;
  int rc = git_reference_lookup(&ref, repo, ref_name.c_str());
  if (rc == GIT_ENOTFOUND || rc == GIT_EINVALIDSPEC)
    return NotFound("tag " + tag_name + " not found in " + RedactUrl(url));
  if (rc != 0) return GitError(rc, "reading " + ref_name);
  ReferencePtr owned_ref(ref);
  const git_oid* target = git_reference_target(ref);
  if (target == nullptr) return FailedPrecondition(ref_name + " is a symbolic reference");
  git_odb* odb = nullptr;
  rc = git_repository_odb(&odb, repo);
  if (rc != 0) return GitError(rc, "opening the object database");
  OdbPtr owned_odb(odb);
  git_odb_object* obj = nullptr;
  rc = git_odb_read(&obj, odb, target);
  if (rc != 0) return GitError(rc, "reading tag " + tag_name);
  OdbObjectPtr owned_obj(obj);
  if (git_odb_object_type(obj) != GIT_OBJECT_TAG) {
    return FailedPrecondition("tag " + tag_name +
                              " is a lightweight tag: only an annotated tag (git tag -s) "
                              "carries a signature");
  }
  std::string content(static_cast<const char*>(git_odb_object_data(obj)), git_odb_object_size(obj));
  git_object* peeled = nullptr;
  rc = git_reference_peel(&peeled, ref, GIT_OBJECT_COMMIT);
  if (rc != 0) return GitError(rc, "tag " + tag_name + " does not point at a commit");
  std::string commit = OidHex(*git_object_id(peeled));
  git_object_free(peeled);
  SignedObject out;
  out.kind = "tag";
  out.commit = commit;
  out.id = OidHex(*target);
  out.name = "tag " + tag_name;
  if (!SplitTagSignature(content, &out.signed_data, &out.signature)) out.signed_data = content;
  return out;
}

}  // namespace plumb::source::internal
