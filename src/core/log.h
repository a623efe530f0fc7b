// core: structured logging to stderr, as text or JSON lines. Thread-safe.
// Never pass secret values in fields or messages: callers mask first.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace plumb::log {

enum class Level { kDebug = 0, kInfo, kWarn, kError };
enum class Format { kText, kJson };

void SetLevel(Level level);
void SetFormat(Format format);
// Parses "debug|info|warn|error" / "text|json"; false when unknown.
bool ParseLevel(const std::string& s, Level* out);
bool ParseFormat(const std::string& s, Format* out);

using Field = std::pair<const char*, std::string>;

// Fields added to every line the calling thread writes while the scope lives, such as
// the Application and commit of the reconcile it runs. Scopes nest: an inner scope adds
// or overrides fields and the outer ones come back when it ends. A line's own fields win
// over the context's. Other threads never see this thread's context.
class ScopedContext {
 public:
  explicit ScopedContext(std::initializer_list<Field> fields);
  ~ScopedContext();
  ScopedContext(const ScopedContext&) = delete;
  ScopedContext& operator=(const ScopedContext&) = delete;

 private:
  std::vector<std::pair<std::string, std::string>> saved_;
};

// Sets one field of the calling thread's innermost ScopedContext (e.g. the commit once it
// is resolved, deeper than where the scope was opened); it lasts until that scope ends.
// Does nothing when the thread has no scope open.
void SetContextField(const char* key, std::string value);

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
