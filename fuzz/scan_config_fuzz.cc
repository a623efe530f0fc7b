// Fuzz target: a .plumbscan.yaml read by scan::ParseConfig; a config that parses must give
// rules a Scanner either compiles or refuses with InvalidArgument (never a crash), and a
// compiled scanner must scan the input itself, reporting only redacted matches.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fuzz_check.h"
#include "scan/scan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1 << 16)) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = plumb::scan::ParseConfig(text, ".plumbscan.yaml");
  if (!config.ok()) {
    if (config.status().code() != plumb::Code::kInvalidArgument) {
      plumb::fuzz::Fail("config error is not InvalidArgument", config.status().ToString());
    }
    return 0;
  }
  auto rules = plumb::scan::EffectiveRules(*config);
  if (!rules.ok() || rules->empty()) return 0;
  // Compiling the rules takes ~0.1 s: a config that keeps the builtin rules as they are
  // scans with one scanner compiled once, so the fuzzer spends its time on the parser.
  static const auto builtin =
      std::move(plumb::scan::Scanner::Create(plumb::scan::BuiltinRules())).value();
  std::unique_ptr<plumb::scan::Scanner> own;
  if (!config->rules.empty() || !config->disabled_rules.empty()) {
    auto scanner = plumb::scan::Scanner::Create(std::move(rules).value());
    if (!scanner.ok()) {
      if (scanner.status().code() != plumb::Code::kInvalidArgument) {
        plumb::fuzz::Fail("rule error is not InvalidArgument", scanner.status().ToString());
      }
      return 0;
    }
    own = std::move(scanner).value();
  }
  auto found = (own != nullptr ? *own : *builtin).Scan(text, "fuzz.txt");
  if (!found.ok()) plumb::fuzz::Fail("scan failed", found.status().ToString());
  for (const auto& f : *found) {
    if (f.redacted.size() > 9 || f.line < 1 || f.column < 1) {
      plumb::fuzz::Fail("finding not redacted or misplaced", f.rule_id);
    }
  }
  return 0;
}
