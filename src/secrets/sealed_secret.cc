#include "secrets/sealed_secret.h"

#include <map>
#include <string>

#include "core/strings.h"
#include "resource/codec.h"
#include "resource/resource.h"

namespace plumb::secrets {

using resource::Value;

namespace {

constexpr const char* kDefaultNamespace = "default";

// Annotations kubectl and kubecfg fill with a full copy of the object: the plaintext.
constexpr const char* kLastAppliedAnnotations[] = {
    "kubectl.kubernetes.io/last-applied-configuration",
    "kubecfg.ksonnet.io/last-applied-configuration",
};

struct Named {
  std::string name;
  std::string ns;
  std::string What(const char* kind) const { return std::string(kind) + " " + ns + "/" + name; }
};

// metadata.name (required) and metadata.namespace ("default" when absent).
Result<Named> NameOf(const Value& manifest, const char* kind) {
  if (!manifest.is_object()) return InvalidArgument(std::string(kind) + ": not a YAML mapping");
  const Value* meta = manifest.Find("metadata");
  const Value* name = meta ? meta->Find("name") : nullptr;
  if (name == nullptr || !name->is_string() || name->as_string().empty())
    return InvalidArgument(std::string(kind) + " has no metadata.name: give it one (or --name)");
  Named n{.name = name->as_string(), .ns = meta->GetString("namespace")};
  if (n.ns.empty()) n.ns = kDefaultNamespace;
  return n;
}

Status CheckSecret(const Value& secret) {
  if (!secret.is_object()) return InvalidArgument("the input is not a YAML mapping");
  std::string api = secret.GetString("apiVersion");
  std::string kind = secret.GetString("kind");
  if (kind != "Secret" || (api != "v1" && api != "local.plumbline.dev/v1"))
    return InvalidArgument("the input has apiVersion \"" + api + "\" and kind \"" + kind +
                           "\": expected a Secret (apiVersion v1 or local.plumbline.dev/v1, "
                           "kind Secret)");
  return Status::Ok();
}

Status CheckSealed(const Value& sealed) {
  if (!IsSealedSecret(sealed))
    return InvalidArgument(
        "not a SealedSecret (apiVersion bitnami.com/v1alpha1, kind SealedSecret)");
  return Status::Ok();
}

void SetScopeAnnotation(Value* meta, Scope scope) {
  if (scope == Scope::kStrict) return;
  Value* ann = meta->Find("annotations");
  if (ann == nullptr || !ann->is_object()) ann = &meta->Set("annotations", Value::EmptyObject());
  ann->Set(scope == Scope::kNamespaceWide ? kNamespaceWideAnnotation : kClusterWideAnnotation,
           "true");
}

// The metadata the Secret will have: name, namespace, labels and annotations of `secret`.
Value TemplateMetadata(const Value& secret, const Named& n, Scope scope) {
  Value meta = Value::EmptyObject();
  meta.Set("name", n.name);
  meta.Set("namespace", n.ns);
  const Value* in = secret.Find("metadata");
  for (const char* field : {"labels", "annotations"}) {
    const Value* v = in ? in->Find(field) : nullptr;
    if (v == nullptr || !v->is_object()) continue;
    Value copy = *v;
    if (std::string_view(field) == "annotations")
      for (const char* a : kLastAppliedAnnotations) copy.Erase(a);
    if (copy.size() > 0) meta.Set(field, std::move(copy));
  }
  SetScopeAnnotation(&meta, scope);
  return meta;
}

Value SortedObject(const std::map<std::string, Value>& m) {
  Value out = Value::EmptyObject();
  for (const auto& [k, v] : m) out.Set(k, v);
  return out;
}

// Seals every value into `out` (key -> sealed base64).
Status SealAll(const std::map<std::string, std::string>& values, const PublicKey& key,
               const std::string& label, std::map<std::string, Value>* out) {
  for (const auto& [k, plaintext] : values) {
    auto sealed = SealValue(key, label, plaintext);
    if (!sealed.ok()) return sealed.status().WithContext("key " + k);
    (*out)[k] = std::move(*sealed);
  }
  return Status::Ok();
}

// Unseals one value with the first key that opens it.
Result<std::string> UnsealWithAny(const std::vector<PrivateKey>& keys, const std::string& label,
                                  const Value& sealed, const std::string& what,
                                  const std::string& key_name) {
  if (!sealed.is_string())
    return InvalidArgument(what + ": key " + key_name + " is not a string of sealed base64");
  for (const PrivateKey& k : keys) {
    auto plain = UnsealValue(k, label, sealed.as_string());
    if (plain.ok()) return plain;
  }
  return InvalidArgument(what + ": key " + key_name +
                         " does not unseal: wrong key or scope, or tampered");
}

struct Unsealed {
  std::map<std::string, std::string> values;
  const Value* template_meta = nullptr;  // may be null
  Value type;                            // null when none
};

// Unseals every value of `sealed` (encryptedData, or the older whole-Secret spec.data).
Result<Unsealed> UnsealAll(const Value& sealed, const std::vector<PrivateKey>& keys,
                           Value* legacy_secret) {
  RETURN_IF_ERROR(CheckSealed(sealed));
  ASSIGN_OR_RETURN(Named n, NameOf(sealed, "SealedSecret"));
  const std::string what = n.What("SealedSecret");
  if (keys.empty()) return FailedPrecondition(what + ": there is no sealing key to unseal with");
  const std::string label = ScopeLabel(ScopeOf(sealed), n.ns, n.name);
  const Value* spec = sealed.Find("spec");
  if (spec == nullptr || !spec->is_object()) return InvalidArgument(what + ": has no spec");
  Unsealed out;
  if (const Value* tmpl = spec->Find("template"); tmpl && tmpl->is_object()) {
    if (const Value* m = tmpl->Find("metadata"); m && m->is_object()) out.template_meta = m;
    if (const Value* t = tmpl->Find("type"); t && t->is_string()) out.type = *t;
  }
  const Value* enc = spec->Find("encryptedData");
  if (enc != nullptr && !enc->is_null()) {
    if (!enc->is_object()) return InvalidArgument(what + ": spec.encryptedData is not a mapping");
    for (const auto& [k, v] : enc->as_object()) {
      ASSIGN_OR_RETURN(out.values[k], UnsealWithAny(keys, label, v, what, k));
    }
    return out;
  }
  const Value* data = spec->Find("data");
  if (data == nullptr || data->is_null()) return out;  // a Secret without values
  // The older form: the whole Secret, JSON encoded, sealed as one value.
  ASSIGN_OR_RETURN(std::string json, UnsealWithAny(keys, label, *data, what, "spec.data"));
  auto parsed = resource::ParseJson(json, "spec.data");
  auto values = parsed.ok() ? resource::SecretValues(*parsed) : parsed.status();
  if (!values.ok())
    return InvalidArgument(what +
                           ": spec.data unseals but does not hold a Secret plumbline reads; "
                           "seal the Secret again with plumb seal");
  out.values = std::move(*values);
  if (const Value* t = parsed->Find("type"); t && t->is_string()) out.type = *t;
  if (legacy_secret != nullptr) *legacy_secret = std::move(*parsed);
  return out;
}

}  // namespace

Result<Scope> ParseScope(std::string_view text) {
  if (text == "strict") return Scope::kStrict;
  if (text == "namespace-wide") return Scope::kNamespaceWide;
  if (text == "cluster-wide") return Scope::kClusterWide;
  return InvalidArgument("unknown scope \"" + std::string(text) +
                         "\": use strict, namespace-wide or cluster-wide");
}

const char* ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kNamespaceWide:
      return "namespace-wide";
    case Scope::kClusterWide:
      return "cluster-wide";
    case Scope::kStrict:
      break;
  }
  return "strict";
}

