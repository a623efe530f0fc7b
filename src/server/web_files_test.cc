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
  const WebFile* js = ResolveWebPath("/assets/main.js");
  ASSERT_NE(js, nullptr);
  EXPECT_EQ(js->path, "/assets/main.js");
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
