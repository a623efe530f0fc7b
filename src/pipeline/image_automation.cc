#include "pipeline/image_automation.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "core/fs.h"
#include "core/log.h"
#include "core/strings.h"
#include "pipeline/image_objects.h"
#include "pipeline/setters.h"
#include "resource/codec.h"
#include "source/source.h"

namespace plumb::pipeline {
namespace {

using resource::Resource;
using resource::Value;

std::string Key(const std::string& app, const std::string& ns, const std::string& name) {
  return app + "/" + ns + "/" + name;
}

// Manifests without metadata.namespace are in "default", as kubectl and Flux name them.
std::string NsOr(const std::string& ns) { return ns.empty() ? "default" : ns; }

bool IsYamlFile(const std::string& path) {
  auto ends = [&](const char* s) {
    std::string suffix = s;
    return path.size() >= suffix.size() &&
           path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends(".yaml") || ends(".yml");
}

// Registry credentials from a Secret: a docker config (.dockerconfigjson, as
// `kubectl create secret docker-registry` writes) or plain username/password keys.
Status CredentialsFromSecret(const Resource& secret, const ImageRef& ref, RegistryOptions* o) {
  auto values = resource::SecretValues(secret.body());
  if (!values.ok()) return values.status();
  auto config = values->find(".dockerconfigjson");
  if (config != values->end()) {
    auto json = resource::ParseJson(config->second, ".dockerconfigjson");
    if (!json.ok()) return InvalidArgument(".dockerconfigjson is not JSON");
    const Value* auths = json->Find("auths");
    const Value* entry = nullptr;
    if (auths && auths->is_object()) {
      for (const auto& [host, v] : auths->as_object()) {
        std::string h = host;
        size_t scheme = h.find("://");
        if (scheme != std::string::npos) h = h.substr(scheme + 3);
        if (h.rfind(ref.registry, 0) == 0 || h.rfind(ref.Host(), 0) == 0) entry = &v;
      }
    }
    if (!entry) return NotFound(".dockerconfigjson has no auths entry for " + ref.registry);
    o->username = entry->GetString("username");
    o->password = entry->GetString("password");
    std::string auth = entry->GetString("auth");
    if (o->username.empty() && !auth.empty()) {
      std::string decoded;
      if (!Base64Decode(auth, &decoded))
        return InvalidArgument(".dockerconfigjson auth is not base64");
      size_t colon = decoded.find(':');
      o->username = decoded.substr(0, colon);
      o->password = colon == std::string::npos ? "" : decoded.substr(colon + 1);
    }
    return Status::Ok();
  }
  auto user = values->find("username");
  if (user == values->end()) return NotFound("has neither .dockerconfigjson nor username");
  o->username = user->second;
  auto pass = values->find("password");
  o->password = pass == values->end() ? "" : pass->second;
  return Status::Ok();
}

const Resource* FindSecret(const std::vector<Resource>& desired, const std::string& ns,
                           const std::string& name) {
  for (const auto& r : desired)
    if (resource::IsSecret(r.id()) && r.id().name == name && r.id().ns == ns) return &r;
  return nullptr;
}

}  // namespace

struct ImageAutomation::Impl {
  struct Repo {
    std::string app;
    ImageRepositorySpec spec;
    ImageRef ref;
    RegistryOptions registry;
    std::string fingerprint;  // what the scan depends on: a change rescans now
    std::string spec_error;   // invalid manifest or Secret: not scanned
    // Status.
    bool scanned = false;
    std::vector<std::string> tags;
    int64_t last_scan_unix_ms = 0;
    std::string error;
    int failures = 0;
    int64_t next_due_ms = 0;  // monotonic
  };
  struct Policy {
    std::string app;
    ImagePolicyObject spec;
    std::string spec_error;
    std::string latest_tag, latest_image, error;
  };
  struct Automation {
    std::string app;
    engine::AppSpec app_spec;
    ImageUpdateAutomationSpec spec;
    std::string fingerprint;
    std::string spec_error;
    std::string signing_key, signing_passphrase;  // from spec.git.commit.signingKey
    bool dirty = true;
    int64_t next_due_ms = 0;
    // Status.
    int64_t last_run_unix_ms = 0;
    std::string last_commit;
    int64_t last_push_unix_ms = 0;
    std::string message, error;
  };

