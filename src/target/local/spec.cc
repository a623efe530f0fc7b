#include "target/local/spec.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/fs.h"
#include "core/strings.h"

namespace plumb::target::local {
namespace {

using resource::Resource;
using resource::Value;

Status InputError(const Resource& r, const std::string& what) {
  std::string origin = r.origin().ToString();
  return InvalidArgument(origin.empty() ? what : origin + ": " + what);
}

// The text a user wrote, for messages: strings quoted, others as JSON-ish scalars.
std::string Show(const Value& v) {
  switch (v.type()) {
    case Value::Type::kString:
      return JsonQuote(v.as_string());
    case Value::Type::kInt:
      return std::to_string(v.as_int());
    case Value::Type::kBool:
      return v.as_bool() ? "true" : "false";
    case Value::Type::kNull:
      return "null";
    default:
      return std::string("a ") + v.TypeName();
  }
}

// realpath(3), or "" when it fails.
std::string RealPath(const std::string& path) {
  char* p = ::realpath(path.c_str(), nullptr);
  if (!p) return "";
  std::string out(p);
  std::free(p);
  return out;
}

// The deepest ancestor directory of `path` that exists (following symlinks).
std::string DeepestExistingDir(const std::string& path) {
  std::string dir = fs::Dirname(path);
  while (true) {
    struct stat st;
    if (::stat(dir.c_str(), &st) == 0) return dir;
    if (dir == "/" || dir == ".") return dir;
    dir = fs::Dirname(dir);
  }
}

// The fast path of CheckWritable, for a normalised `path` lexically under the normalised
// `allowed`: true when `allowed` and every directory below it on the way to `path` that
// exists is a real directory (lstat, no symlink). Then the deepest existing parent
// resolves under wherever `allowed` resolves, as realpath would say, at the cost of an
// lstat or two instead of a readlink per component of two paths.
bool OnlyDirectoriesBelow(const std::string& allowed, const std::string& path) {
  struct stat st;
  if (::lstat(allowed.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  const size_t start = allowed == "/" ? 1 : allowed.size() + 1;
  for (size_t slash = path.find('/', start); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    const std::string dir = path.substr(0, slash);
    if (::lstat(dir.c_str(), &st) != 0) return errno == ENOENT;  // the rest is created
    if (!S_ISDIR(st.st_mode)) return false;
  }
  return true;
}

// The content a File takes from a ConfigMap or a Secret of its namespace in the desired
// set, by `ref` ({name, key}) under spec.<field>. A Secret's value is never quoted back.
Result<std::string> ContentFromRef(const AppContext& ctx, const Resource& r, const Value& ref,
                                   const char* kind) {
  const bool secret = std::string_view(kind) == "Secret";
  const std::string field = secret ? "spec.fromSecret" : "spec.fromConfigMap";
  if (!ref.is_object()) return InputError(r, field + ": must be a map {name, key}");
  for (const auto& [k, v] : ref.as_object())
    if (k != "name" && k != "key") return InputError(r, field + "." + k + ": unknown field");
  const Value* name = ref.Find("name");
  const Value* key = ref.Find("key");
  if (!name || !name->is_string() || name->as_string().empty())
    return InputError(r, field + ".name: must be a non-empty string");
  if (!key || !key->is_string() || key->as_string().empty())
    return InputError(r, field + ".key: must be a non-empty string");
  const std::string& k = key->as_string();
  const std::string where =
      r.id().ns.empty() ? name->as_string() : r.id().ns + "/" + name->as_string();
  const std::string what = std::string(kind) + " " + where;
  if (ctx.desired) {
    for (const Resource& src : *ctx.desired) {
      const auto& id = src.id();
      if (id.group != r.id().group || id.kind != kind || id.ns != r.id().ns ||
          id.name != name->as_string()) {
        continue;
      }
      if (!src.Annotation(resource::kUnavailableAnnotation).empty())
        return InputError(r, field + ": " + what +
                                 " is unavailable: it did not unseal or was refused (see its "
                                 "own error, at " +
                                 src.origin().ToString() + ")");
      if (secret) {
        auto v = resource::SecretValue(src.body(), k);
        if (v.ok()) return std::move(v).value();
        if (v.status().code() == Code::kNotFound)
          return InputError(r, field + ": " + what + " has no key " + JsonQuote(k) +
                                   " (add it to the Secret's data or stringData, or fix " + field +
                                   ".key)");
        return InputError(r, field + ": " + what + " key " + JsonQuote(k) +
                                 " is not valid base64 (use stringData for plain text)");
      }
      const Value* data = src.body().Find("data");
      const Value* v = data ? data->Find(k) : nullptr;
      if (!v) {
        return InputError(r, field + ": " + what + " has no key " + JsonQuote(k) +
                                 " (add it to the ConfigMap's data, or fix " + field + ".key)");
      }
      if (!v->is_string())
        return InputError(r, field + ": " + what + " key " + JsonQuote(k) + " is not a string");
      return v->as_string().str();
    }
  }
  return InputError(r, field + ": " + what +
                           " is not in the desired set of this Application (add a " + kApiVersion +
                           " " + kind + " named " + name->as_string() +
                           (secret ? ", or a SealedSecret that unseals to it," : "") +
                           " to the Application's path, or fix " + field + ".name)");
}

Status CheckStringMap(const Resource& r, const Value& body, const char* field) {
  const Value* m = body.Find(field);
  if (!m || m->is_null()) return Status::Ok();
  if (!m->is_object()) return InputError(r, std::string(field) + ": must be a map of strings");
  for (const auto& [k, v] : m->as_object()) {
    if (!v.is_string()) {
      return InputError(
          r, std::string(field) + "." + k + ": must be a string, not " + Show(v) + " (quote it)");
    }
  }
  return Status::Ok();
}

Value Obj2(const char* k1, const std::string& v1, const char* k2, const std::string& v2) {
  Value v = Value::EmptyObject();
  v.Set(k1, v1);
  v.Set(k2, v2);
  return v;
}

}  // namespace

Result<std::string> ParseFileMode(const Value& v) {
  auto bad = [&]() {
    return InvalidArgument("spec.mode: " + Show(v) + " is not a file mode (use \"0644\")");
  };
  int64_t bits = -1;
  if (v.is_int()) {
    bits = v.as_int();
  } else if (v.is_double()) {
    double d = v.as_double();
    if (d != static_cast<double>(static_cast<int64_t>(d))) return bad();
    bits = static_cast<int64_t>(d);
  } else if (v.is_string()) {
    std::string s = v.as_string();
    if (StartsWith(s, "0o") || StartsWith(s, "0O")) s = s.substr(2);
    if (s.empty() || s.size() > 5) return bad();
    bits = 0;
    for (char c : s) {
      if (c < '0' || c > '7') return bad();
      bits = bits * 8 + (c - '0');
    }
  } else {
    return bad();
  }
  if (bits < 0 || bits > 0777) return bad();
  return FormatMode(static_cast<int>(bits));
}

int ModeBits(const std::string& canonical) {
  return static_cast<int>(std::strtol(canonical.c_str(), nullptr, 8));
}

std::string FormatMode(int bits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", bits & 07777);
  return buf;
}

Status CheckAllowed(const std::vector<std::string>& allow_paths, const std::string& path) {
  if (allow_paths.empty()) {
    return PermissionDenied("no --allow-path given: plumbline writes no files (" + path + ")");
  }
  for (const std::string& allowed : allow_paths) {
    std::string a = fs::NormalizePath(allowed);
    if (path != a && fs::IsUnder(path, a)) return Status::Ok();
  }
  return PermissionDenied(path + " is outside the allowed paths (--allow-path " +
                          Join(allow_paths, ", ") + ")");
}

std::string DirCache::KeyOf(const std::string& allowed, const std::string& dir) {
  std::string key;
  key.reserve(allowed.size() + 1 + dir.size());
  return key.append(allowed).append(1, '\0').append(dir);
}

bool DirCache::Knows(const std::string& allowed, const std::string& dir) const {
  const std::string key = KeyOf(allowed, dir);
  std::lock_guard<std::mutex> lock(mu_);
  return dirs_.count(key) > 0;
}

void DirCache::Add(const std::string& allowed, const std::string& dir) {
  std::string key = KeyOf(allowed, dir);
  std::lock_guard<std::mutex> lock(mu_);
  dirs_.insert(std::move(key));
}

void DirCache::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!dirs_.empty()) std::unordered_set<std::string>().swap(dirs_);
}

Status CheckWritable(const std::vector<std::string>& allow_paths, const std::string& path,
                     DirCache* dirs) {
  RETURN_IF_ERROR(CheckAllowed(allow_paths, path));
  const bool normal = fs::NormalizePath(path) == path;
  for (const std::string& allowed : allow_paths) {
    std::string a = fs::NormalizePath(allowed);
    if (!normal || path == a || !fs::IsUnder(path, a)) continue;
    // What OnlyDirectoriesBelow looks at is `a` and the directories on the way to the
    // parent: the same for every file of that parent.
    const std::string parent = fs::Dirname(path);
    if (dirs && dirs->Knows(a, parent)) return Status::Ok();
    if (OnlyDirectoriesBelow(a, path)) {
      if (dirs) dirs->Add(a, parent);
      return Status::Ok();
    }
  }
  const std::string parent = DeepestExistingDir(path);
  const std::string real_parent = RealPath(parent);
  if (!real_parent.empty()) {
    for (const std::string& allowed : allow_paths) {
      const std::string real_allowed = RealPath(allowed);
      if (!real_allowed.empty() && fs::IsUnder(real_parent, real_allowed)) return Status::Ok();
    }
  }
  return PermissionDenied(path + ": its directory " + parent + " resolves to " +
                          (real_parent.empty() ? "nothing" : real_parent) +
                          ", outside the allowed paths (a symlink leads out, or the allowed "
                          "directory does not exist)");
}

namespace {
// Whether `in` (a desired metadata) is already what CanonicalMetadata builds from it: name,
// the namespace when there is one, then labels and annotations when given, nothing else.
bool IsCanonicalMetadata(const Resource& r, const Value& in) {
  if (!in.is_object()) return false;
  const resource::Object& fields = in.as_object();
  size_t k = 0;
  auto next_is = [&](std::string_view key) { return k < fields.size() && fields[k].first == key; };
  if (!next_is("name") || !fields[k].second.is_string() ||
      fields[k].second.as_string() != r.id().name)
    return false;
  ++k;
  if (!r.id().ns.empty()) {
    if (!next_is("namespace") || !fields[k].second.is_string() ||
        fields[k].second.as_string() != r.id().ns)
      return false;
    ++k;
  }
  for (const char* field : {"labels", "annotations"}) {
    if (!next_is(field)) continue;
    if (fields[k].second.is_null()) return false;
    ++k;
  }
  return k == fields.size();
}

// `s` as a string Value; the strings every expected File holds share one node each
// (resource::Value): 100,000 Files would otherwise hold 100,000 copies of each.
Value SharedString(const std::string& s) {
  static const Value kApi(kApiVersion), kFile("File"), k0644("0644"), k0600("0600");
  for (const Value* v : {&kApi, &kFile, &k0644, &k0600})
    if (v->as_string() == s) return *v;
  return Value(s);
}
}  // namespace

Value CanonicalMetadata(const Resource& r) {
  // Usually the desired metadata is already canonical: share it rather than copy it.
  const Value* given = r.body().Find("metadata");
  if (given && IsCanonicalMetadata(r, *given)) return *given;
  Value meta = Value::EmptyObject();
  meta.Set("name", r.id().name);
  if (!r.id().ns.empty()) meta.Set("namespace", r.id().ns);
  const Value* in = r.body().Find("metadata");
  for (const char* field : {"labels", "annotations"}) {
    const Value* v = in ? in->Find(field) : nullptr;
    if (v && !v->is_null()) meta.Set(field, *v);
  }
  return meta;
}

std::string SecretContentDigest(const std::string& key, std::string_view content) {
  return HmacSha256Hex(key, content).substr(0, 32);
}

std::string FilePathOf(const AppContext& ctx, const std::string& raw) {
  if (!raw.empty() && raw[0] == '/') return fs::NormalizePath(raw);
  if (ctx.local_root.empty()) return "";
  return fs::JoinPath(fs::NormalizePath(ctx.local_root), raw);
}

Result<ResolvedFile> ResolveFile(const AppContext& ctx, const Resource& r,
                                 const std::vector<std::string>& allow_paths,
                                 const std::string& digest_key, PathCheck check, DirCache* dirs) {
  const Value* spec = r.body().Find("spec");
  if (!spec || !spec->is_object()) return InputError(r, "spec: must be a map with spec.path");
  for (const auto& [field, v] : spec->as_object()) {
    if (field != "path" && field != "content" && field != "fromConfigMap" &&
        field != "fromSecret" && field != "mode") {
      return InputError(r, "spec." + field +
                               ": unknown field (File takes path, content, "
                               "fromConfigMap, fromSecret, mode)");
    }
  }
  // Path.
  const Value* path_v = spec->Find("path");
  if (!path_v || !path_v->is_string() || path_v->as_string().empty())
    return InputError(r, "spec.path: must be a non-empty string");
  const std::string& raw = path_v->as_string();
  if (raw.find('\0') != std::string::npos) return InputError(r, "spec.path: contains a NUL byte");
  std::string path = FilePathOf(ctx, raw);
  if (path.empty()) {
    return InputError(
        r, "spec.path: " + JsonQuote(raw) + " is relative and the Application has no local root");
  }
  if (path == "/" || path.back() == '/') return InputError(r, "spec.path: not a file path");
  // Content: inline, or from one ConfigMap or Secret.
  auto given = [&](const char* f) {
    const Value* v = spec->Find(f);
    return v && !v->is_null() ? v : nullptr;
  };
  const Value* content_v = given("content");
  const Value* from_cm = given("fromConfigMap");
  const Value* from_secret = given("fromSecret");
  if ((content_v != nullptr) + (from_cm != nullptr) + (from_secret != nullptr) > 1)
    return InputError(r, "spec: set one of content, fromConfigMap, fromSecret");
  ResolvedFile out;
  out.from_secret = from_secret != nullptr;
  if (from_secret) {
    ASSIGN_OR_RETURN(out.content, ContentFromRef(ctx, r, *from_secret, "Secret"));
  } else if (from_cm) {
    ASSIGN_OR_RETURN(out.content, ContentFromRef(ctx, r, *from_cm, "ConfigMap"));
  } else if (content_v) {
    if (!content_v->is_string())
      return InputError(r, "spec.content: must be a string, not " + Show(*content_v));
    out.content = content_v->as_string();
  }
  // Mode: a Secret's content is readable by its owner only unless spec.mode says otherwise.
  std::string mode = from_secret ? "0600" : "0644";
  if (const Value* mode_v = given("mode")) {
    auto parsed = ParseFileMode(*mode_v);
    if (!parsed.ok()) return InputError(r, parsed.status().message());
    mode = *parsed;
  }
  Status allowed = check == PathCheck::kLexical ? CheckAllowed(allow_paths, path)
                                                : CheckWritable(allow_paths, path, dirs);
  if (!allowed.ok()) return allowed.WithContext("spec.path");

  // Built at its final size, sharing what it can with the desired body and other Files.
  resource::Object body;
  body.reserve(4);
  body.emplace_back("apiVersion", SharedString(kApiVersion));
  body.emplace_back("kind", SharedString("File"));
  body.emplace_back("metadata", CanonicalMetadata(r));
  resource::Object spec_fields;
  spec_fields.reserve(from_secret ? 5 : 3);
  out.body = Value(std::move(body));
  Value s(std::move(spec_fields));
  s.Set("path", path == raw ? *path_v : Value(path));
  if (from_secret) {
    s.Set("fromSecret",
          Obj2("name", from_secret->GetString("name"), "key", from_secret->GetString("key")));
    s.Set("content", resource::kMaskedValue);
    s.Set(kContentHashField, SecretContentDigest(digest_key, out.content));
  } else if (content_v) {
    s.Set("content", *content_v);  // shares the desired body's string (resource::Value)
  } else {
    s.Set("content", out.content);
  }
  const Value* mode_v = given("mode");
  s.Set("mode", mode_v && mode_v->is_string() && mode_v->as_string() == mode ? *mode_v
                                                                             : SharedString(mode));
  out.body.Set("spec", std::move(s));
  return out;
}

Result<Value> ExpectedFile(const AppContext& ctx, const Resource& r,
                           const std::vector<std::string>& allow_paths,
                           const std::string& digest_key, DirCache* dirs) {
  ASSIGN_OR_RETURN(ResolvedFile f,
                   ResolveFile(ctx, r, allow_paths, digest_key, PathCheck::kFull, dirs));
  return std::move(f.body);
}

Result<Value> ExpectedConfigMap(const Resource& r) {
  RETURN_IF_ERROR(CheckStringMap(r, r.body(), "data"));
  RETURN_IF_ERROR(CheckStringMap(r, r.body(), "binaryData"));
  Value out = Value::EmptyObject();
  out.Set("apiVersion", kApiVersion);
  out.Set("kind", "ConfigMap");
  out.Set("metadata", CanonicalMetadata(r));
  for (const char* field : {"data", "binaryData"}) {
    const Value* v = r.body().Find(field);
    if (v && !v->is_null()) out.Set(field, *v);
  }
  return out;
}

}  // namespace plumb::target::local
