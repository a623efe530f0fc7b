#include <gtest/gtest.h>

#include "resource/value.h"

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
}  // namespace
}  // namespace plumb::resource
