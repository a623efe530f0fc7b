// resource: YAML and JSON codecs with limits for untrusted input.
//
// YAML follows what Kubernetes users get from sigs.k8s.io/yaml (YAML 1.1 scalars:
// yes/no/on/off/true/false are booleans in plain scalars, 0644 is octal, 0x1F hex,
// ~/null/empty are null, `<<` merge keys), parsed with libyaml's event API into our
// own Value tree. Quoted scalars are always strings.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "resource/value.h"

namespace plumb::resource {

struct ParseLimits {
  size_t max_bytes = 16 << 20;       // a larger input is refused before parsing
  size_t max_documents = 100000;     // per input
  int max_depth = 128;               // nesting of maps/lists
  size_t max_alias_nodes = 1000000;  // nodes produced by expanding aliases, per input
};

struct Document {
  Value value;
  int line = 1;  // 1-based line of the document's first content
};

// Parses a multi-document YAML stream. Empty documents (only comments, or `---` alone)
// are skipped. Errors are InvalidArgument "NAME:LINE: what is wrong" (NAME is `name`,
// used only in messages), for syntax errors and every limit.
Result<std::vector<Document>> ParseYaml(std::string_view text, const std::string& name,
                                        const ParseLimits& limits = {});

// Parses one JSON value (RFC 8259). Errors: InvalidArgument "NAME:LINE: ...".
Result<Value> ParseJson(std::string_view text, const std::string& name = "<json>",
                        const ParseLimits& limits = {});

// Serialises as JSON; object keys in stored order. `indent` > 0 pretty-prints.
std::string ToJson(const Value& v, int indent = 0);

// Serialises as block-style YAML (one document, no leading `---`), quoting strings that
// would otherwise read back as another type; multi-line strings use `|` blocks.
std::string ToYaml(const Value& v);

// Finds the 1-based line of `path` (object keys; array indexes as decimal strings)
// inside document `doc_index` of `text`. Used to point errors at a field; returns 0
// when not found. Re-parses, so only call it on the error path.
int FindYamlLine(std::string_view text, size_t doc_index, const std::vector<std::string>& path);

}  // namespace plumb::resource
