// core: time. A Clock is injected wherever time matters so unit tests can drive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace plumb {

using Duration = std::chrono::milliseconds;
using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
};

// A clock tests move by hand. Thread-safe reads; Advance from the test thread.
class FakeClock : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint(std::chrono::seconds(1700000000))) : now_(start) {}
  TimePoint Now() const override { return now_; }
  void Advance(Duration d) { now_ += d; }

 private:
  TimePoint now_;
};

// Monotonic milliseconds, for measuring durations.
int64_t MonotonicMillis();
int64_t UnixMillis(TimePoint t);
TimePoint FromUnixMillis(int64_t ms);

// "2026-11-26T12:00:00.123Z".
std::string FormatTimeRfc3339(TimePoint t);

// Parses Go/Kubernetes-style durations: "500ms", "30s", "1m", "1h30m", "2h". A bare
// number is seconds. Returns InvalidArgument naming the text on error.
Result<Duration> ParseDuration(const std::string& text);
// Inverse, shortest form: 90000 ms -> "1m30s".
std::string FormatDuration(Duration d);

}  // namespace plumb
