#include "pipeline/policy.h"

#include <gtest/gtest.h>

#include "pipeline/semver.h"

namespace plumb::pipeline {
namespace {

bool InRange(const std::string& range, const std::string& version) {
  auto r = VersionRange::Parse(range);
  EXPECT_TRUE(r.ok()) << range << ": " << r.status().message();
  auto v = ParseVersion(version);
  EXPECT_TRUE(v.has_value()) << version;
  return r.ok() && v && r->Matches(*v);
}

TEST(SemverTest, ParsesLooseVersions) {
  EXPECT_TRUE(ParseVersion("1.2.3"));
  EXPECT_TRUE(ParseVersion("v1.2.3-rc.1+build.5"));
  EXPECT_TRUE(ParseVersion("1.2"));
  EXPECT_TRUE(ParseVersion("7"));
  EXPECT_FALSE(ParseVersion("latest"));
  EXPECT_FALSE(ParseVersion("1.2.3.4"));
  EXPECT_FALSE(ParseVersion("1..2"));
  EXPECT_FALSE(ParseVersion("1.2.3-"));
  EXPECT_FALSE(ParseVersion(""));
}

TEST(SemverTest, OrdersAsSemver) {
  auto cmp = [](const char* a, const char* b) {
    return CompareVersions(*ParseVersion(a), *ParseVersion(b));
  };
  EXPECT_LT(cmp("1.2.3", "1.10.0"), 0);
  EXPECT_LT(cmp("1.3.0-rc1", "1.3.0"), 0);
  EXPECT_LT(cmp("1.3.0-alpha", "1.3.0-alpha.1"), 0);
  EXPECT_LT(cmp("1.3.0-alpha.2", "1.3.0-alpha.10"), 0);
  EXPECT_LT(cmp("1.3.0-1", "1.3.0-alpha"), 0);
  EXPECT_EQ(cmp("1.3.0+a", "1.3.0+b"), 0);
}

TEST(SemverTest, CaretRanges) {
  EXPECT_TRUE(InRange("^1.x", "1.3.0"));
  EXPECT_TRUE(InRange("^1.x", "1.0.0"));
  EXPECT_FALSE(InRange("^1.x", "2.0.0"));
  EXPECT_FALSE(InRange("^1.x", "0.9.0"));
  EXPECT_TRUE(InRange("^1.2.3", "1.9.0"));
  EXPECT_FALSE(InRange("^1.2.3", "1.2.2"));
  EXPECT_TRUE(InRange("^0.2.3", "0.2.9"));
  EXPECT_FALSE(InRange("^0.2.3", "0.3.0"));
  EXPECT_TRUE(InRange("^0.0.3", "0.0.3"));
  EXPECT_FALSE(InRange("^0.0.3", "0.0.4"));
}

TEST(SemverTest, TildeAndComparisons) {
  EXPECT_TRUE(InRange("~1.2.3", "1.2.9"));
  EXPECT_FALSE(InRange("~1.2.3", "1.3.0"));
  EXPECT_TRUE(InRange("~1", "1.9.0"));
  EXPECT_TRUE(InRange(">=1.2.0 <1.4.0", "1.3.5"));
  EXPECT_FALSE(InRange(">=1.2.0, <1.4.0", "1.4.0"));
  EXPECT_TRUE(InRange("> 1.2", "1.3.0"));
  EXPECT_FALSE(InRange(">1.2.x", "1.2.9"));
  EXPECT_TRUE(InRange("<=1.2.x", "1.2.9"));
  EXPECT_TRUE(InRange("!=1.2.3", "1.2.4"));
  EXPECT_FALSE(InRange("!=1.2.3", "1.2.3"));
  EXPECT_TRUE(InRange("1.2.x", "1.2.7"));
  EXPECT_FALSE(InRange("1.2.x", "1.3.0"));
  EXPECT_TRUE(InRange("*", "5.0.0"));
  EXPECT_TRUE(InRange("1.2 - 1.4.5", "1.4.5"));
  EXPECT_FALSE(InRange("1.2 - 1.4.5", "1.4.6"));
  EXPECT_TRUE(InRange("^1.0 || ^3.0", "3.1.0"));
  EXPECT_FALSE(InRange("^1.0 || ^3.0", "2.1.0"));
}

TEST(SemverTest, PrereleasesOnlyWhenTheRangeNamesOne) {
  EXPECT_FALSE(InRange("^1.x", "1.3.0-rc1"));
  EXPECT_FALSE(InRange(">=1.0.0", "1.3.0-rc1"));
  EXPECT_TRUE(InRange(">=1.3.0-0", "1.3.0-rc1"));
  EXPECT_TRUE(InRange("^1.3.0-rc.0", "1.3.0-rc.1"));
}

TEST(SemverTest, RejectsBadRanges) {
  EXPECT_FALSE(VersionRange::Parse("").ok());
  EXPECT_FALSE(VersionRange::Parse("^banana").ok());
  EXPECT_FALSE(VersionRange::Parse("1.2.3.4").ok());
  EXPECT_FALSE(VersionRange::Parse(">=1 ||").ok());
}

TEST(PolicyTest, SemverPicksNewestReleaseInRange) {
  PolicySpec p{.kind = PolicySpec::Kind::kSemver, .range = "^1.x"};
  auto tag = SelectTag(p, {"1.2.0", "1.3.0-rc1", "1.3.0", "2.0.0", "latest"});
  ASSERT_TRUE(tag.ok());
  EXPECT_EQ(*tag, "1.3.0");
  EXPECT_EQ(*SelectTag(p, {"v1.2.0", "v1.10.1", "v1.9.0"}), "v1.10.1");
  EXPECT_FALSE(SelectTag(p, {"2.0.0", "latest"}).ok());
}

TEST(PolicyTest, NumericalAndAlphabeticalOrders) {
  PolicySpec num{.kind = PolicySpec::Kind::kNumerical};
  EXPECT_EQ(*SelectTag(num, {"9", "10", "2", "x"}), "10");
  num.descending = true;
  EXPECT_EQ(*SelectTag(num, {"9", "10", "2"}), "2");
  PolicySpec alpha{.kind = PolicySpec::Kind::kAlphabetical};
  EXPECT_EQ(*SelectTag(alpha, {"RELEASE.2021-01-05", "RELEASE.2023-02-01", "RELEASE.2022"}),
            "RELEASE.2023-02-01");
  alpha.descending = true;
  EXPECT_EQ(*SelectTag(alpha, {"b", "a", "c"}), "a");
}

TEST(PolicyTest, FilterTagsExtractsNamedGroups) {
  PolicySpec p{.kind = PolicySpec::Kind::kNumerical,
               .pattern = "^main-[a-fA-F0-9]+-(?P<ts>.*)",
               .extract = "$ts"};
  auto tag = SelectTag(p, {"main-abc123-1700000010", "main-def456-1700000900",
                           "dev-fff000-1800000000", "main-0a0a0a-99"});
  ASSERT_TRUE(tag.ok()) << tag.status().message();
  EXPECT_EQ(*tag, "main-def456-1700000900");
  PolicySpec s{.kind = PolicySpec::Kind::kSemver,
               .range = ">=1.0.0",
               .pattern = "^v(?<version>[0-9.]+)-alpine$",
               .extract = "${version}"};
  EXPECT_EQ(*SelectTag(s, {"v1.2.0-alpine", "v1.4.0", "v1.3.0-alpine"}), "v1.3.0-alpine");
  PolicySpec numbered{
      .kind = PolicySpec::Kind::kAlphabetical, .pattern = "^(a|b)-([a-z]+)$", .extract = "$2"};
  EXPECT_EQ(*SelectTag(numbered, {"a-zz", "b-aa"}), "a-zz");
}

TEST(PolicyTest, FilterTagsErrors) {
  EXPECT_FALSE(TagFilter::Create("(unclosed", "").ok());
  EXPECT_FALSE(TagFilter::Create("^(?P<ts>.*)$", "$missing").ok());
  EXPECT_TRUE(TagFilter::Create("^(?P<ts>.*)$", "$$ts").ok());
}

}  // namespace
}  // namespace plumb::pipeline
