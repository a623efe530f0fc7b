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
//
// Layout (a desired set holds millions of these): a Value is 16 bytes. A string of up to
// kInlineString bytes lives inside the Value (no allocation); a longer one is one
// allocation (count, size, characters). An object member is 24 bytes: a Key (an interned
// or counted string, 8 bytes) and a Value.
#pragma once

#include <atomic>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace plumb::resource {

class Value;

// A view of a Value's string (as_string()): a std::string_view that stays valid while the
// Value it came from is neither changed, moved nor destroyed, is NUL-terminated (c_str),
// and converts to a std::string (a copy) where one is needed.
class StringRef : public std::string_view {
 public:
  using std::string_view::string_view;
  StringRef(std::string_view s) : std::string_view(s) {}                // NOLINT
  operator std::string() const { return std::string(data(), size()); }  // NOLINT
  std::string str() const { return std::string(data(), size()); }
  const char* c_str() const { return data(); }
  friend std::string operator+(StringRef a, std::string_view b) {
    std::string out;
    out.reserve(a.size() + b.size());
    out.append(a).append(b);
    return out;
  }
  friend std::string operator+(std::string_view a, StringRef b) {
    std::string out;
    out.reserve(a.size() + b.size());
    out.append(a).append(b);
    return out;
  }
  friend std::string operator+(const std::string& a, StringRef b) {
    return std::string_view(a) + b;
  }
  friend std::string operator+(const char* a, StringRef b) { return std::string_view(a) + b; }
  friend std::string operator+(StringRef a, const std::string& b) {
    return a + std::string_view(b);
  }
  friend std::string operator+(StringRef a, const char* b) { return a + std::string_view(b); }
  friend std::string operator+(StringRef a, char b) { return a + std::string_view(&b, 1); }
  friend std::string operator+(StringRef a, StringRef b) { return a + std::string_view(b); }
};

// An object key: 8 bytes. Short keys (the few names documents repeat: apiVersion, kind,
// metadata, ...) are interned in a process-wide table that is never freed and is bounded
// (kMaxInterned keys); other keys are reference-counted strings of their own. Reads like
// a const std::string.
class Key {
 public:
  Key() : Key(std::string_view()) {}
  Key(std::string_view s);                                 // NOLINT
  Key(const std::string& s) : Key(std::string_view(s)) {}  // NOLINT
  Key(const char* s) : Key(std::string_view(s)) {}         // NOLINT
  Key(const Key& o) noexcept : rep_(o.rep_) { Ref(); }
  Key(Key&& o) noexcept : rep_(o.rep_) { o.rep_ = &kEmpty; }
  Key& operator=(const Key& o) noexcept {
    Key tmp(o);
    std::swap(rep_, tmp.rep_);
    return *this;
  }
  Key& operator=(Key&& o) noexcept {
    std::swap(rep_, o.rep_);
    return *this;
  }
  ~Key() { Unref(); }

  const std::string& str() const { return rep_->s; }
  operator const std::string&() const { return str(); }  // NOLINT
  operator std::string_view() const { return str(); }    // NOLINT
  size_t size() const { return str().size(); }
  bool empty() const { return str().empty(); }
  const char* data() const { return str().data(); }
  const char* c_str() const { return str().c_str(); }

  friend bool operator==(const Key& a, const Key& b) {
    return a.rep_ == b.rep_ || a.str() == b.str();
  }
  friend bool operator==(const Key& a, std::string_view b) { return a.str() == b; }
  friend bool operator==(const Key& a, const std::string& b) { return a.str() == b; }
  friend bool operator==(const Key& a, const char* b) { return a.str() == b; }
  friend bool operator<(const Key& a, const Key& b) { return a.str() < b.str(); }
  friend std::strong_ordering operator<=>(const Key& a, const Key& b) {
    if (a.rep_ == b.rep_) return std::strong_ordering::equal;
    return a.str().compare(b.str()) <=> 0;
  }
  friend std::string operator+(const Key& a, const std::string& b) { return a.str() + b; }
  friend std::string operator+(const Key& a, const char* b) { return a.str() + b; }
  friend std::string operator+(const std::string& a, const Key& b) { return a + b.str(); }
  friend std::string operator+(const char* a, const Key& b) { return a + b.str(); }
  friend std::ostream& operator<<(std::ostream& os, const Key& k);

