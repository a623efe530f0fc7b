// engine: the unseal stage of a pass, between render and plan (ARCHITECTURE: "render ->
// unseal -> policy gate -> plan"). Render knows no keys; this stage turns what git holds
// sealed into what the target applies, in memory only:
//
//   - a `SealedSecret` (bitnami.com/v1alpha1) becomes the `Secret` it describes, unsealed
//     with the operator's sealing keys, newest first;
//   - a SOPS-encrypted document (a top-level `sops` block) is decrypted with the
//     operator's age identities, its MAC verified;
//   - a plaintext `Secret` found in git is refused unless the Application sets
//     `allowPlaintextSecrets: true`.
//
// A resource that cannot be unsealed, or is refused, stays in the desired set as a
// placeholder without any value (same identity, so the live object is neither changed
// nor pruned) with an error the plan reports on that resource; other resources go on.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "resource/resource.h"

namespace plumb::secrets {
struct KeySet;
}

namespace plumb::engine {

struct UnsealOptions {
  const secrets::KeySet* keys = nullptr;  // null: the operator has no keys
  bool allow_plaintext_secrets = false;
  // The apiVersion of the Secret a SealedSecret becomes: "local.plumbline.dev/v1" on the
  // local runtime, "v1" on Kubernetes. A decrypted SOPS `v1` Secret is given it too.
  std::string secret_api_version = "local.plumbline.dev/v1";
  // Threads unsealing SealedSecrets in parallel; 0: one per core.
  int threads = 0;
};

struct UnsealOutput {
  std::vector<resource::Resource> resources;  // same order as the input
  // Resource key (ResourceId::Key) -> why it is not applied ("FILE:LINE: ..."), never a
  // value.
  std::map<std::string, std::string> errors;
  // Origins ("FILE:LINE Secret/NAME") of plaintext Secrets refused (or allowed) in git.
  std::vector<std::string> plaintext;
  size_t unsealed = 0;  // SealedSecrets and SOPS documents turned into plaintext
};

// True when some resource needs this stage (a SealedSecret, a SOPS document or a
// Secret): the common case of none costs one pass over the kinds.
bool NeedsUnseal(const std::vector<resource::Resource>& rendered);

// True when some resource is a SealedSecret: only these need the operator's sealing key.
bool HasSealedSecret(const std::vector<resource::Resource>& rendered);

UnsealOutput Unseal(const std::vector<resource::Resource>& rendered, const UnsealOptions& options);

}  // namespace plumb::engine
