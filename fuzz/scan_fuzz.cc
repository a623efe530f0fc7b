// Fuzz target: the secret scanner on arbitrary bytes. The first line of the input is the
// file name, the rest its content. Each builtin rule's hand-written matcher must find
// exactly what std::regex finds with the rule's regex (on the content's first line, as the
// scanner searches a line), a whole scan must give the same findings with and without the
// matchers, and every finding is redacted and placed at line and column >= 1.
#include <cstddef>
#include <cstdint>
#include <regex>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "scan/extract.h"
#include "scan/scan.h"

namespace {

using plumb::scan::BuiltinRules;
using plumb::scan::Scanner;
namespace internal = plumb::scan::internal;

struct Fixture {
  std::unique_ptr<Scanner> fast;
  std::unique_ptr<Scanner> slow;
  std::vector<std::regex> regexes;
  std::vector<internal::SearchFn> matchers;

  Fixture() {
    fast = std::move(Scanner::Create(BuiltinRules())).value();
    slow = std::move(Scanner::Create(BuiltinRules(), {.builtin_matchers = false})).value();
    for (const auto& r : BuiltinRules()) {
      regexes.emplace_back(r.regex, r.caseless ? std::regex::ECMAScript | std::regex::icase
                                               : std::regex::ECMAScript);
      matchers.push_back(internal::FindBuiltinMatcher(r).search);
    }
  }
};

using Spans = std::vector<std::vector<size_t>>;

Spans ByMatcher(internal::SearchFn search, std::string_view w) {
  Spans out;
  internal::Match m;
  for (size_t pos = 0; pos <= w.size() && search(w, pos, &m);) {
    out.push_back({m.start, m.end, m.secret_start, m.secret_end});
    pos = m.end > m.start ? m.end : m.end + 1;
  }
  return out;
}

Spans ByRegex(const std::regex& re, int g, std::string_view w) {
  Spans out;
  for (std::cregex_iterator it(w.data(), w.data() + w.size(), re), end; it != end; ++it) {
    size_t s = static_cast<size_t>(it->position(g));
    out.push_back({static_cast<size_t>(it->position(0)),
                   static_cast<size_t>(it->position(0) + it->length(0)), s,
                   s + static_cast<size_t>(it->length(g))});
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // libstdc++'s std::regex recurses once per character matched: keep lines short.
  if (size > 4096) return 0;
  static const Fixture fx;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nl = in.find('\n');
  std::string file(nl == std::string_view::npos ? "fuzz.txt" : in.substr(0, nl));
  std::string_view text = nl == std::string_view::npos ? in : in.substr(nl + 1);

  std::string_view line = text.substr(0, text.find('\n'));
  const auto& rules = BuiltinRules();
  for (size_t i = 0; i < rules.size(); ++i) {
    if (ByMatcher(fx.matchers[i], line) != ByRegex(fx.regexes[i], rules[i].secret_group, line)) {
      plumb::fuzz::Fail("matcher and regex disagree", rules[i].id);
    }
  }

  auto fast = fx.fast->Scan(text, file);
  auto slow = fx.slow->Scan(text, file);
  if (!fast.ok() || !slow.ok()) plumb::fuzz::Fail("scan failed", file);
  if (fast->size() != slow->size()) plumb::fuzz::Fail("scans disagree", "finding count");
  for (size_t i = 0; i < fast->size(); ++i) {
    const auto& f = (*fast)[i];
    const auto& s = (*slow)[i];
    if (f.rule_id != s.rule_id || f.line != s.line || f.column != s.column ||
        f.fingerprint != s.fingerprint) {
      plumb::fuzz::Fail("scans disagree", f.rule_id + " / " + s.rule_id);
    }
    if (f.redacted.size() > 9 || f.line < 1 || f.column < 1 || f.file != file) {
      plumb::fuzz::Fail("finding not redacted or misplaced", f.rule_id);
    }
  }
  return 0;
}
