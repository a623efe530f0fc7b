#include "engine/unseal.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>

#include "secrets/age.h"
#include "secrets/keystore.h"
#include "secrets/sealed_secret.h"
#include "secrets/sops.h"

namespace plumb::engine {

using resource::Resource;
using resource::ResourceId;
using resource::Value;

namespace {

bool IsSealedSecret(const ResourceId& id) {
  return id.kind == "SealedSecret" && id.group == "bitnami.com";
}

bool HasSopsBlock(const Resource& r) {
  return r.body().is_object() && r.body().Find("sops") != nullptr;
}

// The namespace a Secret made from `from` has on this target. The local runtime has no
// namespaces: kubeseal (and plumb seal) record `default` for a Secret without one, which
// on the local runtime is the same as none, so a File's fromSecret finds it by name.
std::string TargetNamespace(const Resource& from, const std::string& api_version) {
  if (api_version.rfind("local.plumbline.dev/", 0) == 0 && from.id().ns == "default") return "";
  return from.id().ns;
}

// The same identity without any value: keeps the live object as it is (not changed, not
// pruned) while the plan reports the error on it.
Resource Placeholder(const Resource& r, const std::string& api_version, const std::string& kind,
                     const std::string& ns) {
  Value body = Value::EmptyObject();
  body.Set("apiVersion", api_version);
  body.Set("kind", kind);
  Value& meta = body.Set("metadata", Value::EmptyObject());
  meta.Set("name", r.id().name);
  if (!ns.empty()) meta.Set("namespace", ns);
  Value& annotations = meta.Set("annotations", Value::EmptyObject());
  annotations.Set(resource::kUnavailableAnnotation, "true");
  auto p = Resource::FromValue(std::move(body), r.origin(), ns);
  return p.ok() ? std::move(*p) : Resource();
}

// The group/kind a Secret has on this target, from the apiVersion given.
Result<Resource> AsTargetSecret(Value body, const Resource& from, const std::string& api_version) {
  body.Set("apiVersion", api_version);
  const std::string ns = TargetNamespace(from, api_version);
  Value* meta = body.Find("metadata");
  if (meta && meta->is_object()) {
    if (ns.empty())
      meta->Erase("namespace");
    else
      meta->Set("namespace", ns);
  }
  return Resource::FromValue(std::move(body), from.origin(), ns);
}

}  // namespace

bool HasSealedSecret(const std::vector<Resource>& rendered) {
  for (const Resource& r : rendered)
    if (IsSealedSecret(r.id())) return true;
  return false;
}

bool NeedsUnseal(const std::vector<Resource>& rendered) {
  for (const Resource& r : rendered)
    if (IsSealedSecret(r.id()) || resource::IsSecret(r.id()) || HasSopsBlock(r)) return true;
  return false;
}

UnsealOutput Unseal(const std::vector<Resource>& rendered, const UnsealOptions& options) {
  UnsealOutput out;
  out.resources.reserve(rendered.size());
  std::vector<secrets::AgeIdentity> age;
  bool age_parsed = false;
  std::string secret_group, secret_version;
  resource::SplitApiVersion(options.secret_api_version, &secret_group, &secret_version);

  // The RSA decryptions (one per value, milliseconds each for RSA-4096) dominate: run
  // them on every core first, then assemble in order.
  std::vector<size_t> sealed;
  for (size_t i = 0; i < rendered.size(); ++i)
    if (IsSealedSecret(rendered[i].id())) sealed.push_back(i);
  std::vector<std::optional<Result<Value>>> unsealed(rendered.size());
  if (options.keys && !options.keys->sealing.empty() && !sealed.empty()) {
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t j; (j = next.fetch_add(1)) < sealed.size();) {
        size_t i = sealed[j];
        unsealed[i] = secrets::UnsealSealedSecret(rendered[i].body(), options.keys->sealing,
                                                  options.secret_api_version);
      }
    };
    size_t threads = options.threads > 0 ? static_cast<size_t>(options.threads)
                                         : std::max(1u, std::thread::hardware_concurrency());
    threads = std::min(threads, sealed.size());
    std::vector<std::thread> pool;
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
  }

  for (size_t i = 0; i < rendered.size(); ++i) {
    const Resource& r = rendered[i];
    const std::string where = r.origin().ToString();
    if (IsSealedSecret(r.id())) {
      Result<Value> secret = FailedPrecondition(
          "the operator has no sealing keys (plumb keys init, or plumb run --restore-keys "
          "BACKUP)");
      if (unsealed[i]) secret = std::move(*unsealed[i]);
      Result<Resource> made =
          secret.ok() ? AsTargetSecret(std::move(*secret), r, options.secret_api_version)
                      : Result<Resource>(secret.status());
      const std::string ns = TargetNamespace(r, options.secret_api_version);
      if (made.ok() && made->id().name == r.id().name && made->id().ns == ns) {
        out.resources.push_back(std::move(*made));
        out.unsealed++;
        continue;
      }
      Resource p = Placeholder(r, options.secret_api_version, "Secret", ns);
      out.errors[p.id().Key()] = where + ": " +
                                 (made.ok() ? std::string("the unsealed Secret has another name")
                                            : made.status().message());
      out.resources.push_back(std::move(p));
      continue;
    }
    if (HasSopsBlock(r) && secrets::IsSopsEncrypted(r.body())) {
      if (!age_parsed) {
        age_parsed = true;
        if (options.keys)
          for (const std::string& line : options.keys->age_identities) {
            auto id = secrets::AgeIdentity::Parse(line);
            if (id.ok()) age.push_back(std::move(*id));
          }
      }
      Result<Value> plain =
          age.empty()
              ? Result<Value>(FailedPrecondition("the operator has no age identity (plumb keys "
                                                 "age-init, or plumb run --age-key-file FILE)"))
              : secrets::SopsDecrypt(r.body(), age);
      bool core_secret = resource::IsSecret(r.id()) && r.id().group.empty();
      Status failed = plain.status();
      if (plain.ok()) {
        Result<Resource> made =
            core_secret ? AsTargetSecret(std::move(*plain), r, options.secret_api_version)
                        : Resource::FromValue(std::move(*plain), r.origin(), r.id().ns);
        if (made.ok()) {
          out.resources.push_back(std::move(*made));
          out.unsealed++;
          continue;
        }
        failed = made.status();
      }
      Resource p = core_secret ? Placeholder(r, options.secret_api_version, "Secret",
                                             TargetNamespace(r, options.secret_api_version))
                               : Placeholder(r, r.api_version(), r.id().kind, r.id().ns);
      out.errors[p.id().Key()] = where + ": SOPS: " + failed.message();
      out.resources.push_back(std::move(p));
      continue;
    }
    if (resource::IsSecret(r.id()) && (r.id().group.empty() || r.id().group == secret_group)) {
      out.plaintext.push_back(where + " " + r.id().ToString());
      if (!options.allow_plaintext_secrets) {
        Resource p = Placeholder(r, r.api_version(), r.id().kind, r.id().ns);
        out.errors[p.id().Key()] =
            where +
            ": a plaintext Secret in git is refused (PlaintextSecretInGit): seal it with "
            "`plumb seal < FILE > sealed.yaml` and commit the SealedSecret instead, or set "
            "allowPlaintextSecrets: true on the Application";
        out.resources.push_back(std::move(p));
        continue;
      }
    }
    out.resources.push_back(r);
  }
  return out;
}

}  // namespace plumb::engine
