// scan: the secret scanner. Rules written from the documented token formats (cloud keys,
// forge, chat, payment and registry tokens, private keys, JWTs, database URLs, generic
// assignments gated by entropy) are compiled together into one vectorscan database and
// matched in one pass over the data; each hit is then confirmed and its secret extracted
// in C++ (a hand-written matcher per builtin rule, std::regex for a repository's own rules,
// on the hit's line; then per-rule checks: entropy,
// placeholders, sealed and SOPS values, UUIDs and hashes are not secrets). Findings carry
// a redacted match only: no function of this module returns or logs a whole secret.
//
// What is scanned: a directory (a working tree), the index (`git diff --cached`), or the
// lines each commit of a history adds, read from the object store through source/ with
// each blob scanned once however many commits hold it.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "source/source.h"

namespace plumb::scan {

// One rule. `regex` must be valid for both vectorscan (PCRE syntax, matched line by line:
// `.` and classes do not cross a newline only if written so) and ECMAScript std::regex:
// plain classes, groups, alternation, bounded repeats, \b. No look-around, no inline flags.
struct Rule {
  std::string id;  // "aws-access-key-id"; [a-z0-9-]+
  std::string description;
  std::string regex;
  int secret_group = 0;               // capture group holding the secret (0: the whole match)
  bool caseless = false;              // match ignoring case
  double min_entropy = 0;             // Shannon bits per byte the secret must reach
  std::vector<std::string> keywords;  // literals every match contains (docs, benchmarks)
  enum class Check { kNone, kJwt, kPrivateKeyBody, kGeneric } check = Check::kNone;
};

// The rules plumbline ships, most specific first (an overlapping match of a later rule is
// dropped in favour of an earlier one).
const std::vector<Rule>& BuiltinRules();

struct Finding {
  std::string rule_id;
  std::string description;
  std::string file;           // relative to what was scanned, '/'-separated
  int line = 0;               // 1-based
  int column = 0;             // 1-based byte column of the secret
  std::string commit;         // "" outside history scans
  std::string author;         // "Name <email>" of the commit
  int64_t date = 0;           // author time (unix seconds) of the commit
  std::string redacted;       // a few leading characters of the secret, then "*****"
  std::string fingerprint;    // 16 hex: rule, file and the secret; stable across lines and commits
  std::string secret_sha256;  // of the secret, for Refile; never printed
};

// `f` found in the same content under another path: file and fingerprint follow the path.
Finding Refile(Finding f, const std::string& file);

struct ScannerOptions {
  // Builtin rules (BuiltinRules(), unchanged) are confirmed by hand-written matchers that do
  // what their regex does, without a regex engine; false: by std::regex like a repository's
  // own rules (tests compare the two).
  bool builtin_matchers = true;
  // A directory where the compiled database is kept (DefaultCacheDir()): the next
  // Create() of the same rules with the same vectorscan, in this process or another, loads
  // it (about 1 ms) instead of compiling (about 70 ms for BuiltinRules()). Named by a
  // digest of the rules' patterns, flags and ids and the library's version; a file that
  // does not load (another platform, damaged) is compiled over and replaced. At most
  // kMaxCachedDatabases are kept (the oldest go). Empty: no cache.
  std::string cache_dir;
};

inline constexpr int kMaxCachedDatabases = 16;

// Where compiled rules are kept for this user: $XDG_CACHE_HOME/plumbline, else
// $HOME/.cache/plumbline; "" when neither is set.
std::string DefaultCacheDir();

// Compiled rules. Thread-safe: Scan may run on several threads at once.
class Scanner {
 public:
  // Compiles `rules` into one vectorscan database. InvalidArgument naming the rule id when
  // a regex does not compile (with either engine) or an id repeats.
  static Result<std::unique_ptr<Scanner>> Create(std::vector<Rule> rules,
                                                 const ScannerOptions& options = {});
  ~Scanner();
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  // Findings in `text` (which stands for `file`), in order of position. Binary data (a NUL
  // byte in the first 8000 bytes) yields nothing. Internal on a vectorscan failure.
  Result<std::vector<Finding>> Scan(std::string_view text, const std::string& file) const;

