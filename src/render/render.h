// render: a tree at a commit -> the desired resource set. Plain YAML/JSON files
// (every *.yaml, *.yml, *.json under the path, sorted, multi-document), or, where a
// directory holds kustomization.yaml/.yml/Kustomization, the output of the real
// kustomize (`kubectl kustomize`) run on a temporary checkout. The resources of each file
// are cached by blob id and path, so a commit that changes one file parses and validates
// one file; the others are copied from the cache.
//
// Thread-safety: Render may be called from several threads (the cache is locked).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "resource/codec.h"
#include "resource/resource.h"

namespace plumb::source {
class RepoCache;
}

namespace plumb::render {

struct RenderOptions {
  resource::ParseLimits limits{.max_bytes = 8 << 20};
  size_t max_files = 200000;           // files under the path
  size_t max_resources = 200000;       // resources in one render
  std::string default_namespace = "";  // given to resources without metadata.namespace
  std::string kubectl = "kubectl";     // program used for kustomize
  bool allow_remote_bases = false;     // kustomize resources/bases that are URLs
  Duration kustomize_timeout = Duration(120000);
  size_t cache_entries = 400000;  // rendered files kept (by blob id and path)
};

struct RenderStats {
  size_t files = 0;   // YAML/JSON files considered
  size_t parsed = 0;  // parsed now (cache misses)
  size_t cache_hits = 0;
  bool kustomize = false;  // kustomize ran
  int64_t duration_ms = 0;
};

struct RenderOutput {
  std::vector<resource::Resource> resources;  // in file order, then document order
  RenderStats stats;
};

class Renderer {
 public:
  Renderer(source::RepoCache* repos, RenderOptions options);
  ~Renderer();

  // Renders `path` of `url` at `commit` (the mirror must have been fetched). Any bad
  // file fails the whole render with InvalidArgument "FILE:LINE: what is wrong" (file
  // relative to the repository root), so the caller keeps the last good state.
  // Two resources with one identity fail naming both origins. Symlink escapes are
  // PermissionDenied. A missing kubectl is FailedPrecondition saying how to install it.
  Result<RenderOutput> Render(const std::string& url, const std::string& commit,
                              const std::string& path);

  // Offline: renders a directory on disk (plumb render DIR). Symlinks leading outside
  // `dir` are refused the same way.
  Result<RenderOutput> RenderDirectory(const std::string& dir);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Checks the kubectl in PATH (or `kubectl`) can run kustomize: returns its version text,
// or FailedPrecondition explaining what is missing or too old (needs kustomize v4+).
Result<std::string> CheckKustomize(const std::string& kubectl = "kubectl");

}  // namespace plumb::render
