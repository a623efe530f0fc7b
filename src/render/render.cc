#include "render/render.h"

#include <sys/stat.h>

#include <atomic>
#include <climits>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "core/fs.h"
#include "core/strings.h"
#include "render/directory.h"
#include "render/kustomize.h"
#include "render/parse_cache.h"
#include "source/source.h"

namespace plumb::render {
namespace {

using internal::FileResources;
using resource::Resource;
using resource::Value;

// kustomize prints a whole Application at once: it gets a larger budget than one file.
constexpr size_t kKustomizeOutputMaxBytes = 64 << 20;
// A plain render with at least this many files to parse parses them on two threads.
constexpr size_t kParallelParseFiles = 8;

bool IsJsonName(const std::string& path) { return EndsWith(path, ".json"); }
bool IsManifestName(const std::string& path) {
  return EndsWith(path, ".yaml") || EndsWith(path, ".yml") || IsJsonName(path);
}

// Whether a path (relative to the rendered directory) passes through a hidden name.
bool IsHidden(const std::string& rel) {
  for (const auto& part : Split(rel, '/')) {
    if (!part.empty() && part[0] == '.') return true;
  }
  return false;
}

// One manifest file to render: where it is shown, its content id, how to read it.
struct Input {
  std::string path;
  std::string blob_id;
  std::function<Result<std::string>()> read;
};

// Collects resources, expanding `kind: List`, refusing duplicates and too many.
class Collector {
 public:
  explicit Collector(const RenderOptions& options) : options_(options) {}

  Status Add(Value body, const resource::Origin& origin) {
    if (body.is_object() && body.GetString("kind") == "List") {
      if (const Value* items = body.Find("items"); items != nullptr && items->is_array()) {
        for (const Value& item : items->as_array()) RETURN_IF_ERROR(Add(item, origin));
        return Status::Ok();
      }
    }
    ASSIGN_OR_RETURN(Resource r,
                     Resource::FromValue(std::move(body), origin, options_.default_namespace));
    auto [it, inserted] = seen_.emplace(r.id(), origin);
    if (!inserted) {
      return InvalidArgument("duplicate resource " + r.id().ToString() + ": " +
                             it->second.ToString() + " and " + origin.ToString());
    }
    if (resources_.size() >= options_.max_resources) {
      return InvalidArgument(origin.ToString() + ": more than " +
                             std::to_string(options_.max_resources) + " resources");
    }
    resources_.push_back(std::move(r));
    return Status::Ok();
  }

  std::vector<Resource> Take() { return std::move(resources_); }

 private:
  const RenderOptions& options_;
  std::map<resource::ResourceId, resource::Origin> seen_;
  std::vector<Resource> resources_;
};

}  // namespace

struct Renderer::Impl {
  Impl(source::RepoCache* r, RenderOptions o)
      : repos(r), options(std::move(o)), cache(options.cache_entries) {}

  source::RepoCache* repos;
  RenderOptions options;
  internal::ParseCache cache;
  std::mutex check_mu;
  std::optional<Status> kustomize_usable;  // GUARDED_BY(check_mu); checked once
  // The files of the last good plain render of each repository and path, to skip the
  // identity check when no file's identities changed. GUARDED_BY(last_mu).
  std::mutex last_mu;
  std::map<std::string, std::vector<std::pair<std::string, std::shared_ptr<const FileResources>>>>
      last;

  Status EnsureKustomize() {
    std::lock_guard<std::mutex> lock(check_mu);
    if (!kustomize_usable) {
      auto version = CheckKustomize(options.kubectl);
      kustomize_usable = version.ok() ? Status::Ok() : version.status();
    }
    return *kustomize_usable;
  }

  static std::string CacheKey(const Input& in) {
    return in.blob_id + (IsJsonName(in.path) ? ":json:" : ":yaml:") + in.path;
  }

  // The resources of one file: from the cache when this content was rendered at this
  // path before, else parsed, validated (identity, duplicates within the file) and cached.
  Result<std::shared_ptr<const FileResources>> Resources(const Input& in, RenderStats* stats) {
    std::string key = CacheKey(in);
    if (auto hit = cache.Get(key)) {
      ++stats->cache_hits;
      return hit;
    }
    ASSIGN_OR_RETURN(std::string text, in.read());
    std::vector<resource::Document> docs;
    if (IsJsonName(in.path)) {
      ASSIGN_OR_RETURN(Value v, resource::ParseJson(text, in.path, options.limits));
      if (v.is_array()) {
        for (Value& item : v.as_array()) docs.push_back(resource::Document{std::move(item), 1});
      } else {
        docs.push_back(resource::Document{std::move(v), 1});
      }
    } else {
      ASSIGN_OR_RETURN(docs, resource::ParseYaml(text, in.path, options.limits));
    }
    ++stats->parsed;
    Collector collector(options);
    for (auto& doc : docs) {
      RETURN_IF_ERROR(collector.Add(std::move(doc.value), resource::Origin{in.path, doc.line}));
    }
    auto resources = std::make_shared<const FileResources>(collector.Take());
    cache.Put(key, resources);
    return resources;
  }

