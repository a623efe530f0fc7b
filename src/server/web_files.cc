#include "server/web_files.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace plumb::server {
namespace {
bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

const WebFile* Find(std::string_view path) {
  auto files = WebFiles();
  auto it = std::lower_bound(files.begin(), files.end(), path,
                             [](const WebFile& f, std::string_view p) { return f.path < p; });
  return it != files.end() && it->path == path ? &*it : nullptr;
}
}  // namespace

std::string_view WebContentType(std::string_view path) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".json", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (const auto& [ext, type] : kTypes)
    if (EndsWith(path, ext)) return type;
  return "application/octet-stream";
}

const WebFile* ResolveWebPath(std::string_view path) {
  if (path == "/api" || path.starts_with("/api/")) return nullptr;
  if (path != "/" && path != "/index.html")
    if (const WebFile* f = Find(path)) return f;
  if (path.starts_with("/assets/")) return nullptr;
  return Find("/index.html");
}

std::string_view WebCacheControl(const WebFile& file) {
  if (file.path.starts_with("/assets/")) return "public, max-age=31536000, immutable";
  return "no-cache";
}

std::string WebETag(const WebFile& file) {
  // FNV-1a, 64 bits: the files change only with the binary, so any stable hash will do.
  uint64_t h = 1469598103934665603ull;
  for (char c : file.body) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace plumb::server
