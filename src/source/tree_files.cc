#include "source/tree_files.h"

#include <algorithm>
#include <deque>

#include "core/fs.h"
#include "core/strings.h"

namespace plumb::source::internal {
namespace {

// A tree entry reached from the root after following symlinks.
struct Resolved {
  bool is_tree = false;
  git_oid oid{};
  uint32_t mode = 0;      // blobs: 0100644 or 0100755
  std::string real_path;  // where it really lives ("" for the root)
};

std::string JoinRel(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

// Whether normalised relative `p` ("." for the root) lies in `scope` ("" = the root).
bool InsideScope(const std::string& p, const std::string& scope) {
  if (p.empty() || p[0] == '/' || p == ".." || StartsWith(p, "../")) return false;
  if (scope.empty()) return true;
  return p == scope || StartsWith(p, scope + "/");
}

std::string ScopeName(const std::string& scope) { return scope.empty() ? "the repository" : scope; }

class Lister {
 public:
  Lister(git_repository* repo, git_tree* root) : repo_(repo), root_(root) {}

  // Resolves normalised `path` from the root, following symlinks in every component;
  // each link must stay inside `scope`. `hops` counts links followed.
  Result<Resolved> ResolvePath(const std::string& path, const std::string& scope, int* hops) {
    std::deque<std::string> todo;
    for (auto& part : Split(path, '/')) {
      if (!part.empty() && part != ".") todo.push_back(part);
    }
    TreePtr current;
    RETURN_IF_ERROR(DupRoot(&current));
    std::string dir;
    while (!todo.empty()) {
      std::string name = todo.front();
      todo.pop_front();
      const git_tree_entry* e = git_tree_entry_byname(current.get(), name.c_str());
      std::string child = JoinRel(dir, name);
      if (e == nullptr) return NotFound(child + " does not exist");
      git_filemode_t mode = git_tree_entry_filemode(e);
      if (mode == GIT_FILEMODE_TREE) {
        git_tree* sub = nullptr;
        int rc = git_tree_lookup(&sub, repo_, git_tree_entry_id(e));
        if (rc != 0) return GitError(rc, "reading tree " + child);
        current.reset(sub);
        dir = child;
      } else if (mode == GIT_FILEMODE_LINK) {
        ASSIGN_OR_RETURN(std::string target, ReadLink(*git_tree_entry_id(e), child));
        if (++*hops > kMaxLinkHops) {
          return PermissionDenied(child + " is a symlink to " + target +
                                  ", which loops (more than " + std::to_string(kMaxLinkHops) +
                                  " links followed)");
        }
        std::string norm =
            target.empty() || target[0] == '/' ? target : fs::NormalizePath(JoinRel(dir, target));
        if (!InsideScope(norm, scope)) {
          return PermissionDenied(child + " is a symlink to " + target + ", outside " +
                                  ScopeName(scope));
        }
        auto parts = Split(norm, '/');
        for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
          if (!it->empty() && *it != ".") todo.push_front(*it);
        }
        RETURN_IF_ERROR(DupRoot(&current));
        dir.clear();
      } else if (mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE) {
        if (!todo.empty()) return NotFound(child + " is a file, not a directory");
        return Resolved{false, *git_tree_entry_id(e), static_cast<uint32_t>(mode), child};
      } else {
        return NotFound(child + " is a submodule");
      }
    }
    return Resolved{true, *git_tree_id(current.get()), 0, dir};
  }

  // Lists `tree` (really at `real_dir`) as if it were at `shown_dir`.
  Status Walk(git_tree* tree, const std::string& real_dir, const std::string& shown_dir,
              const std::string& scope, int hops, std::vector<TreeFile>* out) {
    size_t n = git_tree_entrycount(tree);
    for (size_t i = 0; i < n; ++i) {
      const git_tree_entry* e = git_tree_entry_byindex(tree, i);
      std::string name = git_tree_entry_name(e);
      std::string real = JoinRel(real_dir, name);
      std::string shown = JoinRel(shown_dir, name);
      git_filemode_t mode = git_tree_entry_filemode(e);
      if (mode == GIT_FILEMODE_TREE) {
        git_tree* sub = nullptr;
        int rc = git_tree_lookup(&sub, repo_, git_tree_entry_id(e));
        if (rc != 0) return GitError(rc, "reading tree " + real);
        TreePtr owned(sub);
        RETURN_IF_ERROR(Walk(sub, real, shown, scope, hops, out));
      } else if (mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE) {
        RETURN_IF_ERROR(Emit(shown, *git_tree_entry_id(e), mode, "", out));
      } else if (mode == GIT_FILEMODE_LINK) {
        int h = hops;
        auto r = ResolvePath(real, scope, &h);
        if (!r.ok()) {
          if (r.status().code() != Code::kNotFound) return r.status();
          ASSIGN_OR_RETURN(std::string target, ReadLink(*git_tree_entry_id(e), real));
          return NotFound(real + " is a symlink to " + target + ", which does not exist (" +
                          r.status().message() + ")");
        }
        if (!r->is_tree) {
          ASSIGN_OR_RETURN(std::string target, ReadLink(*git_tree_entry_id(e), real));
          RETURN_IF_ERROR(Emit(shown, r->oid, static_cast<git_filemode_t>(r->mode), target, out));
          continue;
        }
        if (InsideScope(real, r->real_path) || r->real_path.empty()) {
          ASSIGN_OR_RETURN(std::string target, ReadLink(*git_tree_entry_id(e), real));
          return PermissionDenied(real + " is a symlink to " + target +
                                  ", a directory containing it (a loop)");
        }
        git_tree* sub = nullptr;
        int rc = git_tree_lookup(&sub, repo_, &r->oid);
        if (rc != 0) return GitError(rc, "reading tree " + r->real_path);
        TreePtr owned(sub);
        RETURN_IF_ERROR(Walk(sub, r->real_path, shown, scope, h, out));
      }
      // Submodules (GIT_FILEMODE_COMMIT) are skipped.
    }
    return Status::Ok();
  }

 private:
  Status DupRoot(TreePtr* out) {
    git_tree* copy = nullptr;
    int rc = git_tree_dup(&copy, root_);
    if (rc != 0) return GitError(rc, "reading root tree");
    out->reset(copy);
    return Status::Ok();
  }

  Result<std::string> ReadLink(const git_oid& oid, const std::string& where) {
    git_blob* blob = nullptr;
    int rc = git_blob_lookup(&blob, repo_, &oid);
    if (rc != 0) return GitError(rc, "reading symlink " + where);
    BlobPtr owned(blob);
    return std::string(static_cast<const char*>(git_blob_rawcontent(blob)),
                       static_cast<size_t>(git_blob_rawsize(blob)));
  }

  Status Emit(const std::string& path, const git_oid& oid, git_filemode_t mode,
              const std::string& via, std::vector<TreeFile>* out) {
    if (out->size() >= kMaxListedFiles) {
      return InvalidArgument("more than " + std::to_string(kMaxListedFiles) + " files");
    }
    out->push_back(TreeFile{path, OidHex(oid), static_cast<uint32_t>(mode), via});
    return Status::Ok();
  }

  git_repository* repo_;
  git_tree* root_;
};

}  // namespace

Result<std::vector<TreeFile>> ListTreeFiles(git_repository* repo, git_tree* root,
                                            const std::string& path) {
  Lister lister(repo, root);
  std::vector<TreeFile> files;
  if (path.empty()) {
    RETURN_IF_ERROR(lister.Walk(root, "", "", "", 0, &files));
  } else {
    int hops = 0;
    // The Application's own path may itself be reached through links anywhere in the
    // repository; below it, links must stay inside what it resolves to.
    auto r = lister.ResolvePath(path, "", &hops);
    if (!r.ok()) {
      if (r.status().code() == Code::kNotFound) {
        return NotFound("path " + path + " does not exist (" + r.status().message() + ")");
      }
      return r.status();
    }
    if (!r->is_tree) {
      files.push_back(TreeFile{path, OidHex(r->oid), r->mode, ""});
      return files;
    }
    git_tree* sub = nullptr;
    int rc = git_tree_lookup(&sub, repo, &r->oid);
    if (rc != 0) return GitError(rc, "reading tree " + path);
    TreePtr owned(sub);
    RETURN_IF_ERROR(lister.Walk(sub, r->real_path, path, r->real_path, hops, &files));
  }
  std::sort(files.begin(), files.end(),
            [](const TreeFile& a, const TreeFile& b) { return a.path < b.path; });
  return files;
}

Status WriteTreeFiles(git_repository* repo, const std::vector<TreeFile>& files,
                      const std::string& dest) {
  for (const TreeFile& f : files) {
    if (fs::NormalizePath(f.path) != f.path || !InsideScope(f.path, "") || f.path == ".git" ||
        StartsWith(f.path, ".git/")) {
      return PermissionDenied("refusing to write tree path " + f.path);
    }
    git_oid oid;
    int rc = git_oid_fromstr(&oid, f.blob_id.c_str());
    if (rc != 0) return GitError(rc, "blob id of " + f.path);
    git_blob* blob = nullptr;
    rc = git_blob_lookup(&blob, repo, &oid);
    if (rc != 0) return GitError(rc, "reading " + f.path);
    BlobPtr owned(blob);
    std::string full = dest + "/" + f.path;
    RETURN_IF_ERROR(fs::MakeDirs(fs::Dirname(full)));
    std::string content(static_cast<const char*>(git_blob_rawcontent(blob)),
                        static_cast<size_t>(git_blob_rawsize(blob)));
    RETURN_IF_ERROR(
        fs::WriteFileAtomic(full, content, f.mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644));
  }
  return Status::Ok();
}

}  // namespace plumb::source::internal
