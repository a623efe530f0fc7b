// The apply stage of one reconcile pass: PreSync hooks -> apply wave by wave (waiting
// for each wave to leave Progressing) -> prune -> flush -> wait for health and run the
// PostSync hooks -> on failure, the SyncFail hooks. Each step checks `cancel`, so the
// operator stops between steps.
#include <algorithm>
#include <system_error>

#include "core/log.h"
#include "engine/engine_impl.h"

namespace plumb::engine {
using resource::Resource;
using resource::ResourceId;
using resource::Value;

namespace {
constexpr int64_t kFirstPollMs = 50;
// A hook with activeDeadlineSeconds gets this much more, so the target's own deadline
// (which stops the run and says why) normally reports first.
constexpr Duration kHookDeadlineGrace = Duration(2000);

Value HookChange(const target::Change& c, HookPhase phase) {
  Value v = ChangeToValue(c);
  v.Set("hook", HookPhaseName(phase));
  return v;
}

// A copy of `hook` marked with this run, so the target starts it again.
Resource MarkRun(const Resource& hook, int64_t run_id) {
  Resource run = hook;
  Value* md = run.mutable_body().Find("metadata");
  if (!md) return run;  // Resource::FromValue guarantees metadata; defensive only
  Value* ann = md->Find("annotations");
  if (!ann || !ann->is_object()) ann = &md->Set("annotations", Value::EmptyObject());
  ann->Set(kHookRunAnnotation, std::to_string(run_id));
  return run;
}
}  // namespace

void Engine::Impl::Wake() {
  std::lock_guard<std::mutex> l(wake_mu);
  ++wake_seq;
  wake_cv.notify_all();
}

Result<Engine::Impl::Waited> Engine::Impl::WaitSettled(const target::AppContext& ctx,
                                                       const std::vector<ResourceId>& ids,
                                                       const std::vector<int64_t>& deadline_ms,
                                                       bool hooks) {
  Waited w;
  w.health.resize(ids.size());
  w.timed_out.assign(ids.size(), false);
  std::vector<bool> settled(ids.size(), false);
  int64_t poll = kFirstPollMs;
  while (true) {
    int64_t seen;
    {
      std::lock_guard<std::mutex> l(wake_mu);
      seen = wake_seq;
    }
    std::vector<ResourceId> ask;
    std::vector<size_t> at;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (settled[i]) continue;
      ask.push_back(ids[i]);
      at.push_back(i);
    }
    if (ask.empty()) return w;
    auto live = target->Observe(ctx, ask);
    if (live.ok()) {
      for (size_t j = 0; j < live->size() && j < at.size(); ++j) {
        target::Health h = target->AssessHealth(ctx, (*live)[j]);
        if (SettleOf(h.status, hooks) != Settle::kWaiting) settled[at[j]] = true;
        w.health[at[j]] = std::move(h);
      }
    } else {  // a transient failure to look: keep waiting until the deadline
      for (size_t i : at)
        w.health[i] = {target::HealthStatus::kProgressing,
                       "cannot observe: " + live.status().message()};
    }
    int64_t now = MonotonicMillis();
    int64_t next_deadline = INT64_MAX;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (settled[i]) continue;
      if (now >= deadline_ms[i]) {
        settled[i] = true;
        w.timed_out[i] = true;
      } else {
        next_deadline = std::min(next_deadline, deadline_ms[i]);
      }
    }
    if (next_deadline == INT64_MAX) return w;
    std::unique_lock<std::mutex> l(wake_mu);
    wake_cv.wait_for(l, Duration(std::max<int64_t>(1, std::min(poll, next_deadline - now))),
                     [&] { return cancel || wake_seq != seen; });
    if (cancel) return Aborted("the operator stopped during this reconcile");
    poll = std::min<int64_t>(poll * 2,
                             std::max<int64_t>(kFirstPollMs, options.health_poll_max.count()));
  }
}

