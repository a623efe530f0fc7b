#include "resource/value.h"

#include <cstdio>
#include <cstdlib>

namespace plumb::resource {
namespace {
[[noreturn]] void WrongType(const char* want, const Value& v) {
  std::fprintf(stderr, "plumb: bug: value is %s, not %s\n", v.TypeName(), want);
  std::abort();
}
}  // namespace

Value::Value(std::string s) : type_(Type::kString) { u_.s = new std::string(std::move(s)); }
Value::Value(Array a) : type_(Type::kArray) { u_.a = new Array(std::move(a)); }
Value::Value(Object o) : type_(Type::kObject) { u_.o = new Object(std::move(o)); }

Value::Value(const Value& o) { CopyFrom(o); }
Value::Value(Value&& o) noexcept : type_(o.type_), u_(o.u_) {
  o.type_ = Type::kNull;
  o.u_ = {};
}
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
    type_ = o.type_;
    u_ = o.u_;
    o.type_ = Type::kNull;
    o.u_ = {};
  }
  return *this;
}
Value::~Value() { Destroy(); }

void Value::Destroy() {
  switch (type_) {
    case Type::kString:
      delete u_.s;
      break;
    case Type::kArray:
      delete u_.a;
      break;
    case Type::kObject:
      delete u_.o;
      break;
    default:
      break;
  }
  type_ = Type::kNull;
  u_ = {};
}

void Value::CopyFrom(const Value& o) {
  type_ = o.type_;
  switch (o.type_) {
    case Type::kString:
      u_.s = new std::string(*o.u_.s);
      break;
    case Type::kArray:
      u_.a = new Array(*o.u_.a);
      break;
    case Type::kObject:
      u_.o = new Object(*o.u_.o);
      break;
    default:
      u_ = o.u_;
      break;
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
const std::string& Value::as_string() const {
  if (!is_string()) WrongType("string", *this);
  return *u_.s;
}
const Array& Value::as_array() const {
  if (!is_array()) WrongType("array", *this);
  return *u_.a;
}
Array& Value::as_array() {
  if (!is_array()) WrongType("array", *this);
  return *u_.a;
}
const Object& Value::as_object() const {
  if (!is_object()) WrongType("object", *this);
  return *u_.o;
}
Object& Value::as_object() {
  if (!is_object()) WrongType("object", *this);
  return *u_.o;
}

const Value* Value::Find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const auto& m : *u_.o)
    if (m.first == key) return &m.second;
  return nullptr;
}
Value* Value::Find(std::string_view key) {
  return const_cast<Value*>(static_cast<const Value*>(this)->Find(key));
}

const Value* Value::FindPath(std::initializer_list<std::string_view> keys) const {
  const Value* v = this;
  for (auto k : keys) {
    v = v->Find(k);
    if (!v) return nullptr;
  }
  return v;
}

Value& Value::Set(std::string key, Value v) {
  if (is_null()) *this = EmptyObject();
  if (!is_object()) WrongType("object", *this);
  for (auto& m : *u_.o) {
    if (m.first == key) {
      m.second = std::move(v);
      return m.second;
    }
  }
  u_.o->emplace_back(std::move(key), std::move(v));
  return u_.o->back().second;
}

bool Value::Erase(std::string_view key) {
  if (!is_object()) return false;
  for (auto it = u_.o->begin(); it != u_.o->end(); ++it) {
    if (it->first == key) {
      u_.o->erase(it);
      return true;
    }
  }
  return false;
}

void Value::Append(Value v) {
  if (is_null()) *this = EmptyArray();
  as_array().push_back(std::move(v));
}

std::string Value::GetString(std::string_view key, const std::string& fallback) const {
  const Value* v = Find(key);
  return v && v->is_string() ? v->as_string() : fallback;
}

size_t Value::size() const {
  if (is_array()) return u_.a->size();
  if (is_object()) return u_.o->size();
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
      return *u_.s == *o.u_.s;
    case Type::kArray:
      return *u_.a == *o.u_.a;
    case Type::kObject: {
      if (u_.o->size() != o.u_.o->size()) return false;
      for (const auto& m : *u_.o) {
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
