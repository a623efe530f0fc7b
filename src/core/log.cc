#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "core/clock.h"
#include "core/strings.h"

namespace plumb::log {
namespace {
std::atomic<Level> g_level{Level::kInfo};
std::atomic<Format> g_format{Format::kText};
std::mutex g_mu;

const char* LevelName(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}
}  // namespace

void SetLevel(Level level) { g_level = level; }
void SetFormat(Format format) { g_format = format; }

bool ParseLevel(const std::string& s, Level* out) {
  if (s == "debug")
    *out = Level::kDebug;
  else if (s == "info")
    *out = Level::kInfo;
  else if (s == "warn")
    *out = Level::kWarn;
  else if (s == "error")
    *out = Level::kError;
  else
    return false;
  return true;
}

bool ParseFormat(const std::string& s, Format* out) {
  if (s == "text")
    *out = Format::kText;
  else if (s == "json")
    *out = Format::kJson;
  else
    return false;
  return true;
}

void Write(Level level, const std::string& message, std::initializer_list<Field> fields) {
  if (level < g_level.load()) return;
  std::string line;
  std::string ts = FormatTimeRfc3339(SystemClock().Now());
  if (g_format.load() == Format::kJson) {
    line = "{\"time\":" + JsonQuote(ts) + ",\"level\":\"" + LevelName(level) +
           "\",\"msg\":" + JsonQuote(message);
    for (const auto& [k, v] : fields) line += "," + JsonQuote(k) + ":" + JsonQuote(v);
    line += "}\n";
  } else {
    line = ts + " " + LevelName(level) + " " + message;
    for (const auto& [k, v] : fields) {
      line += std::string(" ") + k + "=";
      line += v.find_first_of(" \"=\n") == std::string::npos ? v : JsonQuote(v);
    }
    line += "\n";
  }
  std::lock_guard<std::mutex> lock(g_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace plumb::log
