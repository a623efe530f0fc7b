#include "pipeline/image_objects.h"

#include <gtest/gtest.h>

#include "resource/codec.h"

namespace plumb::pipeline {
namespace {

resource::Resource Parse(const std::string& yaml) {
  auto docs = resource::ParseYaml(yaml, "images.yaml");
  EXPECT_TRUE(docs.ok()) << docs.status().message();
  auto r = resource::Resource::FromValue((*docs)[0].value, {"images.yaml", 1});
  EXPECT_TRUE(r.ok()) << r.status().message();
  return *r;
}

TEST(ImageObjectsTest, ReadsFluxFields) {
  auto repo = ImageRepositoryFromResource(Parse(
      "apiVersion: plumbline.dev/v1\nkind: ImageRepository\nmetadata: {name: web}\n"
      "spec: {image: ghcr.io/org/web, interval: 5m, insecure: true, secretRef: {name: reg}}\n"));
  ASSERT_TRUE(repo.ok()) << repo.status().message();
  EXPECT_EQ(repo->image, "ghcr.io/org/web");
  EXPECT_EQ(repo->interval, Duration(300000));
  EXPECT_TRUE(repo->insecure);
  EXPECT_EQ(repo->secret_ref, "reg");
  auto policy = ImagePolicyFromResource(
      Parse("apiVersion: plumbline.dev/v1\nkind: ImagePolicy\nmetadata: {name: web}\n"
            "spec:\n  imageRepositoryRef: {name: web}\n  policy: {numerical: {order: desc}}\n"
            "  filterTags: {pattern: '^b-(?P<n>[0-9]+)$', extract: '$n'}\n"));
  ASSERT_TRUE(policy.ok()) << policy.status().message();
  EXPECT_EQ(policy->policy.kind, PolicySpec::Kind::kNumerical);
  EXPECT_TRUE(policy->policy.descending);
  EXPECT_EQ(policy->policy.extract, "$n");
  auto automation = ImageUpdateAutomationFromResource(
      Parse("apiVersion: plumbline.dev/v1\nkind: ImageUpdateAutomation\nmetadata: {name: a}\n"
            "spec:\n  git:\n    commit: {author: {name: Bot, email: bot@x}}\n"
            "    push: {branch: staging}\n  update: {path: ./apps/web/, strategy: Setters}\n"));
  ASSERT_TRUE(automation.ok()) << automation.status().message();
  EXPECT_EQ(automation->push_branch, "staging");
  EXPECT_EQ(automation->author_name, "Bot");
  EXPECT_EQ(automation->path, "apps/web");
}

TEST(ImageObjectsTest, ErrorsNameFileAndField) {
  auto policy = ImagePolicyFromResource(
      Parse("apiVersion: plumbline.dev/v1\nkind: ImagePolicy\nmetadata: {name: web}\n"
            "spec:\n  imageRepositoryRef: {name: web}\n  policy: {semver: {range: '^banana'}}\n"));
  ASSERT_FALSE(policy.ok());
  EXPECT_NE(policy.status().message().find("images.yaml:1"), std::string::npos);
  EXPECT_NE(policy.status().message().find("^banana"), std::string::npos);
  EXPECT_FALSE(
      ImageRepositoryFromResource(Parse("apiVersion: plumbline.dev/v1\nkind: ImageRepository\n"
                                        "metadata: {name: web}\nspec: {interval: soon}\n"))
          .ok());
  EXPECT_FALSE(ImageUpdateAutomationFromResource(
                   Parse("apiVersion: plumbline.dev/v1\nkind: ImageUpdateAutomation\n"
                         "metadata: {name: a}\nspec: {update: {path: ../out}}\n"))
                   .ok());
}

TEST(CommitMessageTest, RendersFluxTemplateSubset) {
  std::vector<ImageChange> changes = {
      {.file = "a.yaml",
       .line = 3,
       .policy = "web",
       .old_value = "r/web:1",
       .new_value = "r/web:2"},
      {.file = "a.yaml", .line = 9, .policy = "web", .old_value = "1", .new_value = "2"}};
  EXPECT_EQ(RenderCommitMessage("Update by {{ .AutomationObject }}\n"
                                "{{ range .Updated.Images }}- {{ . }}\n{{ end }}",
                                "default/auto", changes),
            "Update by default/auto\n- r/web:2\n");
  EXPECT_EQ(RenderCommitMessage("{{range .Changed.Changes}}{{.OldValue}} -> {{.NewValue}};"
                                "{{end}}",
                                "x/y", changes),
            "r/web:1 -> r/web:2;1 -> 2;");
  std::string fallback = RenderCommitMessage("", "x/y", changes);
  EXPECT_EQ(fallback.rfind("Update from image update automation", 0), 0u);
  EXPECT_NE(fallback.find("a.yaml:3: r/web:1 -> r/web:2"), std::string::npos);
}

}  // namespace
}  // namespace plumb::pipeline
