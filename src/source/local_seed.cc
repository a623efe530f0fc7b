#include "source/local_seed.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "core/fs.h"
#include "core/strings.h"
#include "source/git_util.h"

namespace plumb::source::internal {
namespace {

// The names in `dir`; none when it cannot be read (the seed is only an optimisation).
std::vector<std::string> Names(const std::string& dir) {
  auto names = fs::ListDir(dir);
  return names.ok() ? std::move(*names) : std::vector<std::string>();
}

bool IsHex(const std::string& s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Links `from` to `to` (never replacing); a copy when linking is not possible.
bool LinkOrCopy(const std::string& from, const std::string& to) {
  if (::link(from.c_str(), to.c_str()) == 0) return true;
  if (errno == EEXIST) return false;
  auto content = fs::ReadFile(from);
  if (!content.ok()) return false;
  struct stat st;
  int mode = ::stat(from.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 0777) : 0444;
  return fs::WriteFileAtomic(to, *content, mode).ok();
}

}  // namespace

int SeedObjects(const std::string& local, const std::string& mirror) {
  EnsureLibgit2();
  git_repository* raw = nullptr;
  if (git_repository_open_ext(&raw, local.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr) != 0)
    return 0;
  RepoPtr repo(raw);
  const std::string from = std::string(git_repository_commondir(repo.get())) + "objects";
  const std::string to = mirror + "/objects";
  int n = 0;
  for (const std::string& sub : Names(from)) {
    if (!IsHex(sub, 2)) continue;
    bool made = false;
    for (const std::string& name : Names(from + "/" + sub)) {
      if (!IsHex(name, 38)) continue;  // tmp_obj_* and the like
      if (!made) {
        if (!fs::MakeDirs(to + "/" + sub).ok()) break;
        made = true;
      }
      n += LinkOrCopy(from + "/" + sub + "/" + name, to + "/" + sub + "/" + name);
    }
  }
  // A pack is only used through its index: link the pack first.
  const std::vector<std::string> packs = Names(from + "/pack");
  if (!packs.empty() && fs::MakeDirs(to + "/pack").ok()) {
    for (const std::string& name : packs) {
      if (!StartsWith(name, "pack-") || name.size() < 5 || name.substr(name.size() - 5) != ".pack")
        continue;
      const std::string base = name.substr(0, name.size() - 5);
      if (std::find(packs.begin(), packs.end(), base + ".idx") == packs.end()) continue;
      if (!LinkOrCopy(from + "/pack/" + name, to + "/pack/" + name)) continue;
      n += 1 + LinkOrCopy(from + "/pack/" + base + ".idx", to + "/pack/" + base + ".idx");
    }
  }
  return n;
}

}  // namespace plumb::source::internal
