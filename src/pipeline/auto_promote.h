// pipeline: automatic promotion. An Application with `spec.promotion {from: staging,
// auto: true, after: 10m}` gets `staging` promoted into its environment once staging
// has been Synced and Healthy at one commit for `after` (timed from when this operator
// first saw it so; a restart starts the wait again). Each commit is tried once: a gate
// that fails later or a conflict waits for the next commit (or `plumb promote`).
//
// Thread-safety: Start/Stop from one thread; Tick is called by the background thread
// (or a test) and must not run concurrently with itself.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.h"
#include "engine/engine.h"

namespace plumb::pipeline {

class AutoPromoter {
 public:
  // `engine` must outlive this. `poll` is how often the Applications are looked at.
  AutoPromoter(engine::Engine* engine, Duration poll = Duration(250));
  ~AutoPromoter();
  void Start();
  void Stop();  // idempotent; waits for a running promotion
  // One look at every Application with an automatic promotion, at `now_ms` (monotonic).
  void Tick(int64_t now_ms);

 private:
  struct Watch {
    std::string commit;     // staging's commit while it stays Synced and Healthy
    int64_t since_ms = 0;   // when it was first seen so
    std::string attempted;  // the last commit tried (never twice)
  };
  engine::Engine* engine_;
  Duration poll_;
  std::map<std::string, Watch> watches_;  // by target Application; only Tick's thread
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace plumb::pipeline
