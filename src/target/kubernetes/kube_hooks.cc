#include "target/kubernetes/kube_hooks.h"

#include <algorithm>

#include "core/strings.h"

namespace plumb::target::kubernetes {

Result<std::vector<std::string>> HookDeletePolicies(const resource::Resource& hook) {
  std::string text = Trim(hook.Annotation(kHookDeletePolicyAnnotation));
  if (text.empty()) return std::vector<std::string>{kBeforeHookCreation};
  std::vector<std::string> out;
  for (const std::string& raw : Split(text, ',')) {
    std::string word = Trim(raw);
    if (word != kBeforeHookCreation && word != kHookSucceeded && word != kHookFailed)
      return InvalidArgument(hook.origin().ToString() + ": " + hook.id().ToString() +
                             ": annotation " + kHookDeletePolicyAnnotation + ": unknown policy \"" +
                             word + "\" (use " + kBeforeHookCreation + ", " + kHookSucceeded +
                             " or " + kHookFailed + ", comma-separated)");
    out.push_back(word);
  }
  return out;
}

bool HasPolicy(const std::vector<std::string>& policies, const char* policy) {
  return std::find(policies.begin(), policies.end(), policy) != policies.end();
}

}  // namespace plumb::target::kubernetes
