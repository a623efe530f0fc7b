// Fuzz target: ParseYaml on arbitrary bytes, then the round-trip properties of each
// document, and FindYamlLine on the same input.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto docs = plumb::resource::ParseYaml(text, "fuzz.yaml", plumb::fuzz::FuzzLimits());
  if (!docs.ok()) return 0;
  for (size_t i = 0; i < docs->size(); ++i) {
    const auto& doc = (*docs)[i];
    plumb::fuzz::CheckValue(doc.value);
    std::vector<std::string> path;
    const plumb::resource::Value* v = &doc.value;
    while (v->is_object() && v->size() > 0 && path.size() < 4) {
      path.push_back(v->as_object()[0].first);
      v = &v->as_object()[0].second;
    }
    (void)plumb::resource::FindYamlLine(text, i, path);
  }
  return 0;
}
