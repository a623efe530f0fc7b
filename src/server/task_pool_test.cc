#include "server/task_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace plumb::server {
namespace {

// A gate the tasks wait at until the test opens it.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int waiting = 0;
  void Wait() {
    std::unique_lock<std::mutex> l(mu);
    ++waiting;
    cv.notify_all();
    cv.wait(l, [this] { return open; });
  }
  // Polls with a deadline: true once `n` tasks wait at the gate.
  bool WaitForWaiting(int n) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(10), [&] { return waiting >= n; });
  }
  void Open() {
    std::lock_guard<std::mutex> l(mu);
    open = true;
    cv.notify_all();
  }
};

TEST(TaskPoolTest, StartsThreadsAsTasksNeedThemUpToTheMaximum) {
  TaskPool pool(3);
  EXPECT_EQ(pool.Threads(), 0u);  // nothing made before the first task
  Gate gate;
  std::atomic<int> done{0};
  for (int i = 0; i < 5; ++i)
    pool.Enqueue([&] {
      gate.Wait();
      ++done;
    });
  // Three run at once (the maximum); the other two wait in the queue.
  ASSERT_TRUE(gate.WaitForWaiting(3));
  EXPECT_EQ(pool.Threads(), 3u);
  gate.Open();
  pool.Shutdown();  // runs what is queued, then joins
  EXPECT_EQ(done.load(), 5);
  EXPECT_EQ(pool.Threads(), 0u);
  pool.Enqueue([&] { ++done; });  // ignored once shut down
  EXPECT_EQ(done.load(), 5);
}

TEST(TaskPoolTest, AFreeThreadTakesTheNextTaskInsteadOfANewThread) {
  TaskPool pool(8);
  for (int i = 0; i < 20; ++i) {
    std::atomic<bool> ran{false};
    pool.Enqueue([&] { ran = true; });
    // One task at a time, each finished before the next: one thread serves them all.
    for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
         !ran && std::chrono::steady_clock::now() < end;)
      std::this_thread::yield();
    ASSERT_TRUE(ran);
  }
  // The thread that ran a task may not be waiting yet when the next arrives: a second
  // thread then, never one per task.
  EXPECT_LE(pool.Threads(), 2u);
}

}  // namespace
}  // namespace plumb::server
