#include "pipeline/setters.h"

#include <gtest/gtest.h>

#include <map>

namespace plumb::pipeline {
namespace {

class SettersTest : public ::testing::Test {
 protected:
  SetterResult Apply(const std::string& text) {
    return ApplySetters(text, [this](const std::string& ns, const std::string& name) {
      // Without a namespace, a policy of that name in any namespace.
      for (const auto& [key, image] : policies_) {
        size_t slash = key.find('/');
        std::string key_name = slash == std::string::npos ? key : key.substr(slash + 1);
        if (key_name == name && (ns.empty() || key == ns + "/" + name)) return &image;
      }
      return static_cast<const PolicyImage*>(nullptr);
    });
  }
  std::map<std::string, PolicyImage> policies_ = {
      {"app", {"127.0.0.1:5000/team/app", "1.3.0"}},
      {"flux-system/web", {"ghcr.io/org/web", "2.0.1"}},
  };
};

TEST_F(SettersTest, ParsesMarkers) {
  auto r = ParseSetterComment(R"( {"$imagepolicy": "flux-system:podinfo:tag"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ns, "flux-system");
  EXPECT_EQ(r->name, "podinfo");
  EXPECT_EQ(r->field, SetterRef::Field::kTag);
  r = ParseSetterComment(R"({"$imagepolicy":"app"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ns, "");
  EXPECT_EQ(r->field, SetterRef::Field::kImage);
  r = ParseSetterComment(R"({"$imagepolicy": "app:name"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "app");
  EXPECT_EQ(r->field, SetterRef::Field::kName);
  EXPECT_FALSE(ParseSetterComment(" just a comment"));
  EXPECT_FALSE(ParseSetterComment(R"({"$imagepolicy": ""})"));
  EXPECT_FALSE(ParseSetterComment(R"({"$imagepolicy": "a:b:c:d"})"));
  EXPECT_FALSE(ParseSetterComment(R"({"$other": "app"})"));
}

TEST_F(SettersTest, RewritesOnlyTheMarkedValues) {
  const std::string in =
      "# top comment\r\n"
      "apiVersion: local.plumbline.dev/v1   # keep\n"
      "kind: Process\n"
      "spec:\n"
      "  image: 127.0.0.1:5000/team/app:1.2.0 # {\"$imagepolicy\": \"app\"}\n"
      "  tag:   \"1.2.0\"  # {\"$imagepolicy\": \"app:tag\"}\n"
      "  name: 'old/name'\t# {\"$imagepolicy\": \"app:name\"}\n"
      "  containers:\n"
      "    - image: ghcr.io/org/web:1.0.0 # {\"$imagepolicy\": \"flux-system:web\"}\n"
      "    -   ghcr.io/org/web:1.0.0 # {\"$imagepolicy\": \"web:tag\"}\n"
      "  other: keep # {\"$imagepolicy\": \"nobody\"}\n"
      "  script: |\n"
      "    image: x:1 # {\"$imagepolicy\": \"app\"}\n"
      "  after: 1 # {\"$imagepolicy\": \"app:tag\"}";
  const std::string want =
      "# top comment\r\n"
      "apiVersion: local.plumbline.dev/v1   # keep\n"
      "kind: Process\n"
      "spec:\n"
      "  image: 127.0.0.1:5000/team/app:1.3.0 # {\"$imagepolicy\": \"app\"}\n"
      "  tag:   \"1.3.0\"  # {\"$imagepolicy\": \"app:tag\"}\n"
      "  name: '127.0.0.1:5000/team/app'\t# {\"$imagepolicy\": \"app:name\"}\n"
      "  containers:\n"
      "    - image: ghcr.io/org/web:2.0.1 # {\"$imagepolicy\": \"flux-system:web\"}\n"
      "    -   2.0.1 # {\"$imagepolicy\": \"web:tag\"}\n"
      "  other: keep # {\"$imagepolicy\": \"nobody\"}\n"
      "  script: |\n"
      "    image: x:1 # {\"$imagepolicy\": \"app\"}\n"
      "  after: 1.3.0 # {\"$imagepolicy\": \"app:tag\"}";
  SetterResult r = Apply(in);
  EXPECT_EQ(r.text, want);
  EXPECT_EQ(r.edits.size(), 6u);
  ASSERT_EQ(r.unknown_policies.size(), 1u);
  EXPECT_EQ(r.unknown_policies[0], "nobody");
}

TEST_F(SettersTest, NothingChangesWhenValuesAreCurrent) {
  const std::string in =
      "image: 127.0.0.1:5000/team/app:1.3.0 # {\"$imagepolicy\": \"app\"}\n"
      "note: \"a # not a comment\" # {\"$imagepolicy\": \"app:tag\"}\n"
      "url: http://x/#frag\n";
  SetterResult r = Apply(in);
  EXPECT_EQ(r.edits.size(), 1u);  // the quoted note becomes the tag
  SetterResult again = Apply(r.text);
  EXPECT_TRUE(again.edits.empty());
  EXPECT_EQ(again.text, r.text);
  const std::string plain = "a: b\n# {\"$imagepolicy\": \"app\"}\nkey:\n";
  EXPECT_EQ(Apply(plain).text, plain);
}

}  // namespace
}  // namespace plumb::pipeline