  ImageAutomationOptions options;
  engine::Engine* engine = nullptr;  // set by Start, under mu
  std::unique_ptr<source::RepoCache> git;

  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  bool started = false;
  std::map<std::string, Repo> repos;              // Key(app, ns, name)
  std::map<std::string, Policy> policies;         // Key(app, ns, name)
  std::map<std::string, Automation> automations;  // Key(app, ns, name)
  std::map<std::string, std::string> invalid;     // app -> last reported spec errors
  std::thread thread;

  void Loop();
  void ScanDue();
  void RecomputePolicies();  // mu held
  void RunDue();
  Status RunAutomation(const Automation& a, std::map<std::string, PolicyImage> images,
                       std::string* commit, std::string* message);
};

ImageAutomation::ImageAutomation(ImageAutomationOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->git = std::make_unique<source::RepoCache>(impl_->options.state_dir + "/image-git");
}

ImageAutomation::~ImageAutomation() { Stop(); }

void ImageAutomation::Start(engine::Engine* engine) {
  std::lock_guard<std::mutex> l(impl_->mu);
  if (impl_->started) return;
  impl_->started = true;
  impl_->engine = engine;
  impl_->thread = std::thread([this] { impl_->Loop(); });
}

void ImageAutomation::Stop() {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void ImageAutomation::SetFor(const engine::AppSpec& app, const std::vector<Resource>& images,
                             const std::vector<Resource>& desired) {
  std::map<std::string, Impl::Repo> repos;
  std::map<std::string, Impl::Policy> policies;
  std::map<std::string, Impl::Automation> automations;
  std::string errors;
  auto note = [&](const Status& s) { errors += (errors.empty() ? "" : "; ") + s.message(); };
  for (const Resource& r : images) {
    const std::string key = Key(app.name, r.id().ns, r.id().name);
    if (r.id().kind == "ImageRepository") {
      Impl::Repo repo{.app = app.name};
      auto spec = ImageRepositoryFromResource(r);
      if (!spec.ok()) {
        note(spec.status());
        repo.spec.ns = r.id().ns;
        repo.spec.name = r.id().name;
        repo.spec_error = spec.status().message();
      } else {
        repo.spec = *spec;
        auto ref = ParseImage(spec->image);
        if (!ref.ok()) {
          repo.spec_error = r.origin().ToString() + ": " + ref.status().message();
          note(Status(ref.status().code(), repo.spec_error));
        } else {
          repo.ref = *ref;
        }
        repo.registry.insecure = spec->insecure;
        repo.registry.timeout = spec->timeout;
        if (!spec->secret_ref.empty() && repo.spec_error.empty()) {
          const Resource* secret = FindSecret(desired, r.id().ns, spec->secret_ref);
          Status s = secret ? CredentialsFromSecret(*secret, repo.ref, &repo.registry)
                            : NotFound("no Secret " + spec->secret_ref + " in the Application");
          if (!s.ok()) repo.spec_error = "spec.secretRef " + spec->secret_ref + ": " + s.message();
        }
        if (!spec->cert_secret_ref.empty() && repo.spec_error.empty()) {
          const Resource* secret = FindSecret(desired, r.id().ns, spec->cert_secret_ref);
          auto ca = secret ? resource::SecretValue(secret->body(), "ca.crt")
                           : Result<std::string>(NotFound("no such Secret in the Application"));
          if (!ca.ok()) {
            repo.spec_error =
                "spec.certSecretRef " + spec->cert_secret_ref + ": " + ca.status().message();
          } else {
            std::string dir = impl_->options.state_dir + "/image-ca";
            std::string file = dir + "/" + Sha256Hex(*ca).substr(0, 16) + ".pem";
            Status w = fs::MakeDirs(dir);
            if (w.ok()) w = fs::WriteFileAtomic(file, *ca);
            if (!w.ok()) repo.spec_error = w.message();
            repo.registry.ca_file = file;
          }
        }
      }
      repo.fingerprint = repo.spec.image + "|" + std::to_string(repo.spec.insecure) + "|" +
                         Sha256Hex(repo.registry.username + ":" + repo.registry.password) + "|" +
                         repo.registry.ca_file + "|" + repo.spec_error + "|" +
                         std::to_string(repo.spec.suspend);
      repos[key] = std::move(repo);
    } else if (r.id().kind == "ImagePolicy") {
      Impl::Policy p{.app = app.name};
      auto spec = ImagePolicyFromResource(r);
      if (!spec.ok()) {
        note(spec.status());
        p.spec.ns = r.id().ns;
        p.spec.name = r.id().name;
        p.spec_error = spec.status().message();
      } else {
        p.spec = *spec;
      }
      policies[key] = std::move(p);
    } else {
      Impl::Automation a{.app = app.name, .app_spec = app};
      auto spec = ImageUpdateAutomationFromResource(r);
      if (!spec.ok()) {
        note(spec.status());
        a.spec.ns = r.id().ns;
        a.spec.name = r.id().name;
        a.spec_error = spec.status().message();
      } else {
        a.spec = *spec;
        // Flux's signingKey: an OpenPGP secret key in key git.asc (an OpenSSH private key
        // is accepted too), its passphrase, if any, in key passphrase.
        if (!spec->signing_key_secret.empty()) {
          const Resource* secret = FindSecret(desired, r.id().ns, spec->signing_key_secret);
          auto key = secret ? resource::SecretValue(secret->body(), "git.asc")
                            : Result<std::string>(NotFound("no such Secret in the Application"));
          Status s = key.ok() ? source::SigningKeyType(*key).status() : key.status();
          if (!s.ok()) {
            a.spec_error = "spec.git.commit.signingKey.secretRef " + spec->signing_key_secret +
                           ": " + s.message();
            note(Status(s.code(), a.spec_error));
          } else {
            a.signing_key = *key;
            auto pass = resource::SecretValue(secret->body(), "passphrase");
            if (pass.ok()) a.signing_passphrase = *pass;
          }
        }
      }
      a.fingerprint = resource::CanonicalHash(r.body()) + "|" + app.repo + "|" + app.branch + "|" +
                      Sha256Hex(a.signing_key + "\n" + a.signing_passphrase);
      automations[key] = std::move(a);
    }
  }
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    auto drop_app = [&](auto& m) {
      for (auto it = m.begin(); it != m.end();)
        it = it->second.app == app.name ? m.erase(it) : std::next(it);
    };
    // Keep what was learnt (tags, back-off, last commit) for objects whose spec is the same.
    for (auto& [key, repo] : repos) {
      auto old = impl_->repos.find(key);
      if (old != impl_->repos.end() && old->second.fingerprint == repo.fingerprint) {
        Impl::Repo kept = old->second;
        kept.spec = repo.spec;  // interval, timeout may change without a rescan
        kept.registry = repo.registry;
        repo = std::move(kept);
      }
    }
    // A policy keeps its last choice, so only a real change marks the automations.
    for (auto& [key, p] : policies) {
      auto old = impl_->policies.find(key);
      if (old == impl_->policies.end()) continue;
      p.latest_tag = old->second.latest_tag;
      p.latest_image = old->second.latest_image;
    }
    for (auto& [key, a] : automations) {
      auto old = impl_->automations.find(key);
      if (old != impl_->automations.end() && old->second.fingerprint == a.fingerprint) {
        a = old->second;
        a.app_spec = app;
      }
    }
    drop_app(impl_->repos);
    drop_app(impl_->policies);
    drop_app(impl_->automations);
    impl_->repos.merge(repos);
    impl_->policies.merge(policies);
    impl_->automations.merge(automations);
    impl_->RecomputePolicies();
    if (errors != impl_->invalid[app.name]) {
      impl_->invalid[app.name] = errors;
      if (!errors.empty() && impl_->engine)
        impl_->engine->RecordEvent(app.name, "Warning", "InvalidImageAutomation", errors);
    }
  }
  impl_->cv.notify_all();
}

void ImageAutomation::Impl::RecomputePolicies() {
  for (auto& [key, p] : policies) {
    std::string old = p.latest_image;
    p.error.clear();
    if (!p.spec_error.empty()) {
      p.error = p.spec_error;
      continue;
    }
    auto repo = repos.find(Key(p.app, p.spec.repository_ns, p.spec.repository));
    if (repo == repos.end()) {
      p.error = "no ImageRepository " + p.spec.repository_ns + "/" + p.spec.repository;
      continue;
    }
    if (!repo->second.scanned) {
      p.error = "ImageRepository " + p.spec.repository + " not scanned yet";
      continue;
    }
    auto tag = SelectTag(p.spec.policy, repo->second.tags);
    if (!tag.ok()) {
      p.error = tag.status().message();  // keeps the last latest: nothing newer qualifies
      continue;
    }
    p.latest_tag = *tag;
    p.latest_image = repo->second.spec.image + ":" + *tag;
    if (p.latest_image != old) {
      for (auto& [k, a] : automations)
        if (a.app == p.app) a.dirty = true;
      if (engine)
        engine->RecordEvent(p.app, "Normal", "ImagePolicyLatest",
                            "ImagePolicy " + p.spec.name + " selects " + p.latest_image);
    }
  }
}

void ImageAutomation::Impl::Loop() {
  std::unique_lock<std::mutex> l(mu);
  while (!stopping) {
    l.unlock();
    ScanDue();
    RunDue();
    l.lock();
    if (stopping) break;
    int64_t now = MonotonicMillis();
    int64_t next = now + 1000;
    for (const auto& [k, r] : repos)
      if (r.spec_error.empty() && !r.spec.suspend) next = std::min(next, r.next_due_ms);
    for (const auto& [k, a] : automations) {
      if (!a.spec_error.empty() || a.spec.suspend) continue;
      next = std::min(next, a.dirty ? now : a.next_due_ms);
    }
    if (next > now) cv.wait_for(l, std::chrono::milliseconds(next - now));
  }
}

void ImageAutomation::Impl::ScanDue() {
  while (true) {
    std::string key;
    Repo repo;
    {
      std::lock_guard<std::mutex> l(mu);
      if (stopping) return;
      int64_t now = MonotonicMillis();
      for (const auto& [k, r] : repos) {
        if (r.spec_error.empty() && !r.spec.suspend && r.next_due_ms <= now) {
          key = k;
          repo = r;
          break;
        }
      }
      if (key.empty()) return;
    }
    auto tags = options.list_tags(repo.ref, repo.registry);
    std::lock_guard<std::mutex> l(mu);
    auto it = repos.find(key);
    if (it == repos.end() || it->second.fingerprint != repo.fingerprint) continue;
    Repo& r = it->second;
    int64_t now = MonotonicMillis();
    if (tags.ok()) {
      if (r.failures > 0 && engine)
        engine->RecordEvent(r.app, "Normal", "ImageRepositoryScanned",
                            "ImageRepository " + r.spec.name +
                                " scans again: " + std::to_string(tags->size()) + " tags");
      r.scanned = true;
      r.tags = std::move(*tags);
      r.error.clear();
      r.failures = 0;
      r.last_scan_unix_ms = UnixMillis(SystemClock().Now());
      r.next_due_ms = now + r.spec.interval.count();
      RecomputePolicies();
    } else {
      // Keep the last tags (the policies keep their choice) and back off.
      if (r.failures == 0 && engine)
        engine->RecordEvent(r.app, "Warning", "ImageRepositoryScanFailed",
                            "ImageRepository " + r.spec.name + ": " + tags.status().message());
      r.error = tags.status().message();
      ++r.failures;
      int64_t backoff = options.retry_base.count();
      for (int i = 1; i < r.failures && backoff < options.retry_max.count(); ++i) backoff *= 2;
      backoff = std::min({backoff, options.retry_max.count(), r.spec.interval.count()});
      r.next_due_ms = now + backoff;
    }
  }
}

void ImageAutomation::Impl::RunDue() {
  while (true) {
    std::string key;
    Automation a;
    std::map<std::string, PolicyImage> images;  // "ns/name" and "name" -> image
    {
      std::lock_guard<std::mutex> l(mu);
      if (stopping) return;
      int64_t now = MonotonicMillis();
      for (auto& [k, x] : automations) {
        if (x.spec_error.empty() && !x.spec.suspend && (x.dirty || x.next_due_ms <= now)) {
          key = k;
          x.dirty = false;
          x.next_due_ms = now + x.spec.interval.count();
          a = x;
          break;
        }
      }
      if (key.empty()) return;
      for (const auto& [k, p] : policies) {
        if (p.app != a.app || p.latest_image.empty()) continue;
        size_t colon = p.latest_image.rfind(':');
        PolicyImage im{.image = p.latest_image.substr(0, colon), .tag = p.latest_tag};
        images[NsOr(p.spec.ns) + "/" + p.spec.name] = im;
        images.emplace(p.spec.name, im);
      }
    }
    std::string commit, message;
    Status s = RunAutomation(a, std::move(images), &commit, &message);
    std::lock_guard<std::mutex> l(mu);
    auto it = automations.find(key);
    if (it == automations.end()) continue;
    Automation& x = it->second;
    x.last_run_unix_ms = UnixMillis(SystemClock().Now());
    if (!s.ok()) {
      if (s.code() == Code::kAborted) x.dirty = true;  // the branch moved: read it again
      if (x.error != s.message() && engine)
        engine->RecordEvent(x.app, "Warning", "ImageUpdateFailed",
                            "ImageUpdateAutomation " + x.spec.name + ": " + s.message());
      x.error = s.message();
      continue;
    }
    x.error.clear();
    x.message = message;
    if (!commit.empty()) {
      x.last_commit = commit;
      x.last_push_unix_ms = x.last_run_unix_ms;
    }
  }
}

Status ImageAutomation::Impl::RunAutomation(const Automation& a,
                                            std::map<std::string, PolicyImage> images,
                                            std::string* commit, std::string* message) {
  const std::string& url = a.app_spec.repo;
  std::string checkout =
      a.spec.checkout_branch.empty() ? a.app_spec.branch : a.spec.checkout_branch;
  std::string branch = a.spec.push_branch.empty() ? checkout : a.spec.push_branch;
  auto lookup = [&](const std::string& ns, const std::string& name) -> const PolicyImage* {
    auto it = images.find(ns.empty() ? name : ns + "/" + name);
    return it == images.end() ? nullptr : &it->second;
  };
  auto fetched = git->Fetch(url);
  if (!fetched.ok()) return fetched.status();
  ASSIGN_OR_RETURN(std::string head, git->Resolve(url, branch));
  ASSIGN_OR_RETURN(std::vector<source::TreeFile> files,
                   git->ListFiles(url, head, a.spec.path == "." ? "" : a.spec.path));
  std::map<std::string, std::string> changed;
  std::vector<ImageChange> changes;
  for (const auto& f : files) {
    if (!IsYamlFile(f.path) || !f.via_symlink.empty()) continue;
    ASSIGN_OR_RETURN(std::string text, git->ReadBlob(url, f.blob_id));
    if (text.find("$imagepolicy") == std::string::npos) continue;
    SetterResult r = ApplySetters(text, lookup);
    if (r.edits.empty()) continue;
    for (const auto& e : r.edits)
      changes.push_back(ImageChange{.file = f.path,
                                    .line = e.line,
                                    .policy = e.policy,
                                    .old_value = e.old_value,
                                    .new_value = e.new_value});
    changed[f.path] = std::move(r.text);
  }
  if (changed.empty()) {
    *message = "no change: every marked field is current at " + head.substr(0, 12);
    return Status::Ok();
  }
  std::string automation = NsOr(a.spec.ns) + "/" + a.spec.name;
  std::string text = RenderCommitMessage(a.spec.message_template, automation, changes);
  source::Signature author{
      .name = a.spec.author_name.empty() ? options.author_name : a.spec.author_name,
      .email = a.spec.author_email.empty() ? options.author_email : a.spec.author_email,
      .signing_key = a.signing_key.empty() ? options.signing_key : a.signing_key,
      .signing_passphrase = a.signing_key.empty() ? "" : a.signing_passphrase};
  auto written = git->CommitFiles(url, branch, head, changed, text, author);
  if (!written.ok()) return written.status().WithContext("committing to " + branch);
  *commit = *written;
  *message = "committed " + written->substr(0, 12) + " on " + branch + ": " +
             std::to_string(changes.size()) + " field(s) in " + std::to_string(changed.size()) +
             " file(s)";
  log::Info("image update committed",
            {{"automation", automation}, {"commit", *written}, {"branch", branch}});
  if (engine) {
    engine->RecordWrittenCommit(*written, "image-update", "ImageUpdateAutomation/" + automation);
    engine->RecordEvent(a.app, "Normal", "ImageUpdateCommitted",
                        "ImageUpdateAutomation " + a.spec.name + " " + *message);
    engine->NotifyPush(
        [&](const engine::AppSpec& s) { return s.repo == url && s.branch == branch; });
  }
  return Status::Ok();
}

Value ImageAutomation::StatusSnapshot() {
  std::lock_guard<std::mutex> l(impl_->mu);
  Value out = Value::EmptyObject();
  Value repos = Value::EmptyArray(), policies = Value::EmptyArray(),
        automations = Value::EmptyArray();
  auto time = [](int64_t ms) {
    return ms ? Value(FormatTimeRfc3339(FromUnixMillis(ms))) : Value();
  };
  for (const auto& [k, r] : impl_->repos) {
    Value v;
    v.Set("app", r.app);
    v.Set("namespace", r.spec.ns);
    v.Set("name", r.spec.name);
    v.Set("image", r.spec.image);
    v.Set("interval", FormatDuration(r.spec.interval));
    v.Set("lastScanTime", time(r.last_scan_unix_ms));
    v.Set("tagCount", static_cast<int64_t>(r.tags.size()));
    v.Set("failures", r.failures);
    v.Set("error", r.spec_error.empty() ? r.error : r.spec_error);
    v.Set("ready", r.spec_error.empty() && r.error.empty() && r.scanned);
    repos.Append(std::move(v));
  }
  for (const auto& [k, p] : impl_->policies) {
    Value v;
    v.Set("app", p.app);
    v.Set("namespace", p.spec.ns);
    v.Set("name", p.spec.name);
    v.Set("imageRepository", p.spec.repository);
    v.Set("latestImage", p.latest_image);
    v.Set("latestTag", p.latest_tag);
    v.Set("error", p.error);
    v.Set("ready", p.error.empty() && !p.latest_image.empty());
    policies.Append(std::move(v));
  }
  for (const auto& [k, a] : impl_->automations) {
    Value v;
    v.Set("app", a.app);
    v.Set("namespace", a.spec.ns);
    v.Set("name", a.spec.name);
    v.Set("branch",
          a.spec.push_branch.empty()
              ? (a.spec.checkout_branch.empty() ? a.app_spec.branch : a.spec.checkout_branch)
              : a.spec.push_branch);
    v.Set("path", a.spec.path);
    v.Set("lastAutomationRunTime", time(a.last_run_unix_ms));
    v.Set("lastPushCommit", a.last_commit);
    v.Set("lastPushTime", time(a.last_push_unix_ms));
    v.Set("message", a.message);
    v.Set("error", a.spec_error.empty() ? a.error : a.spec_error);
    automations.Append(std::move(v));
  }
  out.Set("repositories", std::move(repos));
  out.Set("policies", std::move(policies));
  out.Set("automations", std::move(automations));
  return out;
}

}  // namespace plumb::pipeline
