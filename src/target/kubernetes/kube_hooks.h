// target/kubernetes: sync hooks on a cluster, as Argo CD runs them. The engine decides when
// a hook (a resource annotated plumbline.dev/hook) runs and waits for its health; this is
// what the cluster needs besides: a hook run is a new object (a Job's template cannot
// change, so a re-apply would not run it again), and finished runs are deleted by
// plumbline.dev/hook-delete-policy (comma-separated):
//   BeforeHookCreation (the default): the run before is deleted, and gone, before the new
//     one is created;
//   HookSucceeded / HookFailed: the run is deleted once it succeeded / failed.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "resource/resource.h"

namespace plumb::target::kubernetes {

// The engine's annotations (engine/hooks.h; a target does not include the engine).
inline constexpr const char* kHookAnnotation = "plumbline.dev/hook";
inline constexpr const char* kHookRunAnnotation = "plumbline.dev/hook-run";

inline constexpr const char* kHookDeletePolicyAnnotation = "plumbline.dev/hook-delete-policy";
inline constexpr const char* kBeforeHookCreation = "BeforeHookCreation";
inline constexpr const char* kHookSucceeded = "HookSucceeded";
inline constexpr const char* kHookFailed = "HookFailed";

// The hook's delete policies (BeforeHookCreation when it names none). InvalidArgument
// naming the origin and the unknown word.
Result<std::vector<std::string>> HookDeletePolicies(const resource::Resource& hook);
bool HasPolicy(const std::vector<std::string>& policies, const char* policy);

}  // namespace plumb::target::kubernetes
