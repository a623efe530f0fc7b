#include "server/task_pool.h"

#include <system_error>
#include <utility>

namespace plumb::server {

TaskPool::TaskPool(size_t max_threads) : max_threads_(max_threads == 0 ? 1 : max_threads) {}

TaskPool::~TaskPool() { Shutdown(); }

void TaskPool::Enqueue(std::function<void()> fn) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return;
  tasks_.push_back(std::move(fn));
  // Every task queued beyond the waiting threads wants a thread of its own.
  if (tasks_.size() > idle_ && threads_.size() < max_threads_) {
    try {
      threads_.emplace_back([this] { Work(); });
    } catch (const std::system_error&) {
      if (threads_.empty()) {  // nobody to run it: here, now
        std::function<void()> task = std::move(tasks_.back());
        tasks_.pop_back();
        lock.unlock();
        task();
        return;
      }
    }
  }
  lock.unlock();
  cv_.notify_one();
}

void TaskPool::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    ++idle_;
    cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
    --idle_;
    if (tasks_.empty()) return;  // stopping, nothing left
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
}

void TaskPool::Shutdown() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (auto& t : threads) t.join();
}

size_t TaskPool::Threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return threads_.size();
}

}  // namespace plumb::server
