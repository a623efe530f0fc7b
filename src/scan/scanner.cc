// Scanner: one vectorscan pass finds where each rule may match (its end offset); the rule's
// matcher then runs on a bounded window of that line to extract the secret, and Confirm
// decides. A builtin rule's matcher is hand-written (extract.cc: literal search and
// character-class runs); a repository's own rules use std::regex. Vectorscan's literal
// matcher does the prefiltering: only lines holding a rule's literals (AKIA, ghp_,
// -----BEGIN, password...) ever reach a matcher.
// GCC 12 warns about libstdc++'s own <regex> internals (-Wmaybe-uninitialized, a false
// positive at -O2 with the sanitizers), as in pipeline/policy.cc.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <hs/hs.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <regex>

#include "core/fs.h"
#include "core/strings.h"
#include "scan/confirm.h"
#include "scan/extract.h"

namespace plumb::scan {

namespace {

// How far before a hit's end the confirming regex looks (a match is never longer).
constexpr size_t kWindow = 2048;
// What Confirm may see after a match (a private key's body).
constexpr size_t kAfter = 600;

struct Hit {
  unsigned rule;
  size_t end;
};

struct Hits {
  const char* text;
  std::vector<Hit> hits;
  std::vector<size_t> last_end;  // per rule: end of its latest hit, npos if none
};

int OnMatch(unsigned id, unsigned long long /*from*/, unsigned long long to, unsigned /*flags*/,
            void* ctx) {
  auto* h = static_cast<Hits*>(ctx);
  size_t end = static_cast<size_t>(to);
  // A hit one byte after the same rule's last one, on the same line, lies in the window that
  // hit has searched already (lines are shorter than kWindow but for pathological data, where
  // the windows differ by one byte): only the first of such a run is kept.
  size_t& last = h->last_end[id];
  bool same_run = last != std::string_view::npos && last + 1 == end && h->text[last] != '\n';
  last = end;
  if (same_run) return 0;
  h->hits.push_back({id, end});
  return h->hits.size() > 1000000 ? 1 : 0;  // a runaway input: stop, report what we have
}

struct Candidate {
  unsigned rule = 0;
  size_t match_start = 0;  // of the whole match
  size_t match_end = 0;
  size_t start = 0;  // of the secret
  size_t end = 0;
  std::string secret;
};

}  // namespace

Finding Refile(Finding f, const std::string& file) {
  f.file = file;
  f.fingerprint = Sha256Hex(f.rule_id + '\0' + file + '\0' + f.secret_sha256).substr(0, 16);
  return f;
}

struct Scanner::Impl {
  std::vector<Rule> rules;
  std::vector<internal::SearchFn> search;  // per rule: the hand-written matcher, or nullptr
  std::vector<std::regex> confirm;         // per rule: the regex (empty when `search` is set)
  hs_database_t* db = nullptr;
  std::mutex mu;
  std::vector<hs_scratch_t*> free_scratch;  // GUARDED_BY(mu)
  hs_scratch_t* prototype = nullptr;

  ~Impl() {
    for (hs_scratch_t* s : free_scratch) hs_free_scratch(s);
    if (prototype != nullptr) hs_free_scratch(prototype);
    if (db != nullptr) hs_free_database(db);
  }

  hs_scratch_t* TakeScratch() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!free_scratch.empty()) {
        hs_scratch_t* s = free_scratch.back();
        free_scratch.pop_back();
        return s;
      }
    }
    hs_scratch_t* s = nullptr;
    if (hs_clone_scratch(prototype, &s) != HS_SUCCESS) return nullptr;
    return s;
  }
  void ReturnScratch(hs_scratch_t* s) {
    std::lock_guard<std::mutex> lock(mu);
    free_scratch.push_back(s);
  }
};

Scanner::Scanner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Scanner::~Scanner() = default;

const std::vector<Rule>& Scanner::rules() const { return impl_->rules; }

std::string DefaultCacheDir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/plumbline";
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] == '/') return std::string(home) + "/.cache/plumbline";
  return "";
}

namespace {
// Keeps the newest kMaxCachedDatabases scan-*.hsdb files of `dir`.
void PruneCache(const std::string& dir) {
  std::error_code ec;
  std::vector<std::pair<std::filesystem::file_time_type, std::filesystem::path>> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("scan-", 0) != 0 || e.path().extension() != ".hsdb") continue;
    files.emplace_back(e.last_write_time(ec), e.path());
  }
  if (files.size() <= static_cast<size_t>(kMaxCachedDatabases)) return;
  std::sort(files.begin(), files.end());
  for (size_t i = 0; i + kMaxCachedDatabases < files.size(); ++i)
    std::filesystem::remove(files[i].second, ec);
}
}  // namespace

