// Fuzz target: the image-setter rewrite (pipeline/setters.h) on arbitrary text. Only the
// marked values may change: every line without an edit comes back byte for byte, the
// line count stays, and a second pass over the output changes nothing (idempotence).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "pipeline/setters.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "setters_fuzz: %s\n", what);
  std::abort();
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == '\n')
      out.emplace_back();
    else
      out.back() += c;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)plumb::pipeline::ParseSetterComment(text);
  const plumb::pipeline::PolicyImage app{.image = "registry.example/team/app", .tag = "1.3.0"};
  const plumb::pipeline::PolicyImage quoted{.image = "r/x", .tag = "it's \"q\""};
  auto lookup = [&](const std::string&, const std::string& name) {
    if (name == "app") return &app;
    if (name == "q") return &quoted;
    return static_cast<const plumb::pipeline::PolicyImage*>(nullptr);
  };
  auto first = plumb::pipeline::ApplySetters(text, lookup);
  auto in = Lines(text), out = Lines(first.text);
  if (in.size() != out.size()) Fail("the number of lines changed");
  std::set<int> edited;
  for (const auto& e : first.edits) {
    if (e.line < 1 || static_cast<size_t>(e.line) > in.size()) Fail("edit outside the text");
    if (e.old_value == e.new_value) Fail("an edit that changes nothing");
    edited.insert(e.line);
  }
  for (size_t i = 0; i < in.size(); ++i)
    if (!edited.count(static_cast<int>(i + 1)) && in[i] != out[i]) Fail("an unmarked line changed");
  if (first.edits.empty() && first.text != text) Fail("text changed without an edit");
  auto second = plumb::pipeline::ApplySetters(first.text, lookup);
  if (!second.edits.empty() || second.text != first.text) Fail("a second pass changed more");
  return 0;
}
