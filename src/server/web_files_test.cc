#include "server/web_files.h"

#include <gtest/gtest.h>

namespace plumb::server {
namespace {

TEST(WebFilesTest, IndexAndAssetsAreEmbeddedInPathOrder) {
  auto files = WebFiles();
  ASSERT_FALSE(files.empty());
  for (size_t i = 1; i < files.size(); ++i) EXPECT_LT(files[i - 1].path, files[i].path);
  const WebFile* index = ResolveWebPath("/");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->path, "/index.html");
  EXPECT_NE(index->body.find("<!doctype html>"), std::string_view::npos);
}

// The build joins the modules into one file named after its content, and index.html
// names it: the page loads one module, which browsers may cache for good.
TEST(WebFilesTest, IndexNamesOneBundledModuleAndAHashedStyleSheet) {
  std::string_view html = ResolveWebPath("/")->body;
  size_t js_at = html.find("src=\"/assets/app.");
  ASSERT_NE(js_at, std::string_view::npos) << html;
  std::string js_path(html.substr(js_at + 5, html.find('"', js_at + 5) - js_at - 5));
  const WebFile* js = ResolveWebPath(js_path);
  ASSERT_NE(js, nullptr) << js_path;
  EXPECT_EQ(js->path, js_path);
  EXPECT_EQ(WebCacheControl(*js), "public, max-age=31536000, immutable");
  EXPECT_NE(js->body.find("function appView("), std::string_view::npos);
  EXPECT_NE(js->body.find("function appsView("), std::string_view::npos);
  EXPECT_EQ(js->body.find("\nimport "), std::string_view::npos);
  EXPECT_EQ(js->body.find("\nexport "), std::string_view::npos);
  EXPECT_NE(html.find("href=\"/assets/style."), std::string_view::npos);
  EXPECT_EQ(html.find("/assets/main.js"), std::string_view::npos);
  EXPECT_EQ(WebCacheControl(*ResolveWebPath("/")), "no-cache");
  // The unbundled modules are not served, and no asset falls back to index.html.
  EXPECT_EQ(ResolveWebPath("/assets/main.js"), nullptr);
  EXPECT_EQ(ResolveWebPath("/assets/app.0000000000000000.js"), nullptr);
}

TEST(WebFilesTest, UnknownPathsFallBackToIndexButApiPathsDoNot) {
  const WebFile* f = ResolveWebPath("/applications/web-staging");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->path, "/index.html");
  EXPECT_EQ(ResolveWebPath("/api/v1/nothing"), nullptr);
  EXPECT_EQ(ResolveWebPath("/api"), nullptr);
  EXPECT_EQ(ResolveWebPath("/apiary")->path, "/index.html");
}

TEST(WebFilesTest, ContentTypesFollowTheExtension) {
  EXPECT_EQ(WebContentType("/index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(WebContentType("/assets/main.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(WebContentType("/assets/style.css"), "text/css; charset=utf-8");
  EXPECT_EQ(WebContentType("/favicon.svg"), "image/svg+xml");
  EXPECT_EQ(WebContentType("/blob"), "application/octet-stream");
}

TEST(WebFilesTest, ETagChangesWithTheBytes) {
  WebFile a{"/a", "one"}, b{"/a", "two"};
  EXPECT_EQ(WebETag(a), WebETag(a));
  EXPECT_NE(WebETag(a), WebETag(b));
  EXPECT_EQ(WebETag(a).front(), '"');
}

}  // namespace
}  // namespace plumb::server
