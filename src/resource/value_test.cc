#include "resource/value.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <utility>
#include <vector>

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

TEST(ValueTest, CopiesShareNodesUntilOneChanges) {
  Value a;
  a.Set("meta", Value::EmptyObject()).Set("name", "x");
  a.Set("list", Array{1, Value::EmptyObject()});
  Value b = a;
  EXPECT_EQ(&std::as_const(a).as_object(), &std::as_const(b).as_object());
  // Reading through const access and a miss of Erase keep the node shared.
  EXPECT_FALSE(b.Erase("absent"));
  EXPECT_EQ(&std::as_const(a).as_object(), &std::as_const(b).as_object());
  // Each mutating path copies only what it changes; the original stays as it was.
  b.Find("meta")->Set("name", "y");
  b.Find("list")->as_array()[1].Set("k", true);
  b.Erase("absent-too");
  Value c = b;
  c.Find("list")->Append(3);
  c.as_object()[0].second = Value("replaced");
  EXPECT_EQ(a.FindPath({"meta", "name"})->as_string(), "x");
  EXPECT_EQ(a.Find("list")->as_array()[1].size(), 0u);
  EXPECT_EQ(b.FindPath({"meta", "name"})->as_string(), "y");
  EXPECT_EQ(b.Find("list")->size(), 2u);
  EXPECT_TRUE(std::as_const(b).Find("list")->as_array()[1].Find("k")->as_bool());
  EXPECT_EQ(c.Find("list")->size(), 3u);
  EXPECT_EQ(c.Find("meta")->as_string(), "replaced");
  EXPECT_TRUE(b.Find("meta")->is_object());
  // The untouched member of `b` still shares its node with `a`.
  EXPECT_NE(&std::as_const(a).as_object(), &std::as_const(b).as_object());
  Value self = a;
  self.Set("me", self);  // a value holding its former self, not itself
  EXPECT_EQ(*self.Find("me"), a);
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

TEST(ValueTest, StringsInlineAndInNodes) {
  static_assert(sizeof(Value) == 16 && sizeof(Member) == 24);
  // Around the inline limit, empty, with a NUL inside: each reads back as it was written.
  for (size_t n : {size_t{0}, size_t{1}, Value::kInlineString - 1, Value::kInlineString,
                   Value::kInlineString + 1, size_t{15}, size_t{16}, size_t{1000}}) {
    std::string s(n, 'x');
    if (n > 2) s[1] = '\0';
    Value v(s);
    EXPECT_EQ(v.as_string(), s) << n;
    EXPECT_EQ(v.as_string().size(), n);
    EXPECT_EQ(v.as_string().c_str()[n], '\0');  // NUL-terminated
    Value copy = v;
    Value moved = std::move(v);
    EXPECT_TRUE(v.is_null());  // NOLINT: checking the moved-from state on purpose
    EXPECT_EQ(copy, moved);
    EXPECT_EQ(std::string(moved.as_string()), s);
    copy = Value(1);
    EXPECT_EQ(moved.as_string(), s);
    EXPECT_NE(Value(s + "y"), moved);
  }
  // Conversions a caller relies on.
  Value v("a longer string than the inline limit");
  std::string copied = v.as_string();
  EXPECT_EQ(copied, "a longer string than the inline limit");
  EXPECT_EQ("<" + v.as_string() + ">", "<a longer string than the inline limit>");
  EXPECT_EQ(Value(std::string_view("view")), Value("view"));
}

TEST(ValueTest, KeysInternedOrOwnedCompareByText) {
  Key a("metadata"), b(std::string("metadata"));
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, "metadata");
  EXPECT_EQ(a.str(), "metadata");
  std::string long_key(Key::kMaxInternedKey + 1, 'k');
  Key c(long_key), d(long_key);  // not interned: a counted string each
  EXPECT_EQ(c, d);
  Key e = c;
  Key f = std::move(c);
  EXPECT_EQ(e, long_key);
  EXPECT_EQ(f, long_key);
  EXPECT_TRUE(c.empty());  // NOLINT: checking the moved-from state on purpose
  EXPECT_LT(Key("a"), Key("b"));
  Value v;
  v.Set(long_key, 1);
  v.Set("", 2);
  EXPECT_EQ(v.Find(long_key)->as_int(), 1);
  EXPECT_EQ(v.Find("")->as_int(), 2);
}

TEST(ValueTest, KeysPastTheInternTableLimitStillWork) {
  // More distinct keys than the table takes: the rest are owned strings, equal by text.
  Object members;
  const int n = static_cast<int>(Key::kMaxInterned) + 100;
  for (int i = 0; i < n; ++i) members.emplace_back("key-" + std::to_string(i), i);
  Value v(std::move(members));
  Key late("a-late-key"), again(std::string("a-late-key"));
  EXPECT_EQ(late, again);
  EXPECT_EQ(v.Find("key-" + std::to_string(n - 1))->as_int(), n - 1);
  EXPECT_EQ(v.as_object().back().first, "key-" + std::to_string(n - 1));
  Value w;
  w.Set(again, 1);
  w.Set("x", 2);
  Value x;
  x.Set("x", 2);
  x.Set(late, 1.0);
  EXPECT_EQ(w, x);
  // Once full, the table is read without its mutex: a key interned before is still found
  // (the same text, not a copy) by threads that never looked it up, and a new one is owned.
  const std::string* interned = &Key("key-0").str();
  std::vector<std::thread> threads;
  std::atomic<int> same{0}, owned{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (&Key("key-0").str() == interned) ++same;
        Key a("thread-key"), b("thread-key");
        if (&a.str() != &b.str() && a == b) ++owned;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(same.load(), 4000);
  EXPECT_EQ(owned.load(), 4000);
}

}  // namespace
}  // namespace plumb::resource
