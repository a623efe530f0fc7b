// engine: the Application — "this path of this branch of this repo, made true on this
// target, under this sync policy" — its spec (from an `Application` manifest or the
// operator's flags) and its observed status.
#pragma once

#include <cstdint>
#include <functional>
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

// Which rows of a ResourceStatusList an answer carries (the API's
// `?sync=&health=&offset=&limit=` on one Application): rows whose sync and health match
// (empty: any), the first `offset` of those skipped, at most `limit` of the rest.
struct ResourceFilter {
  std::string sync, health;
  size_t offset = 0;
  size_t limit = SIZE_MAX;
  // The query named sync, health, offset or limit (even with a value that selects every
  // row): the answer then says how many rows matched, so a client can page from offset 0.
  bool counted = false;
  bool Matches(std::string_view row_sync, std::string_view row_health) const {
    return (sync.empty() || sync == row_sync) && (health.empty() || health == row_health);
  }
  bool all() const { return sync.empty() && health.empty() && offset == 0 && limit == SIZE_MAX; }
};

// How many rows a ResourceStatusList has, by sync and by health value (each in name
// order): what a list of Applications shows instead of the rows.
struct ResourceSummary {
  size_t total = 0;
  std::vector<std::pair<std::string, size_t>> sync, health;
  resource::Value ToValue() const;  // {"sync": {"Synced": 3}, "health": {"Healthy": 3}}
};

// The per-resource part of an AppStatus, immutable once made. Copies of a status share
// it (10,000 rows are not copied with every copy of a status), and a list that changed
// is a new object: the same object means unchanged, which is how Store::PutStatus knows
// it need not write it again. Thread-safe to read and to copy.
//
// Stored packed: each row is a few offsets into one text that holds every distinct
// string once (groups, kinds, namespaces, sync and health values, origin files and
// messages repeat from row to row), so a row costs about 80 bytes instead of the 256 of a
// ResourceStatus and its strings (34 MB at 100,000 resources). Rows are read back as
// ResourceStatus values.
class ResourceStatusList {
 public:
  ResourceStatusList() = default;
  explicit ResourceStatusList(const std::vector<ResourceStatus>& rows);

  std::vector<ResourceStatus> rows() const;  // every row, unpacked
  size_t size() const;
  bool empty() const { return size() == 0; }
  ResourceStatus operator[](size_t i) const;
  // Whether `other` is this very list (two empty default lists are), not merely equal.
  bool SameAs(const ResourceStatusList& other) const { return data_ == other.data_; }

  resource::Value ToValue() const;  // [{group, kind, namespace, name, sync, ...}]
  std::string ToJson() const;       // resource::ToJson(ToValue()), without the tree
  // ToJson() in pieces of about `piece` bytes, in order, without the whole text: stops
  // at the first piece `sink` refuses (returns its status).
  Status WriteJson(const std::function<Status(std::string_view)>& sink,
                   size_t piece = 64 << 10) const;
  size_t JsonSize() const;  // ToJson().size(), without the text
  // WriteJson of only the rows `filter` selects; `*matched` (if given) is set to how many
  // rows match its sync and health, before offset and limit.
  Status WriteJson(const std::function<Status(std::string_view)>& sink,
                   const ResourceFilter& filter, size_t* matched, size_t piece = 64 << 10) const;
  ResourceSummary Summarize() const;  // a pass over the rows, no string copied per row
  static ResourceStatusList FromValue(const resource::Value& v);

  class Builder;

 private:
  struct Data;
  class Packer;
  explicit ResourceStatusList(std::shared_ptr<const Data> data) : data_(std::move(data)) {}
  std::shared_ptr<const Data> data_;
};

// Builds a pass's list row by row against the last pass's: Finish() gives back `last`
// itself when every row equals last's (nothing copied, nothing to write), else a new
// list. A row equal to last's costs comparisons only.
class ResourceStatusList::Builder {
 public:
  // `rows_hint`: how many rows the pass will add, when known.
  explicit Builder(const ResourceStatusList& last, size_t rows_hint = 0);
  ~Builder();
  void Add(const resource::ResourceId& id, const resource::Origin& origin, std::string_view sync,
           std::string_view health, std::string_view message);
  ResourceStatusList Finish();

 private:
  void Diverge();
  const ResourceStatusList& last_;
  size_t rows_hint_ = 0;
  size_t same_ = 0;        // leading rows equal to last's
  bool diverged_ = false;  // a row differs: every row is in packer_
  std::unique_ptr<Packer> packer_;
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
  // ToValue()'s JSON text, in pieces to `sink`, with the rows `filter` selects streamed from
  // the packed list (no Value tree of them), followed by `resourceCount` (every row),
  // `resourceSummary` (ResourceSummary) and, when `filter` selects, `resourcesMatched`.
  // A null `filter` leaves `resources` out (the counts stay).
  Status WriteJson(const std::function<Status(std::string_view)>& sink,
                   const ResourceFilter* filter) const;
  // Reads either form (`resources` stays empty when `v` has none).
  static AppStatus FromValue(const resource::Value& v);
};

}  // namespace plumb::engine
