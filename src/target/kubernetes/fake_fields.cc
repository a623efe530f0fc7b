#include "target/kubernetes/fake_fields.h"

#include "core/strings.h"

namespace plumb::target::kubernetes::testing {

using resource::Value;

namespace {

void Collect(const Value& v, FieldPath* prefix, std::set<FieldPath>* out) {
  if (v.is_object() && v.size() > 0) {
    for (const auto& [k, child] : v.as_object()) {
      prefix->push_back(k);
      Collect(child, prefix, out);
      prefix->pop_back();
    }
    return;
  }
  out->insert(*prefix);
}

void Changed(const Value* a, const Value* b, FieldPath* prefix, std::set<FieldPath>* out) {
  bool a_map = a && a->is_object() && a->size() > 0, b_map = b && b->is_object() && b->size() > 0;
  if (a_map || b_map) {
    std::set<std::string> keys;
    if (a_map)
      for (const auto& m : a->as_object()) keys.insert(m.first);
    if (b_map)
      for (const auto& m : b->as_object()) keys.insert(m.first);
    for (const std::string& k : keys) {
      prefix->push_back(k);
      Changed(a_map ? a->Find(k) : nullptr, b_map ? b->Find(k) : nullptr, prefix, out);
      prefix->pop_back();
    }
    return;
  }
  if ((a == nullptr) != (b == nullptr) || (a && *a != *b)) out->insert(*prefix);
}

}  // namespace

std::set<FieldPath> AppliedFields(const Value& obj) {
  Value copy = obj;
  copy.Erase("apiVersion");
  copy.Erase("kind");
  copy.Erase("status");
  if (Value* md = copy.Find("metadata")) {
    for (const char* k : {"name", "namespace", "resourceVersion", "uid", "managedFields",
                          "creationTimestamp", "generation", "selfLink"})
      md->Erase(k);
    if (md->size() == 0) copy.Erase("metadata");
  }
  std::set<FieldPath> out;
  FieldPath prefix;
  if (copy.size() > 0) Collect(copy, &prefix, &out);
  return out;
}

const Value* GetField(const Value& v, const FieldPath& p) {
  const Value* cur = &v;
  for (const std::string& k : p) {
    cur = cur->Find(k);
    if (!cur) return nullptr;
  }
  return cur;
}

void SetField(Value* v, const FieldPath& p, Value leaf) {
  Value* cur = v;
  for (size_t i = 0; i + 1 < p.size(); ++i) {
    Value* next = cur->Find(p[i]);
    if (!next || !next->is_object()) next = &cur->Set(p[i], Value::EmptyObject());
    cur = next;
  }
  if (p.empty()) return;
  cur->Set(p.back(), std::move(leaf));
}

void EraseField(Value* v, const FieldPath& p) {
  if (p.empty()) return;
  std::vector<Value*> chain = {v};
  for (size_t i = 0; i + 1 < p.size(); ++i) {
    Value* next = chain.back()->Find(p[i]);
    if (!next || !next->is_object()) return;
    chain.push_back(next);
  }
  chain.back()->Erase(p.back());
  for (size_t i = chain.size() - 1; i > 0; --i)
    if (chain[i]->size() == 0) chain[i - 1]->Erase(p[i - 1]);
}

std::string FieldString(const FieldPath& p) {
  std::string s;
  for (const std::string& k : p) s += "." + k;
  return s;
}

Value FieldsV1(const std::set<FieldPath>& fields) {
  Value out = Value::EmptyObject();
  for (const FieldPath& p : fields) {
    Value* cur = &out;
    for (const std::string& k : p) {
      std::string key = "f:" + k;
      Value* next = cur->Find(key);
      if (!next) next = &cur->Set(key, Value::EmptyObject());
      cur = next;
    }
  }
  return out;
}

Value MergePatch(Value target, const Value& patch) {
  if (!patch.is_object()) return patch;
  if (!target.is_object()) target = Value::EmptyObject();
  for (const auto& [k, v] : patch.as_object()) {
    if (v.is_null()) {
      target.Erase(k);
    } else {
      const Value* cur = target.Find(k);
      target.Set(k, MergePatch(cur ? *cur : Value(), v));
    }
  }
  return target;
}

std::set<FieldPath> ChangedFields(const Value& before, const Value& after) {
  std::set<FieldPath> out;
  FieldPath prefix;
  Changed(&before, &after, &prefix, &out);
  return out;
}

bool MatchesSelector(const Value* labels, const std::string& selector) {
  for (const std::string& raw : Split(selector, ',')) {
    std::string term = Trim(raw);
    if (term.empty()) continue;
    size_t ne = term.find("!="), eq = term.find('=');
    auto label = [&](const std::string& k) -> const Value* {
      return labels ? labels->Find(k) : nullptr;
    };
    if (ne != std::string::npos) {
      const Value* v = label(Trim(term.substr(0, ne)));
      if (v && v->is_string() && v->as_string() == Trim(term.substr(ne + 2))) return false;
    } else if (eq != std::string::npos) {
      size_t vstart = term.compare(eq, 2, "==") == 0 ? eq + 2 : eq + 1;
      const Value* v = label(Trim(term.substr(0, eq)));
      if (!v || !v->is_string() || v->as_string() != Trim(term.substr(vstart))) return false;
    } else if (term[0] == '!') {
      if (label(Trim(term.substr(1)))) return false;
    } else if (!label(term)) {
      return false;
    }
  }
  return true;
}

}  // namespace plumb::target::kubernetes::testing
