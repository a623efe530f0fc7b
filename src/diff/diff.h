// diff: normalisation (fields a target fills in, ignore rules), structural diff
// between a live and a desired body, and unified text output for people
// (`plumb diff`). Pure functions: no I/O, thread-safe.
#pragma once

#include <string>
#include <vector>

#include "resource/resource.h"
#include "resource/value.h"

namespace plumb::diff {

struct NormalizeOptions {
  // Extra field paths to drop, dot-separated from the document root ("spec.replicas").
  std::vector<std::string> ignore_paths;
};

// Returns a copy without what the target or server fills in: `status`, and under
// `metadata`: uid, resourceVersion, generation, creationTimestamp, managedFields,
// selfLink, deletionTimestamp, and the annotations
// "kubectl.kubernetes.io/last-applied-configuration" and anything "plumbline.dev/..."
// that is operator-internal ("plumbline.dev/applied-hash"). Empty `labels`/`annotations`
// maps are dropped, so absent and empty compare equal.
resource::Value Normalize(const resource::Value& v, const NormalizeOptions& options = {});

enum class FieldOp { kAdded, kRemoved, kChanged };

struct FieldChange {
  std::string path;  // "spec.content", "spec.ports[1].port", "data.key"
  FieldOp op;
  resource::Value before;  // null when added
  resource::Value after;   // null when removed
};

// Field-level differences from `live` to `desired` (both normalised by the caller),
// in document order. Arrays compare element by element by index.
std::vector<FieldChange> StructuralDiff(const resource::Value& live,
                                        const resource::Value& desired);

// A unified diff (as `diff -u`) of two texts, with `context` lines of context; empty
// when equal. Labels go on the ---/+++ lines.
std::string UnifiedDiff(const std::string& before, const std::string& after,
                        const std::string& before_label, const std::string& after_label,
                        int context = 3);

// The unified diff of one resource: YAML of `live` (null = absent) against YAML of
// `desired` (null = to be deleted), labelled "live/<id>" and "git/<id>". For Secrets,
// every value under data/stringData is shown as "<sealed value changed>" when it differs
// and the masked placeholder when equal; plaintext never appears. (A differing value reads
// "-  key: <secret value hidden>" / "+  key: <sealed value changed>", so the line shows as
// changed; a key on one side only shows the placeholder on that side. The
// last-applied-configuration annotation, which embeds the whole object, is dropped.)
std::string ResourceDiff(const resource::ResourceId& id, const resource::Value& live,
                         const resource::Value& desired);

}  // namespace plumb::diff
