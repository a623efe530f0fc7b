// render (internal): running the real kustomize (`kubectl kustomize`) safely: version
// check, refusal of remote bases, a timeout, messages without temp paths.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "render/render.h"

namespace plumb::render::internal {

inline constexpr const char* kKustomizationNames[] = {"kustomization.yaml", "kustomization.yml",
                                                      "Kustomization"};

// Refuses remote bases: reads the kustomization file of `dir` and, recursively, those of
// the local directories it lists under resources, bases and components; an entry that is
// a URL (https://, git::, github.com/..., ?ref=) is InvalidArgument naming the file.
// When `root` is non-empty, entries leading outside it are PermissionDenied. Paths in
// messages are shown relative to `root` (or to `dir` when `root` is empty), prefixed by
// `shown_prefix`.
Status CheckRemoteBases(const std::string& root, const std::string& dir,
                        const std::string& shown_prefix);

// Runs `KUBECTL kustomize DIR --load-restrictor LoadRestrictionsRootOnly` and returns its
// output. A failure is InvalidArgument "SHOWN: kustomize failed: ..." with `hide` (a
// temp dir) removed from kustomize's message; a missing kubectl is FailedPrecondition.
Result<std::string> RunKustomize(const RenderOptions& options, const std::string& dir,
                                 const std::string& shown, const std::string& hide);

}  // namespace plumb::render::internal
