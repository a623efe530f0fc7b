// LocalRepo (a repository opened in place: history, index, blobs) and the added lines of
// a diff, for the secret scanner. Each diff is computed with zero context lines and
// rename detection, so a moved file adds nothing and a changed one adds only its new lines.
#include <algorithm>
#include <cstring>
#include <functional>
#include <iterator>
#include <map>

#include "core/strings.h"
#include "source/mirror.h"

namespace plumb::source {

namespace internal {

namespace {

using PatchPtr = GitPtr<git_patch, git_patch_free>;
using RevwalkPtr = GitPtr<git_revwalk, git_revwalk_free>;

git_diff_options ZeroContextOptions() {
  git_diff_options opts;
  git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
  opts.context_lines = 0;
  opts.interhunk_lines = 0;
  return opts;
}

// Every file `diff` adds lines to, in diff order (sorted by path). `keep_text`: an added
// file (every line of it added) keeps its text, the added lines' content put together.
// `on_bound` (optional): told, before any text is read, the sum of the sizes of the blobs
// the diff adds to (from their headers: nothing is inflated).
Result<std::vector<AddedLines>> CollectAdded(
    git_diff* diff, bool keep_text = false, git_repository* repo = nullptr,
    const std::function<void(uint64_t)>& on_bound = nullptr) {
  git_diff_find_options find;
  git_diff_find_options_init(&find, GIT_DIFF_FIND_OPTIONS_VERSION);
  find.flags = GIT_DIFF_FIND_RENAMES | GIT_DIFF_FIND_COPIES;
  int rc = git_diff_find_similar(diff, &find);
  if (rc != 0) return GitError(rc, "rename detection");
  std::vector<AddedLines> out;
  size_t n = git_diff_num_deltas(diff);
  if (on_bound) {
    uint64_t bound = 0;
    git_odb* odb = nullptr;
    if (repo != nullptr && git_repository_odb(&odb, repo) == 0) {
      for (size_t i = 0; i < n; ++i) {
        const git_diff_delta* d = git_diff_get_delta(diff, i);
        if (d->status == GIT_DELTA_DELETED || d->status == GIT_DELTA_UNMODIFIED) continue;
        if (d->new_file.mode == GIT_FILEMODE_COMMIT) continue;
        size_t len = 0;
        git_object_t type = GIT_OBJECT_INVALID;
        if (git_odb_read_header(&len, &type, odb, &d->new_file.id) == 0) {
          bound += len;
        } else {
          bound = UINT64_MAX;  // unknown: no bound
          break;
        }
      }
      git_odb_free(odb);
    } else {
      bound = UINT64_MAX;
    }
    on_bound(bound);
  }
  for (size_t i = 0; i < n; ++i) {
    const git_diff_delta* d = git_diff_get_delta(diff, i);
    if (d->status == GIT_DELTA_DELETED || d->status == GIT_DELTA_UNMODIFIED) continue;
    if (d->new_file.mode == GIT_FILEMODE_COMMIT) continue;  // a submodule
    if (repo != nullptr && d->status == GIT_DELTA_ADDED) {
      // A file the diff adds whole (every file of a first sync): each of its lines is
      // added. Read from its blob: its patch cost a diff against nothing and a record per
      // line. Binary as the diff tells it: by the diff driver's attributes, else a NUL
      // byte in its first 8,000 bytes (what libgit2's diff and git look at).
      git_blob* blob = nullptr;
      if (git_blob_lookup(&blob, repo, &d->new_file.id) == 0) {
        BlobPtr owned_blob(blob);
        const char* content = static_cast<const char*>(git_blob_rawcontent(blob));
        const size_t size = static_cast<size_t>(git_blob_rawsize(blob));
        bool binary = (d->flags & GIT_DIFF_FLAG_BINARY) != 0;
        if (!binary && (d->flags & GIT_DIFF_FLAG_NOT_BINARY) == 0)
          binary = size > 0 && std::memchr(content, 0, std::min<size_t>(size, 8000)) != nullptr;
        if (binary) continue;
        AddedLines added;
        added.path = d->new_file.path;
        added.blob_id = OidHex(d->new_file.id);
        // Lines as the diff counts them: one per '\n', and a last one without it.
        size_t line = 0;
        for (size_t at = 0; at < size;) {
          const void* nl = std::memchr(content + at, '\n', size - at);
          at = nl ? static_cast<size_t>(static_cast<const char*>(nl) - content) + 1 : size;
          added.lines.push_back(static_cast<int>(++line));
        }
        if (keep_text) added.text.assign(content, size);
        added.has_text = keep_text && !added.text.empty();
        if (!added.lines.empty()) out.push_back(std::move(added));
        continue;
      }
    }
    git_patch* patch = nullptr;
    rc = git_patch_from_diff(&patch, diff, i);
    if (rc != 0) return GitError(rc, std::string("diff of ") + d->new_file.path);
    PatchPtr owned(patch);
    if (patch == nullptr || (git_patch_get_delta(patch)->flags & GIT_DIFF_FLAG_BINARY) != 0) {
      continue;
    }
    AddedLines added;
    added.path = d->new_file.path;
    added.blob_id = OidHex(d->new_file.id);
    const bool whole = keep_text && d->status == GIT_DELTA_ADDED;
    bool complete = whole;  // every line read
    // The patch's delta: its size is that of the content the patch read.
    const uint64_t size = git_patch_get_delta(patch)->new_file.size;
    if (whole) added.text.reserve(static_cast<size_t>(size));
    size_t hunks = git_patch_num_hunks(patch);
    for (size_t h = 0; h < hunks; ++h) {
      int lines = git_patch_num_lines_in_hunk(patch, h);
      for (int l = 0; l < lines; ++l) {
        const git_diff_line* line = nullptr;
        if (git_patch_get_line_in_hunk(&line, patch, h, static_cast<size_t>(l)) != 0) {
          complete = false;
          continue;
        }
        if (line->origin == GIT_DIFF_LINE_ADDITION) {
          added.lines.push_back(line->new_lineno);
          if (whole) added.text.append(line->content, line->content_len);
        }
      }
    }
    // Only a text known to be the blob's whole content is kept (else the caller reads it).
    if (whole && (!complete || added.text.size() != size)) {
      added.text.clear();
      added.text.shrink_to_fit();
    }
    added.has_text = whole && !added.text.empty();
    if (!added.lines.empty()) out.push_back(std::move(added));
  }
  return out;
}

Result<std::vector<AddedLines>> AddedTreeToTree(
    git_repository* repo, git_tree* from, git_tree* to, const std::string& path = "",
    bool keep_text = false, const std::function<void(uint64_t)>& on_bound = nullptr) {
  git_diff_options opts = ZeroContextOptions();
  // A literal directory, not a pattern: the diff (and its rename and copy detection) then
  // reads only that part of the trees.
  char* spec = const_cast<char*>(path.c_str());
  if (!path.empty()) {
    opts.pathspec = {&spec, 1};
    opts.flags |= GIT_DIFF_DISABLE_PATHSPEC_MATCH;
  }
  git_diff* diff = nullptr;
  int rc = git_diff_tree_to_tree(&diff, repo, from, to, &opts);
  if (rc != 0) return GitError(rc, "diff");
  DiffPtr owned(diff);
  return CollectAdded(diff, keep_text, repo, on_bound);
}

// The lines both `a` and `b` add to the same blob at the same path, in `a`'s order.
std::vector<AddedLines> CommonLines(const std::vector<AddedLines>& a,
                                    const std::vector<AddedLines>& b) {
  std::map<std::string_view, const AddedLines*> in_b;
  for (const AddedLines& y : b) in_b[y.path] = &y;
  std::vector<AddedLines> out;
  for (const AddedLines& x : a) {
    auto it = in_b.find(x.path);
    if (it == in_b.end() || it->second->blob_id != x.blob_id) continue;
    AddedLines both{.path = x.path, .blob_id = x.blob_id, .lines = {}};
    std::set_intersection(x.lines.begin(), x.lines.end(), it->second->lines.begin(),
                          it->second->lines.end(), std::back_inserter(both.lines));
    if (!both.lines.empty()) out.push_back(std::move(both));
  }
  return out;
}

CommitInfo InfoOf(git_commit* c) {
  CommitInfo info;
  info.id = OidHex(*git_commit_id(c));
  const git_signature* author = git_commit_author(c);
  info.author_name = author->name != nullptr ? author->name : "";
  info.author_email = author->email != nullptr ? author->email : "";
  info.time_unix = author->when.time;
  const char* msg = git_commit_message(c);
  info.message = msg != nullptr ? msg : "";
  info.parents = git_commit_parentcount(c);
  return info;
}

}  // namespace

}  // namespace internal

struct LocalRepo::Impl {
  RepoPtr repo;
};

LocalRepo::LocalRepo(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LocalRepo::~LocalRepo() = default;

Result<std::unique_ptr<LocalRepo>> LocalRepo::Open(const std::string& dir) {
  internal::EnsureLibgit2();
  git_repository* repo = nullptr;
  int rc = git_repository_open_ext(&repo, dir.c_str(), 0, nullptr);
  if (rc == GIT_ENOTFOUND) return NotFound(dir + " is not in a git repository");
  if (rc != 0) return GitError(rc, "opening the repository at " + dir);
  auto impl = std::make_unique<Impl>();
  impl->repo.reset(repo);
  return std::unique_ptr<LocalRepo>(new LocalRepo(std::move(impl)));
}

std::string LocalRepo::WorkDir() const {
  const char* w = git_repository_workdir(impl_->repo.get());
  return w != nullptr ? w : "";
}

std::string LocalRepo::GitDir() const { return git_repository_path(impl_->repo.get()); }

Result<std::vector<CommitInfo>> LocalRepo::Commits(const std::string& range) {
  git_repository* repo = impl_->repo.get();
  git_revwalk* walk = nullptr;
  int rc = git_revwalk_new(&walk, repo);
  if (rc != 0) return GitError(rc, "history walk");
  internal::RevwalkPtr owned(walk);
  git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
  if (range.empty()) {
    if (git_repository_head_unborn(repo) == 1) return std::vector<CommitInfo>{};
    rc = git_revwalk_push_head(walk);
    if (rc == 0) rc = git_revwalk_push_glob(walk, "refs/heads/*");
    if (rc == 0) rc = git_revwalk_push_glob(walk, "refs/tags/*");
  } else if (range.find("..") != std::string::npos) {
    rc = git_revwalk_push_range(walk, range.c_str());
  } else {
    git_object* obj = nullptr;
    rc = git_revparse_single(&obj, repo, range.c_str());
    if (rc == 0) {
      internal::ObjectPtr o(obj);
      git_object* peeled = nullptr;
      rc = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT);
      if (rc == 0) {
        internal::ObjectPtr p(peeled);
        rc = git_revwalk_push(walk, git_object_id(peeled));
      }
    }
  }
  if (rc == GIT_ENOTFOUND) return NotFound("revision range " + range + " not found");
  if (rc != 0) return GitError(rc, "revision range '" + range + "'");
  std::vector<CommitInfo> out;
  git_oid oid;
  while ((rc = git_revwalk_next(&oid, walk)) == 0) {
    ASSIGN_OR_RETURN(CommitPtr c, internal::LookupCommitById(repo, OidHex(oid)));
    out.push_back(internal::InfoOf(c.get()));
  }
  if (rc != GIT_ITEROVER) return GitError(rc, "history walk");
  return out;
}

Result<CommitAdditions> LocalRepo::Additions(const std::string& commit) {
  git_repository* repo = impl_->repo.get();
  ASSIGN_OR_RETURN(CommitPtr c, internal::ResolveCommit(repo, commit, ""));
  CommitAdditions out;
  out.commit = internal::InfoOf(c.get());
  ASSIGN_OR_RETURN(TreePtr tree, internal::CommitTree(c.get()));
  // Against each parent (a root commit: against nothing); a line counts when it is new
  // against all of them.
  size_t n = std::max<size_t>(out.commit.parents, 1);
  for (size_t i = 0; i < n; ++i) {
    TreePtr parent_tree;
    if (out.commit.parents > 0) {
      git_commit* parent = nullptr;
      int rc = git_commit_parent(&parent, c.get(), static_cast<unsigned>(i));
      if (rc != 0) return GitError(rc, "parent of " + out.commit.id);
      CommitPtr owned(parent);
      ASSIGN_OR_RETURN(parent_tree, internal::CommitTree(parent));
    }
    auto files = internal::AddedTreeToTree(repo, parent_tree.get(), tree.get());
    if (!files.ok()) return files.status().WithContext("commit " + out.commit.id.substr(0, 12));
    out.files = i == 0 ? std::move(files).value() : internal::CommonLines(out.files, *files);
    if (out.files.empty()) break;
  }
  return out;
}

Result<std::vector<AddedLines>> LocalRepo::StagedAdditions() {
  git_repository* repo = impl_->repo.get();
  TreePtr head_tree;
  if (git_repository_head_unborn(repo) != 1) {
    ASSIGN_OR_RETURN(CommitPtr head, internal::PeelRef(repo, "HEAD"));
    ASSIGN_OR_RETURN(head_tree, internal::CommitTree(head.get()));
  }
  git_index* index = nullptr;
  int rc = git_repository_index(&index, repo);
  if (rc != 0) return GitError(rc, "reading the index");
  internal::IndexPtr owned_index(index);
  git_diff_options opts = internal::ZeroContextOptions();
  git_diff* diff = nullptr;
  rc = git_diff_tree_to_index(&diff, repo, head_tree.get(), index, &opts);
  if (rc != 0) return GitError(rc, "diff of the index against HEAD");
  internal::DiffPtr owned(diff);
  return internal::CollectAdded(diff);
}

Result<std::string> LocalRepo::ReadBlob(const std::string& blob_id) {
  return internal::ReadBlobContent(impl_->repo.get(), blob_id);
}

Result<std::vector<AddedLines>> RepoCache::AddedBetween(
    const std::string& url, const std::string& from, const std::string& to, const std::string& path,
    const std::function<void(uint64_t)>& on_bound) {
  // The mirror's side handle: a cold sync's scan reads every file's text here while the
  // head is rendered through the main one.
  std::unique_lock<std::mutex> side;
  ASSIGN_OR_RETURN(git_repository * repo, impl_->OpenSideForRead(url, MirrorPath(url), &side));
  ASSIGN_OR_RETURN(CommitPtr to_commit, ResolveCommit(repo, to, url));
  ASSIGN_OR_RETURN(TreePtr to_tree, internal::CommitTree(to_commit.get()));
  TreePtr from_tree;
  if (!from.empty()) {
    ASSIGN_OR_RETURN(CommitPtr from_commit, ResolveCommit(repo, from, url));
    ASSIGN_OR_RETURN(from_tree, internal::CommitTree(from_commit.get()));
  }
  auto files = internal::AddedTreeToTree(repo, from_tree.get(), to_tree.get(), path,
                                         /*keep_text=*/true, on_bound);
  if (!files.ok()) return files.status().WithContext("lines added " + from + ".." + to);
  return files;
}

}  // namespace plumb::source
