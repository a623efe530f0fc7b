// resource: the value tree, a JSON-like document (null, bool, int, double, string,
// array, object with keys in insertion order). Values are plain copyable data;
// objects keep their key order so output reads like the input.
//
// Copies are cheap: a string, array or object lives in a reference-counted node that
// copies share, and a mutating call (the non-const accessors, Find, Set, Erase, Append)
// first gives its Value a node of its own (copy on write, one level at a time). So a
// desired set, its normalised form, a cache entry and a plan can hold the same document
// once. Thread-safety: as for a std::string — distinct Value objects may be used from
// different threads even when they share nodes; one Value is not safe to mutate while
// another thread reads it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace plumb::resource {

class Value;
using Array = std::vector<Value>;
using Member = std::pair<std::string, Value>;
using Object = std::vector<Member>;

class Value {
 public:
  enum class Type : uint8_t { kNull, kBool, kInt, kDouble, kString, kArray, kObject };

  Value() = default;
  Value(std::nullptr_t) {}                              // NOLINT
  Value(bool b) : type_(Type::kBool) { u_.b = b; }      // NOLINT
  Value(int i) : Value(static_cast<int64_t>(i)) {}      // NOLINT
  Value(int64_t i) : type_(Type::kInt) { u_.i = i; }    // NOLINT
  Value(double d) : type_(Type::kDouble) { u_.d = d; }  // NOLINT
  Value(std::string s);                                 // NOLINT
  Value(const char* s) : Value(std::string(s)) {}       // NOLINT
  Value(Array a);                                       // NOLINT
  Value(Object o);                                      // NOLINT
  static Value EmptyObject() { return Value(Object{}); }
  static Value EmptyArray() { return Value(Array{}); }

  Value(const Value& o);
  Value(Value&& o) noexcept;
  Value& operator=(const Value& o);
  Value& operator=(Value&& o) noexcept;
  ~Value();

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_int() const { return type_ == Type::kInt; }
  bool is_double() const { return type_ == Type::kDouble; }
  bool is_number() const { return is_int() || is_double(); }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  // Typed access; calling the wrong one is a bug (aborts). Use the `is_` checks or the
  // Get* helpers below for untrusted documents. The non-const forms unshare this level
  // first; a reference they return stays valid until this Value is next changed.
  bool as_bool() const;
  int64_t as_int() const;
  double as_double() const;  // ints convert
  const std::string& as_string() const;
  const Array& as_array() const;
  Array& as_array();
  const Object& as_object() const;
  Object& as_object();

  // Object lookup: nullptr when not an object or no such key. The non-const form unshares
  // this level (only when the key is there): prefer the const one for reading.
  const Value* Find(std::string_view key) const;
  Value* Find(std::string_view key);
  // Follows a path of object keys: v.FindPath({"metadata", "name"}).
  const Value* FindPath(std::initializer_list<std::string_view> keys) const;
  // Sets (replacing or appending) a key; turns a null into an object first.
  Value& Set(std::string key, Value v);
  // Removes a key; returns whether it was there (and leaves the node shared when not).
  bool Erase(std::string_view key);
  void Append(Value v);  // arrays; turns a null into an array first

  // String at key, or `fallback` if absent or not a string.
  std::string GetString(std::string_view key, const std::string& fallback = "") const;

  size_t size() const;  // elements of an array/object, 0 otherwise

  // Deep, order-sensitive for arrays, order-insensitive for object keys; int 1 == double 1.0.
  // (A NaN inside makes a value unequal even to itself, shared nodes or not.)
  bool operator==(const Value& o) const;
  bool operator!=(const Value& o) const { return !(*this == o); }

  const char* TypeName() const;

  // Drops spare capacity of this level's array or object (after a parser built it).
  void ShrinkToFit();

 private:
  struct StringNode;
  struct ArrayNode;
  struct ObjectNode;
  void Destroy();
  void CopyFrom(const Value& o);
  void Unshare();  // gives this Value a node of its own (copies this level only)
  Type type_ = Type::kNull;
  union U {
    bool b;
    int64_t i;
    double d;
    StringNode* s;
    ArrayNode* a;
    ObjectNode* o;
  } u_{};
};

}  // namespace plumb::resource
