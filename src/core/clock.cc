#include "core/clock.h"

#include <ctime>

namespace plumb {

int64_t MonotonicMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t UnixMillis(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

TimePoint FromUnixMillis(int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

std::string FormatTimeRfc3339(TimePoint t) {
  int64_t ms = UnixMillis(t);
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];  // room for any int the format could print (-Wformat-truncation)
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

Result<Duration> ParseDuration(const std::string& text) {
  auto bad = [&] {
    return InvalidArgument("invalid duration \"" + text +
                           "\": use a number with a unit, like 500ms, 30s, 1m or 1h30m");
  };
  if (text.empty()) return bad();
  bool all_digits = text.find_first_not_of("0123456789") == std::string::npos;
  if (all_digits) {
    if (text.size() > 12) return bad();
    return Duration(std::stoll(text) * 1000);
  }
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (i == start || i - start > 12) return bad();
    double n = std::stod(text.substr(start, i - start));
    size_t ustart = i;
    while (i < text.size() && isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string unit = text.substr(ustart, i - ustart);
    double ms;
    if (unit == "ms")
      ms = n;
    else if (unit == "s")
      ms = n * 1000;
    else if (unit == "m")
      ms = n * 60000;
    else if (unit == "h")
      ms = n * 3600000;
    else if (unit == "d")
      ms = n * 86400000;
    else
      return bad();
    total += static_cast<int64_t>(ms);
  }
  return Duration(total);
}

std::string FormatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  if (ms < 1000 || ms % 1000 != 0) {
    if (ms < 1000) return std::to_string(ms) + "ms";
  }
  std::string out;
  int64_t h = ms / 3600000;
  ms %= 3600000;
  int64_t m = ms / 60000;
  ms %= 60000;
  if (h) out += std::to_string(h) + "h";
  if (m) out += std::to_string(m) + "m";
  if (ms) {
    if (ms % 1000 == 0)
      out += std::to_string(ms / 1000) + "s";
    else
      out += std::to_string(ms) + "ms";
  }
  return out;
}

}  // namespace plumb
