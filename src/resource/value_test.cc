#include "resource/value.h"

#include <gtest/gtest.h>

namespace plumb::resource {
namespace {
TEST(ValueTest, ObjectsCompareRegardlessOfKeyOrder) {
  Value a, b;
  a.Set("x", 1);
  a.Set("y", "s");
  b.Set("y", "s");
  b.Set("x", 1.0);
  EXPECT_EQ(a, b);
  b.Set("x", 2);
  EXPECT_NE(a, b);
}

TEST(ValueTest, CopiesAreDeepAndMovesLeaveNull) {
  Value a;
  a.Set("list", Array{1, "two"});
  Value b = a;
  b.Find("list")->Append(3);
  EXPECT_EQ(a.Find("list")->size(), 2u);
  EXPECT_EQ(b.Find("list")->size(), 3u);
  Value c = std::move(b);
  EXPECT_TRUE(b.is_null());  // NOLINT: checking the moved-from state on purpose
  EXPECT_EQ(c.Find("list")->size(), 3u);
}

TEST(ValueTest, SetKeepsOrderEraseAndFindPath) {
  Value v;
  v.Set("b", 1);
  v.Set("a", Value::EmptyObject()).Set("x", "deep");
  v.Set("b", 2);
  ASSERT_EQ(v.as_object().size(), 2u);
  EXPECT_EQ(v.as_object()[0].first, "b");
  EXPECT_EQ(v.Find("b")->as_int(), 2);
  EXPECT_EQ(v.FindPath({"a", "x"})->as_string(), "deep");
  EXPECT_EQ(v.FindPath({"a", "y"}), nullptr);
  EXPECT_EQ(v.GetString("b", "fallback"), "fallback");
  EXPECT_TRUE(v.Erase("b"));
  EXPECT_FALSE(v.Erase("b"));
  EXPECT_EQ(Value(5).Find("x"), nullptr);
}

TEST(ValueTest, NumbersCompareAcrossIntAndDouble) {
  EXPECT_EQ(Value(1), Value(1.0));
  EXPECT_NE(Value(1), Value(1.5));
  EXPECT_NE(Value(1), Value("1"));
  EXPECT_NE(Value(Array{1, 2}), Value(Array{2, 1}));
  EXPECT_EQ(Value(true).TypeName(), std::string("bool"));
}

}  // namespace
}  // namespace plumb::resource