Status Engine::Impl::RunHooks(HookPhase phase, const AppSpec& spec, const target::AppContext& ctx,
                              const std::vector<Resource>& hooks, int64_t run_id,
                              std::vector<Value>* changes) {
  const std::string phase_name = HookPhaseName(phase);
  for (const auto& group : HookGroups(hooks, phase)) {
    if (cancel) return Aborted("the operator stopped during this reconcile");
    std::string failure;
    auto failed = [&](const target::Change& c, const std::string& what, const std::string& why) {
      RecordEvent(spec.name, "Warning", "HookFailed", what + " failed: " + why);
      target::Change f = c;
      f.kind = target::ChangeKind::kFailed;
      f.message = phase_name + " hook failed: " + why;
      changes->push_back(HookChange(f, phase));
      if (failure.empty()) failure = what + " failed: " + why;
    };
    std::vector<ResourceId> ids;
    std::vector<int64_t> deadlines;
    std::vector<Duration> limits;
    std::vector<target::Change> started;
    for (size_t i : group) {
      const Resource& hook = hooks[i];
      std::string what = phase_name + " hook " + hook.id().ToString();
      RecordEvent(spec.name, "Normal", "HookStarted",
                  what + " started (run " + std::to_string(run_id) + ")");
      auto applied = target->Apply(ctx, MarkRun(hook, run_id));
      if (!applied.ok()) {
        failed({.id = hook.id()}, what,
               hook.origin().ToString() + ": " + applied.status().message());
        continue;
      }
      MaybeCrash();
      Duration limit = HookDeadline(hook, options.hook_timeout, kHookDeadlineGrace);
      ids.push_back(hook.id());
      limits.push_back(limit);
      deadlines.push_back(MonotonicMillis() + limit.count());
      started.push_back(*applied);
    }
    if (!ids.empty()) {
      auto waited = WaitSettled(ctx, ids, deadlines, /*hooks=*/true);
      if (!waited.ok()) {
        for (auto c : started) {
          c.message = phase_name + " hook interrupted: the operator stopped";
          changes->push_back(HookChange(c, phase));
        }
        return waited.status();
      }
      for (size_t j = 0; j < ids.size(); ++j) {
        std::string what = phase_name + " hook " + ids[j].ToString();
        const target::Health& h = waited->health[j];
        if (waited->timed_out[j]) {
          failed(started[j], what,
                 "still running after " + FormatDuration(limits[j]) +
                     (h.message.empty() ? "" : " (" + h.message + ")"));
        } else if (SettleOf(h.status, true) == Settle::kFailed) {
          failed(started[j], what,
                 h.message.empty() ? std::string("health ") + target::HealthName(h.status)
                                   : h.message);
        } else {
          RecordEvent(spec.name, "Normal", "HookSucceeded",
                      what + " succeeded" + (h.message.empty() ? "" : ": " + h.message));
          target::Change c = started[j];
          c.message = phase_name + " hook succeeded";
          changes->push_back(HookChange(c, phase));
        }
      }
    }
    if (!failure.empty()) return FailedPrecondition(failure);
  }
  return Status::Ok();
}

namespace {
// Turns what a wait saw into the first problem, naming `stage` ("sync wave -1", "health").
Status Judge(const std::string& stage, const std::vector<ResourceId>& ids,
             const std::vector<target::Health>& health, const std::vector<bool>& timed_out,
             Duration limit) {
  std::vector<std::string> problems;
  for (size_t i = 0; i < ids.size(); ++i) {
    const target::Health& h = health[i];
    std::string msg = h.message.empty() ? "" : ": " + h.message;
    if (timed_out[i])
      problems.push_back(ids[i].ToString() + " still Progressing after " + FormatDuration(limit) +
                         msg);
    else if (SettleOf(h.status, false) == Settle::kFailed)
      problems.push_back(ids[i].ToString() + " is " + target::HealthName(h.status) + msg);
  }
  if (problems.empty()) return Status::Ok();
  std::string all;
  for (const auto& p : problems) all += (all.empty() ? "" : "; ") + p;
  return FailedPrecondition(stage + ": " + all);
}
}  // namespace

Status Engine::Impl::WaitHealthy(const std::string& stage, const target::AppContext& ctx,
                                 std::vector<ResourceId> ids, std::vector<ResourceId> known,
                                 std::vector<target::Health> known_health) {
  std::vector<bool> timed_out(known.size(), false);
  if (!ids.empty()) {
    std::vector<int64_t> deadlines(ids.size(), MonotonicMillis() + options.health_timeout.count());
    ASSIGN_OR_RETURN(Waited waited, WaitSettled(ctx, ids, deadlines, /*hooks=*/false));
    known.insert(known.end(), ids.begin(), ids.end());
    known_health.insert(known_health.end(), waited.health.begin(), waited.health.end());
    timed_out.insert(timed_out.end(), waited.timed_out.begin(), waited.timed_out.end());
  }
  return Judge(stage, known, known_health, timed_out, options.health_timeout);
}