  // Resources() of every input, in input order; the first error in that order. Parsing is
  // most of a cold render (10,000 resources, every file a cache miss): with several files
  // to parse, a second thread takes files too, each thread the next one not taken (the blob
  // reads take turns on the mirror's lock). Two threads at most: other workers may be
  // rendering other Applications, and the machine may have two cores.
  Status AllResources(const std::vector<Input>& inputs,
                      std::vector<std::shared_ptr<const FileResources>>* per_file,
                      RenderStats* stats) {
    const size_t n = inputs.size();
    per_file->assign(n, nullptr);
    size_t misses = 0;
    if (n >= kParallelParseFiles && std::thread::hardware_concurrency() > 1) {
      for (const Input& in : inputs) misses += !cache.Contains(CacheKey(in));
    }
    if (misses < kParallelParseFiles) {
      for (size_t i = 0; i < n; ++i) {
        ASSIGN_OR_RETURN((*per_file)[i], Resources(inputs[i], stats));
      }
      return Status::Ok();
    }
    // Files are taken in order, so when file i fails every file before it was taken and
    // is finished by its thread; none after the first failure is taken any more.
    std::atomic<size_t> next{0};
    std::atomic<size_t> first_failed{n};
    std::vector<Status> errors(n);
    auto run = [&](RenderStats* st) {
      for (size_t i = next++; i < n && i < first_failed.load(); i = next++) {
        auto r = Resources(inputs[i], st);
        if (r.ok()) {
          (*per_file)[i] = std::move(r).value();
          continue;
        }
        errors[i] = r.status();
        size_t was = first_failed.load();
        while (i < was && !first_failed.compare_exchange_weak(was, i)) {
        }
        return;
      }
    };
    RenderStats second;
    std::thread helper;
    try {
      helper = std::thread([&] { run(&second); });
    } catch (const std::system_error&) {
      // No thread to be had (EAGAIN): this one takes every file.
    }
    run(stats);
    if (helper.joinable()) helper.join();
    stats->parsed += second.parsed;
    stats->cache_hits += second.cache_hits;
    const size_t failed = first_failed.load();
    return failed < n ? errors[failed] : Status::Ok();
  }

  // Whether every identity in `files` is known to be unique without checking: the last
  // render of the same place had the same files, and each file either is the same cached
  // entry or declares the same identities in the same order as it did then.
  bool SameIdentitiesAsLast(const std::string& place, const std::vector<Input>& inputs,
                            const std::vector<std::shared_ptr<const FileResources>>& files) {
    std::lock_guard<std::mutex> lock(last_mu);
    auto it = last.find(place);
    if (it == last.end() || it->second.size() != files.size()) return false;
    for (size_t f = 0; f < files.size(); ++f) {
      const auto& [path, was] = it->second[f];
      if (path != inputs[f].path) return false;
      if (was == files[f]) continue;
      if (was->size() != files[f]->size()) return false;
      for (size_t k = 0; k < was->size(); ++k)
        if ((*was)[k].id() != (*files[f])[k].id()) return false;
    }
    return true;
  }

  // Every file's resources in file order. Identities are checked across files here (within
  // a file, the cached entry was checked when it was built), unless they are the last
  // render's of `place` ("" = none).
  Result<RenderOutput> Plain(const std::vector<Input>& inputs, int64_t start,
                             const std::string& place = "") {
    RenderOutput out;
    out.stats.files = inputs.size();
    std::vector<std::shared_ptr<const FileResources>> per_file;
    RETURN_IF_ERROR(AllResources(inputs, &per_file, &out.stats));
    size_t total = 0;
    for (const auto& resources : per_file) total += resources->size();
    if (total > options.max_resources) {
      size_t n = 0;
      for (const auto& resources : per_file) {
        if (n + resources->size() > options.max_resources)
          return InvalidArgument((*resources)[options.max_resources - n].origin().ToString() +
                                 ": more than " + std::to_string(options.max_resources) +
                                 " resources");
        n += resources->size();
      }
    }
    if (place.empty() || !SameIdentitiesAsLast(place, inputs, per_file)) {
      std::unordered_map<resource::ResourceId, const resource::Origin*, resource::ResourceIdHash>
          seen;
      seen.reserve(total);
      for (const auto& resources : per_file) {
        for (const Resource& r : *resources) {
          auto [it, inserted] = seen.emplace(r.id(), &r.origin());
          if (!inserted) {
            return InvalidArgument("duplicate resource " + r.id().ToString() + ": " +
                                   it->second->ToString() + " and " + r.origin().ToString());
          }
        }
      }
    }
    out.resources.reserve(total);
    for (const auto& resources : per_file)
      out.resources.insert(out.resources.end(), resources->begin(), resources->end());
    if (!place.empty()) {
      std::vector<std::pair<std::string, std::shared_ptr<const FileResources>>> files;
      files.reserve(inputs.size());
      for (size_t f = 0; f < inputs.size(); ++f) files.emplace_back(inputs[f].path, per_file[f]);
      std::lock_guard<std::mutex> lock(last_mu);
      last[place] = std::move(files);
    }
    out.stats.duration_ms = MonotonicMillis() - start;
    return out;
  }

