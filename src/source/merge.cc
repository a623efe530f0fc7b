// RepoCache: merges (promotion), ancestry, logs and diffs between commits.
#include <algorithm>

#include "source/mirror.h"

namespace plumb::source {

Result<MergeResult> RepoCache::Merge(const std::string& url, const MergeRequest& req) {
  Mirror* m = impl_->Get(url, MirrorPath(url));
  std::lock_guard<std::mutex> lock(m->mu);
  RETURN_IF_ERROR(impl_->FetchLocked(m));
  git_repository* repo = m->repo.get();
  auto head = PeelRef(repo, "refs/heads/" + req.into);
  if (!head.ok()) {
    return NotFound("branch " + req.into + " not found in " + internal::RedactUrl(url));
  }
  ASSIGN_OR_RETURN(CommitPtr theirs, ResolveCommit(repo, req.commit, url));
  const git_oid* head_id = git_commit_id(head->get());
  const git_oid* their_id = git_commit_id(theirs.get());
  MergeResult out;
  out.previous_head = OidHex(*head_id);
  out.new_head = out.previous_head;
  out.commit = OidHex(*their_id);
  int rc = git_graph_ahead_behind(&out.ahead, &out.behind, repo, their_id, head_id);
  if (rc != 0) return GitError(rc, "comparing " + req.commit + " with " + req.into);
  if (out.ahead == 0) {
    out.outcome = "UpToDate";
    return out;
  }
  git_oid result;
  if (out.behind == 0 && req.strategy == MergeStrategy::kMerge) {
    out.outcome = "FastForward";
    result = *their_id;
  } else {
    git_oid tree;
    if (req.strategy == MergeStrategy::kOurs) {
      tree = *git_commit_tree_id(head->get());
    } else {
      auto merged = internal::MergeTrees(repo, head->get(), theirs.get(), &out.conflicts);
      if (!out.conflicts.empty()) {
        out.outcome = "Conflict";
        return out;
      }
      if (!merged.ok()) return merged.status();
      tree = *merged;
    }
    out.outcome = "MergeCommit";
    if (req.dry_run) {
      out.new_head.clear();
      return out;
    }
    ASSIGN_OR_RETURN(result, internal::WriteCommit(repo, tree, {head->get(), theirs.get()},
                                                   req.message, req.author));
  }
  if (req.dry_run) {
    out.new_head = OidHex(result);
    return out;
  }
  RETURN_IF_ERROR(impl_->PushBranchLocked(m, req.into, result));
  out.new_head = OidHex(result);
  return out;
}

Result<std::pair<size_t, size_t>> RepoCache::AheadBehind(const std::string& url,
                                                         const std::string& a,
                                                         const std::string& b) {
  std::unique_lock<std::mutex> lock;
  ASSIGN_OR_RETURN(Mirror * m, impl_->OpenForRead(url, MirrorPath(url), &lock));
  ASSIGN_OR_RETURN(CommitPtr ca, ResolveCommit(m->repo.get(), a, url));
  ASSIGN_OR_RETURN(CommitPtr cb, ResolveCommit(m->repo.get(), b, url));
  std::pair<size_t, size_t> out;
  int rc = git_graph_ahead_behind(&out.first, &out.second, m->repo.get(), git_commit_id(ca.get()),
                                  git_commit_id(cb.get()));
  if (rc != 0) return GitError(rc, "comparing " + a + " with " + b);
  return out;
}

Result<std::vector<CommitInfo>> RepoCache::Log(const std::string& url, const std::string& from,
                                               const std::string& to, size_t limit) {
  std::vector<std::string> ids;
  {
    std::unique_lock<std::mutex> lock;
    ASSIGN_OR_RETURN(Mirror * m, impl_->OpenForRead(url, MirrorPath(url), &lock));
    git_repository* repo = m->repo.get();
    ASSIGN_OR_RETURN(CommitPtr to_commit, ResolveCommit(repo, to, url));
    git_revwalk* walk = nullptr;
    int rc = git_revwalk_new(&walk, repo);
    if (rc != 0) return GitError(rc, "walking history");
    std::unique_ptr<git_revwalk, void (*)(git_revwalk*)> owned(walk, git_revwalk_free);
    git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
    rc = git_revwalk_push(walk, git_commit_id(to_commit.get()));
    if (rc == 0 && !from.empty()) {
      ASSIGN_OR_RETURN(CommitPtr from_commit, ResolveCommit(repo, from, url));
      rc = git_revwalk_hide(walk, git_commit_id(from_commit.get()));
    }
    if (rc != 0) return GitError(rc, "walking " + from + ".." + to);
    git_oid oid;
    while ((limit == 0 || ids.size() < limit) && git_revwalk_next(&oid, walk) == 0)
      ids.push_back(OidHex(oid));
  }
  std::vector<CommitInfo> out;
  for (const auto& id : ids) {
    ASSIGN_OR_RETURN(CommitInfo info, GetCommit(url, id));
    out.push_back(std::move(info));
  }
  return out;
}

namespace {
// The tree at `path` of `commit`; null when absent or not a directory.
Result<TreePtr> SubTree(git_repository* repo, git_commit* commit, const std::string& path) {
  ASSIGN_OR_RETURN(TreePtr root, internal::CommitTree(commit));
  if (path.empty()) return root;
  git_tree_entry* entry = nullptr;
  int rc = git_tree_entry_bypath(&entry, root.get(), path.c_str());
  if (rc == GIT_ENOTFOUND) return TreePtr();
  if (rc != 0) return GitError(rc, "looking up " + path);
  internal::TreeEntryPtr owned(entry);
  if (git_tree_entry_type(entry) != GIT_OBJECT_TREE) return TreePtr();
  git_tree* sub = nullptr;
  rc = git_tree_lookup(&sub, repo, git_tree_entry_id(entry));
  if (rc != 0) return GitError(rc, "reading " + path);
  return TreePtr(sub);
}

int AppendPatchLine(const git_diff_delta*, const git_diff_hunk*, const git_diff_line* line,
                    void* payload) {
  auto* out = static_cast<std::string*>(payload);
  if (line->origin == GIT_DIFF_LINE_CONTEXT || line->origin == GIT_DIFF_LINE_ADDITION ||
      line->origin == GIT_DIFF_LINE_DELETION) {
    out->push_back(line->origin);
  }
  out->append(line->content, line->content_len);
  return 0;
}
}  // namespace

Result<std::string> RepoCache::DiffText(const std::string& url, const std::string& from,
                                        const std::string& from_path, const std::string& to,
                                        const std::string& to_path) {
  std::unique_lock<std::mutex> lock;
  ASSIGN_OR_RETURN(Mirror * m, impl_->OpenForRead(url, MirrorPath(url), &lock));
  git_repository* repo = m->repo.get();
  ASSIGN_OR_RETURN(CommitPtr a, ResolveCommit(repo, from, url));
  ASSIGN_OR_RETURN(CommitPtr b, ResolveCommit(repo, to, url));
  ASSIGN_OR_RETURN(TreePtr ta, SubTree(repo, a.get(), NormalizeTreePath(from_path)));
  ASSIGN_OR_RETURN(TreePtr tb, SubTree(repo, b.get(), NormalizeTreePath(to_path)));
  git_diff* diff = nullptr;
  int rc = git_diff_tree_to_tree(&diff, repo, ta.get(), tb.get(), nullptr);
  if (rc != 0) return GitError(rc, "diff " + from + ".." + to);
  internal::DiffPtr owned(diff);
  std::string text;
  rc = git_diff_print(diff, GIT_DIFF_FORMAT_PATCH, AppendPatchLine, &text);
  if (rc != 0) return GitError(rc, "printing the diff " + from + ".." + to);
  return text;
}

}  // namespace plumb::source
