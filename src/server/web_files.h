// The dashboard's static files (web/static), embedded into the binary at build time by
// embed_web.cmake, and how the server answers for them. Included by server.cc and the
// generated web_files.cc only, so the file bytes stay out of every other unit.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace plumb::server {

struct WebFile {
  std::string_view path;  // "/index.html", "/assets/app.js"
  std::string_view body;
};

// Every embedded file, sorted by path. Defined in the generated web_files.cc.
std::span<const WebFile> WebFiles();

// The Content-Type for a file name by its extension; application/octet-stream when unknown.
std::string_view WebContentType(std::string_view path);

// What a GET of `path` (no query) serves: the file itself, "/" and every path that names no
// file serve /index.html (the dashboard routes in the browser). Returns nullptr when no
// index.html is embedded, for paths under /api/, which are never the dashboard's, and for
// unknown paths under /assets/ (a module of an older build must not get index.html).
const WebFile* ResolveWebPath(std::string_view path);

// The Cache-Control for a served file: files under /assets/ are named after their content
// (bundle_web.cmake), so browsers keep them for a year without asking again; every other
// file (index.html, which names the assets) is revalidated on each load.
std::string_view WebCacheControl(const WebFile& file);

// A strong validator for a file's bytes: a quoted hex hash.
std::string WebETag(const WebFile& file);

}  // namespace plumb::server
