#include "pipeline/image_objects.h"

#include <set>

#include "core/strings.h"

namespace plumb::pipeline {
namespace {

using resource::Resource;
using resource::Value;

Status Bad(const Resource& r, const std::string& why) {
  return InvalidArgument(r.origin().ToString() + ": " + r.id().kind + " " + r.id().name + ": " +
                         why);
}

// A string at `path` under the body; "" when absent; an error when not a string.
Result<std::string> String(const Resource& r, std::initializer_list<std::string_view> path,
                           const std::string& field) {
  const Value* v = r.body().FindPath(path);
  if (!v || v->is_null()) return std::string();
  if (!v->is_string()) return Bad(r, field + " must be a string");
  return v->as_string().str();
}

Result<bool> Bool(const Resource& r, std::initializer_list<std::string_view> path,
                  const std::string& field) {
  const Value* v = r.body().FindPath(path);
  if (!v || v->is_null()) return false;
  if (!v->is_bool()) return Bad(r, field + " must be true or false");
  return v->as_bool();
}

Status ReadDuration(const Resource& r, std::initializer_list<std::string_view> path,
                    const std::string& field, Duration* out) {
  ASSIGN_OR_RETURN(std::string text, String(r, path, field));
  if (text.empty()) return Status::Ok();
  auto d = ParseDuration(text);
  if (!d.ok()) return Bad(r, field + ": " + d.status().message());
  if (d->count() <= 0) return Bad(r, field + " must be positive");
  *out = *d;
  return Status::Ok();
}

}  // namespace

Result<ImageRepositorySpec> ImageRepositoryFromResource(const Resource& r) {
  ImageRepositorySpec s{.ns = r.id().ns, .name = r.id().name};
  ASSIGN_OR_RETURN(s.image, String(r, {"spec", "image"}, "spec.image"));
  if (s.image.empty()) return Bad(r, "spec.image is required");
  RETURN_IF_ERROR(ReadDuration(r, {"spec", "interval"}, "spec.interval", &s.interval));
  RETURN_IF_ERROR(ReadDuration(r, {"spec", "timeout"}, "spec.timeout", &s.timeout));
  ASSIGN_OR_RETURN(s.insecure, Bool(r, {"spec", "insecure"}, "spec.insecure"));
  ASSIGN_OR_RETURN(s.suspend, Bool(r, {"spec", "suspend"}, "spec.suspend"));
  ASSIGN_OR_RETURN(s.secret_ref, String(r, {"spec", "secretRef", "name"}, "spec.secretRef.name"));
  ASSIGN_OR_RETURN(s.cert_secret_ref,
                   String(r, {"spec", "certSecretRef", "name"}, "spec.certSecretRef.name"));
  return s;
}

Result<ImagePolicyObject> ImagePolicyFromResource(const Resource& r) {
  ImagePolicyObject p{.ns = r.id().ns, .name = r.id().name};
  ASSIGN_OR_RETURN(p.repository, String(r, {"spec", "imageRepositoryRef", "name"},
                                        "spec.imageRepositoryRef.name"));
  if (p.repository.empty()) return Bad(r, "spec.imageRepositoryRef.name is required");
  ASSIGN_OR_RETURN(p.repository_ns, String(r, {"spec", "imageRepositoryRef", "namespace"},
                                           "spec.imageRepositoryRef.namespace"));
  if (p.repository_ns.empty()) p.repository_ns = p.ns;
  const Value* policy = r.body().FindPath({"spec", "policy"});
  if (!policy || !policy->is_object() || policy->size() != 1)
    return Bad(r, "spec.policy must hold exactly one of semver, numerical, alphabetical");
  auto order = [&](const char* kind) -> Result<bool> {
    ASSIGN_OR_RETURN(std::string o, String(r, {"spec", "policy", kind, "order"},
                                           std::string("spec.policy.") + kind + ".order"));
    if (o.empty() || o == "asc") return false;
    if (o == "desc") return true;
    return Bad(
        r, std::string("spec.policy.") + kind + ".order must be asc or desc, not \"" + o + "\"");
  };
  if (policy->Find("semver")) {
    p.policy.kind = PolicySpec::Kind::kSemver;
    ASSIGN_OR_RETURN(p.policy.range,
                     String(r, {"spec", "policy", "semver", "range"}, "spec.policy.semver.range"));
    if (p.policy.range.empty()) return Bad(r, "spec.policy.semver.range is required");
    auto range = VersionRange::Parse(p.policy.range);
    if (!range.ok()) return Bad(r, range.status().message());
  } else if (policy->Find("numerical")) {
    p.policy.kind = PolicySpec::Kind::kNumerical;
    ASSIGN_OR_RETURN(p.policy.descending, order("numerical"));
  } else if (policy->Find("alphabetical")) {
    p.policy.kind = PolicySpec::Kind::kAlphabetical;
    ASSIGN_OR_RETURN(p.policy.descending, order("alphabetical"));
  } else {
    return Bad(r, "spec.policy must hold exactly one of semver, numerical, alphabetical");
  }
  ASSIGN_OR_RETURN(p.policy.pattern,
                   String(r, {"spec", "filterTags", "pattern"}, "spec.filterTags.pattern"));
  ASSIGN_OR_RETURN(p.policy.extract,
                   String(r, {"spec", "filterTags", "extract"}, "spec.filterTags.extract"));
  auto filter = TagFilter::Create(p.policy.pattern, p.policy.extract);
  if (!filter.ok()) return Bad(r, filter.status().message());
  return p;
}

Result<ImageUpdateAutomationSpec> ImageUpdateAutomationFromResource(const Resource& r) {
  ImageUpdateAutomationSpec a{.ns = r.id().ns, .name = r.id().name};
  RETURN_IF_ERROR(ReadDuration(r, {"spec", "interval"}, "spec.interval", &a.interval));
  ASSIGN_OR_RETURN(a.suspend, Bool(r, {"spec", "suspend"}, "spec.suspend"));
  ASSIGN_OR_RETURN(a.checkout_branch, String(r, {"spec", "git", "checkout", "ref", "branch"},
                                             "spec.git.checkout.ref.branch"));
  ASSIGN_OR_RETURN(a.push_branch,
                   String(r, {"spec", "git", "push", "branch"}, "spec.git.push.branch"));
  ASSIGN_OR_RETURN(a.author_name, String(r, {"spec", "git", "commit", "author", "name"},
                                         "spec.git.commit.author.name"));
  ASSIGN_OR_RETURN(a.author_email, String(r, {"spec", "git", "commit", "author", "email"},
                                          "spec.git.commit.author.email"));
  ASSIGN_OR_RETURN(a.message_template, String(r, {"spec", "git", "commit", "messageTemplate"},
                                              "spec.git.commit.messageTemplate"));
  ASSIGN_OR_RETURN(a.signing_key_secret,
                   String(r, {"spec", "git", "commit", "signingKey", "secretRef", "name"},
                          "spec.git.commit.signingKey.secretRef.name"));
  ASSIGN_OR_RETURN(std::string path, String(r, {"spec", "update", "path"}, "spec.update.path"));
  ASSIGN_OR_RETURN(std::string strategy,
                   String(r, {"spec", "update", "strategy"}, "spec.update.strategy"));
  if (!strategy.empty() && strategy != "Setters")
    return Bad(r, "spec.update.strategy must be Setters, not \"" + strategy + "\"");
  while (path.rfind("./", 0) == 0) path = path.substr(2);
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (path.empty()) path = ".";
  if (path.rfind("/", 0) == 0 || path == ".." || path.rfind("../", 0) == 0 ||
      path.find("/../") != std::string::npos)
    return Bad(r, "spec.update.path must stay inside the repository");
  a.path = path;
  return a;
}

namespace {

// The text between "{{" and "}}" with its trim markers and spaces removed.
std::string Action(const std::string& inner) {
  std::string s = inner;
  if (!s.empty() && s.front() == '-') s.erase(0, 1);
  if (!s.empty() && s.back() == '-') s.pop_back();
  return Trim(s);
}

}  // namespace

std::string RenderCommitMessage(const std::string& tmpl, const std::string& automation,
                                const std::vector<ImageChange>& changes) {
  if (tmpl.empty()) {
    std::string m = "Update from image update automation\n\n";
    for (const auto& c : changes)
      m += "- " + c.file + ":" + std::to_string(c.line) + ": " + c.old_value + " -> " +
           c.new_value + "\n";
    return m;
  }
  std::vector<std::string> images;
  for (const auto& c : changes) {
    if (c.new_value.find(':') != std::string::npos &&
        std::find(images.begin(), images.end(), c.new_value) == images.end())
      images.push_back(c.new_value);
  }
  std::string out;
  // Renders tmpl[from, to) with `item` as "." inside a range (null outside).
  std::function<void(size_t, size_t, const ImageChange*, const std::string*)> render =
      [&](size_t from, size_t to, const ImageChange* change, const std::string* image) {
        size_t i = from;
        while (i < to) {
          size_t open = tmpl.find("{{", i);
          if (open == std::string::npos || open >= to) {
            out += tmpl.substr(i, to - i);
            return;
          }
          out += tmpl.substr(i, open - i);
          size_t close = tmpl.find("}}", open);
          if (close == std::string::npos || close >= to) {
            out += tmpl.substr(open, to - open);
            return;
          }
          std::string a = Action(tmpl.substr(open + 2, close - open - 2));
          i = close + 2;
          if (a.rfind("range ", 0) == 0) {
            // Find the matching {{ end }}.
            int depth = 1;
            size_t k = i, body_end = to, after = to;
            while (k < to) {
              size_t o = tmpl.find("{{", k);
              if (o == std::string::npos || o >= to) break;
              size_t c = tmpl.find("}}", o);
              if (c == std::string::npos) break;
              std::string inner = Action(tmpl.substr(o + 2, c - o - 2));
              if (inner.rfind("range ", 0) == 0 || inner.rfind("if ", 0) == 0) ++depth;
              if (inner == "end" && --depth == 0) {
                body_end = o;
                after = c + 2;
                break;
              }
              k = c + 2;
            }
            std::string what = Trim(a.substr(6));
            if (what == ".Changed.Changes") {
              for (const auto& ch : changes) render(i, body_end, &ch, nullptr);
            } else if (what == ".Updated.Images") {
              for (const auto& im : images) render(i, body_end, nullptr, &im);
            }
            i = after;
            continue;
          }
          if (a == ".AutomationObject")
            out += automation;
          else if (change && a == ".OldValue")
            out += change->old_value;
          else if (change && a == ".NewValue")
            out += change->new_value;
          else if (change && a == ".Setter")
            out += change->policy;
          else if (change && a == ".File")
            out += change->file;
          else if (image && a == ".")
            out += *image;
          else if (image && a == "println .")
            out += *image + "\n";
          // Anything else renders as nothing, as Go's template does for missing keys.
        }
      };
  render(0, tmpl.size(), nullptr, nullptr);
  return out;
}

}  // namespace plumb::pipeline
