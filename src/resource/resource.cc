#include "resource/resource.h"

#include <algorithm>
#include <charconv>

#include "core/strings.h"
#include "resource/codec.h"
#include "resource/number_format.h"

namespace plumb::resource {
namespace {

constexpr const char* kSyncWaveAnnotation = "plumbline.dev/sync-wave";

Status InputError(const Origin& origin, const std::string& what) {
  std::string file = origin.ToString();
  return InvalidArgument(file.empty() ? what : file + ": " + what);
}

// A required string field: present, a string, non-empty.
Status RequireString(const Value* v, const std::string& field, const Origin& origin) {
  if (v == nullptr || v->is_null()) return InputError(origin, field + " is missing");
  if (!v->is_string()) {
    return InputError(origin, field + " must be a string, not a " + v->TypeName());
  }
  if (v->as_string().empty()) return InputError(origin, field + " must not be empty");
  return Status::Ok();
}

std::string StringIn(const Value& body, std::string_view section, const std::string& key,
                     const std::string& fallback) {
  const Value* map = body.FindPath({"metadata", section});
  return map ? map->GetString(key, fallback) : fallback;
}

// An object's members in key order: the order CanonicalJson writes them in.
std::vector<const Member*> MembersByKey(const Object& fields) {
  std::vector<const Member*> members;
  members.reserve(fields.size());
  for (const Member& m : fields) members.push_back(&m);
  std::sort(members.begin(), members.end(),
            [](const Member* a, const Member* b) { return a->first < b->first; });
  return members;
}

void AppendCanonical(const Value& v, std::string* out) {
  switch (v.type()) {
    case Value::Type::kNull:
      *out += "null";
      break;
    case Value::Type::kBool:
      *out += v.as_bool() ? "true" : "false";
      break;
    case Value::Type::kInt:
      *out += std::to_string(v.as_int());
      break;
    case Value::Type::kDouble: {
      double d = v.as_double();
      *out += internal::IsFinite(d) ? internal::FormatDouble(d) : "null";
      break;
    }
    case Value::Type::kString:
      AppendJsonQuoted(out, v.as_string());
      break;
    case Value::Type::kArray: {
      *out += '[';
      bool first = true;
      for (const Value& e : v.as_array()) {
        if (!first) *out += ',';
        first = false;
        AppendCanonical(e, out);
      }
      *out += ']';
      break;
    }
    case Value::Type::kObject: {
      *out += '{';
      bool first = true;
      for (const Member* m : MembersByKey(v.as_object())) {
        if (!first) *out += ',';
        first = false;
        AppendJsonQuoted(out, m->first);
        *out += ':';
        AppendCanonical(m->second, out);
      }
      *out += '}';
      break;
    }
  }
}

// ToJson(v) into *json and AppendCanonical(v) into *canon together: each string is quoted
// once, into *json, and its text copied to *canon. An object whose keys are not in order
// goes into *canon member by member in stored order, then its members' texts are put in
// the order AppendCanonical writes them (MembersByKey).
void AppendJsonAndCanonical(const Value& v, std::string* json, std::string* canon) {
  switch (v.type()) {
    case Value::Type::kNull:
    case Value::Type::kBool:
    case Value::Type::kInt:
    case Value::Type::kString: {
      const size_t at = json->size();
      if (v.is_string())
        AppendJsonQuoted(json, v.as_string());
      else if (v.is_int())
        *json += std::to_string(v.as_int());
      else
        *json += v.is_null() ? "null" : v.as_bool() ? "true" : "false";
      canon->append(*json, at, std::string::npos);
      break;
    }
    case Value::Type::kDouble: {
      double d = v.as_double();
      const bool finite = internal::IsFinite(d);
      *json += finite ? internal::FormatDoubleKeepType(d) : "null";
      *canon += finite ? internal::FormatDouble(d) : "null";
      break;
    }
    case Value::Type::kArray: {
      *json += '[';
      *canon += '[';
      bool first = true;
      for (const Value& e : v.as_array()) {
        if (!first) {
          *json += ',';
          *canon += ',';
        }
        first = false;
        AppendJsonAndCanonical(e, json, canon);
      }
      *json += ']';
      *canon += ']';
      break;
    }
    case Value::Type::kObject: {
      const Object& fields = v.as_object();
      bool in_order = true;
      for (size_t i = 1; in_order && i < fields.size(); ++i)
        in_order = fields[i - 1].first < fields[i].first;
      *json += '{';
      *canon += '{';
      const size_t base = canon->size();
      std::vector<std::pair<size_t, size_t>> spans;  // per member in stored order, in *canon
      if (!in_order) spans.reserve(fields.size());
      bool first = true;
      for (const Member& m : fields) {
        if (!first) {
          *json += ',';
          if (in_order) *canon += ',';
        }
        first = false;
        const size_t start = canon->size();
        const size_t at = json->size();
        AppendJsonQuoted(json, m.first);
        canon->append(*json, at, std::string::npos);
        *json += ':';
        *canon += ':';
        AppendJsonAndCanonical(m.second, json, canon);
        if (!in_order) spans.emplace_back(start, canon->size() - start);
      }
      if (!in_order) {
        std::string sorted;
        sorted.reserve(canon->size() - base + fields.size());
        for (const Member* m : MembersByKey(fields)) {
          if (!sorted.empty()) sorted += ',';
          const auto& [start, len] = spans[static_cast<size_t>(m - fields.data())];
          sorted.append(*canon, start, len);
        }
        canon->resize(base);
        *canon += sorted;
      }
      *json += '}';
      *canon += '}';
      break;
    }
  }
}

}  // namespace

std::string ResourceId::Key() const {
  // Built in place: the plan asks every resource's key (the local runtime's lookups).
  std::string key;
  key.reserve(group.size() + kind.size() + ns.size() + name.size() + 3);
  key.append(group).append(1, '/').append(kind).append(1, '/').append(ns).append(1, '/');
  return key.append(name);
}

Result<ResourceId> ResourceId::FromKey(const std::string& key) {
  // The name is last and takes the rest, so a name holding '/' still round-trips.
  ResourceId id;
  resource::Key* parts[] = {&id.group, &id.kind, &id.ns};
  size_t pos = 0;
  for (resource::Key* part : parts) {
    size_t slash = key.find('/', pos);
    if (slash == std::string::npos) {
      return InvalidArgument("resource key \"" + key + "\" is not group/kind/namespace/name");
    }
    *part = std::string_view(key).substr(pos, slash - pos);
    pos = slash + 1;
  }
  id.name = key.substr(pos);
  if (id.kind.empty() || id.name.empty()) {
    return InvalidArgument("resource key \"" + key + "\" has an empty kind or name");
  }
  return id;
}

std::string ResourceId::ToString() const {
  // The core group and the local runtime's group are implied by the kind in messages.
  std::string s;
  if (!group.empty() && group != "local.plumbline.dev") s += group + "/";
  s += kind + "/";
  if (!ns.empty()) s += ns + "/";
  s += name;
  return s;
}

size_t ResourceIdHash::operator()(const ResourceId& id) const {
  uint64_t h = Fnv1a64(id.group);
  h = Fnv1a64(id.kind, h ^ 0x2f);
  h = Fnv1a64(id.ns, h ^ 0x2f);
  h = Fnv1a64(id.name, h ^ 0x2f);
  return static_cast<size_t>(h);
}

void SplitApiVersion(const std::string& api_version, std::string* group, std::string* version) {
  size_t slash = api_version.rfind('/');
  if (slash == std::string::npos) {
    group->clear();
    *version = api_version;
  } else {
    *group = api_version.substr(0, slash);
    *version = api_version.substr(slash + 1);
  }
}

Result<Resource> Resource::FromValue(Value body, Origin origin,
                                     const std::string& default_namespace) {
  if (!body.is_object()) {
    return InputError(origin, std::string("a resource must be a map, not a ") + body.TypeName());
  }
  RETURN_IF_ERROR(RequireString(body.Find("apiVersion"), "apiVersion", origin));
  RETURN_IF_ERROR(RequireString(body.Find("kind"), "kind", origin));
  const Value* metadata = body.Find("metadata");
  if (metadata == nullptr || metadata->is_null()) {
    return InputError(origin, "metadata.name is missing");
  }
  if (!metadata->is_object()) {
    return InputError(origin, std::string("metadata must be a map, not a ") + metadata->TypeName());
  }
  RETURN_IF_ERROR(RequireString(metadata->Find("name"), "metadata.name", origin));
  const Value* ns = metadata->Find("namespace");
  if (ns != nullptr && !ns->is_null() && !ns->is_string()) {
    return InputError(origin,
                      std::string("metadata.namespace must be a string, not a ") + ns->TypeName());
  }
  for (const char* section : {"labels", "annotations"}) {
    const Value* map = metadata->Find(section);
    if (map != nullptr && !map->is_null() && !map->is_object()) {
      return InputError(
          origin, std::string("metadata.") + section + " must be a map, not a " + map->TypeName());
    }
  }

  // Identity parts are joined with '/' in keys (ResourceId::Key), so only the name may
  // hold one; Kubernetes allows none of these anyway.
  if (std::count(body.Find("apiVersion")->as_string().begin(),
                 body.Find("apiVersion")->as_string().end(), '/') > 1) {
    return InputError(origin, "apiVersion must be \"version\" or \"group/version\"");
  }
  if (body.Find("kind")->as_string().find('/') != std::string::npos) {
    return InputError(origin, "kind must not contain '/'");
  }
  if (ns != nullptr && ns->is_string() && ns->as_string().find('/') != std::string::npos) {
    return InputError(origin, "metadata.namespace must not contain '/'");
  }

  auto head = std::make_shared<Head>();
  head->api_version = std::string_view(body.Find("apiVersion")->as_string());
  std::string group, version;
  SplitApiVersion(head->api_version, &group, &version);
  head->id.group = group;
  head->id.kind = body.Find("kind")->as_string();
  head->id.name = metadata->Find("name")->as_string();
  head->id.ns = (ns != nullptr && ns->is_string() && !ns->as_string().empty()) ? ns->as_string()
                                                                               : default_namespace;
  head->origin = std::move(origin);
  Resource r;
  r.head_ = std::move(head);
  r.body_ = std::move(body);
  return r;
}

const Resource::Head& Resource::head() const {
  static const Head kEmpty;
  return head_ ? *head_ : kEmpty;
}

std::string Resource::Annotation(const std::string& key, const std::string& fallback) const {
  return StringIn(body_, "annotations", key, fallback);
}

std::string Resource::Label(const std::string& key, const std::string& fallback) const {
  return StringIn(body_, "labels", key, fallback);
}

int Resource::SyncWave() const {
  std::string text = Trim(Annotation(kSyncWaveAnnotation));
  if (!text.empty() && text[0] == '+') text.erase(0, 1);
  int wave = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), wave);
  if (ec != std::errc() || end != text.data() + text.size()) return 0;
  return wave;
}

