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

// This thread's context fields (in the order first set) and how many scopes are open.
using Context = std::vector<std::pair<std::string, std::string>>;
thread_local Context t_context;
thread_local int t_depth = 0;

void SetIn(Context* ctx, const std::string& key, std::string value) {
  for (auto& [k, v] : *ctx) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  ctx->emplace_back(key, std::move(value));
}

bool HasField(std::initializer_list<Field> fields, const std::string& key) {
  for (const auto& f : fields)
    if (key == f.first) return true;
  return false;
}

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

ScopedContext::ScopedContext(std::initializer_list<Field> fields) : saved_(t_context) {
  ++t_depth;
  for (const auto& [k, v] : fields) SetIn(&t_context, k, v);
}

ScopedContext::~ScopedContext() {
  t_context = std::move(saved_);
  --t_depth;
}

void SetContextField(const char* key, std::string value) {
  if (t_depth > 0) SetIn(&t_context, key, std::move(value));
}

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
  bool json = g_format.load() == Format::kJson;
  auto add = [&](const std::string& k, const std::string& v) {
    if (json) {
      line += "," + JsonQuote(k) + ":" + JsonQuote(v);
    } else {
      line += " " + k + "=";
      line += v.find_first_of(" \"=\n") == std::string::npos ? v : JsonQuote(v);
    }
  };
  if (json)
    line = "{\"time\":" + JsonQuote(ts) + ",\"level\":\"" + LevelName(level) +
           "\",\"msg\":" + JsonQuote(message);
  else
    line = ts + " " + LevelName(level) + " " + message;
  for (const auto& [k, v] : t_context)
    if (!HasField(fields, k)) add(k, v);
  for (const auto& [k, v] : fields) add(k, v);
  line += json ? "}\n" : "\n";
  std::lock_guard<std::mutex> lock(g_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace plumb::log
