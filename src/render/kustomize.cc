#include "render/kustomize.h"

#include <cstdlib>
#include <set>

#include "core/fs.h"
#include "core/strings.h"
#include "core/subprocess.h"
#include "resource/codec.h"

namespace plumb::render {
namespace internal {
namespace {

std::string HowToInstall(const std::string& kubectl) {
  return "kustomize rendering runs `" + kubectl +
         " kustomize` and needs kubectl 1.21 or newer (kustomize v4+): install it from "
         "https://kubernetes.io/docs/tasks/tools/ or point the operator at one with "
         "--kubectl (Debian's kubernetes-client package is too old)";
}

std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  if (from.empty()) return s;
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

// Whether a resources/bases/components entry names something kustomize would fetch.
bool IsRemoteRef(const std::string& entry, const std::string& dir) {
  if (entry.find("://") != std::string::npos) return true;
  for (const char* prefix : {"git::", "git@", "github.com/", "gitlab.com/", "bitbucket.org/"}) {
    if (StartsWith(entry, prefix)) return true;
  }
  if (entry.find("?ref=") != std::string::npos || entry.find("?version=") != std::string::npos) {
    return true;
  }
  // "example.com/org/repo//path": a host name as the first component of a missing path.
  size_t slash = entry.find('/');
  if (slash != std::string::npos) {
    std::string first = entry.substr(0, slash);
    if (first.find('.') != std::string::npos && first != "." && first != ".." &&
        !fs::Exists(fs::JoinPath(dir, entry))) {
      return true;
    }
  }
  return false;
}

std::string FindKustomizationFile(const std::string& dir) {
  for (const char* name : kKustomizationNames) {
    std::string p = dir + "/" + name;
    if (fs::Exists(p)) return p;
  }
  return "";
}

class BaseChecker {
 public:
  BaseChecker(std::string root, std::string shown_base, std::string shown_prefix)
      : root_(std::move(root)),
        shown_base_(std::move(shown_base)),
        shown_prefix_(std::move(shown_prefix)) {}

  Status Check(const std::string& dir, int depth) {
    if (depth > 64) return InvalidArgument(Shown(dir) + ": kustomization bases nest too deep");
    if (!visited_.insert(fs::NormalizePath(dir)).second) return Status::Ok();
    std::string file = FindKustomizationFile(dir);
    if (file.empty()) return Status::Ok();  // a plain directory of resources
    ASSIGN_OR_RETURN(std::string text, fs::ReadFile(file));
    ASSIGN_OR_RETURN(auto docs, resource::ParseYaml(text, Shown(file)));
    if (docs.empty()) return Status::Ok();
    const resource::Value& k = docs[0].value;
    for (const char* key : {"resources", "bases", "components"}) {
      const resource::Value* list = k.Find(key);
      if (list == nullptr || !list->is_array()) continue;
      for (const resource::Value& item : list->as_array()) {
        if (!item.is_string()) continue;
        const std::string& entry = item.as_string();
        if (IsRemoteRef(entry, dir)) {
          return InvalidArgument(Shown(file) + ": " + key + " entry \"" + entry +
                                 "\" is a remote base, which this Application does not allow "
                                 "(allowRemoteBases)");
        }
        std::string target = fs::JoinPath(dir, entry);
        if (!root_.empty() && !fs::IsUnder(target, root_)) {
          return PermissionDenied(Shown(file) + ": " + key + " entry \"" + entry +
                                  "\" leads outside the repository");
        }
        if (fs::IsDirectory(target)) RETURN_IF_ERROR(Check(target, depth + 1));
      }
    }
    return Status::Ok();
  }

 private:
  std::string Shown(const std::string& path) const {
    std::string norm = fs::NormalizePath(path);
    std::string rel = norm;
    if (norm == shown_base_) {
      rel = "";
    } else if (StartsWith(norm, shown_base_ + "/")) {
      rel = norm.substr(shown_base_.size() + 1);
    }
    if (shown_prefix_.empty()) return rel.empty() ? "." : rel;
    return rel.empty() ? shown_prefix_ : shown_prefix_ + "/" + rel;
  }

  std::string root_;
  std::string shown_base_;
  std::string shown_prefix_;
  std::set<std::string> visited_;
};

}  // namespace

Status CheckRemoteBases(const std::string& root, const std::string& dir,
                        const std::string& shown_prefix) {
  BaseChecker checker(root.empty() ? "" : fs::NormalizePath(root),
                      fs::NormalizePath(root.empty() ? dir : root), shown_prefix);
  return checker.Check(dir, 0);
}

Result<std::string> RunKustomize(const RenderOptions& options, const std::string& dir,
                                 const std::string& shown, const std::string& hide) {
  SubprocessOptions sub;
  sub.timeout = options.kustomize_timeout;
  auto r = RunSubprocess(
      {options.kubectl, "kustomize", dir, "--load-restrictor", "LoadRestrictionsRootOnly"}, sub);
  if (!r.ok()) {
    if (r.status().code() == Code::kNotFound) {
      return FailedPrecondition(options.kubectl + " not found: " + HowToInstall(options.kubectl));
    }
    return r.status().WithContext(shown + ": kustomize");
  }
  if (r->exit_code != 0) {
    std::string err = Trim(ReplaceAll(r->err, hide + "/", ""));
    err = ReplaceAll(err, hide, "");
    if (err.empty()) err = "exit code " + std::to_string(r->exit_code);
    return InvalidArgument(shown + ": kustomize failed: " + err);
  }
  return std::move(r->out);
}

}  // namespace internal

Result<std::string> CheckKustomize(const std::string& kubectl) {
  SubprocessOptions sub;
  sub.timeout = Duration(30000);
  auto r = RunSubprocess({kubectl, "version", "--client"}, sub);
  if (!r.ok()) {
    if (r.status().code() == Code::kNotFound) {
      return FailedPrecondition(kubectl + " not found: " + internal::HowToInstall(kubectl));
    }
    return FailedPrecondition("running " + kubectl + " version --client: " + r.status().message() +
                              "; " + internal::HowToInstall(kubectl));
  }
  std::string text = r->out + r->err;
  const std::string marker = "Kustomize Version: ";
  size_t pos = text.find(marker);
  if (r->exit_code != 0 || pos == std::string::npos) {
    return FailedPrecondition(
        kubectl + " reports no kustomize version (too old?): " + internal::HowToInstall(kubectl));
  }
  size_t end = text.find_first_of("\r\n", pos);
  std::string version = Trim(text.substr(pos + marker.size(), end - pos - marker.size()));
  std::string digits = StartsWith(version, "v") ? version.substr(1) : version;
  int major = std::atoi(digits.c_str());
  if (major < 4) {
    return FailedPrecondition(kubectl + " has kustomize " + version + ": " +
                              internal::HowToInstall(kubectl));
  }
  return version;
}

}  // namespace plumb::render