Result<std::unique_ptr<Scanner>> Scanner::Create(std::vector<Rule> rules,
                                                 const ScannerOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->rules = std::move(rules);
  std::vector<std::string> patterns;
  std::vector<const char*> exprs;
  std::vector<unsigned> flags, ids;
  std::set<std::string> seen;
  for (size_t i = 0; i < impl->rules.size(); ++i) {
    const Rule& r = impl->rules[i];
    if (!seen.insert(r.id).second) return InvalidArgument("rule " + r.id + " is defined twice");
    if (r.regex.empty()) return InvalidArgument("rule " + r.id + ": regex is empty");
    internal::BuiltinMatcher builtin;
    if (options.builtin_matchers) builtin = internal::FindBuiltinMatcher(r);
    impl->search.push_back(builtin.search);
    if (builtin.search != nullptr) {
      impl->confirm.emplace_back();
      patterns.push_back(builtin.prefilter);
      flags.push_back(HS_FLAG_MULTILINE | (r.caseless ? HS_FLAG_CASELESS : 0));
      ids.push_back(static_cast<unsigned>(i));
      continue;
    }
    auto syntax = std::regex::ECMAScript | std::regex::optimize;
    if (r.caseless) syntax |= std::regex::icase;
    try {
      impl->confirm.emplace_back(r.regex, syntax);
    } catch (const std::regex_error& e) {
      return InvalidArgument("rule " + r.id + ": regex does not compile: " + e.what());
    }
    if (r.secret_group < 0 ||
        static_cast<size_t>(r.secret_group) > impl->confirm.back().mark_count()) {
      return InvalidArgument("rule " + r.id + ": secretGroup " + std::to_string(r.secret_group) +
                             " but the regex has " +
                             std::to_string(impl->confirm.back().mark_count()) + " groups");
    }
    patterns.push_back(r.regex);
    flags.push_back(HS_FLAG_MULTILINE | (r.caseless ? HS_FLAG_CASELESS : 0));
    ids.push_back(static_cast<unsigned>(i));
  }
  for (const auto& p : patterns) exprs.push_back(p.c_str());
  if (exprs.empty()) return InvalidArgument("no rules to scan with");
  // The compiled database of the same patterns, flags and ids, from the cache.
  std::string cache_path;
  bool loaded = false;
  if (!options.cache_dir.empty()) {
    std::string what = std::string("plumb-scan-db 1\n") + hs_version() + "\n";
    for (size_t i = 0; i < patterns.size(); ++i) {
      what += std::to_string(ids[i]) + " " + std::to_string(flags[i]) + " " +
              std::to_string(patterns[i].size()) + " ";
      what += patterns[i];
      what += '\n';
    }
    cache_path = options.cache_dir + "/scan-" + Sha256Hex(what).substr(0, 32) + ".hsdb";
    if (auto bytes = fs::ReadFile(cache_path); bytes.ok()) {
      hs_database_t* db = nullptr;
      if (hs_deserialize_database(bytes->data(), bytes->size(), &db) == HS_SUCCESS) {
        impl->db = db;
        loaded = true;
      }
    }
  }
  hs_compile_error_t* err = nullptr;
  if (impl->db == nullptr &&
      hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()),
                       HS_MODE_BLOCK, nullptr, &impl->db, &err) != HS_SUCCESS) {
    std::string which = err != nullptr && err->expression >= 0
                            ? "rule " + impl->rules[static_cast<size_t>(err->expression)].id + ": "
                            : std::string();
    std::string msg = err != nullptr ? err->message : "unknown error";
    hs_free_compile_error(err);
    return InvalidArgument(which + "regex does not compile with vectorscan: " + msg);
  }
  if (hs_alloc_scratch(impl->db, &impl->prototype) != HS_SUCCESS) {
    return Internal("vectorscan: cannot allocate scratch space");
  }
  if (!cache_path.empty() && !loaded) {
    // Best effort (a file that did not load is replaced): without it the next start
    // compiles again.
    char* bytes = nullptr;
    size_t length = 0;
    if (hs_serialize_database(impl->db, &bytes, &length) == HS_SUCCESS) {
      (void)fs::MakeDirs(options.cache_dir, 0700);
      if (fs::WriteFileAtomic(cache_path, std::string(bytes, length), 0600).ok())
        PruneCache(options.cache_dir);
      std::free(bytes);
    }
  }
  return std::unique_ptr<Scanner>(new Scanner(std::move(impl)));
}

