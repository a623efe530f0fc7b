// pipeline: image-update automation. Each Application's ImageRepository manifests are
// scanned (OCI tags/list) on their interval, with back-off while a registry fails; each
// ImagePolicy chooses its newest tag; each ImageUpdateAutomation rewrites the fields
// marked `# {"$imagepolicy": "NAME"}` under its path on its branch, commits and pushes
// when something changed, and asks the engine to reconcile the Applications that follow
// that branch. Status (last scan, tag count, error, latest image, last commit) is kept in
// memory and shown by StatusSnapshot().
//
// Thread-safety: every public method may be called from any thread; the work runs on
// one thread of its own between Start() and Stop().
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "engine/engine.h"
#include "pipeline/registry.h"
#include "resource/resource.h"

namespace plumb::pipeline {

struct ImageAutomationOptions {
  std::string state_dir;  // git mirrors for writing live under STATE/image-git
  // Back-off after a failed scan: retry_base doubling up to retry_max (never later than
  // the repository's interval would).
  Duration retry_base = Duration(10000);
  Duration retry_max = Duration(300000);
  std::string author_name = "plumbline";  // when an automation names no author
  std::string author_email = "plumbline@localhost";
  std::string signing_key;  // signs the commits (plumb run --signing-key); empty: unsigned
  // The registry client (tests may replace it).
  std::function<Result<std::vector<std::string>>(const ImageRef&, const RegistryOptions&)>
      list_tags = ListTags;
};

class ImageAutomation {
 public:
  explicit ImageAutomation(ImageAutomationOptions options);
  ~ImageAutomation();  // Stop()s
  ImageAutomation(const ImageAutomation&) = delete;
  ImageAutomation& operator=(const ImageAutomation&) = delete;

  // Starts the work thread. `engine` (not owned; must outlive Stop()) is told to
  // reconcile after a push and records events; null in tests that only read StatusSnapshot().
  void Start(engine::Engine* engine);
  void Stop();

  // The engine's on_image_resources hook: the image manifests an Application declares
  // now (replacing what it declared before) and its desired set (for Secrets).
  void SetFor(const engine::AppSpec& app, const std::vector<resource::Resource>& images,
              const std::vector<resource::Resource>& desired);

  // {repositories: [...], policies: [...], automations: [...]}, each with app,
  // namespace, name, spec summary and status.
  resource::Value StatusSnapshot();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace plumb::pipeline
