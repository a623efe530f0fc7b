#include "resource/value.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>
#include <ostream>
#include <unordered_map>

namespace plumb::resource {

// A node shared by the copies of a Value; `refs` counts them. A node with one reference
// belongs to one Value alone, which may then change it in place.
// A string's node is one allocation: this header, then the characters and a NUL.
struct Value::StringNode {
  std::atomic<uint64_t> refs{1};
  size_t size = 0;
  char* chars() { return reinterpret_cast<char*>(this + 1); }

  static StringNode* Make(std::string_view s) {
    void* mem = ::operator new(sizeof(StringNode) + s.size() + 1);
    auto* n = new (mem) StringNode();
    n->size = s.size();
    if (!s.empty()) std::memcpy(n->chars(), s.data(), s.size());
    n->chars()[s.size()] = '\0';
    return n;
  }
  // `delete` of a node made by Make.
  static void operator delete(void* p) { ::operator delete(p); }
};
struct Value::ArrayNode {
  explicit ArrayNode(Array d) : data(std::move(d)) {}
  std::atomic<uint64_t> refs{1};
  Array data;
};
struct Value::ObjectNode {
  explicit ObjectNode(Object d) : data(std::move(d)) {}
  std::atomic<uint64_t> refs{1};
  Object data;
};

namespace {
[[noreturn]] void WrongType(const char* want, const Value& v) {
  std::fprintf(stderr, "plumb: bug: value is %s, not %s\n", v.TypeName(), want);
  std::abort();
}

template <typename Node>
void Ref(Node* n) {
  n->refs.fetch_add(1, std::memory_order_relaxed);
}
template <typename Node>
void Unref(Node* n) {
  if (n->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete n;
}
// Makes `*n` a node of its own: the same node when no other Value shares it, else a copy
// of this level (whose children are shared in turn).
template <typename Node>
void MakeUnique(Node** n) {
  if ((*n)->refs.load(std::memory_order_acquire) == 1) return;
  Node* copy = new Node((*n)->data);
  Unref(*n);
  *n = copy;
}
}  // namespace

// The interned keys: a table shared by all threads (behind a mutex) and, in front of it,
// each thread's own map of the keys it has looked up. Both only grow, up to kMaxInterned.
namespace {
struct KeyTable {
  std::mutex mu;
  std::unordered_map<std::string_view, const Key::Rep*> keys;
  // Set (under mu) when `keys` reached kMaxInterned: it never changes again, so it is read
  // without the mutex (a document of many new keys would otherwise take it for each).
  std::atomic<bool> full{false};
};
KeyTable& Table() {
  static KeyTable* t = new KeyTable();  // never freed: keys outlive every Value
  return *t;
}
const Key::Rep* Interned(std::string_view s) {
  thread_local std::unordered_map<std::string_view, const Key::Rep*> local;
  if (auto it = local.find(s); it != local.end()) return it->second;
  KeyTable& t = Table();
  const Key::Rep* rep = nullptr;
  if (t.full.load(std::memory_order_acquire)) {
    if (auto it = t.keys.find(s); it != t.keys.end()) rep = it->second;
  } else {
    std::lock_guard<std::mutex> lock(t.mu);
    if (auto it = t.keys.find(s); it != t.keys.end()) {
      rep = it->second;
    } else if (t.keys.size() < Key::kMaxInterned) {
      auto* r = new Key::Rep();
      r->interned = true;
      r->s.assign(s);
      t.keys.emplace(r->s, r);
      rep = r;
      if (t.keys.size() == Key::kMaxInterned) t.full.store(true, std::memory_order_release);
    }
  }
  if (rep != nullptr) local.emplace(rep->s, rep);
  return rep;
}
}  // namespace

Key::Key(std::string_view s) {
  if (s.empty()) {
    rep_ = &kEmpty;
    return;
  }
  if (s.size() <= kMaxInternedKey) {
    rep_ = Interned(s);
    if (rep_ != nullptr) return;
  }
  auto* r = new Rep();
  r->s.assign(s);
  rep_ = r;
}

// Constant-initialised where the compiler can (GCC); a Key made during another file's
// static initialisation could otherwise see it unset. No file makes one then.
const Key::Rep Key::kEmpty{{1}, true, {}};

std::ostream& operator<<(std::ostream& os, const Key& k) { return os << k.str(); }

Value::Value(std::string_view s) : type_(Type::kString) {
  if (s.size() <= kInlineString) {
    len_ = static_cast<uint8_t>(s.size());
    if (!s.empty()) std::memcpy(inline_chars(), s.data(), s.size());
    inline_chars()[s.size()] = '\0';
  } else {
    len_ = kNodeString;
    u_.s = StringNode::Make(s);
  }
}
Value::Value(Array a) : type_(Type::kArray) { u_.a = new ArrayNode(std::move(a)); }
Value::Value(Object o) : type_(Type::kObject) { u_.o = new ObjectNode(std::move(o)); }

Value::Value(const Value& o) { CopyFrom(o); }
Value& Value::operator=(const Value& o) {
  if (this != &o) {
    Value tmp(o);
    *this = std::move(tmp);
  }
  return *this;
}
Value& Value::operator=(Value&& o) noexcept {
  if (this != &o) {
    Destroy();
    std::memcpy(static_cast<void*>(this), &o, sizeof(Value));
    o.type_ = Type::kNull;
  }
  return *this;
}

void Value::Destroy() {
  switch (type_) {
    case Type::kString:
      if (len_ == kNodeString) Unref(u_.s);
      break;
    case Type::kArray:
      Unref(u_.a);
      break;
    case Type::kObject:
      Unref(u_.o);
      break;
    default:
      break;
  }
  type_ = Type::kNull;
}

void Value::CopyFrom(const Value& o) {
  std::memcpy(static_cast<void*>(this), &o, sizeof(Value));
  switch (o.type_) {
    case Type::kString:
      if (len_ == kNodeString) Ref(u_.s);
      break;
    case Type::kArray:
      Ref(u_.a);
      break;
    case Type::kObject:
      Ref(u_.o);
      break;
    default:
      break;
  }
}

void Value::Unshare() {
  switch (type_) {
    case Type::kArray:
      MakeUnique(&u_.a);
      break;
    case Type::kObject:
      MakeUnique(&u_.o);
      break;
    default:
      break;
  }
}

void Value::ShrinkToFit() {
  if (is_array()) {
    as_array().shrink_to_fit();
  } else if (is_object()) {
    as_object().shrink_to_fit();
  }
}

bool Value::as_bool() const {
  if (!is_bool()) WrongType("bool", *this);
  return u_.b;
}
int64_t Value::as_int() const {
  if (!is_int()) WrongType("int", *this);
  return u_.i;
}
double Value::as_double() const {
  if (is_int()) return static_cast<double>(u_.i);
  if (!is_double()) WrongType("number", *this);
  return u_.d;
}
StringRef Value::as_string() const {
  if (!is_string()) WrongType("string", *this);
  if (len_ != kNodeString) return StringRef(inline_chars(), len_);
  return StringRef(u_.s->chars(), u_.s->size);
}
const Array& Value::as_array() const {
  if (!is_array()) WrongType("array", *this);
  return u_.a->data;
}
Array& Value::as_array() {
  if (!is_array()) WrongType("array", *this);
  MakeUnique(&u_.a);
  return u_.a->data;
}
const Object& Value::as_object() const {
  if (!is_object()) WrongType("object", *this);
  return u_.o->data;
}
Object& Value::as_object() {
  if (!is_object()) WrongType("object", *this);
  MakeUnique(&u_.o);
  return u_.o->data;
}

const Value* Value::Find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const auto& m : u_.o->data)
    if (m.first == key) return &m.second;
  return nullptr;
}
Value* Value::Find(std::string_view key) {
  if (!is_object()) return nullptr;
  const Object& members = u_.o->data;
  for (size_t i = 0; i < members.size(); ++i) {
    if (members[i].first == key) return &as_object()[i].second;
  }
  return nullptr;
}

