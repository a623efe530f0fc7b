#include "pipeline/auto_promote.h"

#include <algorithm>
#include <limits>

#include "core/log.h"
#include "pipeline/pipeline.h"

namespace plumb::pipeline {

AutoPromoter::AutoPromoter(engine::Engine* engine, Duration poll) : engine_(engine), poll_(poll) {}

AutoPromoter::~AutoPromoter() { Stop(); }

void AutoPromoter::Start() {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> l(mu_);
    while (!stopping_) {
      l.unlock();
      Tick(MonotonicMillis());
      l.lock();
      cv_.wait_for(l, poll_, [this] { return stopping_; });
    }
  });
}

void AutoPromoter::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AutoPromoter::Tick(int64_t now_ms) {
  // Few Applications promote automatically, if any: pick them, and the environments they
  // promote from, without copying the others. (Copying all of them at every poll kept
  // ≈14% of a CPU busy with 10,000 Applications and nothing to do.)
  const size_t all = std::numeric_limits<size_t>::max();
  std::vector<engine::AppView> targets =
      engine_
          ->ListAppsPage({.limit = all,
                          .match =
                              [](const engine::AppSpec& spec, const engine::AppStatus&) {
                                return spec.promotion.automated && !spec.promotion.from.empty();
                              }})
          .items;
  std::erase_if(watches_, [&](const auto& w) {
    return std::none_of(targets.begin(), targets.end(),
                        [&](const engine::AppView& t) { return t.spec.name == w.first; });
  });
  if (targets.empty()) return;
  // An environment is the Application named `from`, or those on the branch `from`, of the
  // target's repository (ResolveEnvironment picks among these).
  std::vector<engine::AppView> sources =
      engine_
          ->ListAppsPage({.limit = all,
                          .match =
                              [&](const engine::AppSpec& spec, const engine::AppStatus&) {
                                for (const auto& t : targets)
                                  if (spec.repo == t.spec.repo &&
                                      (spec.name == t.spec.promotion.from ||
                                       spec.branch == t.spec.promotion.from))
                                    return true;
                                return false;
                              }})
          .items;
  for (const auto& target : targets) {
    const engine::PromotionPolicy& policy = target.spec.promotion;
    Watch& w = watches_[target.spec.name];
    auto from = ResolveEnvironment(sources, policy.from, target.spec.repo);
    if (!from.ok() || from->apps.empty()) {
      w.commit.clear();
      continue;
    }
    std::string commit = from->apps.front().status.applied_commit;
    if (commit.empty() || !CheckGate(from->apps, commit).passed) {
      w.commit.clear();
      continue;
    }
    if (commit != w.commit) {
      w.commit = commit;
      w.since_ms = now_ms;
    }
    if (now_ms - w.since_ms < policy.after.count() || w.attempted == commit) continue;
    w.attempted = commit;
    auto r = Promote(*engine_, {.from = policy.from,
                                .to = target.spec.name,
                                .commit = commit,
                                .initiator = "auto-promotion",
                                .trigger = "auto"});
    if (!r.ok()) {
      log::Warn("automatic promotion failed: " + r.status().message(),
                {{"app", target.spec.name}, {"from", policy.from}});
      engine_->RecordEvent(
          target.spec.name, "Warning", "PromotionFailed",
          "automatic promotion from " + policy.from + " failed: " + r.status().message());
    }
  }
}

}  // namespace plumb::pipeline
