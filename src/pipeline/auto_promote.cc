#include "pipeline/auto_promote.h"

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
  std::vector<engine::AppView> apps = engine_->ListApps();
  for (const auto& target : apps) {
    const engine::PromotionPolicy& policy = target.spec.promotion;
    if (!policy.automated || policy.from.empty()) {
      watches_.erase(target.spec.name);
      continue;
    }
    Watch& w = watches_[target.spec.name];
    auto from = ResolveEnvironment(apps, policy.from, target.spec.repo);
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