Scope ScopeOf(const Value& manifest) {
  const Value* ann = manifest.FindPath({"metadata", "annotations"});
  if (ann == nullptr) return Scope::kStrict;
  if (ann->GetString(kClusterWideAnnotation) == "true") return Scope::kClusterWide;
  if (ann->GetString(kNamespaceWideAnnotation) == "true") return Scope::kNamespaceWide;
  return Scope::kStrict;
}

bool IsSealedSecret(const Value& manifest) {
  if (!manifest.is_object() || manifest.GetString("kind") != "SealedSecret") return false;
  return StartsWith(manifest.GetString("apiVersion"), "bitnami.com/");
}

Result<Value> SealSecret(const Value& secret, const PublicKey& key, Scope scope) {
  RETURN_IF_ERROR(CheckSecret(secret));
  ASSIGN_OR_RETURN(Named n, NameOf(secret, "Secret"));
  if (scope == Scope::kStrict) scope = ScopeOf(secret);
  auto values = resource::SecretValues(secret);
  if (!values.ok()) return values.status().WithContext(n.What("Secret"));
  std::map<std::string, Value> encrypted;
  RETURN_IF_ERROR(SealAll(*values, key, ScopeLabel(scope, n.ns, n.name), &encrypted)
                      .WithContext(n.What("Secret")));

  Value out = Value::EmptyObject();
  out.Set("apiVersion", kSealedSecretApiVersion);
  out.Set("kind", "SealedSecret");
  Value& meta = out.Set("metadata", Value::EmptyObject());
  meta.Set("name", n.name);
  meta.Set("namespace", n.ns);
  SetScopeAnnotation(&meta, scope);
  Value& spec = out.Set("spec", Value::EmptyObject());
  spec.Set("encryptedData", SortedObject(encrypted));
  Value& tmpl = spec.Set("template", Value::EmptyObject());
  tmpl.Set("metadata", TemplateMetadata(secret, n, scope));
  if (const Value* t = secret.Find("type"); t && t->is_string()) tmpl.Set("type", *t);
  if (const Value* im = secret.Find("immutable"); im && im->is_bool()) tmpl.Set("immutable", *im);
  return out;
}