  // Interned reps are never freed and never counted.
  struct Rep {
    mutable std::atomic<uint32_t> refs{1};
    bool interned = false;
    std::string s;
  };
  static constexpr size_t kMaxInternedKey = 64;    // bytes
  static constexpr size_t kMaxInterned = 1 << 16;  // keys in the table

 private:
  static const Rep kEmpty;
  void Ref() const {
    if (!rep_->interned) rep_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  void Unref() {
    if (!rep_->interned && rep_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete rep_;
  }
  const Rep* rep_;
};

using Array = std::vector<Value>;
using Member = std::pair<Key, Value>;
using Object = std::vector<Member>;

class Value {
 public:
  enum class Type : uint8_t { kNull, kBool, kInt, kDouble, kString, kArray, kObject };

  Value() = default;
  Value(std::nullptr_t) {}                                     // NOLINT
  Value(bool b) : type_(Type::kBool) { u_.b = b; }             // NOLINT
  Value(int i) : Value(static_cast<int64_t>(i)) {}             // NOLINT
  Value(int64_t i) : type_(Type::kInt) { u_.i = i; }           // NOLINT
  Value(double d) : type_(Type::kDouble) { u_.d = d; }         // NOLINT
  Value(std::string_view s);                                   // NOLINT
  Value(const std::string& s) : Value(std::string_view(s)) {}  // NOLINT
  Value(StringRef s) : Value(std::string_view(s)) {}           // NOLINT
  Value(const char* s) : Value(std::string_view(s)) {}         // NOLINT
  Value(const Key& s) : Value(std::string_view(s)) {}          // NOLINT
  Value(Array a);                                              // NOLINT
  Value(Object o);                                             // NOLINT
  static Value EmptyObject() { return Value(Object{}); }
  static Value EmptyArray() { return Value(Array{}); }

  Value(const Value& o);
  Value(Value&& o) noexcept {
    std::memcpy(static_cast<void*>(this), &o, sizeof(Value));
    o.type_ = Type::kNull;
  }
  Value& operator=(const Value& o);
  Value& operator=(Value&& o) noexcept;
  ~Value() {
    if (type_ >= Type::kString && !is_inline_string()) Destroy();
  }

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
  // A view into this Value (see StringRef): copy it to a std::string to keep it past a
  // change of this Value or of the array/object holding it.
  StringRef as_string() const;
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
  Value& Set(Key key, Value v);
  // Removes a key; returns whether it was there (and leaves the node shared when not).
  bool Erase(std::string_view key);
  void Append(Value v);  // arrays; turns a null into an array first

  // String at key, or `fallback` if absent or not a string.
  std::string GetString(std::string_view key, std::string_view fallback = "") const;

  size_t size() const;  // elements of an array/object, 0 otherwise

  // Deep, order-sensitive for arrays, order-insensitive for object keys; int 1 == double 1.0.
  // (A NaN inside makes a value unequal even to itself, shared nodes or not.)
  bool operator==(const Value& o) const;
  bool operator!=(const Value& o) const { return !(*this == o); }

  const char* TypeName() const;

  // Drops spare capacity of this level's array or object (after a parser built it).
  void ShrinkToFit();

  // Strings up to this many bytes live in the Value itself (NUL-terminated).
  static constexpr size_t kInlineString = 13;

 private:
  struct StringNode;
  struct ArrayNode;
  struct ObjectNode;
  void Destroy();
  void CopyFrom(const Value& o);
  void Unshare();  // gives this Value a node of its own (copies this level only)
  bool is_inline_string() const { return type_ == Type::kString && len_ != kNodeString; }
  char* inline_chars() { return reinterpret_cast<char*>(this) + 2; }
  const char* inline_chars() const { return reinterpret_cast<const char*>(this) + 2; }
  static constexpr uint8_t kNodeString = 0xff;
  // A string's characters (inline ones) run from byte 2 to byte 15, over pad_ and u_.
  Type type_ = Type::kNull;
  uint8_t len_ = 0;  // kString: the inline string's length, or kNodeString
  [[maybe_unused]] char pad_[6] = {};
  union U {
    bool b;
    int64_t i;
    double d;
    StringNode* s;
    ArrayNode* a;
    ObjectNode* o;
    char c[8];
  } u_{};
};
static_assert(sizeof(Value) == 16);
static_assert(sizeof(Member) == 24);

}  // namespace plumb::resource
