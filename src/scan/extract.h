// scan (internal): hand-written matchers for the builtin rules. Each one does what
// std::regex_search (ECMAScript, the rule's regex) does on a window of one line, so the
// scanner confirms vectorscan's hits without running a regex engine: the rules are literal
// prefixes, character-class runs and bounded repeats whose backtracking can be decided by
// looking at the run that follows (an identifier run stops where an assignment starts, a
// token run stops at a character the token cannot hold). Pure functions, no I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "scan/scan.h"

namespace plumb::scan::internal {

// One match of a rule in a window: the whole match and the secret (the rule's group).
struct Match {
  size_t start = 0;
  size_t end = 0;
  size_t secret_start = 0;
  size_t secret_end = 0;
};

// Finds the leftmost match at or after `pos` in `window`, which is the whole subject (as
// for std::regex_search: nothing before window[0] is a word character, `$` is the end; a
// search from pos > 0 sees window[pos - 1], as std::regex_iterator's next searches do).
// Returns false when there is none.
using SearchFn = bool (*)(std::string_view window, size_t pos, Match* m);

struct BuiltinMatcher {
  SearchFn search = nullptr;
  // What vectorscan looks for: the rule's regex, or a prefix of its matches (a value's
  // first 10 characters rather than each of its ends), so every line that holds a match
  // still gets a hit, with fewer hits to report.
  std::string prefilter;
};

// The matcher of `rule` when it is a builtin rule (same id and regex as BuiltinRules()),
// or {} (the rule is confirmed with std::regex).
BuiltinMatcher FindBuiltinMatcher(const Rule& rule);

}  // namespace plumb::scan::internal