std::string CanonicalJson(const Value& v) {
  std::string out;
  AppendCanonical(v, &out);
  return out;
}

std::string CanonicalHash(const Value& v) { return Sha256Hex(CanonicalJson(v)); }

void ToJsonAndCanonicalJson(const Value& v, std::string* json, std::string* canonical) {
  json->clear();
  canonical->clear();
  AppendJsonAndCanonical(v, json, canonical);
}

bool IsSecret(const ResourceId& id) { return id.kind == "Secret"; }

Value MaskSecretValues(const ResourceId& id, const Value& body) {
  Value masked = body;
  if (!IsSecret(id) || !masked.is_object()) return masked;
  for (const char* section : {"data", "stringData"}) {
    Value* data = masked.Find(section);
    if (data == nullptr || data->is_null()) continue;
    if (!data->is_object()) {
      *data = Value(kMaskedValue);  // malformed, but never show it
      continue;
    }
    for (Member& m : data->as_object()) m.second = Value(kMaskedValue);
  }
  return masked;
}

Result<std::map<std::string, std::string>> SecretValues(const Value& body) {
  std::map<std::string, std::string> out;
  if (const Value* data = body.Find("data"); data && data->is_object()) {
    for (const auto& [k, v] : data->as_object()) {
      std::string plain;
      if (!v.is_string() || !Base64Decode(v.as_string(), &plain))
        return InvalidArgument("data." + k + " is not a base64 string");
      out[k] = std::move(plain);
    }
  }
  if (const Value* sd = body.Find("stringData"); sd && sd->is_object()) {
    for (const auto& [k, v] : sd->as_object()) {
      if (!v.is_string()) return InvalidArgument("stringData." + k + " is not a string");
      out[k] = v.as_string();
    }
  }
  return out;
}

Result<std::string> SecretValue(const Value& body, const std::string& key) {
  if (const Value* sd = body.Find("stringData"); sd && sd->is_object())
    if (const Value* v = sd->Find(key); v && v->is_string()) return v->as_string().str();
  if (const Value* data = body.Find("data"); data && data->is_object()) {
    if (const Value* v = data->Find(key); v && v->is_string()) {
      std::string plain;
      if (!Base64Decode(v->as_string(), &plain)) return InvalidArgument("not valid base64");
      return plain;
    }
  }
  return NotFound("no key " + key);
}

}  // namespace plumb::resource
