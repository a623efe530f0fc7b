#include "resource/codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace plumb::resource {
namespace {

std::string JsonError(std::string_view text, const ParseLimits& limits = {}) {
  auto v = ParseJson(text, "t.json", limits);
  return v.ok() ? "<ok>" : v.status().message();
}

TEST(JsonTest, ParsesValues) {
  auto v = ParseJson(R"( {"a": [1, -2, 3.5, 1e2, true, false, null], "b": {"c": "d"}} )");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(ToJson(*v), R"({"a":[1,-2,3.5,100.0,true,false,null],"b":{"c":"d"}})");
  EXPECT_TRUE(v->Find("a")->as_array()[0].is_int());
  EXPECT_TRUE(v->Find("a")->as_array()[3].is_double());
}

TEST(JsonTest, StringEscapesAndSurrogates) {
  auto v = ParseJson(R"(["\"\\\/\b\f\n\r\t", "\u00e9\u20ac", "\ud83d\ude00", "\u0000x"])");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  const Array& a = v->as_array();
  EXPECT_EQ(a[0].as_string(), "\"\\/\b\f\n\r\t");
  EXPECT_EQ(a[1].as_string(), "\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(a[2].as_string(), "\xF0\x9F\x98\x80");
  EXPECT_EQ(a[3].as_string(), std::string("\0x", 2));
  EXPECT_EQ(JsonError(R"("\ud83d")"), "t.json:1: unpaired high surrogate in \\u escape");
  EXPECT_EQ(JsonError(R"("\ude00")"), "t.json:1: unpaired low surrogate in \\u escape");
  EXPECT_EQ(JsonError(R"("\ud83d\u0041")"), "t.json:1: invalid low surrogate in \\u escape");
  EXPECT_EQ(JsonError(R"("\x")"), "t.json:1: invalid escape '\\x'");
  EXPECT_EQ(JsonError("\"a\nb\""), "t.json:1: control character in string (must be escaped)");
}

TEST(JsonTest, BigIntegersBecomeDoubles) {
  auto v = ParseJson("[9223372036854775807, -9223372036854775808, 9223372036854775808, 1e999]");
  ASSERT_TRUE(v.ok());
  const Array& a = v->as_array();
  EXPECT_EQ(a[0].as_int(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(a[1].as_int(), std::numeric_limits<int64_t>::min());
  EXPECT_TRUE(a[2].is_double());
  EXPECT_EQ(a[2].as_double(), 9223372036854775808.0);
  EXPECT_TRUE(std::isinf(a[3].as_double()));
}

TEST(JsonTest, ErrorsNameTheLine) {
  EXPECT_EQ(JsonError("{\"a\": 1}\n x"), "t.json:2: unexpected text after the JSON value");
  EXPECT_EQ(JsonError("{\"a\": 1,\n}"), "t.json:2: expected a string key but found '}'");
  EXPECT_EQ(JsonError("[1,\n2,\n"), "t.json:3: expected a JSON value but the input ended");
  EXPECT_EQ(JsonError("[01]"), "t.json:1: expected ']' but found '1'");
  EXPECT_EQ(JsonError("[1.]"), "t.json:1: invalid number: expected a digit after '.'");
  EXPECT_EQ(JsonError("[-]"), "t.json:1: invalid number but found ']'");
  EXPECT_EQ(JsonError("tru"), "t.json:1: invalid literal but found 't'");
  EXPECT_EQ(JsonError(""), "t.json:1: expected a JSON value but the input ended");
  EXPECT_EQ(JsonError("{'a': 1}"), "t.json:1: expected a string key but found '''");
  EXPECT_EQ(JsonError("[\"abc"), "t.json:1: unterminated string");
  EXPECT_EQ(JsonError("{\"a\": 1,\n \"a\": 2}"), "t.json:2: duplicate key \"a\"");
  EXPECT_EQ(JsonError("[\"\xff\"]"), "t.json:1: invalid UTF-8 in string");
  EXPECT_EQ(JsonError("[\"\xed\xa0\x80\"]"), "t.json:1: invalid UTF-8 in string");
}

TEST(JsonTest, Limits) {
  EXPECT_EQ(JsonError(std::string(100000, '[')), "t.json:1: nesting deeper than 128 levels");
  EXPECT_EQ(JsonError("[[[1]]]", ParseLimits{.max_depth = 2}),
            "t.json:1: nesting deeper than 2 levels");
  EXPECT_EQ(JsonError("[[1]]", ParseLimits{.max_depth = 2}), "<ok>");
  EXPECT_EQ(JsonError("[1, 2]", ParseLimits{.max_bytes = 3}),
            "t.json:1: input is 6 bytes, more than the limit of 3");
}

TEST(JsonTest, WriterRoundTripsAndPrettyPrints) {
  Value v;
  v.Set("s", "a\"b\n\x01");
  v.Set("d", 0.1);
  v.Set("big", 1e300);
  v.Set("whole", 5.0);
  v.Set("nan", std::nan(""));
  v.Set("list", Array{1, Value::EmptyObject(), Value::EmptyArray()});
  EXPECT_EQ(ToJson(v), R"({"s":"a\"b\n\u0001","d":0.1,"big":1e+300,"whole":5.0,"nan":null,)"
                       R"("list":[1,{},[]]})");
  EXPECT_EQ(ToJson(Value(Object{{"a", Array{1, 2}}}), 2), "{\n  \"a\": [\n    1,\n    2\n  ]\n}");
  v.Erase("nan");
  auto back = ParseJson(ToJson(v, 2));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, v);
  EXPECT_TRUE(back->Find("whole")->is_double());
}

// ---- YAML writer ----

TEST(ToYamlTest, BlockStyleLikeKubectl) {
  Value v = *ParseJson(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x",)"
                       R"("labels":{}},"data":{"a":"yes","b":"0644","c":"line1\nline2\n",)"
                       R"("d":"plain text","e":""},"list":[{"name":"a","port":80},[1,2],[]]})");
  EXPECT_EQ(ToYaml(v),
            "apiVersion: v1\n"
            "kind: ConfigMap\n"
            "metadata:\n"
            "  name: x\n"
            "  labels: {}\n"
            "data:\n"
            "  a: \"yes\"\n"
            "  b: \"0644\"\n"
            "  c: |\n"
            "    line1\n"
            "    line2\n"
            "  d: plain text\n"
            "  e: \"\"\n"
            "list:\n"
            "- name: a\n"
            "  port: 80\n"
            "- - 1\n"
            "  - 2\n"
            "- []\n");
}

TEST(ToYamlTest, Scalars) {
  EXPECT_EQ(ToYaml(Value()), "null\n");
  EXPECT_EQ(ToYaml(Value(1.5)), "1.5\n");
  EXPECT_EQ(ToYaml(Value(3.0)), "3.0\n");
  EXPECT_EQ(ToYaml(Value(-std::numeric_limits<double>::infinity())), "-.inf\n");
  EXPECT_EQ(ToYaml(Value("a: b")), "\"a: b\"\n");
  EXPECT_EQ(ToYaml(Value("no trailing\nnewline")), "|-\n  no trailing\n  newline\n");
  EXPECT_EQ(ToYaml(Value("trailing space \nx")), "\"trailing space \\nx\"\n");
}

// Strings that are easy to get wrong when writing YAML.
const char* const kTrickyStrings[] = {
    "",
    " ",
    "yes",
    "y",
    "N",
    "no",
    "On",
    "0644",
    "0x1F",
    "1e3",
    "1_0",
    "-1",
    "+1",
    ".5",
    ".inf",
    "-.Inf",
    ".nan",
    "~",
    "null",
    "NULL",
    "<<",
    "=",
    "true",
    "2024-01-01",
    "1.2.3",
    "- a",
    "-",
    "a: b",
    "a:b",
    "key:",
    "a #b",
    "a#b",
    "#",
    "'",
    "\"",
    "''",
    "?",
    ":",
    ",",
    "[",
    "]",
    "{",
    "}",
    "{}",
    "&x",
    "*x",
    "!x",
    "!!str",
    "|",
    ">",
    "%x",
    "@x",
    "`x",
    "---",
    "...",
    "--- x",
    "a\\b",
    "\\",
    "tab\tin",
    "\tlead",
    "trail\t",
    " lead",
    "trail ",
    "multi\nline",
    "ends\n",
    "two\n\n",
    "\n",
    "\n\n",
    "\nlead",
    " lead\nx",
    "x\n  indented\n",
    "trail \nx",
    "a\r\nb",
    "\r",
    "caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80",
    "\x01"
    "ctrl",
    "\x7f",
    "\xE2\x80\xA8",
    "\xC2\x85",
    "\xEF\xBB\xBF"
    "bom",
    "\xC2\x80",
    "\xEF\xBF\xBE",
    std::string_view("nul\0byte", 8).data(),
    "a\n---\nb",
    "a\n...\n",
    "x\n# not comment",
    "very long string with spaces that goes on and on and on and on and on and on and on and on",
};

Value RandomValue(std::mt19937* rng, int depth) {
  auto pick = [&](size_t n) { return static_cast<size_t>((*rng)() % n); };
  constexpr size_t kStrings = sizeof(kTrickyStrings) / sizeof(kTrickyStrings[0]);
  switch (depth > 3 ? pick(5) : pick(8)) {
    case 0:
      return Value();
    case 1:
      return Value(pick(2) == 0);
    case 2: {
      const int64_t ints[] = {
          0, -1, 42, 420, std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()};
      return Value(ints[pick(6)]);
    }
    case 3: {
      const double ds[] = {0.1,     1e300, 5.0,  -2.5e-300,
                           1.0 / 3, 1e22,  -0.0, std::numeric_limits<double>::infinity()};
      return Value(ds[pick(8)]);
    }
    case 4:
      return Value(std::string(kTrickyStrings[pick(kStrings)]));
    case 5:
    case 6: {
      Value obj = Value::EmptyObject();
      for (size_t i = 0, n = pick(5); i < n; ++i) {
        obj.Set(kTrickyStrings[pick(kStrings)], RandomValue(rng, depth + 1));
      }
      if (pick(10) == 0) obj.Set(std::string(1200, 'k'), 1);
      return obj;
    }
    default: {
      Value arr = Value::EmptyArray();
      for (size_t i = 0, n = pick(4); i < n; ++i) arr.Append(RandomValue(rng, depth + 1));
      return arr;
    }
  }
}

TEST(ToYamlTest, EveryTrickyStringRoundTrips) {
  for (const char* s : kTrickyStrings) {
    for (const Value& v : {Value(s), Value(Object{{s, Value(s)}}), Value(Array{Value(s)})}) {
      std::string yaml = ToYaml(v);
      auto docs = ParseYaml(yaml, "rt.yaml");
      ASSERT_TRUE(docs.ok()) << docs.status().ToString() << "\n" << yaml;
      Value back = docs->empty() ? Value() : (*docs)[0].value;
      EXPECT_EQ(back, v) << "yaml:\n" << yaml << "json: " << ToJson(back);
    }
  }
}

TEST(ToYamlTest, RandomValuesRoundTrip) {
  std::mt19937 rng(20240601);
  for (int i = 0; i < 2000; ++i) {
    Value v = RandomValue(&rng, 0);
    std::string yaml = ToYaml(v);
    auto docs = ParseYaml(yaml, "rt.yaml");
    ASSERT_TRUE(docs.ok()) << docs.status().ToString() << "\n" << yaml;
    Value back = docs->empty() ? Value() : (*docs)[0].value;
    ASSERT_EQ(back, v) << "yaml:\n" << yaml << "json: " << ToJson(back);
    // JSON round-trips too (no NaN is generated).
    auto json = ParseJson(ToJson(v, i % 2 ? 2 : 0));
    ASSERT_TRUE(json.ok()) << json.status().ToString();
    if (ToJson(v).find("null") == std::string::npos) {
      ASSERT_EQ(*json, v) << ToJson(v);
    }
  }
}

}  // namespace
}  // namespace plumb::resource
