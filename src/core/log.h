// core: structured logging to stderr, as text or JSON lines. Thread-safe.
// Never pass secret values in fields or messages: callers mask first.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>

namespace plumb::log {

enum class Level { kDebug = 0, kInfo, kWarn, kError };
enum class Format { kText, kJson };

void SetLevel(Level level);
void SetFormat(Format format);
// Parses "debug|info|warn|error" / "text|json"; false when unknown.
bool ParseLevel(const std::string& s, Level* out);
bool ParseFormat(const std::string& s, Format* out);

using Field = std::pair<const char*, std::string>;

void Write(Level level, const std::string& message, std::initializer_list<Field> fields = {});
inline void Debug(const std::string& m, std::initializer_list<Field> f = {}) {
  Write(Level::kDebug, m, f);
}
inline void Info(const std::string& m, std::initializer_list<Field> f = {}) {
  Write(Level::kInfo, m, f);
}
inline void Warn(const std::string& m, std::initializer_list<Field> f = {}) {
  Write(Level::kWarn, m, f);
}
inline void Error(const std::string& m, std::initializer_list<Field> f = {}) {
  Write(Level::kError, m, f);
}

}  // namespace plumb::log
