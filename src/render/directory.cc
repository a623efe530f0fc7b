#include "render/directory.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <filesystem>

#include "core/fs.h"

namespace plumb::render::internal {
namespace {

constexpr int kMaxLinkDepth = 8;

std::string ReadLinkText(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n < 0 ? std::string("?") : std::string(buf, static_cast<size_t>(n));
}

class Walker {
 public:
  Walker(std::string root, size_t max_files) : root_(std::move(root)), max_files_(max_files) {}

  Status Walk(const std::string& real_dir, const std::string& rel_dir, int depth,
              std::vector<DiskFile>* out) {
    std::error_code ec;
    std::vector<std::string> names;
    for (auto it = std::filesystem::directory_iterator(real_dir, ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      names.push_back(it->path().filename().string());
    }
    if (ec) return Unavailable("reading " + real_dir + ": " + ec.message());
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      if (name.empty() || name[0] == '.') continue;
      std::string real = real_dir + "/" + name;
      std::string rel = rel_dir.empty() ? name : rel_dir + "/" + name;
      struct stat st;
      if (::lstat(real.c_str(), &st) != 0) continue;  // vanished meanwhile
      std::string target = real;
      if (S_ISLNK(st.st_mode)) {
        std::string text = ReadLinkText(real);
        if (!fs::IsUnder(fs::JoinPath(real_dir, text), root_)) {
          return PermissionDenied(rel + " is a symlink to " + text + ", outside " + root_);
        }
        char* resolved = ::realpath(real.c_str(), nullptr);
        if (resolved == nullptr) {
          return NotFound(rel + " is a symlink to " + text + ", which does not exist");
        }
        target = resolved;
        std::free(resolved);
        if (!fs::IsUnder(target, root_)) {
          return PermissionDenied(rel + " is a symlink to " + text + ", outside " + root_);
        }
        if (::stat(target.c_str(), &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
          if (fs::IsUnder(real_dir, target) || depth + 1 > kMaxLinkDepth) {
            return PermissionDenied(rel + " is a symlink to " + text +
                                    ", a directory containing it (a loop)");
          }
          RETURN_IF_ERROR(Walk(target, rel, depth + 1, out));
          continue;
        }
      }
      if (S_ISDIR(st.st_mode)) {
        RETURN_IF_ERROR(Walk(real, rel, depth, out));
      } else if (S_ISREG(st.st_mode)) {
        if (out->size() >= max_files_) {
          return InvalidArgument("more than " + std::to_string(max_files_) + " files under " +
                                 root_);
        }
        out->push_back(DiskFile{rel, target});
      }
    }
    return Status::Ok();
  }

 private:
  std::string root_;
  size_t max_files_;
};

}  // namespace

Result<std::vector<DiskFile>> ListDirectory(const std::string& root, size_t max_files) {
  std::vector<DiskFile> files;
  Walker walker(root, max_files);
  RETURN_IF_ERROR(walker.Walk(root, "", 0, &files));
  std::sort(files.begin(), files.end(),
            [](const DiskFile& a, const DiskFile& b) { return a.path < b.path; });
  return files;
}

}  // namespace plumb::render::internal