Status Engine::Impl::GateWave(const target::AppContext& ctx, const std::string& stage,
                              const Plan& plan, const std::vector<size_t>& items,
                              const ChangeList& changes) {
  std::vector<ResourceId> wait;
  std::vector<ResourceId> known;
  std::vector<target::Health> known_health;
  for (size_t k : items) {
    const PlanItem& item = plan.apply[k];
    target::ChangeKind kind = changes.kind(k);
    if (kind == target::ChangeKind::kCreated || kind == target::ChangeKind::kConfigured) {
      wait.push_back(item.id);
    } else if (kind == target::ChangeKind::kUnchanged) {
      // Not applied now, but its wave must still be done: judge it as planned.
      target::Health h = PlannedHealth(ctx, item);
      if (h.status == target::HealthStatus::kProgressing) {
        wait.push_back(item.id);
      } else {
        known.push_back(item.id);
        known_health.push_back(std::move(h));
      }
    }
  }
  return WaitHealthy(stage, ctx, std::move(wait), std::move(known), std::move(known_health));
}

void ChangeList::Add(bool prune, size_t index, target::Change c) {
  const PlanItem& item = prune ? plan_->prune[index] : plan_->apply[index];
  if (c.id != item.id) other_ids_.emplace(entries_.size(), std::move(c.id));
  entries_.push_back({.index = static_cast<uint32_t>(index),
                      .prune = prune,
                      .kind = c.kind,
                      .message = std::move(c.message)});
}

const ResourceId& ChangeList::id(size_t k) const {
  if (!other_ids_.empty()) {
    auto it = other_ids_.find(k);
    if (it != other_ids_.end()) return it->second;
  }
  const Entry& e = entries_[k];
  return e.prune ? plan_->prune[e.index].id : plan_->apply[e.index].id;
}

Status Engine::Impl::Flush() {
  Status flushed = target->Flush();
  if (flushed.ok() && options.fault == "flush-error")
    return Unavailable("syncfs: Input/output error (injected: PLUMB_FAULT=flush-error)");
  return flushed;
}