  const std::vector<Rule>& rules() const;

 private:
  struct Impl;
  explicit Scanner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A repository's `.plumbscan.yaml`:
//   rules: [{id, description, regex, secretGroup, caseless, entropy, keywords}]  # added
//   disabledRules: [jwt, generic-secret]
//   allowlist: {paths: ["testdata/**", "*.md"], commits: [SHA...], fingerprints: [...]}
struct Config {
  std::vector<Rule> rules;
  std::set<std::string> disabled_rules;
  std::vector<std::string> allow_paths;    // globs; `*` matches across '/', `**/` any prefix
  std::vector<std::string> allow_commits;  // full or abbreviated (>= 7) ids
  std::set<std::string> allow_fingerprints;
};

// Parses a config document (YAML, through resource's codec and its limits). `name` is used
// in messages. InvalidArgument "NAME:LINE: what is wrong" for syntax, unknown keys and
// wrong types; a rule's regex is checked by Scanner::Create.
Result<Config> ParseConfig(std::string_view text, const std::string& name);

// The fingerprints of a JSON findings report written by an earlier run (`-o json`), or of
// a JSON array of findings. InvalidArgument naming `name` when it is neither.
Result<std::set<std::string>> ParseBaseline(std::string_view text, const std::string& name);

// The builtin rules less the disabled ones, plus the config's own. InvalidArgument when a
// disabled rule does not exist (a typo would silently scan everything).
Result<std::vector<Rule>> EffectiveRules(const Config& config);

// Whether `path` matches the glob (see Config::allow_paths).
bool PathMatches(const std::string& glob, const std::string& path);

// What a scan leaves out: allowlisted paths, commits and fingerprints, and a baseline.
struct Filter {
  const Config* config = nullptr;
  std::set<std::string> baseline;
  bool PathAllowed(const std::string& path) const;  // true: not scanned
  bool CommitAllowed(const std::string& commit) const;
  bool FindingIgnored(const Finding& f) const;
};

struct Report {
  std::vector<Finding> findings;
  size_t files = 0;    // blobs or files scanned
  size_t bytes = 0;    // bytes scanned
  size_t commits = 0;  // commits walked (history scans)
  size_t ignored = 0;  // findings dropped by the allowlist or the baseline
};

// Scans every regular file under `root` (or `root` itself when it is a file), skipping
// `.git` directories, symlinks and files larger than 64 MiB. File names in findings are
// relative to `root`. Errors name the path that could not be read.
Result<Report> ScanDirectory(const Scanner& scanner, const std::string& root, const Filter& filter);

// Scans the lines the index adds against HEAD (what `git commit` would record).
Result<Report> ScanStaged(const Scanner& scanner, source::LocalRepo& repo, const Filter& filter);

// Scans the lines each commit of `range` adds (see LocalRepo::Commits for `range`); a blob
// is read and scanned once, its findings reused for every commit that adds lines to it.
Result<Report> ScanHistory(const Scanner& scanner, source::LocalRepo& repo,
                           const std::string& range, const Filter& filter);

// Keeps the findings of `findings` that sit on one of `lines` (sorted).
std::vector<Finding> OnLines(const std::vector<Finding>& findings, const std::vector<int>& lines);

// Output. Text: one finding per line ("file:line: rule: redacted (commit, author)") and a
// summary; JSON: {"findings": [...], "files", "bytes", "commits", "ignored"}; SARIF 2.1.0:
// one run, the rules of `rules` in tool.driver.rules, one result per finding.
std::string ToText(const Report& report);
std::string ToJson(const Report& report);
std::string ToSarif(const Report& report, const std::vector<Rule>& rules);

}  // namespace plumb::scan
