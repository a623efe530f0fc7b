// Normalize, StructuralDiff and ResourceDiff. UnifiedDiff lives in unified_diff.cc.
#include "diff/diff.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/strings.h"
#include "diff/field_path.h"
#include "resource/codec.h"

namespace plumb::diff {
namespace {

using resource::Object;
using resource::Value;

constexpr const char* kServerMetadata[] = {
    "uid",           "resourceVersion", "generation",        "creationTimestamp",
    "managedFields", "selfLink",        "deletionTimestamp",
};

// Annotations the operator or kubectl writes for their own bookkeeping. User-facing
// plumbline.dev annotations (sync-wave, hooks, options) come from git and stay.
constexpr const char* kInternalAnnotations[] = {
    "kubectl.kubernetes.io/last-applied-configuration",
    "plumbline.dev/applied-hash",
};

void DropEmptyMap(Value* parent, std::string_view key) {
  const Value* v = std::as_const(*parent).Find(key);
  if (v && v->is_object() && v->size() == 0) parent->Erase(key);
}

void Walk(const Value& live, const Value& desired, const std::string& path,
          std::vector<FieldChange>* out) {
  if (live.is_object() && desired.is_object()) {
    for (const auto& [key, want] : desired.as_object()) {
      const std::string child = AppendKey(path, key);
      if (const Value* have = live.Find(key)) {
        Walk(*have, want, child, out);
      } else {
        out->push_back({child, FieldOp::kAdded, Value(), want});
      }
    }
    for (const auto& [key, have] : live.as_object()) {
      if (!desired.Find(key)) {
        out->push_back({AppendKey(path, key), FieldOp::kRemoved, have, Value()});
      }
    }
    return;
  }
  if (live.is_array() && desired.is_array()) {
    const auto& la = live.as_array();
    const auto& da = desired.as_array();
    const size_t common = std::min(la.size(), da.size());
    for (size_t i = 0; i < common; ++i) Walk(la[i], da[i], AppendIndex(path, i), out);
    for (size_t i = common; i < da.size(); ++i)
      out->push_back({AppendIndex(path, i), FieldOp::kAdded, Value(), da[i]});
    for (size_t i = common; i < la.size(); ++i)
      out->push_back({AppendIndex(path, i), FieldOp::kRemoved, la[i], Value()});
    return;
  }
  if (live != desired) out->push_back({path, FieldOp::kChanged, live, desired});
}

constexpr const char* kSealedChanged = "<sealed value changed>";

// Replaces the values under `field` (data / stringData) of both sides so that no secret
// value survives, while keeping which keys exist and whether a value changed visible.
void MaskSecretField(std::string_view field, Value* live, Value* desired) {
  Value* lf = live->is_object() ? live->Find(field) : nullptr;
  Value* df = desired->is_object() ? desired->Find(field) : nullptr;
  if (lf && !lf->is_object()) *lf = Value(resource::kMaskedValue);
  if (df && !df->is_object()) *df = Value(resource::kMaskedValue);
  if (lf && df && lf->is_object() && df->is_object()) {
    for (auto& [key, lv] : lf->as_object()) {
      Value* dv = df->Find(key);
      if (!dv) {
        lv = Value(resource::kMaskedValue);
        continue;
      }
      if (lv == *dv) {
        lv = Value(resource::kMaskedValue);
        *dv = Value(resource::kMaskedValue);
      } else {
        // Different text on the two sides, so the line shows as changed; neither says
        // anything about the values.
        lv = Value(resource::kMaskedValue);
        *dv = Value(kSealedChanged);
      }
    }
  }
  for (Value* side : {lf, df}) {
    if (!side || !side->is_object()) continue;
    for (auto& [key, v] : side->as_object()) {
      if (!(v.is_string() &&
            (v.as_string() == resource::kMaskedValue || v.as_string() == kSealedChanged))) {
        v = Value(resource::kMaskedValue);
      }
    }
  }
}

// A masked copy of one side: drops annotations that may embed the whole object.
void StripEmbeddedCopies(Value* body) {
  Value* annotations = body->is_object() ? body->Find("metadata") : nullptr;
  if (annotations) annotations = annotations->Find("annotations");
  if (annotations && annotations->is_object()) {
    annotations->Erase("kubectl.kubernetes.io/last-applied-configuration");
  }
}

// Whether Normalize would change `meta` (a metadata map).
bool MetadataNeedsNormalizing(const Value& meta) {
  for (const char* key : kServerMetadata)
    if (meta.Find(key)) return true;
  for (const char* map : {"labels", "annotations"}) {
    const Value* v = meta.Find(map);
    if (v && v->is_object() && v->size() == 0) return true;
  }
  const Value* annotations = meta.Find("annotations");
  if (annotations && annotations->is_object()) {
    for (const char* key : kInternalAnnotations)
      if (annotations->Find(key)) return true;
  }
  return false;
}

}  // namespace

Value Normalize(const Value& v, const NormalizeOptions& options) {
  // `out` shares v's nodes; only what changes below is copied (a level at a time), so a
  // document with nothing to drop costs no allocation.
  Value out = v;
  if (!out.is_object()) return out;
  for (const std::string& path : options.ignore_paths) ErasePath(&out, path);
  out.Erase("status");
  const Value* meta = std::as_const(out).Find("metadata");
  if (meta && meta->is_object() && MetadataNeedsNormalizing(*meta)) {
    Value* own = out.Find("metadata");
    for (const char* key : kServerMetadata) own->Erase(key);
    if (Value* annotations = own->Find("annotations"); annotations && annotations->is_object()) {
      for (const char* key : kInternalAnnotations) annotations->Erase(key);
    }
    DropEmptyMap(own, "labels");
    DropEmptyMap(own, "annotations");
  }
  return out;
}

std::vector<FieldChange> StructuralDiff(const Value& live, const Value& desired) {
  std::vector<FieldChange> out;
  Walk(live, desired, "", &out);
  return out;
}

std::string ResourceDiff(const resource::ResourceId& id, const Value& live, const Value& desired) {
  Value l = live, d = desired;
  if (resource::IsSecret(id)) {
    StripEmbeddedCopies(&l);
    StripEmbeddedCopies(&d);
    MaskSecretField("data", &l, &d);
    MaskSecretField("stringData", &l, &d);
  }
  const std::string before = l.is_null() ? "" : resource::ToYaml(l);
  const std::string after = d.is_null() ? "" : resource::ToYaml(d);
  const std::string name = id.ToString();
  return UnifiedDiff(before, after, "live/" + name, "git/" + name);
}

}  // namespace plumb::diff
