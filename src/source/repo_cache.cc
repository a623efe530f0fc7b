// RepoCache: the mirrors, fetch and the read-side operations, path commits.
#include <algorithm>
#include <filesystem>

#include "source/mirror.h"
#include "source/signature.h"
#include "source/tree_files.h"

namespace plumb::source {

using internal::IsFullHex;

RepoCache::RepoCache(std::string dir) : impl_(std::make_unique<Impl>()) {
  impl_->dir = std::move(dir);
}

RepoCache::~RepoCache() = default;

std::string RepoCache::MirrorPath(const std::string& url) const {
  return impl_->dir + "/" + Sha256Hex(url).substr(0, 16) + ".git";
}

Result<FetchStats> RepoCache::Fetch(const std::string& url, Duration max_age) {
  Mirror* m = impl_->Get(url, MirrorPath(url));
  std::lock_guard<std::mutex> lock(m->mu);
  FetchStats stats;
  int64_t start = MonotonicMillis();
  if (m->fetched && max_age.count() > 0 && start - m->last_fetch_ms < max_age.count()) {
    stats.skipped = true;
    return stats;
  }
  RETURN_IF_ERROR(impl_->FetchLocked(m));
  stats.duration_ms = MonotonicMillis() - start;
  return stats;
}

Result<std::string> RepoCache::Resolve(const std::string& url, const std::string& ref) {
  std::unique_lock<std::mutex> lock;
  ASSIGN_OR_RETURN(Mirror * m, impl_->OpenForRead(url, MirrorPath(url), &lock));
  ASSIGN_OR_RETURN(CommitPtr c, ResolveCommit(m->repo.get(), ref, url));
  return OidHex(*git_commit_id(c.get()));
}

Result<CommitInfo> RepoCache::GetCommit(const std::string& url, const std::string& commit) {
  std::unique_lock<std::mutex> lock;
  ASSIGN_OR_RETURN(Mirror * m, impl_->OpenForRead(url, MirrorPath(url), &lock));
  ASSIGN_OR_RETURN(CommitPtr c, ResolveCommit(m->repo.get(), commit, url));
  CommitInfo info;
  info.id = OidHex(*git_commit_id(c.get()));
  const git_signature* author = git_commit_author(c.get());
  info.author_name = author->name != nullptr ? author->name : "";
  info.author_email = author->email != nullptr ? author->email : "";
  info.time_unix = author->when.time;
  const char* msg = git_commit_message(c.get());
  info.message = msg != nullptr ? msg : "";
  return info;
}

Result<SignedObject> RepoCache::CommitSignature(const std::string& url, const std::string& commit) {
  std::unique_lock<std::mutex> lock;
  ASSIGN_OR_RETURN(Mirror * m, impl_->OpenForRead(url, MirrorPath(url), &lock));
  ASSIGN_OR_RETURN(CommitPtr c, ResolveCommit(m->repo.get(), commit, url));
  return internal::ExtractCommitSignature(m->repo.get(), c.get());
}

Result<SignedObject> RepoCache::TagSignature(const std::string& url, const std::string& tag) {
  std::unique_lock<std::mutex> lock;
  ASSIGN_OR_RETURN(Mirror * m, impl_->OpenForRead(url, MirrorPath(url), &lock));
  std::string name = StartsWith(tag, "refs/tags/") ? tag : "refs/tags/" + tag;
  return internal::ExtractTagSignature(m->repo.get(), name, url);
}

Result<std::vector<TreeFile>> RepoCache::ListFiles(const std::string& url,
                                                   const std::string& commit,
                                                   const std::string& path) {
  std::unique_lock<std::mutex> lock;
  ASSIGN_OR_RETURN(Mirror * m, impl_->OpenForRead(url, MirrorPath(url), &lock));
  ASSIGN_OR_RETURN(CommitPtr c, ResolveCommit(m->repo.get(), commit, url));
  ASSIGN_OR_RETURN(TreePtr tree, internal::CommitTree(c.get()));
  auto files = internal::ListTreeFiles(m->repo.get(), tree.get(), NormalizeTreePath(path));
  if (!files.ok()) return files.status().WithContext(commit.substr(0, 12));
  return files;
}

Result<std::string> RepoCache::ReadBlob(const std::string& url, const std::string& blob_id) {
  std::unique_lock<std::mutex> lock;
  ASSIGN_OR_RETURN(Mirror * m, impl_->OpenForRead(url, MirrorPath(url), &lock));
  return internal::ReadBlobContent(m->repo.get(), blob_id);
}

Result<std::string> RepoCache::FileBlobId(const std::string& url, const std::string& commit,
                                          const std::string& path) {
  std::unique_lock<std::mutex> lock;
  ASSIGN_OR_RETURN(Mirror * m, impl_->OpenForRead(url, MirrorPath(url), &lock));
  ASSIGN_OR_RETURN(CommitPtr c, ResolveCommit(m->repo.get(), commit, url));
  ASSIGN_OR_RETURN(TreePtr tree, internal::CommitTree(c.get()));
  git_tree_entry* entry = nullptr;
  int rc = git_tree_entry_bypath(&entry, tree.get(), path.c_str());
  if (rc == GIT_ENOTFOUND) return NotFound(path + " not found at " + commit.substr(0, 7));
  if (rc != 0) return GitError(rc, "looking up " + path);
  git_filemode_t mode = git_tree_entry_filemode(entry);
  std::string id = OidHex(*git_tree_entry_id(entry));
  git_tree_entry_free(entry);
  if (mode != GIT_FILEMODE_BLOB && mode != GIT_FILEMODE_BLOB_EXECUTABLE)
    return NotFound(path + " is not a regular file at " + commit.substr(0, 7));
  return id;
}

Status RepoCache::Checkout(const std::string& url, const std::string& commit,
                           const std::string& dest) {
  if (!fs::IsDirectory(dest)) return NotFound("checkout destination " + dest + " is missing");
  std::error_code ec;
  if (!std::filesystem::is_empty(dest, ec) || ec) {
    return FailedPrecondition("checkout destination " + dest + " is not empty");
  }
  std::unique_lock<std::mutex> lock;
  ASSIGN_OR_RETURN(Mirror * m, impl_->OpenForRead(url, MirrorPath(url), &lock));
  ASSIGN_OR_RETURN(CommitPtr c, ResolveCommit(m->repo.get(), commit, url));
  ASSIGN_OR_RETURN(TreePtr tree, internal::CommitTree(c.get()));
  ASSIGN_OR_RETURN(auto files, internal::ListTreeFiles(m->repo.get(), tree.get(), ""));
  return internal::WriteTreeFiles(m->repo.get(), files, dest);
}

Result<std::vector<std::string>> RepoCache::ChangedPaths(const std::string& url,
                                                         const std::string& from,
                                                         const std::string& to) {
  std::unique_lock<std::mutex> lock;
  ASSIGN_OR_RETURN(Mirror * m, impl_->OpenForRead(url, MirrorPath(url), &lock));
  git_repository* repo = m->repo.get();
  ASSIGN_OR_RETURN(CommitPtr to_commit, ResolveCommit(repo, to, url));
  ASSIGN_OR_RETURN(TreePtr to_tree, internal::CommitTree(to_commit.get()));
  TreePtr from_tree;
  if (!from.empty()) {
    ASSIGN_OR_RETURN(CommitPtr from_commit, ResolveCommit(repo, from, url));
    ASSIGN_OR_RETURN(from_tree, internal::CommitTree(from_commit.get()));
  }
  // With no `from`, diffing against nothing lists every file of `to`.
  git_diff* diff = nullptr;
  int rc = git_diff_tree_to_tree(&diff, repo, from_tree.get(), to_tree.get(), nullptr);
  if (rc != 0) return GitError(rc, "diff " + from + ".." + to);
  internal::DiffPtr owned(diff);
  std::vector<std::string> paths;
  size_t n = git_diff_num_deltas(diff);
  for (size_t i = 0; i < n; ++i) {
    const git_diff_delta* d = git_diff_get_delta(diff, i);
    if (d->old_file.path != nullptr) paths.emplace_back(d->old_file.path);
    if (d->new_file.path != nullptr) paths.emplace_back(d->new_file.path);
  }
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  return paths;
}

Result<bool> RepoCache::IsAncestor(const std::string& url, const std::string& ancestor,
                                   const std::string& descendant) {
  std::unique_lock<std::mutex> lock;
  ASSIGN_OR_RETURN(Mirror * m, impl_->OpenForRead(url, MirrorPath(url), &lock));
  ASSIGN_OR_RETURN(CommitPtr a, ResolveCommit(m->repo.get(), ancestor, url));
  ASSIGN_OR_RETURN(CommitPtr d, ResolveCommit(m->repo.get(), descendant, url));
  if (git_oid_equal(git_commit_id(a.get()), git_commit_id(d.get()))) return true;
  int rc = git_graph_descendant_of(m->repo.get(), git_commit_id(d.get()), git_commit_id(a.get()));
  if (rc < 0) return GitError(rc, "ancestry of " + ancestor + " and " + descendant);
  return rc == 1;
}

Result<std::string> RepoCache::CommitPathFromRevision(
    const std::string& url, const std::string& branch, const std::string& path,
    const std::string& revision, const std::string& message, const Signature& author) {
  return CommitPathFrom(url, branch, path, revision, path, message, author);
}

Result<std::string> RepoCache::CommitPathFrom(const std::string& url, const std::string& branch,
                                              const std::string& path, const std::string& revision,
                                              const std::string& source_path,
                                              const std::string& message, const Signature& author) {
  Mirror* m = impl_->Get(url, MirrorPath(url));
  std::lock_guard<std::mutex> lock(m->mu);
  RETURN_IF_ERROR(impl_->FetchLocked(m));
  git_repository* repo = m->repo.get();
  std::string branch_ref = "refs/heads/" + branch;
  auto head = PeelRef(repo, branch_ref);
  if (!head.ok()) {
    return NotFound("branch " + branch + " not found in " + internal::RedactUrl(url));
  }
  ASSIGN_OR_RETURN(CommitPtr rev, ResolveCommit(repo, revision, url));
  ASSIGN_OR_RETURN(TreePtr head_tree, internal::CommitTree(head->get()));
  ASSIGN_OR_RETURN(TreePtr rev_tree, internal::CommitTree(rev.get()));
  std::string tree_path = NormalizeTreePath(path);
  std::string from_path = NormalizeTreePath(source_path);
  bool same = tree_path == from_path;
  if (tree_path.empty() && !same) {
    return InvalidArgument("cannot copy " + from_path + " onto the whole tree");
  }
  ASSIGN_OR_RETURN(
      git_oid new_tree,
      internal::TreeWithPathFrom(repo, head_tree.get(), rev_tree.get(), tree_path, from_path));
  if (git_oid_equal(&new_tree, git_tree_id(head_tree.get()))) {
    std::string where = tree_path.empty() ? std::string("the tree") : tree_path;
    if (same) {
      return FailedPrecondition("nothing to roll back: " + where + " at " + revision +
                                " equals the branch head");
    }
    return FailedPrecondition("nothing to promote: " + where + " on " + branch +
                              " already equals " + from_path + " at " + revision);
  }
  ASSIGN_OR_RETURN(git_oid commit,
                   internal::WriteCommit(repo, new_tree, {head->get()}, message, author));
  RETURN_IF_ERROR(impl_->PushBranchLocked(m, branch, commit));
  return OidHex(commit);
}

Result<std::string> RepoCache::CommitFiles(const std::string& url, const std::string& branch,
                                           const std::string& parent,
                                           const std::map<std::string, std::string>& files,
                                           const std::string& message, const Signature& author) {
  Mirror* m = impl_->Get(url, MirrorPath(url));
  std::lock_guard<std::mutex> lock(m->mu);
  RETURN_IF_ERROR(impl_->FetchLocked(m));
  git_repository* repo = m->repo.get();
  std::string branch_ref = "refs/heads/" + branch;
  auto head = PeelRef(repo, branch_ref);
  if (!head.ok()) {
    return NotFound("branch " + branch + " not found in " + internal::RedactUrl(url));
  }
  std::string head_id = OidHex(*git_commit_id(head->get()));
  if (head_id != parent) {
    return Aborted("branch " + branch + " moved from " + parent.substr(0, 12) + " to " +
                   head_id.substr(0, 12));
  }
  ASSIGN_OR_RETURN(TreePtr head_tree, internal::CommitTree(head->get()));
  std::vector<git_tree_update> updates;
  updates.reserve(files.size());
  for (const auto& [path, content] : files) {
    git_tree_update u{};
    u.action = GIT_TREE_UPDATE_UPSERT;
    int rc = git_blob_create_from_buffer(&u.id, repo, content.data(), content.size());
    if (rc != 0) return GitError(rc, "writing blob for " + path);
    u.filemode = GIT_FILEMODE_BLOB;
    git_tree_entry* entry = nullptr;
    if (git_tree_entry_bypath(&entry, head_tree.get(), path.c_str()) == 0) {
      if (git_tree_entry_filemode(entry) == GIT_FILEMODE_BLOB_EXECUTABLE)
        u.filemode = GIT_FILEMODE_BLOB_EXECUTABLE;
      git_tree_entry_free(entry);
    }
    u.path = path.c_str();
    updates.push_back(u);
  }
  git_oid new_tree;
  int rc =
      git_tree_create_updated(&new_tree, repo, head_tree.get(), updates.size(), updates.data());
  if (rc != 0) return GitError(rc, "building the new tree");
  if (git_oid_equal(&new_tree, git_tree_id(head_tree.get())))
    return FailedPrecondition("nothing to commit on " + branch);
  ASSIGN_OR_RETURN(git_oid commit,
                   internal::WriteCommit(repo, new_tree, {head->get()}, message, author));
  RETURN_IF_ERROR(impl_->PushBranchLocked(m, branch, commit));
  return OidHex(commit);
}

std::string CommitInfo::Summary() const {
  size_t nl = message.find('\n');
  return nl == std::string::npos ? message : message.substr(0, nl);
}

void InitGit() { internal::EnsureLibgit2(); }

}  // namespace plumb::source
