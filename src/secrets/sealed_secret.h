// secrets: SealedSecret manifests (bitnami.com/v1alpha1), as kubeseal writes them and the
// Sealed Secrets controller reads them. A SealedSecret holds one sealed value per key of
// the Secret it stands for (spec.encryptedData, see sealed.h for the value format) and the
// metadata and type to give that Secret (spec.template). Its scope (the OAEP label every
// value is bound to) comes from the annotations
//   sealedsecrets.bitnami.com/namespace-wide: "true"   label "NAMESPACE"
//   sealedsecrets.bitnami.com/cluster-wide: "true"     label ""
// and is strict ("NAMESPACE/NAME") otherwise. A SealedSecret without a namespace is in
// "default", as kubeseal assumes.
//
// All functions are pure and thread-safe. Error messages name the SealedSecret or Secret
// and the key, never a value.
#pragma once

#include <string_view>
#include <vector>

#include "core/status.h"
#include "resource/value.h"
#include "secrets/keys.h"
#include "secrets/sealed.h"

namespace plumb::secrets {

inline constexpr const char* kSealedSecretApiVersion = "bitnami.com/v1alpha1";
inline constexpr const char* kNamespaceWideAnnotation = "sealedsecrets.bitnami.com/namespace-wide";
inline constexpr const char* kClusterWideAnnotation = "sealedsecrets.bitnami.com/cluster-wide";

// "strict" | "namespace-wide" | "cluster-wide".
Result<Scope> ParseScope(std::string_view text);
const char* ScopeName(Scope scope);

// The scope a SealedSecret (or Secret) declares in its annotations.
Scope ScopeOf(const resource::Value& manifest);

// A Secret manifest (apiVersion v1 or local.plumbline.dev/v1; `data` base64 and/or
// `stringData`, stringData winning) -> a SealedSecret whose values are sealed with `key`
// at `scope`. As kubeseal does, a Secret that itself carries a scope annotation keeps that
// scope when `scope` is strict. The template keeps the Secret's name, namespace, labels,
// annotations (but kubectl's last-applied-configuration, which would hold the plaintext)
// and type. InvalidArgument when the input is not such a Secret or has no name.
Result<resource::Value> SealSecret(const resource::Value& secret, const PublicKey& key,
                                   Scope scope = Scope::kStrict);

// Adds the keys of `secret` to an existing SealedSecret, replacing those it already has,
// sealed at the SealedSecret's own scope, name and namespace (`plumb seal --merge-into`).
// The other keys are left as they are. Labels and annotations of `secret` are not merged.
Result<resource::Value> MergeIntoSealed(const resource::Value& sealed,
                                        const resource::Value& secret, const PublicKey& key);

// The Secret a SealedSecret describes: apiVersion `secret_api_version`, kind Secret,
// metadata from spec.template.metadata with the SealedSecret's name and namespace, the
// template's type, and `data` holding base64 of each unsealed value. Every key is tried
// against `keys_newest_first` in order. Also reads the older whole-Secret form
// (spec.data). Errors: InvalidArgument "SealedSecret NS/NAME: key K does not unseal: wrong
// key or scope, or tampered" (or what else is wrong); never a partial Secret.
Result<resource::Value> UnsealSealedSecret(const resource::Value& sealed,
                                           const std::vector<PrivateKey>& keys_newest_first,
                                           std::string_view secret_api_version);

// The same SealedSecret with every value sealed again to `newest` at the same scope
// (`plumb reseal`, after a rotation). Fails like UnsealSealedSecret, changing nothing.
Result<resource::Value> ResealSealedSecret(const resource::Value& sealed,
                                           const std::vector<PrivateKey>& keys,
                                           const PublicKey& newest);

// True for a document of kind SealedSecret in group bitnami.com.
bool IsSealedSecret(const resource::Value& manifest);

}  // namespace plumb::secrets
