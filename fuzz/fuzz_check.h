// Shared checks for the fuzz targets: properties every parsed value must keep.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "resource/codec.h"
#include "resource/resource.h"

namespace plumb::fuzz {

// Limits small enough that one input stays fast, large enough to reach every path.
inline resource::ParseLimits FuzzLimits() {
  return resource::ParseLimits{
      .max_bytes = 1 << 16, .max_documents = 1000, .max_depth = 64, .max_alias_nodes = 100000};
}

// Re-reading our own output: expanded aliases can make it much larger than the input.
inline resource::ParseLimits RoundTripLimits() {
  resource::ParseLimits limits = FuzzLimits();
  limits.max_bytes = 256 << 20;
  return limits;
}

inline bool HasNonFinite(const resource::Value& v) {
  if (v.is_double()) return !std::isfinite(v.as_double());
  if (v.is_array()) {
    for (const auto& e : v.as_array())
      if (HasNonFinite(e)) return true;
  }
  if (v.is_object()) {
    for (const auto& m : v.as_object())
      if (HasNonFinite(m.second)) return true;
  }
  return false;
}

[[noreturn]] inline void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz property failed: %s\n%s\n", what, detail.c_str());
  std::abort();
}

// Writing a value and reading it back gives the same value, in YAML and in JSON; the
// other entry points accept it without crashing.
inline void CheckValue(const resource::Value& v) {
  bool comparable = v == v;  // false only when a NaN is inside
  std::string yaml = resource::ToYaml(v);
  auto back = resource::ParseYaml(yaml, "roundtrip.yaml", RoundTripLimits());
  if (!back.ok()) Fail("ToYaml output does not parse", back.status().message() + "\n" + yaml);
  resource::Value got = back->empty() ? resource::Value() : (*back)[0].value;
  if (comparable && got != v) Fail("YAML round trip changed the value", yaml);

  std::string json = resource::ToJson(v, 2);
  auto jback = resource::ParseJson(json, "roundtrip.json", RoundTripLimits());
  if (!jback.ok()) Fail("ToJson output does not parse", jback.status().message() + "\n" + json);
  if (!HasNonFinite(v) && *jback != v) Fail("JSON round trip changed the value", json);

  std::string canonical = resource::CanonicalJson(v);
  auto cback = resource::ParseJson(canonical, "canonical.json", RoundTripLimits());
  if (!cback.ok()) Fail("CanonicalJson output does not parse", canonical);
  if (!HasNonFinite(v) && *cback != v) Fail("canonical JSON changed the value", canonical);
  (void)resource::CanonicalHash(v);

  auto r = resource::Resource::FromValue(v, resource::Origin{.file = "f.yaml", .line = 1}, "d");
  if (r.ok()) {
    (void)r->SyncWave();
    (void)resource::MaskSecretValues(r->id(), r->body());
    auto id = resource::ResourceId::FromKey(r->id().Key());
    if (!id.ok() || *id != r->id()) Fail("ResourceId key does not round-trip", r->id().Key());
  }
}

}  // namespace plumb::fuzz
