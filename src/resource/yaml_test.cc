#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "resource/codec.h"

namespace plumb::resource {
namespace {

Value ParseOne(const std::string& text) {
  auto docs = ParseYaml(text, "t.yaml");
  EXPECT_TRUE(docs.ok()) << docs.status().ToString();
  if (!docs.ok() || docs->size() != 1) {
    ADD_FAILURE() << "want one document from: " << text;
    return Value();
  }
  return (*docs)[0].value;
}

Value Scalar(const std::string& text) {
  Value doc = ParseOne("v: " + text + "\n");
  const Value* v = doc.Find("v");
  return v ? *v : Value("<missing>");
}

std::string ErrorOf(const std::string& text, const ParseLimits& limits = {}) {
  auto docs = ParseYaml(text, "t.yaml", limits);
  return docs.ok() ? "<ok>" : docs.status().message();
}

TEST(YamlScalarTest, PlainScalarsResolveLikeKubernetes) {
  struct Case {
    const char* text;
    Value want;
  } cases[] = {
      {"yes", true},
      {"Yes", true},
      {"YES", true},
      {"on", true},
      {"ON", true},
      {"true", true},
      {"True", true},
      {"no", false},
      {"No", false},
      {"off", false},
      {"Off", false},
      {"FALSE", false},
      {"y", "y"},
      {"n", "n"},
      {"~", nullptr},
      {"null", nullptr},
      {"Null", nullptr},
      {"NULL", nullptr},
      {"", nullptr},
      {"0644", 420},
      {"0o17", 15},
      {"0x1F", 31},
      {"0X1f", 31},
      {"-0x10", -16},
      {"+12", 12},
      {"1_000", 1000},
      {"0b101", 5},
      {"0", 0},
      {"-7", -7},
      {"1e3", 1000.0},
      {"1.5", 1.5},
      {".5", 0.5},
      {"-1.25e-2", -0.0125},
      {"09", 9.0},
      {"1.", 1.0},
      {"abc", "abc"},
      {"1.2.3", "1.2.3"},
      {"0x", "0x"},
      {"_1", "_1"},
      {"+", "+"},
      {"2024-01-02", "2024-01-02"},
      {"\"yes\"", "yes"},
      {"'0644'", "0644"},
      {"!!str 12", "12"},
      {"!!int \"12\"", 12},
      {"!!float 1", 1.0},
      {"!!bool \"on\"", true},
      {"! yes", "yes"},
      {"9223372036854775807", int64_t{9223372036854775807}},
      {"9223372036854775808", 9223372036854775808.0},
      {"-9223372036854775808", std::numeric_limits<int64_t>::min()},
  };
  for (const auto& c : cases) {
    Value got = Scalar(c.text);
    EXPECT_EQ(got, c.want) << c.text << " -> " << ToJson(got);
    EXPECT_EQ(got.type() == Value::Type::kInt, c.want.type() == Value::Type::kInt) << c.text;
  }
}

TEST(YamlScalarTest, SpecialFloats) {
  EXPECT_TRUE(std::isinf(Scalar(".inf").as_double()));
  EXPECT_LT(Scalar("-.Inf").as_double(), 0);
  double nan = Scalar(".nan").as_double();
  EXPECT_NE(nan, nan);
}

TEST(YamlScalarTest, BlockScalarsAreStrings) {
  Value doc = ParseOne("a: |\n  yes\n  0644\nb: >-\n  on\n  off\n");
  EXPECT_EQ(doc.GetString("a"), "yes\n0644\n");
  EXPECT_EQ(doc.GetString("b"), "on off");
}

TEST(YamlScalarTest, BadTaggedScalarIsAnError) {
  EXPECT_EQ(ErrorOf("a: 1\nb: !!int abc\n"),
            "t.yaml:2: cannot read \"abc\" as tag:yaml.org,2002:int");
}

TEST(YamlScalarTest, NonStringKeysBecomeStrings) {
  Value doc = ParseOne("yes: 1\n0644: 2\n~: 3\n1.5: 4\n");
  EXPECT_NE(doc.Find("true"), nullptr);
  EXPECT_NE(doc.Find("420"), nullptr);
  EXPECT_NE(doc.Find("null"), nullptr);
  EXPECT_NE(doc.Find("1.5"), nullptr);
}

TEST(YamlTest, MergeKeys) {
  Value doc = ParseOne(
      "base: &base {a: 1, b: 2}\n"
      "more: &more {b: 3, c: 4}\n"
      "one:\n  <<: *base\n  b: 9\n"
      "list:\n  x: 0\n  <<: [*more, *base]\n"
      "quoted:\n  \"<<\": *base\n");
  EXPECT_EQ(ToJson(*doc.Find("one")), R"({"a":1,"b":9})");
  EXPECT_EQ(*doc.Find("list"), ParseOne("{x: 0, b: 3, c: 4, a: 1}"));
  EXPECT_EQ(ToJson(*doc.Find("quoted")), R"({"<<":{"a":1,"b":2}})");
  EXPECT_EQ(ErrorOf("a:\n  <<: 3\n"), "t.yaml:2: a merge key (<<) takes a map or a list of maps");
}

TEST(YamlTest, AnchorsAndAliasesAreCopied) {
  Value doc = ParseOne("a: &x [1, {k: v}]\nb: *x\nc: &s hello\nd: *s\n");
  EXPECT_EQ(*doc.Find("a"), *doc.Find("b"));
  EXPECT_EQ(doc.GetString("d"), "hello");
  EXPECT_EQ(ErrorOf("a: *nope\n"), "t.yaml:1: unknown anchor \"nope\"");
}

TEST(YamlTest, RepeatedScalarsShareANodeAndStayIndependent) {
  auto docs = ParseYaml(
      "kind: File\nmode: \"0644\"\napi: local.plumbline.dev/v1\n---\n"
      "kind: File\nmode: \"0644\"\napi: local.plumbline.dev/v1\n",
      "t.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 2u);
  Value& first = (*docs)[0].value;
  const Value& second = (*docs)[1].value;
  // Short strings live inside their Value; longer ones share one node.
  EXPECT_EQ(first.Find("api")->as_string().data(), second.Find("api")->as_string().data());
  first.Set("api", "v2");
  EXPECT_EQ(second.Find("api")->as_string(), "local.plumbline.dev/v1");
  first.Set("kind", "Other");
  *first.Find("mode") = Value(420);
  EXPECT_EQ(second.Find("kind")->as_string(), "File");
  EXPECT_EQ(second.Find("mode")->as_string(), "0644");
}

TEST(YamlTest, BillionLaughsFailsFast) {
  std::string text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i <= 9; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int j = 1; j < 9; ++j) text += ", " + prev;
    text += "]\n";
  }
  // Refused by counting expanded nodes, before building them (speed is measured by
  // benchmarks, never asserted in tests).
  std::string err = ErrorOf(text);
  EXPECT_NE(err.find("aliases expand to more than 1000000 nodes"), std::string::npos) << err;
  // A small limit stops it earlier still, on the line that overflows.
  EXPECT_EQ(ErrorOf(text, ParseLimits{.max_alias_nodes = 50}).substr(0, 9), "t.yaml:2:");
}

TEST(YamlTest, DepthBombNamesTheLine) {
  std::string text = "a:\n  b: " + std::string(100000, '[') + "\n";
  EXPECT_EQ(ErrorOf(text), "t.yaml:2: nesting deeper than 128 levels");
  std::string nested;
  for (int i = 0; i < 10; ++i) nested += std::string(2 * i, ' ') + "k:\n";
  EXPECT_EQ(ErrorOf(nested, ParseLimits{.max_depth = 4}), "t.yaml:5: nesting deeper than 4 levels");
}

TEST(YamlTest, AliasesCannotExceedDepth) {
  std::string text = "a: &a [[[[1]]]]\nb: [[[[*a]]]]\n";
  EXPECT_EQ(ErrorOf(text, ParseLimits{.max_depth = 6}),
            "t.yaml:2: alias \"a\" nests deeper than 6 levels");
}

TEST(YamlTest, SizeLimitIsCheckedFirst) {
  EXPECT_EQ(ErrorOf("a: 1234567890\n", ParseLimits{.max_bytes = 5}),
            "t.yaml:1: input is 14 bytes, more than the limit of 5");
}

TEST(YamlTest, DuplicateKeysAreErrors) {
  EXPECT_EQ(ErrorOf("a: 1\nb:\n  x: 1\n  x: 2\n"), "t.yaml:4: duplicate key \"x\"");
  std::string big;
  for (int i = 0; i < 40; ++i) big += "k" + std::to_string(i) + ": 1\n";
  EXPECT_EQ(ErrorOf(big + "k7: 2\n"), "t.yaml:41: duplicate key \"k7\"");
  EXPECT_EQ(ErrorOf("yes: 1\ntrue: 2\n"), "t.yaml:2: duplicate key \"true\"");
}

TEST(YamlTest, NonScalarKeysAreErrors) {
  EXPECT_EQ(ErrorOf("? [a]\n: 1\n"), "t.yaml:1: a map key must be a scalar, not a list or map");
  EXPECT_EQ(ErrorOf("x: &l [1]\n*l : 2\n"),
            "t.yaml:2: a map key must be a scalar, not a list or map");
}

TEST(YamlTest, MultipleDocumentsWithLines) {
  auto docs = ParseYaml(
      "# leading comment\n---\n---\n# only a comment\n---\nkind: A\n---\n\n\nkind: B\n...\n"
      "--- ~\n--- [1]\n",
      "t.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 3u);
  EXPECT_EQ((*docs)[0].value.GetString("kind"), "A");
  EXPECT_EQ((*docs)[0].line, 6);
  EXPECT_EQ((*docs)[1].value.GetString("kind"), "B");
  EXPECT_EQ((*docs)[1].line, 10);
  EXPECT_EQ((*docs)[2].line, 13);
  EXPECT_TRUE(ParseYaml("", "e")->empty());
  EXPECT_EQ(ErrorOf("a: 1\n---\nb: 2\n---\nc: 3\n", ParseLimits{.max_documents = 2}),
            "t.yaml:4: more than 2 documents");
}

TEST(YamlTest, SyntaxErrorsNameTheLine) {
  EXPECT_EQ(ErrorOf("a: 1\nb: 2\n  c: 3\n"),
            "t.yaml:3: mapping values are not allowed in this context");
  std::string err = ErrorOf("a:\n  - 1\n  - [2\nb: 3\n");
  EXPECT_EQ(err.substr(0, 9), "t.yaml:4:") << err;
  err = ErrorOf("a: 1\nb: \"\xff\"\n");
  EXPECT_EQ(err.substr(0, 9), "t.yaml:2:") << err;
}

TEST(YamlTest, FindYamlLine) {
  std::string text =
      "---\n~\n---\nkind: A\n---\napiVersion: v1\nkind: B\nspec:\n  items:\n  - name: x\n"
      "  - name: y\n    port: 80\n  yes: 1\n";
  EXPECT_EQ(FindYamlLine(text, 0, {"kind"}), 4);
  EXPECT_EQ(FindYamlLine(text, 1, {}), 6);
  EXPECT_EQ(FindYamlLine(text, 1, {"kind"}), 7);
  EXPECT_EQ(FindYamlLine(text, 1, {"spec", "items"}), 9);
  EXPECT_EQ(FindYamlLine(text, 1, {"spec", "items", "1"}), 11);
  EXPECT_EQ(FindYamlLine(text, 1, {"spec", "items", "1", "port"}), 12);
  EXPECT_EQ(FindYamlLine(text, 1, {"spec", "true"}), 13);
  EXPECT_EQ(FindYamlLine(text, 1, {"spec", "items", "2"}), 0);
  EXPECT_EQ(FindYamlLine(text, 1, {"nope"}), 0);
  EXPECT_EQ(FindYamlLine(text, 2, {"kind"}), 0);
  EXPECT_EQ(FindYamlLine("a: [\n", 0, {"b"}), 0);
}

TEST(YamlTest, KeyWhoseQuotedTextIsLongRoundTrips) {
  // 300 bytes, but 1,800 characters once quoted (\u007F each): past the implicit-key limit.
  Value v;
  v.Set(std::string(300, '\x7f'), 1);
  auto back = ParseYaml(ToYaml(v), "t.yaml");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].value, v);
}

}  // namespace
}  // namespace plumb::resource