Result<Value> MergeIntoSealed(const Value& sealed, const Value& secret, const PublicKey& key) {
  RETURN_IF_ERROR(CheckSealed(sealed));
  RETURN_IF_ERROR(CheckSecret(secret));
  ASSIGN_OR_RETURN(Named n, NameOf(sealed, "SealedSecret"));
  auto values = resource::SecretValues(secret);
  if (!values.ok()) return values.status().WithContext("the Secret to merge");
  std::map<std::string, Value> encrypted;
  Value out = sealed;
  Value& spec = out.Find("spec") && out.Find("spec")->is_object()
                    ? *out.Find("spec")
                    : out.Set("spec", Value::EmptyObject());
  if (const Value* enc = spec.Find("encryptedData"); enc && enc->is_object())
    for (const auto& [k, v] : enc->as_object()) encrypted[k] = v;
  else if (enc && !enc->is_null())
    return InvalidArgument(n.What("SealedSecret") + ": spec.encryptedData is not a mapping");
  if (spec.Find("data") && !spec.Find("data")->is_null())
    return InvalidArgument(n.What("SealedSecret") +
                           " uses the older spec.data form: run plumb reseal on it first");
  RETURN_IF_ERROR(SealAll(*values, key, ScopeLabel(ScopeOf(sealed), n.ns, n.name), &encrypted)
                      .WithContext(n.What("SealedSecret")));
  spec.Set("encryptedData", SortedObject(encrypted));
  return out;
}

Result<Value> UnsealSealedSecret(const Value& sealed, const std::vector<PrivateKey>& keys,
                                 std::string_view secret_api_version) {
  ASSIGN_OR_RETURN(Unsealed u, UnsealAll(sealed, keys, nullptr));
  ASSIGN_OR_RETURN(Named n, NameOf(sealed, "SealedSecret"));
  Value out = Value::EmptyObject();
  out.Set("apiVersion", std::string(secret_api_version));
  out.Set("kind", "Secret");
  Value& meta = out.Set("metadata", Value::EmptyObject());
  meta.Set("name", n.name);
  meta.Set("namespace", n.ns);
  if (u.template_meta != nullptr)
    for (const auto& [k, v] : u.template_meta->as_object())
      if (k != "name" && k != "namespace") meta.Set(k, v);
  if (!u.type.is_null()) out.Set("type", u.type);
  Value data = Value::EmptyObject();
  for (const auto& [k, plaintext] : u.values) data.Set(k, Base64Encode(plaintext));
  out.Set("data", std::move(data));
  return out;
}

Result<Value> ResealSealedSecret(const Value& sealed, const std::vector<PrivateKey>& keys,
                                 const PublicKey& newest) {
  Value legacy;
  ASSIGN_OR_RETURN(Unsealed u, UnsealAll(sealed, keys, &legacy));
  ASSIGN_OR_RETURN(Named n, NameOf(sealed, "SealedSecret"));
  const Scope scope = ScopeOf(sealed);
  std::map<std::string, Value> encrypted;
  RETURN_IF_ERROR(SealAll(u.values, newest, ScopeLabel(scope, n.ns, n.name), &encrypted)
                      .WithContext(n.What("SealedSecret")));
  Value out = sealed;
  Value* spec = out.Find("spec");
  if (!legacy.is_null()) {
    // The older whole-Secret form becomes the per-key form, the template from the Secret.
    spec->Erase("data");
    Value& tmpl = spec->Find("template") && spec->Find("template")->is_object()
                      ? *spec->Find("template")
                      : spec->Set("template", Value::EmptyObject());
    if (tmpl.Find("metadata") == nullptr) tmpl.Set("metadata", TemplateMetadata(legacy, n, scope));
    if (tmpl.Find("type") == nullptr && !u.type.is_null()) tmpl.Set("type", u.type);
  }
  spec->Set("encryptedData", SortedObject(encrypted));
  return out;
}

}  // namespace plumb::secrets
