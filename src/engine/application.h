// engine: the Application — "this path of this branch of this repo, made true on this
// target, under this sync policy" — its spec (from an `Application` manifest or the
// operator's flags) and its observed status.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "resource/resource.h"
#include "resource/value.h"
#include "source/source.h"
#include "target/target.h"

namespace plumb::engine {

inline constexpr const char* kApiGroup = "plumbline.dev";

struct SyncPolicy {
  bool automated = true;  // spec.sync.auto
  bool prune = true;
  bool self_heal = true;
  bool suspend = false;
  Duration interval = Duration(60000);
};

// spec.promotion: promotes another environment into this Application's one by itself.
struct PromotionPolicy {
  std::string from;                   // the environment promoted from ("" = none)
  bool automated = false;             // spec.promotion.auto
  Duration after = Duration(600000);  // how long `from` must be Healthy at a commit first
};

// spec.source.verify: what must be signed, and by whom, before a commit is applied.
struct SourceVerify {
  std::string mode;  // "" (off) | "head" (the branch head commit) | "tag" (the annotated tag)
  std::vector<source::TrustedKey> keys;
  bool enabled() const { return !mode.empty(); }
  // Identifies mode and keys, for caching verification results.
  std::string Fingerprint() const;
};

// Reads a file of trusted keys (plumb run --verify-keys): an ASCII-armored OpenPGP public
// key block, or SSH public key lines ("ssh-ed25519 AAAA... alice", # comments).
source::TrustedKey TrustedKeyFromText(const std::string& text);

struct AppSpec {
  std::string name;
  std::string repo;
  std::string branch = "main";
  std::string path = ".";
  std::string local_root;  // spec.target.local.root
  // spec.target.kubernetes {kubeconfig, context, namespace}: the Application's resources
  // go to that cluster (unset: the local runtime).
  std::optional<target::KubernetesRef> kubernetes;
  SyncPolicy sync;
  bool allow_plaintext_secrets = false;
  SourceVerify verify;  // spec.source.verify
  // spec.scan.policy: what a secret found in the lines a new head adds does. "block" (the
  // head is not applied; the last applied commit stays), "warn" (applied, and alerted) or
  // "off".
  std::string scan_policy = "block";
  std::string parent;  // the Application whose repo declared this one ("" = root)
  PromotionPolicy promotion;

  resource::Value ToValue() const;
  static Result<AppSpec> FromValue(const resource::Value& v);
};

// Builds a child Application from an `Application` manifest found in `parent`'s path.
// Fields it leaves out (repo, branch) default to the parent's. Errors name the origin.
Result<AppSpec> AppSpecFromResource(const resource::Resource& r, const AppSpec& parent);

bool IsApplication(const resource::ResourceId& id);
// ImageRepository, ImagePolicy and ImageUpdateAutomation (plumbline.dev): the pipeline
// module's, set aside from the desired set.
bool IsImageAutomation(const resource::ResourceId& id);

struct ResourceStatus {
  resource::ResourceId id;
  std::string sync = "Unknown";  // Synced | OutOfSync | Unknown
  std::string health =
      "Unknown";  // Healthy | Progressing | Degraded | Suspended | Missing | Unknown
  std::string message;
  std::string origin;  // file:line in the repository

  bool operator==(const ResourceStatus&) const = default;
};

// The per-resource part of an AppStatus, immutable once made. Copies of a status share
// it (10,000 rows are not copied with every copy of a status), and a list that changed
// is a new object: the same object means unchanged, which is how Store::PutStatus knows
// it need not write it again. Thread-safe to read and to copy.
class ResourceStatusList {
 public:
  ResourceStatusList() = default;
  explicit ResourceStatusList(std::vector<ResourceStatus> rows);

  const std::vector<ResourceStatus>& rows() const;
  size_t size() const { return rows_ ? rows_->size() : 0; }
  bool empty() const { return size() == 0; }
  std::vector<ResourceStatus>::const_iterator begin() const { return rows().begin(); }
  std::vector<ResourceStatus>::const_iterator end() const { return rows().end(); }
  const ResourceStatus& operator[](size_t i) const { return (*rows_)[i]; }
  // Whether `other` is this very list (two empty default lists are), not merely equal.
  bool SameAs(const ResourceStatusList& other) const { return rows_ == other.rows_; }

  resource::Value ToValue() const;  // [{group, kind, namespace, name, sync, ...}]
  std::string ToJson() const;       // resource::ToJson(ToValue()), without the tree
  static ResourceStatusList FromValue(const resource::Value& v);

  class Builder;

 private:
  std::shared_ptr<const std::vector<ResourceStatus>> rows_;
};

// Builds a pass's list row by row against the last pass's: Finish() gives back `last`
// itself when every row equals last's (nothing copied, nothing to write), else a new
// list. A row equal to last's costs comparisons only.
class ResourceStatusList::Builder {
 public:
  // `rows_hint`: how many rows the pass will add, when known (a list grown by doubling
  // held room for up to twice its rows, and briefly both copies).
  explicit Builder(const ResourceStatusList& last, size_t rows_hint = 0)
      : last_(last), rows_hint_(rows_hint) {}
  void Add(const resource::ResourceId& id, const resource::Origin& origin, std::string_view sync,
           std::string_view health, std::string_view message);
  ResourceStatusList Finish();

 private:
  void Diverge();
  const ResourceStatusList& last_;
  size_t rows_hint_ = 0;
  size_t same_ = 0;        // leading rows equal to last's
  bool diverged_ = false;  // a row differs: every row is in rows_
  std::vector<ResourceStatus> rows_;
};

// A standing problem of the Application as a whole, in the Kubernetes style (Argo CD
// shows the same as status.conditions): e.g. PlaintextSecretInGit, SourceVerificationFailed,
// SecretLeak.
struct AppCondition {
  std::string type;
  std::string message;
};

struct AppStatus {
  std::string sync = "Unknown";
  std::string health = "Unknown";
  std::string health_message;
  std::string applied_commit;  // last commit fully applied
  std::string head_commit;     // branch head at the last reconcile
  // With spec.source.verify: the last commit whose signature verified (the one applied
  // while the head does not verify).
  std::string verified_commit;
  int64_t last_reconcile_ms = 0;  // unix ms when the last reconcile finished
  int64_t last_duration_ms = 0;
  std::string last_error;      // empty when the last reconcile succeeded
  std::string phase = "Idle";  // Idle | Reconciling | Failed
  int consecutive_failures = 0;
  // Where the last reconcile spent its time (ms): fetch, render, plan (observe + diff),
  // apply (apply + prune + flush), health.
  int64_t fetch_ms = 0, render_ms = 0, plan_ms = 0, apply_ms = 0, health_ms = 0;
  ResourceStatusList resources;
  std::vector<AppCondition> conditions;

  resource::Value ToValue() const;
  // ToValue() without `resources`: what changes every reconcile.
  resource::Value SummaryToValue() const;
  // Reads either form (`resources` stays empty when `v` has none).
  static AppStatus FromValue(const resource::Value& v);
};

}  // namespace plumb::engine
