// Fuzz target: ParseJson on arbitrary bytes, then the round-trip properties.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto v = plumb::resource::ParseJson(text, "fuzz.json", plumb::fuzz::FuzzLimits());
  if (v.ok()) plumb::fuzz::CheckValue(*v);
  return 0;
}
