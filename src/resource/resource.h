// resource: the resource model. A Resource is a Kubernetes-style document
// (apiVersion, kind, metadata.{name,namespace,labels,annotations}, body) with its
// identity (group, kind, namespace, name; the version is not part of identity) and
// the file:line it came from. Also canonical hashing and secret masking.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "resource/value.h"

namespace plumb::resource {

// The group, kind and namespace are resource::Keys (8 bytes, interned: the few values a
// repository repeats are one copy each, where a std::string was 32 bytes and, for a
// group such as "local.plumbline.dev", an allocation); the name is a std::string (its
// own buffer holds up to 15 bytes). An identity is 56 bytes instead of 128.
struct ResourceId {
  resource::Key group;  // "" for core ("v1"), "local.plumbline.dev", "apps", ...
  resource::Key kind;
  resource::Key ns;  // "" for cluster-scoped / unnamespaced
  std::string name;

  // "group/Kind/namespace/name" with empty parts kept, so it round-trips.
  std::string Key() const;
  static Result<ResourceId> FromKey(const std::string& key);
  // Human form: "File/motd" or "ConfigMap/web/settings" or "apps/Deployment/ns/x".
  std::string ToString() const;

  auto operator<=>(const ResourceId&) const = default;
  bool operator==(const ResourceId&) const = default;
};

struct ResourceIdHash {
  size_t operator()(const ResourceId& id) const;
};

struct Origin {
  // Path relative to the repository root: a resource::Key, so the documents of one file
  // share one copy of its name.
  resource::Key file;
  int line = 0;  // 1-based line where the document starts; 0 when unknown
  std::string ToString() const { return line ? file + ":" + std::to_string(line) : file.str(); }
};

// Splits "group/version" into group and version ("v1" -> "", "v1").
void SplitApiVersion(const std::string& api_version, std::string* group, std::string* version);

// A Resource is cheap to copy: the identity, apiVersion and origin are one immutable
// block that copies share, and the body's nodes are shared until changed (see Value).
class Resource {
 public:
  Resource() = default;
  // Validates apiVersion, kind and metadata.name (strings, non-empty, metadata a map) and
  // builds the identity. The namespace defaults to `default_namespace` when the document
  // has none. Errors are InvalidArgument prefixed with origin ("a.yaml:3: ...").
  static Result<Resource> FromValue(Value body, Origin origin,
                                    const std::string& default_namespace = "");

  const ResourceId& id() const { return head().id; }
  const std::string& api_version() const { return head().api_version.str(); }
  const Value& body() const { return body_; }
  Value& mutable_body() { return body_; }
  const Origin& origin() const { return head().origin; }

  std::string Annotation(const std::string& key, const std::string& fallback = "") const;
  std::string Label(const std::string& key, const std::string& fallback = "") const;
  // `plumbline.dev/sync-wave` as an integer (0 when absent or not a number).
  int SyncWave() const;

 private:
  // 80 bytes (interned Keys, see ResourceId and Origin); with std::strings it was 200,
  // and three allocations for the group, apiVersion and file name of a local kind.
  struct Head {
    ResourceId id;
    resource::Key api_version;
    Origin origin;
  };
  const Head& head() const;
  std::shared_ptr<const Head> head_;  // null for a default-constructed Resource
  Value body_;
};

// Keys sorted, no whitespace, numbers in shortest form: equal values give equal text.
std::string CanonicalJson(const Value& v);
// Lowercase hex SHA-256 of CanonicalJson(v).
std::string CanonicalHash(const Value& v);
// ToJson(v) (compact) into *json and CanonicalJson(v) into *canonical, in one walk over
// `v` (each string quoted once): a row of local.db holds both for every object applied.
void ToJsonAndCanonicalJson(const Value& v, std::string* json, std::string* canonical);

// Secret handling: a resource whose kind is "Secret" (any group) carries values that
// must never be shown. Masked copies replace every value under `data` and `stringData`
// with a fixed placeholder derived from nothing secret.
bool IsSecret(const ResourceId& id);
inline constexpr const char* kMaskedValue = "<secret value hidden>";
Value MaskSecretValues(const ResourceId& id, const Value& body);
// The values of a Secret's body as a program sees them: `data` base64-decoded, with
// `stringData` (plain) over it, as Kubernetes merges them. InvalidArgument naming the
// key, never the value, when one is not a string or not base64.
Result<std::map<std::string, std::string>> SecretValues(const Value& body);
// One value the same way: NotFound when the Secret has no such key, InvalidArgument
// ("not valid base64") when `data` holds it in a form that does not decode.
Result<std::string> SecretValue(const Value& body, const std::string& key);
// Set by the engine on a Secret that stands in for one it could not produce (a
// SealedSecret that does not unseal, a SOPS file that does not decrypt, a refused
// plaintext Secret): it has no values, and what consumes it says so instead of "no key".
inline constexpr const char* kUnavailableAnnotation = "plumbline.dev/unavailable";

}  // namespace plumb::resource