Result<std::vector<Finding>> Scanner::Scan(std::string_view text, const std::string& file) const {
  std::vector<Finding> out;
  if (text.empty()) return out;
  if (std::memchr(text.data(), '\0', std::min<size_t>(text.size(), 8000)) != nullptr) return out;
  if (text.size() > 0xffffffffu) return InvalidArgument(file + ": too large to scan");
  Hits found{.text = text.data(),
             .hits = {},
             .last_end = std::vector<size_t>(impl_->rules.size(), std::string_view::npos)};
  std::vector<Hit>& hits = found.hits;
  hs_scratch_t* scratch = impl_->TakeScratch();
  if (scratch == nullptr) return Internal("vectorscan: cannot allocate scratch space");
  hs_error_t rc = hs_scan(impl_->db, text.data(), static_cast<unsigned>(text.size()), 0, scratch,
                          OnMatch, &found);
  impl_->ReturnScratch(scratch);
  if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) {
    return Internal(file + ": vectorscan scan failed (" + std::to_string(rc) + ")");
  }
  if (hits.empty()) return out;
  // Vectorscan does not report every match in order of its end: a `$` alternative comes
  // after the match that consumed the newline instead, and `covered` below relies on order.
  std::stable_sort(hits.begin(), hits.end(),
                   [](const Hit& a, const Hit& b) { return a.end < b.end; });

  // Confirm: per hit, the rule's matcher on the hit's line, from up to kWindow before the
  // hit's end to up to kWindow after it (a token is never longer), so it sees whole tokens;
  // hits inside a match already taken, or in a window already searched, are skipped.
  std::vector<Candidate> cands;
  std::vector<size_t> covered(impl_->rules.size(), 0);  // per rule: matches end before this
  std::vector<std::pair<size_t, size_t>> searched(impl_->rules.size(), {0, 0});  // per rule
  auto add = [&](unsigned rule, size_t lo, size_t match_start, size_t match_end,
                 size_t secret_start, size_t secret_end) {
    Candidate c;
    c.rule = rule;
    c.match_start = lo + match_start;
    c.match_end = lo + match_end;
    c.start = lo + secret_start;
    c.end = lo + secret_end;
    c.secret = std::string(text.substr(c.start, c.end - c.start));
    covered[rule] = std::max(covered[rule], c.match_end);
    cands.push_back(std::move(c));
  };
  for (const Hit& h : hits) {
    if (h.end <= covered[h.rule]) continue;
    size_t line_start = h.end == 0 ? std::string_view::npos : text.rfind('\n', h.end - 1);
    line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
    size_t line_end = text.find('\n', h.end);
    if (line_end == std::string_view::npos) line_end = text.size();
    size_t lo = std::max(line_start, h.end > kWindow ? h.end - kWindow : 0);
    size_t hi = std::min(line_end, h.end + kWindow);
    if (searched[h.rule] == std::make_pair(lo, hi)) continue;  // same window, same matches
    searched[h.rule] = {lo, hi};
    std::string_view window = text.substr(lo, hi - lo);
    if (internal::SearchFn search = impl_->search[h.rule]; search != nullptr) {
      internal::Match m;
      for (size_t pos = 0; pos <= window.size() && search(window, pos, &m);) {
        if (m.secret_end > m.secret_start) {
          add(h.rule, lo, m.start, m.end, m.secret_start, m.secret_end);
        }
        pos = m.end > m.start ? m.end : m.end + 1;
      }
      continue;
    }
    int g = impl_->rules[h.rule].secret_group;
    std::cregex_iterator it(window.data(), window.data() + window.size(), impl_->confirm[h.rule]);
    for (; it != std::cregex_iterator(); ++it) {
      const auto& m = *it;
      if (!m[g].matched || m.length(g) == 0) continue;
      size_t start = static_cast<size_t>(m.position(0));
      size_t secret = static_cast<size_t>(m.position(g));
      add(h.rule, lo, start, start + static_cast<size_t>(m.length(0)), secret,
          secret + static_cast<size_t>(m.length(g)));
    }
  }
  // One candidate per (rule, start of match); the confirmed ones; where two rules' matches
  // overlap, the earlier rule (the more specific) wins.
  std::sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) {
    if (a.match_start != b.match_start) return a.match_start < b.match_start;
    if (a.rule != b.rule) return a.rule < b.rule;
    return a.match_end > b.match_end;
  });
  std::vector<Candidate> kept;
  for (size_t i = 0; i < cands.size(); ++i) {
    Candidate& c = cands[i];
    if (i > 0 && cands[i - 1].rule == c.rule && cands[i - 1].match_start == c.match_start) {
      continue;
    }
    std::string_view after = text.substr(c.match_end, kAfter);
    if (!internal::Confirm(impl_->rules[c.rule], c.secret, after)) continue;
    // Sorted by start, so a candidate can only overlap the last one kept.
    if (!kept.empty() && c.match_start < kept.back().match_end) {
      if (c.rule < kept.back().rule) kept.back() = std::move(c);
      continue;
    }
    kept.push_back(std::move(c));
  }
  std::sort(kept.begin(), kept.end(),
            [](const Candidate& a, const Candidate& b) { return a.start < b.start; });
  // Line and column of each, in one walk over the text.
  size_t pos = 0;
  int line = 1;
  size_t line_start = 0;
  for (const Candidate& c : kept) {
    if (pos < c.start) {  // a count the compiler vectorises, not a memchr call per line
      line += static_cast<int>(std::count(text.begin() + static_cast<ptrdiff_t>(pos),
                                          text.begin() + static_cast<ptrdiff_t>(c.start), '\n'));
      size_t nl = text.rfind('\n', c.start - 1);
      if (nl != std::string_view::npos && nl >= pos) line_start = nl + 1;
      pos = c.start;
    }
    const Rule& rule = impl_->rules[c.rule];
    Finding f;
    f.rule_id = rule.id;
    f.description = rule.description;
    f.file = file;
    f.line = line;
    f.column = static_cast<int>(c.start - line_start) + 1;
    f.redacted = internal::Redact(c.secret);
    f.secret_sha256 = Sha256Hex(c.secret);
    out.push_back(Refile(std::move(f), file));
  }
  return out;
}

}  // namespace plumb::scan