  // Runs kustomize on `dir`; resources are attributed to `shown` (the kustomization).
  Result<RenderOutput> Kustomize(const std::string& root, const std::string& dir,
                                 const std::string& shown, const std::string& shown_prefix,
                                 const std::string& hide, int64_t start) {
    RETURN_IF_ERROR(EnsureKustomize());
    if (!options.allow_remote_bases) {
      RETURN_IF_ERROR(internal::CheckRemoteBases(root, dir, shown_prefix));
    }
    ASSIGN_OR_RETURN(std::string text, internal::RunKustomize(options, dir, shown, hide));
    resource::ParseLimits limits = options.limits;
    limits.max_bytes = std::max(limits.max_bytes, kKustomizeOutputMaxBytes);
    ASSIGN_OR_RETURN(auto docs, resource::ParseYaml(text, shown + " (kustomize output)", limits));
    RenderOutput out;
    out.stats.kustomize = true;
    Collector collector(options);
    for (auto& doc : docs) {
      RETURN_IF_ERROR(collector.Add(std::move(doc.value), resource::Origin{shown, 0}));
    }
    out.resources = collector.Take();
    out.stats.duration_ms = MonotonicMillis() - start;
    return out;
  }
};

Renderer::Renderer(source::RepoCache* repos, RenderOptions options)
    : impl_(std::make_unique<Impl>(repos, std::move(options))) {}

Renderer::~Renderer() = default;

Result<RenderOutput> Renderer::Render(const std::string& url, const std::string& commit,
                                      const std::string& path) {
  int64_t start = MonotonicMillis();
  std::string root = fs::NormalizePath(path);
  if (root == "." || root == "/") root.clear();
  ASSIGN_OR_RETURN(auto files, impl_->repos->ListFiles(url, commit, root));
  if (files.size() > impl_->options.max_files) {
    return InvalidArgument((root.empty() ? std::string(".") : root) + ": more than " +
                           std::to_string(impl_->options.max_files) + " files");
  }
  auto relative = [&](const std::string& p) {
    return root.empty() ? p : (p == root ? fs::Basename(p) : p.substr(root.size() + 1));
  };
  for (const auto& f : files) {
    for (const char* name : internal::kKustomizationNames) {
      if (relative(f.path) != name) continue;
      ASSIGN_OR_RETURN(std::string tmp, fs::MakeTempDir("plumb-render-"));
      fs::TempDir cleanup(tmp);
      RETURN_IF_ERROR(impl_->repos->Checkout(url, commit, tmp));
      std::string dir = root.empty() ? tmp : tmp + "/" + root;
      return impl_->Kustomize(tmp, dir, f.path, "", tmp, start);
    }
  }
  std::vector<Input> inputs;
  for (const auto& f : files) {
    if (!IsManifestName(f.path) || IsHidden(relative(f.path))) continue;
    std::string blob = f.blob_id;
    inputs.push_back(
        Input{f.path, blob, [this, url, blob] { return impl_->repos->ReadBlob(url, blob); }});
  }
  return impl_->Plain(inputs, start, url + '\n' + root);
}

Result<RenderOutput> Renderer::RenderDirectory(const std::string& dir) {
  int64_t start = MonotonicMillis();
  char* resolved = ::realpath(dir.c_str(), nullptr);
  if (resolved == nullptr) return NotFound("directory " + dir + " does not exist");
  std::string root = resolved;
  std::free(resolved);
  if (!fs::IsDirectory(root)) return InvalidArgument(dir + " is not a directory");
  // Listing first refuses links leading outside, in kustomize mode too.
  ASSIGN_OR_RETURN(auto files, internal::ListDirectory(root, impl_->options.max_files));
  for (const char* name : internal::kKustomizationNames) {
    if (fs::Exists(root + "/" + name)) {
      return impl_->Kustomize("", root, name, "", root, start);
    }
  }
  std::vector<Input> inputs;
  for (const auto& f : files) {
    if (!IsManifestName(f.path)) continue;
    struct stat st;
    if (::stat(f.real_path.c_str(), &st) == 0 &&
        static_cast<size_t>(st.st_size) > impl_->options.limits.max_bytes) {
      return InvalidArgument(f.path + ": file is larger than " +
                             std::to_string(impl_->options.limits.max_bytes) + " bytes");
    }
    ASSIGN_OR_RETURN(std::string content, fs::ReadFile(f.real_path));
    auto shared = std::make_shared<std::string>(std::move(content));
    inputs.push_back(Input{f.path, source::GitBlobId(*shared),
                           [shared]() -> Result<std::string> { return *shared; }});
  }
  return impl_->Plain(inputs, start);
}

}  // namespace plumb::render
