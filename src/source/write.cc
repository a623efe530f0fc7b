// Writing: rollback trees, commits, pushes, plumb init, blob ids.
#include "source/write.h"

#include <algorithm>
#include <filesystem>

#include "core/fs.h"
#include "core/strings.h"
#include "source/source.h"

namespace plumb::source {
namespace internal {
namespace {

struct AddPayload {
  git_index* index;
  std::string prefix;
  int rc = 0;
};

int AddEntryCallback(const char* root, const git_tree_entry* entry, void* payload) {
  auto* p = static_cast<AddPayload*>(payload);
  if (git_tree_entry_type(entry) == GIT_OBJECT_TREE) return 0;
  std::string path = p->prefix + "/" + root + git_tree_entry_name(entry);
  git_index_entry e{};
  e.mode = git_tree_entry_filemode(entry);
  e.id = *git_tree_entry_id(entry);
  e.path = path.c_str();
  p->rc = git_index_add(p->index, &e);
  return p->rc == 0 ? 0 : -1;
}

Status AddTreeEntry(git_index* index, const git_tree_entry* entry, const std::string& path) {
  git_index_entry e{};
  e.mode = git_tree_entry_filemode(entry);
  e.id = *git_tree_entry_id(entry);
  e.path = path.c_str();
  int rc = git_index_add(index, &e);
  if (rc != 0) return GitError(rc, "staging " + path);
  return Status::Ok();
}

}  // namespace

Result<git_oid> TreeWithPathFrom(git_repository* repo, git_tree* head, git_tree* revision,
                                 const std::string& path, const std::string& source_path_in) {
  const std::string& source_path = source_path_in.empty() ? path : source_path_in;
  if (path.empty() && source_path.empty()) return *git_tree_id(revision);
  git_index* raw = nullptr;
  int rc = git_index_new(&raw);
  if (rc != 0) return GitError(rc, "creating an index");
  IndexPtr index(raw);
  rc = git_index_read_tree(raw, head);
  if (rc != 0) return GitError(rc, "reading the head tree");
  rc = git_index_remove_directory(raw, path.c_str(), 0);
  if (rc != 0 && rc != GIT_ENOTFOUND) return GitError(rc, "removing " + path);
  // The path itself, or a parent of it, may be a file at the head.
  for (size_t pos = 0; pos != std::string::npos;) {
    pos = path.find('/', pos + 1);
    std::string prefix = path.substr(0, pos);
    rc = git_index_remove(raw, prefix.c_str(), 0);
    if (rc != 0 && rc != GIT_ENOTFOUND) return GitError(rc, "removing " + prefix);
  }
  git_tree_entry* entry = nullptr;
  rc = git_tree_entry_bypath(&entry, revision, source_path.c_str());
  if (rc == 0) {
    TreeEntryPtr owned(entry);
    if (git_tree_entry_type(entry) == GIT_OBJECT_TREE) {
      git_tree* sub = nullptr;
      rc = git_tree_lookup(&sub, repo, git_tree_entry_id(entry));
      if (rc != 0) return GitError(rc, "reading " + path);
      TreePtr sub_owned(sub);
      AddPayload payload{raw, path};
      rc = git_tree_walk(sub, GIT_TREEWALK_PRE, AddEntryCallback, &payload);
      if (rc != 0) return GitError(payload.rc != 0 ? payload.rc : rc, "staging " + path);
    } else {
      RETURN_IF_ERROR(AddTreeEntry(raw, entry, path));
    }
  } else if (rc != GIT_ENOTFOUND) {
    return GitError(rc, "looking up " + path);
  }
  git_oid tree;
  rc = git_index_write_tree_to(&tree, raw, repo);
  if (rc != 0) return GitError(rc, "writing the new tree");
  return tree;
}

Result<git_oid> MergeTrees(git_repository* repo, git_commit* ours, git_commit* theirs,
                           std::vector<std::string>* conflicts) {
  git_merge_options opts = GIT_MERGE_OPTIONS_INIT;
  git_index* raw = nullptr;
  int rc = git_merge_commits(&raw, repo, ours, theirs, &opts);
  if (rc != 0) return GitError(rc, "merging");
  IndexPtr index(raw);
  if (git_index_has_conflicts(raw)) {
    git_index_conflict_iterator* it = nullptr;
    rc = git_index_conflict_iterator_new(&it, raw);
    if (rc != 0) return GitError(rc, "listing conflicts");
    const git_index_entry *ancestor, *our, *their;
    while (git_index_conflict_next(&ancestor, &our, &their, it) == 0) {
      const git_index_entry* any = our ? our : their ? their : ancestor;
      if (any != nullptr) conflicts->emplace_back(any->path);
    }
    git_index_conflict_iterator_free(it);
    std::sort(conflicts->begin(), conflicts->end());
    conflicts->erase(std::unique(conflicts->begin(), conflicts->end()), conflicts->end());
    return FailedPrecondition("merge conflict in " + Join(*conflicts, ", "));
  }
  git_oid tree;
  rc = git_index_write_tree_to(&tree, raw, repo);
  if (rc != 0) return GitError(rc, "writing the merged tree");
  return tree;
}

Result<git_oid> WriteCommit(git_repository* repo, const git_oid& tree_id,
                            const std::vector<const git_commit*>& parents,
                            const std::string& message, const Signature& author) {
  git_signature* sig = nullptr;
  int rc = git_signature_now(&sig, author.name.c_str(), author.email.c_str());
  if (rc != 0) return InvalidArgument("bad author \"" + author.name + " <" + author.email + ">\"");
  SignaturePtr sig_owned(sig);
  git_tree* tree = nullptr;
  rc = git_tree_lookup(&tree, repo, &tree_id);
  if (rc != 0) return GitError(rc, "reading the new tree");
  TreePtr tree_owned(tree);
  std::vector<const git_commit*> ps = parents;
  git_oid id;
  if (author.signing_key.empty()) {
    rc = git_commit_create(&id, repo, nullptr, sig, sig, nullptr, message.c_str(), tree, ps.size(),
                           ps.data());
    if (rc != 0) return GitError(rc, "writing a commit");
    return id;
  }
  // Signed, as `git commit -S` writes it: the commit's text, signed, with the signature
  // in its gpgsig header.
  git_buf buf = GIT_BUF_INIT;
  rc = git_commit_create_buffer(&buf, repo, sig, sig, nullptr, message.c_str(), tree, ps.size(),
                                ps.data());
  if (rc != 0) return GitError(rc, "writing a commit");
  std::string content(buf.ptr, buf.size);
  git_buf_dispose(&buf);
  auto signature = SignData(content, author.signing_key, author.signing_passphrase);
  if (!signature.ok()) return signature.status().WithContext("signing the commit");
  rc = git_commit_create_with_signature(&id, repo, content.c_str(), signature->c_str(), "gpgsig");
  if (rc != 0) return GitError(rc, "writing a signed commit");
  return id;
}

Status PushToOrigin(git_repository* repo, const std::vector<std::string>& refspecs,
                    const std::string& url) {
  git_remote* remote = nullptr;
  int rc = git_remote_lookup(&remote, repo, "origin");
  if (rc != 0) return GitError(rc, "remote origin");
  RemotePtr owned(remote);
  std::vector<char*> specs;
  for (const auto& s : refspecs) specs.push_back(const_cast<char*>(s.c_str()));
  git_strarray array{specs.data(), specs.size()};
  git_push_options opts = GIT_PUSH_OPTIONS_INIT;
  RemotePayload payload;
  SetRemoteCallbacks(&opts.callbacks, &payload);
  rc = git_remote_push(remote, &array, &opts);
  std::string what = "push to " + RedactUrl(url);
  if (rc != 0) return RemoteError(rc, what, url);
  if (!payload.rejected.empty()) return Aborted(what + " rejected: " + payload.rejected);
  return Status::Ok();
}

}  // namespace internal

using internal::GitError;

namespace {

Status CheckEmptyOrAbsent(const std::string& dir) {
  if (!fs::Exists(dir)) return Status::Ok();
  std::error_code ec;
  if (fs::IsDirectory(dir) && std::filesystem::is_empty(dir, ec) && !ec) return Status::Ok();
  return AlreadyExists(dir + " already exists and is not empty");
}

Status CheckRelativePath(const std::string& path) {
  if (path.empty() || path[0] == '/' || fs::NormalizePath(path) != path ||
      StartsWith(path, "../") || path == ".." || path == ".git" || StartsWith(path, ".git/")) {
    return InvalidArgument("bad file path \"" + path + "\"");
  }
  return Status::Ok();
}

}  // namespace

Status InitRepository(const std::string& bare_dir, const std::string& work_dir,
                      const std::map<std::string, std::string>& files,
                      const std::vector<std::string>& branches_in, const std::string& message,
                      const Signature& author) {
  internal::EnsureLibgit2();
  RETURN_IF_ERROR(CheckEmptyOrAbsent(bare_dir));
  RETURN_IF_ERROR(CheckEmptyOrAbsent(work_dir));
  for (const auto& [path, content] : files) RETURN_IF_ERROR(CheckRelativePath(path));
  std::vector<std::string> branches = branches_in;
  if (branches.empty()) branches.push_back("main");
  std::error_code ec;
  std::string bare_abs = std::filesystem::absolute(bare_dir, ec).lexically_normal().string();
  if (ec) return InvalidArgument("bad directory " + bare_dir + ": " + ec.message());
  while (bare_abs.size() > 1 && bare_abs.back() == '/') bare_abs.pop_back();

  git_repository* raw = nullptr;
  int rc = git_repository_init(&raw, bare_abs.c_str(), /*is_bare=*/1);
  if (rc != 0) return GitError(rc, "creating " + bare_dir);
  internal::RepoPtr bare(raw);
  git_repository_init_options init = GIT_REPOSITORY_INIT_OPTIONS_INIT;
  init.flags = GIT_REPOSITORY_INIT_MKPATH;
  init.initial_head = branches[0].c_str();
  rc = git_repository_init_ext(&raw, work_dir.c_str(), &init);
  if (rc != 0) return GitError(rc, "creating " + work_dir);
  internal::RepoPtr work(raw);

  for (const auto& [path, content] : files) {
    std::string full = work_dir + "/" + path;
    RETURN_IF_ERROR(fs::MakeDirs(fs::Dirname(full)));
    RETURN_IF_ERROR(fs::WriteFileAtomic(full, content, 0644));
  }
  git_index* index_raw = nullptr;
  rc = git_repository_index(&index_raw, work.get());
  if (rc != 0) return GitError(rc, "index of " + work_dir);
  internal::IndexPtr index(index_raw);
  for (const auto& [path, content] : files) {
    rc = git_index_add_bypath(index_raw, path.c_str());
    if (rc != 0) return GitError(rc, "adding " + path);
  }
  git_oid tree;
  rc = git_index_write(index_raw);
  if (rc == 0) rc = git_index_write_tree(&tree, index_raw);
  if (rc != 0) return GitError(rc, "writing the index of " + work_dir);
  ASSIGN_OR_RETURN(git_oid commit_id, internal::WriteCommit(work.get(), tree, {}, message, author));
  git_commit* commit_raw = nullptr;
  rc = git_commit_lookup(&commit_raw, work.get(), &commit_id);
  if (rc != 0) return GitError(rc, "reading the first commit");
  internal::CommitPtr commit(commit_raw);

  std::vector<std::string> specs;
  for (const auto& b : branches) {
    git_reference* ref = nullptr;
    rc = git_branch_create(&ref, work.get(), b.c_str(), commit.get(), /*force=*/1);
    if (rc != 0) return GitError(rc, "creating branch " + b);
    git_reference_free(ref);
    specs.push_back("refs/heads/" + b + ":refs/heads/" + b);
  }
  git_remote* remote = nullptr;
  rc = git_remote_create(&remote, work.get(), "origin", bare_abs.c_str());
  if (rc != 0) return GitError(rc, "adding remote origin");
  git_remote_free(remote);
  RETURN_IF_ERROR(internal::PushToOrigin(work.get(), specs, bare_abs));

  for (const auto& b : branches) {
    git_reference* ref = nullptr;
    std::string tracking = "refs/remotes/origin/" + b;
    rc = git_reference_create(&ref, work.get(), tracking.c_str(), &commit_id, 1, "plumb init");
    if (rc != 0) return GitError(rc, "creating " + tracking);
    git_reference_free(ref);
    rc = git_branch_lookup(&ref, work.get(), b.c_str(), GIT_BRANCH_LOCAL);
    if (rc != 0) return GitError(rc, "branch " + b);
    internal::ReferencePtr owned(ref);
    rc = git_branch_set_upstream(ref, ("origin/" + b).c_str());
    if (rc != 0) return GitError(rc, "tracking origin/" + b);
  }
  rc = git_repository_set_head(bare.get(), ("refs/heads/" + branches[0]).c_str());
  if (rc != 0) return GitError(rc, "setting HEAD of " + bare_dir);
  // The work tree was written before the commit; make sure HEAD names branches[0].
  rc = git_repository_set_head(work.get(), ("refs/heads/" + branches[0]).c_str());
  if (rc != 0) return GitError(rc, "setting HEAD of " + work_dir);
  return Status::Ok();
}

std::string GitBlobId(const std::string& content) {
  internal::EnsureLibgit2();
  git_oid oid;
  if (git_odb_hash(&oid, content.data(), content.size(), GIT_OBJECT_BLOB) != 0) return "";
  return internal::OidHex(oid);
}

}  // namespace plumb::source
