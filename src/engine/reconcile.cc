// One reconcile pass of one Application: resolve -> render -> plan -> apply -> prune ->
// health -> record.
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

#include "core/log.h"
#include "core/metrics.h"
#include "core/strings.h"
#include "diff/diff.h"
#include "engine/engine_impl.h"
#include "engine/id_index.h"
#include "engine/pass_delta.h"
#include "resource/codec.h"
#include "secrets/keystore.h"

namespace plumb::engine {
using resource::Resource;
using resource::ResourceId;
using resource::Value;

Value IdFields(const ResourceId& id) {
  Value v;
  v.Set("group", id.group);
  v.Set("kind", id.kind);
  v.Set("namespace", id.ns);
  v.Set("name", id.name);
  return v;
}

Value ChangeToValue(const target::Change& c) {
  // Built at its final size (the fields of IdFields, then two).
  resource::Object o;
  o.reserve(6);
  o.emplace_back("group", c.id.group);
  o.emplace_back("kind", c.id.kind);
  o.emplace_back("namespace", c.id.ns);
  o.emplace_back("name", c.id.name);
  o.emplace_back("change", target::ChangeKindName(c.kind));
  o.emplace_back("message", c.message);
  return Value(std::move(o));
}

target::AppContext Engine::Impl::Context(const AppSpec& spec,
                                         const std::vector<Resource>* desired) {
  return target::AppContext{.app = spec.name,
                            .local_root = spec.local_root,
                            .kubernetes = spec.kubernetes ? &*spec.kubernetes : nullptr,
                            .desired = desired};
}

namespace {
// What Target::Expected() depends on besides the resource (see Target::ExpectedIsPure).
std::string MemoContext(const AppSpec& spec) {
  std::string c = spec.name + '\n' + spec.local_root;
  if (spec.kubernetes)
    c += '\n' + spec.kubernetes->kubeconfig + '\n' + spec.kubernetes->context + '\n' +
         spec.kubernetes->ns;
  return c;
}
}  // namespace

target::Health Engine::Impl::PlannedHealth(const target::AppContext& ctx, const PlanItem& item) {
  if (item.as_applied) return {target::HealthStatus::kHealthy, ""};
  return target->AssessHealth(ctx, {item.id, !item.live.is_null(), LiveForHealth(item)});
}

std::string Engine::Impl::SecretApiVersion(const AppSpec& spec) {
  if (spec.kubernetes) return "v1";  // a cluster's Secret
  return target->Handles(ResourceId{"local.plumbline.dev", "Secret", "", "x"})
             ? "local.plumbline.dev/v1"
             : "v1";
}

void Engine::Impl::MaybeCrash() {
  int64_t n = ++applies;
  if (crash_after_applies > 0 && n >= crash_after_applies) {
    log::Error("fault injection: crash-after-applies reached, killing the operator",
               {{"applies", std::to_string(n)}});
    ::kill(::getpid(), SIGKILL);
  }
}

Result<Observed> Engine::Impl::Observe(AppState& st, const AppSpec& spec, const SyncRequest& req) {
  Observed o;
  int64_t t = MonotonicMillis();
  Duration max_age = req.force_fetch ? Duration(0) : spec.sync.interval;
  if (req.trigger == "webhook") {
    // Fetch unless someone fetched since the push arrived (coalesces bursts).
    std::lock_guard<std::mutex> l(mu);
    auto it = push_ms.find(spec.repo);
    if (it != push_ms.end())
      max_age = Duration(std::max<int64_t>(0, UnixMillis(clock.Now()) - it->second));
  }
  auto fetched = repos->Fetch(spec.repo, max_age);
  if (!fetched.ok()) {
    metrics::Default().Add("plumb_git_fetch_errors_total", {{"repo", spec.repo}});
    return fetched.status().WithContext("fetch " + spec.repo);
  }
  if (!fetched->skipped)
    metrics::Default().Observe("plumb_git_fetch_duration_seconds", {{"repo", spec.repo}},
                               fetched->duration_ms / 1000.0);
  // In tag mode the ref is a tag, never a branch of the same name.
  std::string ref = spec.branch;
  if (spec.verify.mode == "tag" && !StartsWith(ref, "refs/")) ref = "refs/tags/" + ref;
  ASSIGN_OR_RETURN(o.head, repos->Resolve(spec.repo, ref));
  o.branch_head = o.head;
  st.verify_error.clear();
  if (spec.verify.enabled()) {
    // Nothing from a head that does not verify is rendered: the last verified commit
    // stays what this Application applies (and heals drift back to).
    Status verified = VerifySource(st, spec, o.head);
    if (!verified.ok()) {
      std::string fallback;
      {
        std::lock_guard<std::mutex> l(mu);
        fallback = st.status.verified_commit;
      }
      st.verify_error =
          verified.message() + (fallback.empty() ? "; no verified commit to apply yet"
                                                 : "; keeping " + fallback.substr(0, 7));
      if (fallback.empty()) return Status(verified.code(), st.verify_error);
      o.verify_error = st.verify_error;
      o.head = fallback;
    }
  }
  // spec.scan: secrets in the lines the head adds since the last applied commit. The scan
  // (and the scanner's rules, which may still be compiling beside the first fetch) runs on
  // a thread of its own, reading the texts through the mirror's side handle; once it knows
  // the diff, and when the text it will hold is small (kRenderBesideScanBytes: the texts and
  // the render's resources are then alive at once), this thread renders the head meanwhile,
  // while the scan reads (a cold sync of 10,000 Files waited ~90 ms for that read before it
  // rendered): only the render, which applies nothing and is
  // kept aside until the scan has passed. A head the scan refuses is never rendered into
  // the pass: its render is dropped, and an error of that render is not reported (the
  // scan's is).
  constexpr size_t kRenderBesideScanBytes = 16 << 20;
  // Renders of this many resources or more are followed by a malloc_trim (see below).
  constexpr size_t kTrimAfterRender = 16384;
  st.scan_error.clear();
  std::string applied;
  // Told once by the scan's thread: a bound of the bytes of added text it reads, or kNoText
  // when it reads none (the scan was cached, or failed before the diff).
  constexpr size_t kNoText = SIZE_MAX;
  std::promise<size_t> added_bytes;
  std::future<Result<std::vector<std::string>>> scan;
  if (spec.scan_policy != "off") {
    {
      std::lock_guard<std::mutex> l(mu);
      applied = st.status.applied_commit;
    }
    if (o.head != applied) {
      try {
        scan = std::async(std::launch::async,
                          [this, &st, &spec, &applied, &added_bytes, head = o.head] {
                            bool told = false;
                            auto tell = [&](size_t bytes) {
                              if (told) return;
                              told = true;
                              added_bytes.set_value(bytes);
                            };
                            // Told on every way out, a throw too: this thread's caller
                            // waits for it (holding the reconcile's lock).
                            try {
                              auto found = ScanAdded(st, spec, applied, head, tell);
                              tell(kNoText);
                              return found;
                            } catch (...) {
                              tell(kNoText);
                              throw;
                            }
                          });
      } catch (const std::system_error&) {
        // No thread to be had: scanned below, before the render.
      }
    }
  }
  // The head's render, made while the scan runs (see above); nullopt: not made.
  std::optional<Result<render::RenderOutput>> rendered_aside;
  const std::string rendered_aside_commit = o.head;
  int64_t aside_ms = 0;   // counted as the render stage's, not the fetch's
  bool big_scan = false;  // its texts were freed on its own thread (see below)
  if (scan.valid() && !(st.rendered && st.rendered_commit == o.head) && [&] {
        const size_t bytes = added_bytes.get_future().get();
        big_scan = bytes != kNoText && bytes > kRenderBesideScanBytes;
        return !big_scan;
      }()) {
    int64_t r0 = MonotonicMillis();
    rendered_aside = renderer->Render(spec.repo, o.head, spec.path);
    aside_ms = MonotonicMillis() - r0;
  }
  if (spec.scan_policy != "off") {
    if (o.head != applied) {
      auto findings = scan.valid() ? scan.get() : ScanAdded(st, spec, applied, o.head);
      // The texts of a big scan were allocated and freed by the scan's thread, in its own
      // malloc arena, which this thread's render would not reuse: given back first (a cold
      // sync of 100,000 Files peaked 90 MB higher without).
      if (big_scan) ::malloc_trim(0);
      if (!findings.ok())
        return findings.status().WithContext("secret scan of " + o.head.substr(0, 7));
      if (!findings->empty()) {
        std::string list;
        for (size_t i = 0; i < findings->size() && i < 5; ++i)
          list += (i ? "; " : "") + (*findings)[i];
        if (findings->size() > 5) list += "; and " + std::to_string(findings->size() - 5) + " more";
        st.scan_error = "head " + o.head.substr(0, 7) + " adds a secret: " + list;
        if (spec.scan_policy == "warn") {
          st.scan_error += " (scan policy warn: applied)";
        } else {
          st.scan_error +=
              applied.empty() ? "; nothing applied yet" : "; keeping " + applied.substr(0, 7);
          if (applied.empty()) return FailedPrecondition(st.scan_error);
          o.head = applied;
        }
        o.scan_error = st.scan_error;
      }
    }
  }
  log::SetContextField("commit", o.head);
  auto info = repos->GetCommit(spec.repo, o.head);
  if (info.ok()) o.commit = *info;
  o.fetch_ms = MonotonicMillis() - t - aside_ms;
  t = MonotonicMillis() - aside_ms;

  bool big_render = false;  // see below
  if (st.rendered && st.rendered_commit == o.head) {
    o.desired = st.rendered;
  } else {
    // The render made beside the scan, unless the scan sent this pass to another commit.
    auto out = rendered_aside && o.head == rendered_aside_commit
                   ? std::move(*rendered_aside)
                   : renderer->Render(spec.repo, o.head, spec.path);
    if (!out.ok())
      return out.status().WithContext("render " + spec.path + " at " + o.head.substr(0, 7));
    auto all = std::make_shared<std::vector<Resource>>();
    all->reserve(out->resources.size());
    for (auto& r : out->resources) all->push_back(std::move(r));
    st.rendered_needs_unseal = NeedsUnsealAfter(st.rendered.get(), st.rendered_needs_unseal, *all);
    st.rendered = all;
    st.rendered_commit = o.head;
    o.desired = all;
    big_render = all->size() >= kTrimAfterRender;
  }
  rendered_aside.reset();
  // A big render freed much of what it allocated (the files' text, the parser's
  // documents): given back before the plan allocates around the holes it left.
  if (big_render) ::malloc_trim(0);
  // Unseal: SealedSecrets and SOPS documents become what they describe; plaintext
  // Secrets are refused unless allowed.
  if (st.rendered_needs_unseal) {
    std::shared_ptr<const secrets::KeySet> keys = options.keys ? options.keys->Current() : nullptr;
    if (!st.unsealed || st.unsealed_commit != o.head || st.unsealed_keys != keys ||
        st.unsealed_allow != spec.allow_plaintext_secrets) {
      // At the first start the first key may still be being generated, or (plumb run
      // --once) is made now: here, where a SealedSecret needs it, not before every sync
      // (SOPS documents need only age identities, a refused plaintext Secret nothing).
      // Without one, each SealedSecret says so.
      if (options.keys && HasSealedSecret(*o.desired)) {
        (void)options.keys->EnsureKey();
        keys = options.keys->Current();
      }
      UnsealOptions uo;
      uo.keys = keys.get();
      uo.allow_plaintext_secrets = spec.allow_plaintext_secrets;
      uo.secret_api_version = SecretApiVersion(spec);
      st.unsealed = std::make_shared<const UnsealOutput>(Unseal(*o.desired, uo));
      st.unsealed_commit = o.head;
      st.unsealed_keys = keys;
      st.unsealed_allow = spec.allow_plaintext_secrets;
    }
    o.unseal_errors = st.unsealed->errors;
    o.plaintext = st.unsealed->plaintext;
    o.desired = std::shared_ptr<const std::vector<Resource>>(st.unsealed, &st.unsealed->resources);
  } else {
    st.unsealed.reset();
  }
  // Applications are the engine's, not the target's; hooks run around a sync, outside
  // the plan. Once per desired set: a pass over the same set reuses the split.
  if (!st.split || st.split_from != o.desired) {
    auto split = std::make_shared<SplitDesired>();
    // A new set with the last one's resources at the same positions, set aside and sorted
    // the same way (a commit that edits some files' content), keeps the last apply order.
    const bool same_shape = st.split && SameSplit(*st.split_from, *o.desired);
    bool set_aside = same_shape && st.split->desired != st.split_from;
    if (!same_shape) {
      for (const Resource& r : *o.desired) {
        ASSIGN_OR_RETURN(unsigned phases, HookPhases(r));
        set_aside |= IsApplication(r.id()) || IsNotification(r.id()) || IsImageAutomation(r.id()) ||
                     phases != 0;
      }
    }
    split->desired = o.desired;
    if (set_aside) {
      auto desired = std::make_shared<std::vector<Resource>>();
      for (const Resource& r : *o.desired) {
        if (IsApplication(r.id()))
          split->children.push_back(r);
        else if (IsNotification(r.id()))
          split->notifications.push_back(r);
        else if (IsImageAutomation(r.id()))
          split->images.push_back(r);
        else if (!r.Annotation(kHookAnnotation).empty())
          split->hooks.push_back(r);
        else
          desired->push_back(r);
      }
      split->desired = desired;
    }
    if (same_shape) {
      split->order = st.split->order;
      split->waves = st.split->waves;
    } else {
      split->order = ApplyOrder(*split->desired, &split->waves);
    }
    st.split = split;
    st.split_from = o.desired;
  }
  const SplitDesired& split = *st.split;
  o.desired = split.desired;
  o.children = split.children;
  o.notifications = split.notifications;
  o.images = split.images;
  o.hooks = split.hooks;
  o.waves = split.waves;
  {
    std::lock_guard<std::mutex> l(mu);
    st.last_desired = o.desired;
  }

  o.render_ms = MonotonicMillis() - t;
  t = MonotonicMillis();
  const std::vector<Resource>& want = *o.desired;
  target::AppContext ctx = Context(spec, &want);
  PlanInput in;
  in.desired = &want;
  in.order = split.order;
  in.as_applied.assign(want.size(), false);
  ASSIGN_OR_RETURN(in.inventory, target->InventoryOf(ctx));
  if (!in.inventory) in.inventory = std::make_shared<const std::vector<target::InventoryEntry>>();
  if (!o.hooks.empty()) {  // a hook's last run is owned but never pruned while in git
    std::unordered_set<std::string> hook_keys;
    for (const Resource& h : o.hooks) hook_keys.insert(h.id().Key());
    auto kept = std::make_shared<std::vector<target::InventoryEntry>>(*in.inventory);
    std::erase_if(*kept,
                  [&](const target::InventoryEntry& e) { return hook_keys.count(e.id.Key()) > 0; });
    in.inventory = std::move(kept);
  }
  const std::vector<target::InventoryEntry>& inventory = *in.inventory;
  // What was last applied, by identity; which of it is still desired.
  InventoryFinder owned(inventory);
  std::vector<size_t> owned_at(want.size(), IdIndex::kNone);  // per desired index
  in.inventory_desired.assign(inventory.size(), false);
  // Why the unseal stage refused desired[i] (nullptr: it did not).
  auto unseal_error = [&](size_t i) -> const std::string* {
    if (o.unseal_errors.empty()) return nullptr;
    auto u = o.unseal_errors.find(want[i].id().Key());
    return u == o.unseal_errors.end() ? nullptr : &u->second;
  };

  // A resource git did not change, that the target last applied exactly as it is expected
  // now and that it knows is unchanged since, is a no-op without Expected() or Observe().
  PlanMemo& memo = st.plan_memo;
  memo.Begin(MemoContext(spec), o.desired);
  std::vector<size_t> observe_at;  // everything else
  std::vector<const ResourceId*> maybe_ids;
  std::vector<size_t> maybe_at;
  maybe_ids.reserve(want.size());
  maybe_at.reserve(want.size());
  // In apply order, the inventory's order (mostly).
  for (size_t i : split.order) {
    size_t k = owned_at[i] = owned.Find(want[i].id());
    if (k != IdIndex::kNone) in.inventory_desired[k] = true;
    const target::HexDigest* hash = memo.Find(i);
    if (hash && k != IdIndex::kNone && inventory[k].applied_hash == *hash && !unseal_error(i)) {
      maybe_ids.push_back(&want[i].id());
      maybe_at.push_back(i);
    } else {
      observe_at.push_back(i);
    }
  }
  if (!maybe_ids.empty()) {
    std::vector<bool> unchanged = target->UnchangedSinceApplied(ctx, maybe_ids);
    for (size_t j = 0; j < maybe_at.size(); ++j) {
      if (j < unchanged.size() && unchanged[j])
        in.as_applied[maybe_at[j]] = true;
      else
        observe_at.push_back(maybe_at[j]);
    }
  }
  std::sort(observe_at.begin(), observe_at.end());
  // Per desired index, but only when something is planned the slow way (not in a no-op).
  if (!observe_at.empty()) {
    in.expected.resize(want.size());
  }
  auto refuse = [&](size_t i, std::string why) {
    if (in.expected_error.size() != want.size()) in.expected_error.resize(want.size());
    in.expected_error[i] = std::move(why);
  };
  std::vector<const ResourceId*> ids;  // the desired resources' own (not copies)
  ids.reserve(observe_at.size());
  for (size_t i : observe_at) {
    ids.push_back(&want[i].id());
    if (const std::string* u = unseal_error(i)) {
      refuse(i, *u);
      continue;
    }
    if (!target->Handles(want[i].id())) {
      refuse(i, want[i].origin().ToString() + ": no target handles kind " + want[i].api_version() +
                    " " + want[i].id().kind);
      continue;
    }
    auto e = target->Expected(ctx, want[i]);
    if (e.ok()) {
      // Hashed only when there is an applied hash to compare it with next time.
      if (owned_at[i] != IdIndex::kNone && target->ExpectedIsPure(ctx, want[i]))
        memo.Put(i, target::HexDigest(resource::CanonicalHash(*e)));
      in.expected[i] = std::move(*e);
    } else {
      refuse(i, AtOrigin(want[i], e.status().message()));
    }
  }
  if (!ids.empty()) {
    ASSIGN_OR_RETURN(std::vector<LiveBody> live, target->ObserveBodies(ctx, ids));
    std::vector<const ResourceId*>().swap(ids);
    // An answer for every desired resource in order (observe_at is sorted) is taken as it is.
    if (observe_at.size() == want.size() && live.size() == want.size()) {
      in.live_desired = std::move(live);
    } else {
      in.live_desired.resize(want.size());
      for (size_t j = 0; j < live.size() && j < observe_at.size(); ++j)
        in.live_desired[observe_at[j]] = std::move(live[j]);
    }
  } else if (!observe_at.empty()) {
    in.live_desired.resize(want.size());
  }
  // Only what is owned but no longer desired needs observing again (to be pruned).
  std::vector<const ResourceId*> prune_ids;
  std::vector<size_t> prune_at;
  for (size_t k = 0; k < inventory.size(); ++k) {
    if (in.inventory_desired[k]) continue;
    prune_ids.push_back(&inventory[k].id);
    prune_at.push_back(k);
  }
  if (!prune_ids.empty()) {
    in.live_inventory.resize(inventory.size());
    ASSIGN_OR_RETURN(std::vector<LiveBody> live, target->ObserveBodies(ctx, prune_ids));
    for (size_t j = 0; j < live.size() && j < prune_at.size(); ++j)
      in.live_inventory[prune_at[j]] = std::move(live[j]);
  }
  o.plan = MakePlan(in);
  // What the plan was made from (the expected and live bodies, by desired index) is freed
  // before the memo builds what it remembers, not after: they were alive at once.
  { PlanInput done = std::move(in); }
  o.retired = memo.End();
  o.plan_ms = MonotonicMillis() - t;
  return o;
}

namespace {
std::string Short(const std::string& sha) { return sha.substr(0, 7); }

std::string Summarize(const ChangeList& changes) {
  std::map<std::string, int> counts;
  for (size_t k = 0; k < changes.size(); ++k)
    if (changes.kind(k) != target::ChangeKind::kUnchanged)
      counts[target::ChangeKindName(changes.kind(k))]++;
  std::string out;
  for (const auto& [k, n] : counts) out += (out.empty() ? "" : ", ") + std::to_string(n) + " " + k;
  return out.empty() ? "no changes" : out;
}
}  // namespace

SyncReport Engine::Impl::Reconcile(AppState& st, const SyncRequest& req, bool report_changes) {
  int64_t t0 = MonotonicMillis();
  int64_t started_ms = UnixMillis(clock.Now());
  AppSpec spec;
  AppStatus status;
  {
    std::lock_guard<std::mutex> l(mu);
    spec = st.spec;
    status = st.status;
    st.status.phase = "Reconciling";
  }
  // Every line logged during this pass names the Application (and the commit, once
  // resolved).
  log::ScopedContext log_context({{"app", spec.name}});
  SyncReport report;
  report.app = spec.name;
  report.changes = Value::EmptyArray();

  auto finish = [&](AppStatus& s) {
    s.last_reconcile_ms = UnixMillis(clock.Now());
    s.last_duration_ms = MonotonicMillis() - t0;
    s.phase = s.last_error.empty() ? "Idle" : "Failed";
    auto& m = metrics::Default();
    m.Observe("plumb_reconcile_duration_seconds", {{"name", spec.name}},
              s.last_duration_ms / 1000.0);
    m.Forget("plumb_app_info", "name", spec.name);
    m.Set("plumb_app_info",
          {{"name", spec.name},
           {"repo", spec.repo},
           {"branch", spec.branch},
           {"path", spec.path},
           {"sync_status", s.sync},
           {"health_status", s.health}},
          1);
    m.Set("plumb_resources", {{"name", spec.name}}, static_cast<double>(s.resources.size()));
    {
      std::lock_guard<std::mutex> l(mu);
      if (st.deleted) return;
      st.status = s;
    }
    Status ps = store->PutStatus(spec.name, s);
    if (!ps.ok()) log::Warn("cannot save status", {{"app", spec.name}, {"error", ps.message()}});
  };

  // SourceVerificationFailed: a condition while the head does not verify; an event and
  // notification once per reason.
  auto note_verification = [&](AppStatus& s) {
    std::erase_if(s.conditions,
                  [](const AppCondition& c) { return c.type == "SourceVerificationFailed"; });
    if (st.verify_error.empty()) {
      st.verify_event.clear();
      return;
    }
    s.conditions.push_back({"SourceVerificationFailed", st.verify_error});
    if (st.verify_event != st.verify_error) {
      st.verify_event = st.verify_error;
      RecordEvent(spec.name, "Warning", "SourceVerificationFailed", st.verify_error);
    }
  };

  // SecretLeak: a condition while the head adds a secret; an event and notification once
  // per head (the message names it).
  auto note_scan = [&](AppStatus& s) {
    std::erase_if(s.conditions, [](const AppCondition& c) { return c.type == "SecretLeak"; });
    if (st.scan_error.empty()) {
      st.scan_event.clear();
      return;
    }
    s.conditions.push_back({"SecretLeak", st.scan_error});
    if (st.scan_event != st.scan_error) {
      st.scan_event = st.scan_error;
      RecordEvent(spec.name, "Warning", "SecretLeak", st.scan_error);
    }
  };

  auto observed = Observe(st, spec, req);
  if (!observed.ok()) {
    const Status& err = observed.status();
    status.last_error = err.message();
    status.consecutive_failures++;
    status.sync = "Unknown";
    report.result = "Failed";
    report.message = err.message();
    note_verification(status);
    note_scan(status);
    if (err.message() == st.verify_error || err.message() == st.scan_error) {
      // said by the SourceVerificationFailed or SecretLeak event
      st.last_error_event = err.message();
    } else if (st.last_error_event != err.message()) {
      st.last_error_event = err.message();
      RecordEvent(spec.name, "Warning", err.transient() ? "FetchFailed" : "ComparisonError",
                  err.message());
    }
    log::Warn("reconcile failed", {{"app", spec.name}, {"error", err.message()}});
    finish(status);
    return report;
  }
  Observed& o = *observed;
  report.revision = o.head;
  status.conditions.clear();
  if (!o.plaintext.empty() && !spec.allow_plaintext_secrets) {
    std::string where;
    for (const auto& p : o.plaintext) where += (where.empty() ? "" : ", ") + p;
    std::string msg = "plaintext Secret in git refused at " + o.head.substr(0, 7) + ": " + where +
                      " (seal it with plumb seal, or set allowPlaintextSecrets: true)";
    status.conditions.push_back({"PlaintextSecretInGit", msg});
  }
  status.head_commit = o.branch_head;
  if (!spec.verify.enabled())
    status.verified_commit.clear();
  else if (o.verify_error.empty())
    status.verified_commit = o.head;
  Plan& plan = o.plan;
  status.fetch_ms = o.fetch_ms;
  status.render_ms = o.render_ms;
  status.plan_ms = o.plan_ms;
  status.apply_ms = 0;
  int64_t t_apply = MonotonicMillis();

  if (req.dry_run) {
    for (const auto& item : plan.apply) {
      Value v = IdFields(item.id);
      v.Set("action", ActionName(item.action));
      v.Set("message", item.error.str());
      report.changes.Append(std::move(v));
    }
    for (const auto& item : plan.prune) {
      Value v = IdFields(item.id);
      v.Set("action", spec.sync.prune ? "delete" : "prune-disabled");
      report.changes.Append(std::move(v));
    }
    report.result = "DryRun";
    report.message = plan.InSync() ? "in sync" : "out of sync";
    return report;
  }

  // Child Applications follow their parent's render, even when the parent has nothing
  // to apply itself.
  ReconcileChildren(spec, o.children);
  {
    std::vector<NotificationSpec> notes;
    std::string errors;
    for (const auto& r : o.notifications) {
      auto n = NotificationFromResource(r, spec.name, *o.desired);
      if (n.ok())
        notes.push_back(std::move(*n));
      else
        errors += (errors.empty() ? "" : "; ") + n.status().message();
    }
    if (!errors.empty() && errors != st.last_notify_error)
      RecordEvent(spec.name, "Warning", "InvalidNotification", errors);
    st.last_notify_error = errors;
    notifier->SetFor(spec.name, std::move(notes));
  }
  if (options.on_image_resources) options.on_image_resources(spec, o.images, *o.desired);
  // After this render's Notifications are known, so a repository that brings both a
  // plaintext Secret and its Notification is told on the first reconcile. Once per
  // commit and set of offending files.
  for (const AppCondition& c : status.conditions) {
    if (c.type != "PlaintextSecretInGit") continue;
    std::string key = o.head;
    for (const auto& p : o.plaintext) key += "|" + p;
    if (st.plaintext_event != key) {
      st.plaintext_event = key;
      RecordEvent(spec.name, "Warning", "PlaintextSecretInGit", c.message);
    }
  }

  note_verification(status);
  note_scan(status);

  bool git_changed = o.head != status.applied_commit;
  bool should_apply = !plan.InSync() && !spec.sync.suspend &&
                      (req.manual || (spec.sync.automated && (git_changed || spec.sync.self_heal)));
  // Without prune, leftovers alone are not worth a pass.
  bool only_prunes = true;
  for (const auto& i : plan.apply) only_prunes &= i.action == Action::kNoop;
  if (only_prunes && !spec.sync.prune && !git_changed) should_apply = false;

  ChangeList changes;
  bool failed = false;
  std::string first_error;
  std::map<std::string, std::string> item_message;
  HistoryRow row;
  bool interrupted = false;
  std::vector<Value> hook_changes;
  std::future<Status> flushing;  // ApplyResult::flush
  // The history's change list as JSON, in the order they happened: PreSync hooks, the
  // resources, PostSync/SyncFail hooks; one change at a time, given to `sink` in pieces.
  auto write_changes = [&](const std::function<Status(std::string_view)>& sink) -> Status {
    constexpr size_t kPiece = 64 << 10;
    std::string json = "[";
    bool first = true;
    auto add = [&](const Value& v) -> Status {
      if (!first) json += ',';
      first = false;
      json += resource::ToJson(v);
      if (json.size() < kPiece) return Status::Ok();
      Status s = sink(json);
      json.clear();
      return s;
    };
    for (const auto& h : hook_changes)
      if (h.GetString("hook") == HookPhaseName(kPreSync)) RETURN_IF_ERROR(add(h));
    for (size_t k = 0; k < changes.size(); ++k)
      if (changes.kind(k) != target::ChangeKind::kUnchanged)
        RETURN_IF_ERROR(add(ChangeToValue(changes.Get(k))));
    for (const auto& h : hook_changes)
      if (h.GetString("hook") != HookPhaseName(kPreSync)) RETURN_IF_ERROR(add(h));
    json += ']';
    return sink(json);
  };
  // Made while a flush goes on beside this thread (see below): the list's text, whole (the
  // list is small then), and its summary.
  std::optional<std::string> changes_text;
  std::string summary;
  auto prepare_record = [&] {
    changes_text.emplace();
    (void)write_changes([&](std::string_view piece) {
      changes_text->append(piece);
      return Status::Ok();
    });
    summary = Summarize(changes);
  };
  // The pass's history row, its report and its event, once the apply's outcome is known.
  auto record = [&] {
    row.finished_ms = UnixMillis(clock.Now());
    row.result = interrupted ? "Interrupted" : failed ? "Failed" : "Succeeded";
    // Given to the store in pieces unless made beforehand: after a cold sync of 100,000
    // resources the list was one of the largest things alive, and then its text (16 MB)
    // and SQLite's copy of it.
    if (changes_text) {
      row.changes_json = std::move(*changes_text);
    } else {
      row.write_changes = write_changes;
      summary = Summarize(changes);
    }
    row.message = failed ? first_error : summary;
    if (row.id)
      (void)store->UpdateHistory(row);
    else
      (void)store->AddHistory(row);

    report.changes = Value();
    if (report_changes) {
      if (row.write_changes) {
        (void)row.write_changes([&report](std::string_view piece) {
          report.changes_json += piece;
          return Status::Ok();
        });
      } else {
        report.changes_json = std::move(row.changes_json);
      }
    }
    row.write_changes = nullptr;  // refers to `changes`, which goes before `row`
    std::string().swap(row.changes_json);
    report.result = row.result;
    metrics::Default().Add("plumb_sync_total", {{"name", spec.name}, {"result", row.result}});
    report.message = row.message;
    if (failed) {
      std::string msg = "sync to " + Short(o.head) + " failed: " + first_error;
      if (st.last_error_event != msg) RecordEvent(spec.name, "Warning", "SyncFailed", msg);
      st.last_error_event = msg;
    } else if (!git_changed) {
      std::string what;
      for (size_t k = 0; k < changes.size(); ++k)
        if (changes.kind(k) != target::ChangeKind::kUnchanged)
          what += (what.empty() ? "" : ", ") + changes.id(k).ToString() + " (" +
                  target::ChangeKindName(changes.kind(k)) +
                  (changes.message(k).empty() ? "" : ": " + changes.message(k)) + ")";
      RecordEvent(spec.name, "Normal", "DriftHealed", "self-heal reverted " + what);
    } else {
      RecordEvent(spec.name, "Normal", "SyncSucceeded",
                  "applied " + Short(o.head) + ": " + summary);
    }
  };
  if (should_apply) {
    row.app = spec.name;
    row.revision = o.head;
    row.started_ms = started_ms;
    row.trigger = req.trigger;
    row.initiator = req.initiator;
    {
      std::lock_guard<std::mutex> l(mu);
      auto it = written_commits.find(o.head);
      if (it != written_commits.end() && git_changed) {
        row.trigger = it->second.first;
        if (row.initiator.empty()) row.initiator = it->second.second;
      }
    }
    row.result = "Running";
    row.commit_author = o.commit.author_name;
    row.commit_message = o.commit.Summary();
    auto row_id = store->AddHistory(row);
    if (row_id.ok()) row.id = *row_id;
    RecordEvent(spec.name, "Normal", "SyncStarted",
                "syncing to " + o.head.substr(0, 7) + " (" + row.trigger +
                    (row.initiator.empty() ? "" : " by " + row.initiator) + ")");

    ApplyResult applied = ApplyAll(spec, o, row.id ? row.id : started_ms);
    changes = std::move(applied.changes);
    failed = applied.failed;
    first_error = std::move(applied.first_error);
    item_message = std::move(applied.item_message);
    interrupted = applied.interrupted;
    hook_changes = std::move(applied.hook_changes);
    flushing = std::move(applied.flush);
    if (!flushing.valid()) record();  // else once the flush is done, after the health stage
  } else {
    report.result = plan.InSync() ? "InSync" : "Skipped";
    report.message =
        plan.InSync()
            ? "in sync"
            : (spec.sync.suspend ? "suspended"
                                 : "not applied: auto-sync does not apply drift (selfHeal is off)");
    if (!plan.InSync() && status.sync == "Synced" && !git_changed) {
      std::string what;
      for (const auto& i : plan.apply)
        if (i.action != Action::kNoop) what += (what.empty() ? "" : ", ") + i.id.ToString();
      for (const auto& i : plan.prune) what += (what.empty() ? "" : ", ") + i.id.ToString();
      RecordEvent(spec.name, "Warning", "DriftDetected", "live state differs from git: " + what);
    }
  }

  status.apply_ms = should_apply ? MonotonicMillis() - t_apply : 0;
  int64_t t_health = MonotonicMillis();
  // Status after this pass: re-observe what changed, assess health.
  target::AppContext ctx = Context(spec, o.desired.get());
  const auto& want = *o.desired;
  // What the apply did at each plan position: ApplyAll reports one change per planned item,
  // in plan order, then the prunes (by key, `changed_keys`, only if that ever stops
  // holding). The change list itself (after a cold sync, 100,000 ids and messages) is
  // freed here, before the health stage.
  std::vector<std::optional<target::ChangeKind>> applied(should_apply ? plan.apply.size() : 0);
  std::unordered_set<std::string> changed_keys;
  bool keyed = false;  // changed_keys built (once: it may well be empty)
  for (size_t k = 0; k < std::min(changes.size(), applied.size()); ++k) {
    if (changes.id(k) == plan.apply[k].id) {
      applied[k] = changes.kind(k);
    } else if (!keyed) {
      keyed = true;
      for (size_t j = 0; j < changes.size(); ++j)
        if (changes.kind(j) != target::ChangeKind::kUnchanged)
          changed_keys.insert(changes.id(j).Key());
    }
  }
  if (!flushing.valid()) changes = ChangeList();  // else recorded below
  auto changed = [&](size_t k) {
    if (keyed) return changed_keys.count(plan.apply[k].id.Key()) > 0;
    return applied[k] && *applied[k] != target::ChangeKind::kUnchanged;
  };
  // Per plan position: in sync after this pass.
  std::vector<bool> item_synced(plan.apply.size());
  for (size_t k = 0; k < plan.apply.size(); ++k) {
    item_synced[k] = plan.apply[k].action == Action::kNoop;
    if (should_apply && applied[k] && *applied[k] != target::ChangeKind::kFailed &&
        *applied[k] != target::ChangeKind::kSkipped)
      item_synced[k] = true;
  }

  // After an apply, look again at what it changed; the rest is as planned. A chunk of plan
  // positions at a time: the live objects of every item of a 100,000-File cold sync, alive
  // at once with their ids and the target's answer, were the peak of the pass's memory.
  // `live` holds what was observed for positions [live_begin, live_end) (`live_at`: plan
  // position - live_begin -> index in `live`, SIZE_MAX: as planned). A chunk whose
  // observation fails is judged as planned.
  constexpr size_t kHealthChunk = 4096;
  std::vector<target::LiveObject> live;
  std::vector<size_t> live_at;
  size_t live_begin = 0;
  size_t live_end = 0;
  auto observe_chunk = [&](size_t begin) {
    live_begin = begin;
    live_end = std::min(plan.apply.size(), begin + kHealthChunk);
    live_at.assign(live_end - live_begin, SIZE_MAX);
    live.clear();
    std::vector<const ResourceId*> again;
    for (size_t k = live_begin; k < live_end; ++k) {
      const PlanItem& item = plan.apply[k];
      if (item.as_applied || !changed(k)) continue;  // as planned
      live_at[k - live_begin] = again.size();
      again.push_back(&item.id.get());
    }
    if (again.empty()) return;
    auto l = target->Observe(ctx, again);
    if (l.ok() && l->size() == again.size()) {
      live = std::move(*l);
    } else {
      std::fill(live_at.begin(), live_at.end(), SIZE_MAX);
    }
  };

  target::HealthStatus app_health = target::HealthStatus::kHealthy;
  std::string health_message;
  std::string health_subject;  // the resource that sets the Application's health
  // The last pass's rows are kept as they are (the same list) when none changed.
  ResourceStatusList::Builder rows(status.resources, plan.apply.size() + plan.prune.size());
  bool all_synced = true;
  for (size_t k = 0; k < plan.apply.size(); ++k) {
    const PlanItem& item = plan.apply[k];
    const Resource& r = want[item.desired_index];
    all_synced &= item_synced[k];
    if (should_apply && k == live_end) observe_chunk(k);
    target::Health h;
    if (item.action == Action::kInvalid) {
      h = {target::HealthStatus::kUnknown, item.error};
    } else if (item.as_applied) {
      h = {target::HealthStatus::kHealthy, ""};
    } else if (should_apply && live_at[k - live_begin] != SIZE_MAX) {
      h = target->AssessHealth(ctx, live[live_at[k - live_begin]]);
    } else {
      h = PlannedHealth(ctx, item);
    }
    auto it = item_message.empty() ? item_message.end() : item_message.find(r.id().Key());
    rows.Add(r.id(), r.origin(), item_synced[k] ? "Synced" : "OutOfSync",
             target::HealthName(h.status), it != item_message.end() ? it->second : h.message);
    if (target::WorseHealth(app_health, h.status) != app_health) {
      app_health = target::WorseHealth(app_health, h.status);
      health_message = r.id().ToString() + ": " + h.message;
      health_subject = r.id().ToString();
    }
  }
  bool prune_left = !plan.prune.empty() && !(should_apply && spec.sync.prune && !failed);
  for (const auto& item : plan.prune) {
    if (!prune_left) break;
    rows.Add(item.id, resource::Origin{}, "OutOfSync", "Unknown",
             spec.sync.prune ? "requires pruning" : "not in git; prune is disabled");
  }
  // The apply ends when its writes are durable: the flush's error fails it, and the time
  // it was waited for here counts as the apply's, not the health stage's. Recorded (history,
  // event) before the health changes it brings are told.
  int64_t flush_waited_ms = 0;
  if (flushing.valid()) {
    prepare_record();  // while the disk works
    const int64_t waited = MonotonicMillis();
    Status flushed = flushing.get();
    flush_waited_ms = MonotonicMillis() - waited;
    status.apply_ms += flush_waited_ms;
    if (!flushed.ok()) {
      interrupted |= flushed.code() == Code::kAborted;
      failed = true;
      if (first_error.empty()) first_error = flushed.message();
    }
    record();
    changes = ChangeList();
  }
  status.resources = rows.Finish();
  status.sync = (all_synced && !prune_left) ? "Synced" : "OutOfSync";
  std::string new_health = target::HealthName(app_health);
  if (new_health != status.health && !status.health.empty() && status.health != "Unknown") {
    // Starting or rolling out is normal; only Degraded and Missing are warnings.
    RecordEvent(spec.name,
                new_health == "Degraded" || new_health == "Missing" ? "Warning" : "Normal",
                new_health == "Healthy"    ? "HealthRecovered"
                : new_health == "Degraded" ? "HealthDegraded"
                                           : "HealthChanged",
                "health " + status.health + " -> " + new_health +
                    (health_message.empty() ? "" : ": " + health_message),
                new_health + " " + health_subject);
  }
  status.health = new_health;
  status.health_message = health_message;
  status.health_ms = MonotonicMillis() - t_health - flush_waited_ms;
  if (failed) {
    status.last_error = first_error;
    status.consecutive_failures++;
  } else {
    status.last_error.clear();
    status.consecutive_failures = 0;
    st.last_error_event.clear();
    if (should_apply || plan.InSync()) status.applied_commit = o.head;
  }
  if (report.result.empty()) report.result = failed ? "Failed" : "Succeeded";
  // Freed before the status is saved, the pass's last and (after a cold sync) largest
  // moment, rather than after it.
  o.plan = Plan();
  std::vector<target::LiveObject>().swap(live);
  finish(status);
  return report;
}

}  // namespace plumb::engine