Engine::Impl::ApplyResult Engine::Impl::ApplyAll(const AppSpec& spec, const Observed& o,
                                                 int64_t run_id) {
  const Plan& plan = o.plan;
  ApplyResult r{.changes = ChangeList(&plan)};
  // One Change per planned item: exact room, not up to twice that from doubling.
  r.changes.reserve(plan.apply.size() + plan.prune.size());
  const std::vector<Resource>& want = *o.desired;
  target::AppContext ctx = Context(spec, o.desired.get());
  auto fail_with = [&](const std::string& message) {
    r.failed = true;
    if (r.first_error.empty()) r.first_error = message;
  };
  auto fail = [&](const Status& s) {
    r.interrupted |= s.code() == Code::kAborted;
    fail_with(s.message());
  };
  Status pre = RunHooks(kPreSync, spec, ctx, o.hooks, run_id, &r.hook_changes);
  if (!pre.ok()) {
    fail(pre);
    for (const auto& item : plan.apply)
      if (item.action != Action::kNoop)
        r.item_message[item.id.Key()] = "not applied: " + pre.message();
  } else {
    std::vector<int> waves;
    waves.reserve(plan.apply.size());
    for (const auto& item : plan.apply) {
      size_t i = static_cast<size_t>(item.desired_index);
      waves.push_back(i < o.waves.size() ? o.waves[i] : SyncWaveOf(want[i]));
    }
    std::vector<size_t> starts = WaveStarts(waves);
    size_t next_start = 0;
    // Whether anything from index k on is to be applied: a wave boundary with nothing
    // after it to apply needs no waiting.
    std::vector<bool> work_from(plan.apply.size() + 1, false);
    for (size_t k = plan.apply.size(); k-- > 0;)
      work_from[k] = work_from[k + 1] || plan.apply[k].action != Action::kNoop;
    std::vector<size_t> earlier;  // items of the waves before this one, not yet gated
    std::string skip_reason;      // set once a wave fails: the rest is not applied
    for (size_t k = 0; k < plan.apply.size(); ++k) {
      const PlanItem& item = plan.apply[k];
      if (next_start < starts.size() && k == starts[next_start]) {
        ++next_start;
        std::string stage = "sync wave " + std::to_string(waves[k - 1]);
        if (skip_reason.empty() && work_from[k]) {
          Status s = r.failed ? FailedPrecondition(stage + " failed")
                              : GateWave(ctx, stage, plan, earlier, r.changes);
          if (!s.ok()) {
            fail(s);
            if (r.interrupted) break;
            skip_reason = "not applied: " + s.message();
          }
        }
        earlier.clear();
      }
      if (cancel) {  // the operator is stopping: the next start finishes the job
        fail(Aborted("the operator stopped during this reconcile"));
        break;
      }
      target::Change c;
      c.id = item.id;
      if (item.action == Action::kNoop) {
        c.kind = target::ChangeKind::kUnchanged;
      } else if (!skip_reason.empty()) {
        c.kind = target::ChangeKind::kSkipped;
        c.message = skip_reason;
        r.item_message[c.id.Key()] = skip_reason;
      } else if (item.action == Action::kInvalid) {
        c.kind = target::ChangeKind::kFailed;
        c.message = item.error;
      } else {
        const Resource& res = want[item.desired_index];
        auto applied = target->Apply(ctx, res);
        if (applied.ok()) {
          c = *applied;
          MaybeCrash();
        } else {
          c.kind = target::ChangeKind::kFailed;
          c.message = AtOrigin(res, applied.status().message());
        }
      }
      if (c.kind == target::ChangeKind::kFailed) {
        fail_with(c.message);
        r.item_message[c.id.Key()] = c.message;
      }
      earlier.push_back(k);
      r.changes.Add(/*prune=*/false, k, std::move(c));
    }
    // New files the target staged are in place before anything is pruned; any it could
    // not put in place fail the apply (so nothing is pruned in their stead).
    if (Status settled = target->Settle(ctx); !settled.ok()) fail_with(settled.message());
    for (size_t k = 0; k < plan.prune.size(); ++k) {
      const PlanItem& item = plan.prune[k];
      if (r.interrupted) break;
      target::Change c;
      c.id = item.id;
      if (!spec.sync.prune) {
        c.kind = target::ChangeKind::kSkipped;
        c.message = "not in git; prune is disabled";
      } else if (r.failed) {
        c.kind = target::ChangeKind::kSkipped;
        c.message = "prune skipped: an apply failed in this reconcile";
      } else {
        auto removed = target->Remove(ctx, item.id);
        if (removed.ok()) {
          c = *removed;
        } else {
          c.kind = target::ChangeKind::kFailed;
          c.message = removed.status().message();
          fail_with("prune " + item.id.ToString() + ": " + c.message);
        }
      }
      r.changes.Add(/*prune=*/true, k, std::move(c));
    }
  }
  bool has_post = !HookGroups(o.hooks, kPostSync).empty();
  // Nothing runs after the flush: it goes on beside the caller's health stage (a cold sync
  // of 1,000 Files spends ~18 ms in syncfs), see ApplyResult::flush.
  if (!has_post && HookGroups(o.hooks, kSyncFail).empty() && r.hook_changes.empty() &&
      plan.apply.size() + plan.prune.size() <= kFlushAsideItems) {
    try {
      r.flush = std::async(std::launch::async, [this] { return Flush(); });
      return r;
    } catch (const std::system_error&) {
      // No thread to be had: flushed here.
    }
  }
  Status flushed = Flush();
  if (!flushed.ok()) fail(flushed);

  if (!r.failed && has_post) {
    std::vector<ResourceId> applied;
    for (size_t k = 0; k < r.changes.size(); ++k)
      if (r.changes.kind(k) == target::ChangeKind::kCreated ||
          r.changes.kind(k) == target::ChangeKind::kConfigured)
        applied.push_back(r.changes.id(k));
    Status s = WaitHealthy("health", ctx, applied, {}, {});
    if (s.ok()) s = RunHooks(kPostSync, spec, ctx, o.hooks, run_id, &r.hook_changes);
    if (!s.ok()) fail(s);
  }
  if (r.failed && !r.interrupted) {
    Status s = RunHooks(kSyncFail, spec, ctx, o.hooks, run_id, &r.hook_changes);
    if (!s.ok()) log::Warn("SyncFail hook failed", {{"app", spec.name}, {"error", s.message()}});
    if (s.code() == Code::kAborted) r.interrupted = true;
  }
  if (!r.hook_changes.empty()) {
    if (Status s = target->Settle(ctx); !s.ok()) fail(s);
    (void)target->Flush();
  }
  return r;
}

}  // namespace plumb::engine