const Value* Value::FindPath(std::initializer_list<std::string_view> keys) const {
  const Value* v = this;
  for (auto k : keys) {
    v = v->Find(k);
    if (!v) return nullptr;
  }
  return v;
}

Value& Value::Set(Key key, Value v) {
  if (is_null()) *this = EmptyObject();
  Object& members = as_object();
  for (auto& m : members) {
    if (m.first == key) {
      m.second = std::move(v);
      return m.second;
    }
  }
  members.emplace_back(std::move(key), std::move(v));
  return members.back().second;
}

bool Value::Erase(std::string_view key) {
  if (!is_object()) return false;
  const Object& members = u_.o->data;
  for (size_t i = 0; i < members.size(); ++i) {
    if (members[i].first == key) {
      Object& own = as_object();
      own.erase(own.begin() + static_cast<std::ptrdiff_t>(i));
      return true;
    }
  }
  return false;
}

void Value::Append(Value v) {
  if (is_null()) *this = EmptyArray();
  as_array().push_back(std::move(v));
}

std::string Value::GetString(std::string_view key, std::string_view fallback) const {
  const Value* v = Find(key);
  return std::string(v && v->is_string() ? std::string_view(v->as_string()) : fallback);
}

size_t Value::size() const {
  if (is_array()) return u_.a->data.size();
  if (is_object()) return u_.o->data.size();
  return 0;
}

bool Value::operator==(const Value& o) const {
  if (is_number() && o.is_number()) {
    if (is_int() && o.is_int()) return u_.i == o.u_.i;
    return as_double() == o.as_double();
  }
  if (type_ != o.type_) return false;
  switch (type_) {
    case Type::kNull:
      return true;
    case Type::kBool:
      return u_.b == o.u_.b;
    case Type::kString:
      return as_string() == o.as_string();
    case Type::kArray:
      return u_.a->data == o.u_.a->data;
    case Type::kObject: {
      if (u_.o->data.size() != o.u_.o->data.size()) return false;
      for (const auto& m : u_.o->data) {
        const Value* other = o.Find(m.first);
        if (!other || !(m.second == *other)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

const char* Value::TypeName() const {
  switch (type_) {
    case Type::kNull:
      return "null";
    case Type::kBool:
      return "bool";
    case Type::kInt:
      return "integer";
    case Type::kDouble:
      return "number";
    case Type::kString:
      return "string";
    case Type::kArray:
      return "list";
    case Type::kObject:
      return "map";
  }
  return "?";
}

}  // namespace plumb::resource
