// server internal: the pool of threads that serves the HTTP API's connections. Threads
// are started as work needs them, up to a maximum, and then kept: an operator that serves
// a few requests has a few threads, not the whole pool made at start (32 threads cost a
// --once run ~3 ms of start and exit on a 2-core machine, beside its first reconcile).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace plumb::server {

class TaskPool {
 public:
  explicit TaskPool(size_t max_threads);
  ~TaskPool();  // Shutdown()
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // Runs `fn` on a waiting thread, or on a new one when none waits and fewer than the
  // maximum run; else it waits for the first thread to be free (connections beyond the
  // maximum queue, as in httplib's own pool). A thread that cannot be started leaves the
  // task queued for the threads there are (with none, it runs here).
  void Enqueue(std::function<void()> fn);
  // Runs what is queued, then joins every thread. Idempotent; Enqueue after it is ignored.
  void Shutdown();
  size_t Threads() const;

 private:
  void Work();

  const size_t max_threads_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;         // GUARDED_BY(mu_)
  size_t idle_ = 0;                          // GUARDED_BY(mu_): threads waiting for a task
  bool stopping_ = false;                    // GUARDED_BY(mu_)
};

}  // namespace plumb::server
