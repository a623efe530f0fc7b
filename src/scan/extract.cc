// The builtin rules' matchers. Each follows its rule's regex in rules.cc piece by piece;
// where the regex could backtrack, the comment says why only one way can succeed.
// scan_test (FastPathAgreesWithRegex) and fuzz/scan_fuzz.cc check them against std::regex.
#include "scan/extract.h"

#include <algorithm>
#include <array>

namespace plumb::scan::internal {

namespace {

constexpr size_t npos = std::string_view::npos;

// A byte class, as a table.
struct Class {
  std::array<bool, 256> in{};
  bool operator()(char c) const { return in[static_cast<unsigned char>(c)]; }
};

// [A-Z] if upper, [a-z] if lower, [0-9] if digit, plus `extra`; all bytes but those if negate.
constexpr Class MakeClass(bool upper, bool lower, bool digit, std::string_view extra,
                          bool negate = false) {
  Class c;
  for (int b = 0; b < 256; ++b) {
    bool in = (upper && b >= 'A' && b <= 'Z') || (lower && b >= 'a' && b <= 'z') ||
              (digit && b >= '0' && b <= '9');
    for (char x : extra) in = in || b == static_cast<unsigned char>(x);
    c.in[static_cast<size_t>(b)] = in != negate;
  }
  return c;
}

constexpr Class kWord = MakeClass(true, true, true, "_");              // \w
constexpr Class kTok = MakeClass(true, true, true, "_-");              // [A-Za-z0-9_-]
constexpr Class kAlnum = MakeClass(true, true, true, "");              // [A-Za-z0-9]
constexpr Class kIdent = MakeClass(true, true, true, "_.-");           // [A-Za-z0-9_.-]
constexpr Class kB64 = MakeClass(true, true, true, "/+");              // [A-Za-z0-9/+]
constexpr Class kB64Eq = MakeClass(true, true, true, "/+=");           // [A-Za-z0-9/+=]
constexpr Class kUpperDigit = MakeClass(true, false, true, "");        // [A-Z0-9]
constexpr Class kAwsIdTail = MakeClass(true, false, false, "234567");  // [A-Z2-7]
constexpr Class kPemLabel = MakeClass(true, false, true, " ");         // [ A-Z0-9]
constexpr Class kDbUser = MakeClass(false, false, false, ":/@ \t\"'<>", true);
constexpr Class kDbPassword = MakeClass(false, false, false, "@/ \t\"'<>", true);
constexpr Class kHost = MakeClass(true, true, true, "._-");  // [A-Za-z0-9._-]
constexpr Class kGenericValue = MakeClass(false, false, false, " \t\"'`,;", true);

// The end of the run of `c` from `p`, at most at `limit`.
size_t Run(const Class& c, std::string_view w, size_t p, size_t limit = npos) {
  size_t n = std::min(w.size(), limit);
  while (p < n && c(w[p])) ++p;
  return p;
}

// Whether exactly `count` characters of `c` start at p.
bool Exactly(const Class& c, std::string_view w, size_t p, size_t count) {
  return p + count <= w.size() && Run(c, w, p, p + count) == p + count;
}

// \b at p.
bool Boundary(std::string_view w, size_t p) {
  bool before = p > 0 && kWord(w[p - 1]);
  bool after = p < w.size() && kWord(w[p]);
  return before != after;
}

bool Lit(std::string_view w, size_t p, std::string_view lit) {
  return p <= w.size() && w.substr(p, lit.size()) == lit;
}

bool LitNoCase(std::string_view w, size_t p, std::string_view lower) {
  if (p + lower.size() > w.size()) return false;
  for (size_t i = 0; i < lower.size(); ++i) {
    char c = w[p + i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

// rules.cc's kEnd, (?:[^A-Za-z0-9_-]|$), at p: the end of the match, or npos.
size_t TokenEnd(std::string_view w, size_t p) {
  if (p == w.size()) return p;
  return kTok(w[p]) ? npos : p + 1;
}

// The next position >= pos where `lit` starts.
size_t Find(std::string_view w, size_t pos, std::string_view lit) {
  return pos > w.size() ? npos : w.find(lit, pos);
}

// The next position >= pos where `lower` starts, ignoring ASCII case.
size_t FindNoCase(std::string_view w, size_t pos, std::string_view lower) {
  for (; pos + lower.size() <= w.size(); ++pos) {
    if ((w[pos] | 0x20) == lower[0] && LitNoCase(w, pos, lower)) return pos;
  }
  return npos;
}

// rules.cc's kAssign at r, then a value: ["']?[ \t]*(?::=|=>|=|:)[ \t]*["']?VALUE. The
// operators are tried in the regex's order; `value(w, v, &m)` says whether the value starts
// at v and sets m's secret and end. The optional quotes and the blanks cannot give way to
// a value (no value class holds a quote or a blank), so only the operator can backtrack.
template <typename Value>
bool AssignThen(std::string_view w, size_t r, Value value, Match* m) {
  size_t q = r;
  if (q < w.size() && (w[q] == '"' || w[q] == '\'')) ++q;
  while (q < w.size() && (w[q] == ' ' || w[q] == '\t')) ++q;
  for (std::string_view op : {":=", "=>", "=", ":"}) {
    if (!Lit(w, q, op)) continue;
    size_t v = q + op.size();
    while (v < w.size() && (w[v] == ' ' || w[v] == '\t')) ++v;
    if (v < w.size() && (w[v] == '"' || w[v] == '\'')) ++v;
    if (value(w, v, m)) return true;
  }
  return false;
}

// \b((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b
bool AwsAccessKeyId(std::string_view w, size_t pos, Match* m) {
  for (size_t s = Find(w, pos, "A"); s != npos; s = Find(w, s + 1, "A")) {
    std::string_view p = w.substr(s, 4);
    if (p != "AKIA" && p != "ASIA" && p != "ABIA" && p != "ACCA") continue;
    if (!Boundary(w, s) || !Exactly(kAwsIdTail, w, s + 4, 16) || !Boundary(w, s + 20)) continue;
    *m = {s, s + 20, s, s + 20};
    return true;
  }
  return false;
}

// KEYWORD[A-Za-z0-9_.-]{0,n}: the keyword's characters are identifier characters and an
// assignment starts with none, so the repeat ends where the identifier run ends (at most n
// after the keyword). Returns that end, or npos.
size_t IdentTail(std::string_view w, size_t keyword_end, size_t n) {
  size_t r = Run(kIdent, w, keyword_end);
  return r - keyword_end <= n ? r : npos;
}

// Caseless aws[A-Za-z0-9_.-]{0,20}secret[A-Za-z0-9_.-]{0,20}ASSIGN([A-Za-z0-9/+]{40})
// (?:[^A-Za-z0-9/+=]|$). Both repeats lie in one identifier run (to r): it matches when some
// "secret" starts within 20 of "aws" and ends within 20 of r.
bool AwsSecretAccessKey(std::string_view w, size_t pos, Match* m) {
  auto value = [](std::string_view w, size_t v, Match* m) {
    if (!Exactly(kB64, w, v, 40)) return false;
    size_t e = v + 40;
    if (e < w.size() && kB64Eq(w[e])) return false;
    m->secret_start = v;
    m->secret_end = e;
    m->end = e < w.size() ? e + 1 : e;
    return true;
  };
  for (size_t s = FindNoCase(w, pos, "aws"); s != npos; s = FindNoCase(w, s + 1, "aws")) {
    size_t r = Run(kIdent, w, s + 3);
    bool keyed = false;
    for (size_t p = s + 3; p <= s + 23 && p + 6 <= r && !keyed; ++p) {
      keyed = LitNoCase(w, p, "secret") && r - (p + 6) <= 20;
    }
    if (keyed && AssignThen(w, r, value, m)) {
      m->start = s;
      return true;
    }
  }
  return false;
}

// "private_key"[ \t]*:[ \t]*"-----BEGIN (?:RSA )?PRIVATE KEY-----\\n([A-Za-z0-9+/]{32})
bool GcpServiceAccountKey(std::string_view w, size_t pos, Match* m) {
  for (size_t s = Find(w, pos, "\"private_key\""); s != npos;
       s = Find(w, s + 1, "\"private_key\"")) {
    size_t p = s + 13;
    while (p < w.size() && (w[p] == ' ' || w[p] == '\t')) ++p;
    if (!Lit(w, p, ":")) continue;
    ++p;
    while (p < w.size() && (w[p] == ' ' || w[p] == '\t')) ++p;
    if (!Lit(w, p, "\"-----BEGIN ")) continue;
    p += 12;
    if (Lit(w, p, "RSA ")) p += 4;
    if (!Lit(w, p, "PRIVATE KEY-----\\n")) continue;
    p += 18;
    if (!Exactly(kB64, w, p, 32)) continue;
    *m = {s, p + 32, p, p + 32};
    return true;
  }
  return false;
}

// AccountKey[ \t]*=[ \t]*([A-Za-z0-9+/]{86}==)
bool AzureAccountKey(std::string_view w, size_t pos, Match* m) {
  for (size_t s = Find(w, pos, "AccountKey"); s != npos; s = Find(w, s + 1, "AccountKey")) {
    size_t p = s + 10;
    while (p < w.size() && (w[p] == ' ' || w[p] == '\t')) ++p;
    if (!Lit(w, p, "=")) continue;
    ++p;
    while (p < w.size() && (w[p] == ' ' || w[p] == '\t')) ++p;
    if (!Exactly(kB64, w, p, 86) || !Lit(w, p + 86, "==")) continue;
    *m = {s, p + 88, p, p + 88};
    return true;
  }
  return false;
}

// Caseless azure[A-Za-z0-9_.-]{0,30}key[A-Za-z0-9_.-]{0,10}ASSIGN([A-Za-z0-9+/]{86}==), as
// AwsSecretAccessKey.
bool AzureStorageKey(std::string_view w, size_t pos, Match* m) {
  auto value = [](std::string_view w, size_t v, Match* m) {
    if (!Exactly(kB64, w, v, 86) || !Lit(w, v + 86, "==")) return false;
    m->secret_start = v;
    m->secret_end = m->end = v + 88;
    return true;
  };
  for (size_t s = FindNoCase(w, pos, "azure"); s != npos; s = FindNoCase(w, s + 1, "azure")) {
    size_t r = Run(kIdent, w, s + 5);
    bool keyed = false;
    for (size_t p = s + 5; p <= s + 35 && p + 3 <= r && !keyed; ++p) {
      keyed = LitNoCase(w, p, "key") && r - (p + 3) <= 10;
    }
    if (keyed && AssignThen(w, r, value, m)) {
      m->start = s;
      return true;
    }
  }
  return false;
}

// \b(PREFIX[A-Za-z0-9]{n})(?:[^A-Za-z0-9_-]|$) at s, for a prefix of `prefix_len` that
// starts with a word character: the run of n cannot stop early (the end refuses
// alphanumerics).
bool AlnumTokenAt(std::string_view w, size_t s, size_t prefix_len, size_t n, Match* m) {
  if (!Boundary(w, s) || !Exactly(kAlnum, w, s + prefix_len, n)) return false;
  size_t e = s + prefix_len + n;
  size_t end = TokenEnd(w, e);
  if (end == npos) return false;
  *m = {s, end, s, e};
  return true;
}

// \b(gh[pousr]_[A-Za-z0-9]{36})END
bool GithubToken(std::string_view w, size_t pos, Match* m) {
  for (size_t s = Find(w, pos, "gh"); s != npos; s = Find(w, s + 1, "gh")) {
    if (s + 4 > w.size() || std::string_view("pousr").find(w[s + 2]) == npos || w[s + 3] != '_') {
      continue;
    }
    if (AlnumTokenAt(w, s, 4, 36, m)) return true;
  }
  return false;
}

// \b(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})END
bool GithubFineGrainedToken(std::string_view w, size_t pos, Match* m) {
  for (size_t s = Find(w, pos, "github_pat_"); s != npos; s = Find(w, s + 1, "github_pat_")) {
    if (!Boundary(w, s) || !Exactly(kAlnum, w, s + 11, 22) || !Lit(w, s + 33, "_") ||
        !Exactly(kAlnum, w, s + 34, 59)) {
      continue;
    }
    size_t end = TokenEnd(w, s + 93);
    if (end == npos) continue;
    *m = {s, end, s, s + 93};
    return true;
  }
  return false;
}

// \b(glpat-[A-Za-z0-9_-]{20})END
bool GitlabToken(std::string_view w, size_t pos, Match* m) {
  for (size_t s = Find(w, pos, "glpat-"); s != npos; s = Find(w, s + 1, "glpat-")) {
    if (!Boundary(w, s) || !Exactly(kTok, w, s + 6, 20)) continue;
    size_t end = TokenEnd(w, s + 26);
    if (end == npos) continue;
    *m = {s, end, s, s + 26};
    return true;
  }
  return false;
}

// \b(xox[baprs]-(?:[0-9]{8,14}-){1,3}[0-9A-Za-z]{12,48})END. A digit group ends at its '-',
// so the groups are found left to right; with fewer groups the last part would be a digit
// group followed by '-', which END refuses, so only the greatest count can match.
bool SlackToken(std::string_view w, size_t pos, Match* m) {
  for (size_t s = Find(w, pos, "xox"); s != npos; s = Find(w, s + 1, "xox")) {
    if (s + 5 > w.size() || std::string_view("baprs").find(w[s + 3]) == npos || w[s + 4] != '-' ||
        !Boundary(w, s)) {
      continue;
    }
    size_t q = s + 5;
    int groups = 0;
    for (; groups < 3; ++groups) {
      size_t d = q;
      while (d < w.size() && w[d] >= '0' && w[d] <= '9') ++d;
      if (d - q < 8 || d - q > 14 || !Lit(w, d, "-")) break;
      q = d + 1;
    }
    if (groups == 0) continue;
    size_t e = Run(kAlnum, w, q);
    if (e - q < 12 || e - q > 48) continue;
    size_t end = TokenEnd(w, e);
    if (end == npos) continue;
    *m = {s, end, s, e};
    return true;
  }
  return false;
}

// hooks\.slack\.com/(?:services|workflows)/(T[A-Z0-9]{8,12}/B[A-Z0-9]{8,12}/[A-Za-z0-9]{24})
bool SlackWebhook(std::string_view w, size_t pos, Match* m) {
  for (size_t s = Find(w, pos, "hooks.slack.com/"); s != npos;
       s = Find(w, s + 1, "hooks.slack.com/")) {
    size_t p = s + 16;
    if (Lit(w, p, "services/")) {
      p += 9;
    } else if (Lit(w, p, "workflows/")) {
      p += 10;
    } else {
      continue;
    }
    size_t secret = p;
    bool ok = true;
    for (char lead : {'T', 'B'}) {  // a run that must end at '/'
      size_t e = p < w.size() && w[p] == lead ? Run(kUpperDigit, w, p + 1) : p;
      if (e == p || e - (p + 1) < 8 || e - (p + 1) > 12 || !Lit(w, e, "/")) {
        ok = false;
        break;
      }
      p = e + 1;
    }
    if (!ok || !Exactly(kAlnum, w, p, 24)) continue;
    *m = {s, p + 24, secret, p + 24};
    return true;
  }
  return false;
}

// \b((?:sk|rk)_live_[0-9A-Za-z]{24,99})END
bool StripeLiveKey(std::string_view w, size_t pos, Match* m) {
  for (size_t k = Find(w, pos + 1, "k_live_"); k != npos; k = Find(w, k + 1, "k_live_")) {
    size_t s = k - 1;
    if ((w[s] != 's' && w[s] != 'r') || !Boundary(w, s)) continue;
    size_t e = Run(kAlnum, w, s + 8);
    if (e - (s + 8) < 24 || e - (s + 8) > 99) continue;
    size_t end = TokenEnd(w, e);
    if (end == npos) continue;
    *m = {s, end, s, e};
    return true;
  }
  return false;
}

// \b(npm_[A-Za-z0-9]{36})END
bool NpmToken(std::string_view w, size_t pos, Match* m) {
  for (size_t s = Find(w, pos, "npm_"); s != npos; s = Find(w, s + 1, "npm_")) {
    if (AlnumTokenAt(w, s, 4, 36, m)) return true;
  }
  return false;
}

// \b(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})END: the run is the whole token run.
bool PypiToken(std::string_view w, size_t pos, Match* m) {
  constexpr std::string_view kPrefix = "pypi-AgEIcHlwaS5vcmc";
  for (size_t s = Find(w, pos, kPrefix); s != npos; s = Find(w, s + 1, kPrefix)) {
    if (!Boundary(w, s)) continue;
    size_t e = Run(kTok, w, s + kPrefix.size());
    if (e - (s + kPrefix.size()) < 50) continue;
    *m = {s, TokenEnd(w, e), s, e};
    return true;
  }
  return false;
}

// -----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?----- (the whole match is the "secret").
// The greedy repeat backtracks from its longest run: the last "PRIVATE KEY" that follows
// within it wins.
bool PrivateKey(std::string_view w, size_t pos, Match* m) {
  for (size_t s = Find(w, pos, "-----BEGIN"); s != npos; s = Find(w, s + 1, "-----BEGIN")) {
    size_t label = s + 10;
    size_t r = Run(kPemLabel, w, label, label + 40);
    for (size_t p = r + 1; p-- > label;) {
      if (!Lit(w, p, "PRIVATE KEY")) continue;
      size_t q = p + 11;
      size_t end = Lit(w, q, " BLOCK-----") ? q + 11 : Lit(w, q, "-----") ? q + 5 : npos;
      if (end == npos) continue;
      *m = {s, end, s, end};
      return true;
    }
  }
  return false;
}

// \b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}): '.' ends each run.
bool Jwt(std::string_view w, size_t pos, Match* m) {
  for (size_t s = Find(w, pos, "eyJ"); s != npos; s = Find(w, s + 1, "eyJ")) {
    if (!Boundary(w, s)) continue;
    size_t a = Run(kTok, w, s + 3);
    if (a - (s + 3) < 8 || !Lit(w, a, ".eyJ")) continue;
    size_t b = Run(kTok, w, a + 4);
    if (b - (a + 4) < 8 || !Lit(w, b, ".")) continue;
    size_t c = Run(kTok, w, b + 1);
    if (c - (b + 1) < 16) continue;
    *m = {s, c, s, c};
    return true;
  }
  return false;
}

// Caseless \b(?:postgres|...|sqlserver)://[^:/@ \t"'<>]{1,64}:([^@/ \t"'<>]{3,128})@
// [A-Za-z0-9._-]+. No scheme is a suffix of another, so one "://" has at most one scheme;
// the user part stops at its ':' and the password at its '@' (neither class holds them).
bool DatabaseUrl(std::string_view w, size_t pos, Match* m) {
  static constexpr std::string_view kSchemes[] = {"postgres", "postgresql",  "mysql", "mariadb",
                                                  "mongodb",  "mongodb+srv", "redis", "rediss",
                                                  "amqp",     "amqps",       "mssql", "sqlserver"};
  for (size_t c = Find(w, pos, "://"); c != npos; c = Find(w, c + 1, "://")) {
    size_t s = npos;
    for (std::string_view scheme : kSchemes) {
      if (c >= pos + scheme.size() && LitNoCase(w, c - scheme.size(), scheme)) {
        s = c - scheme.size();
        break;
      }
    }
    if (s == npos || !Boundary(w, s)) continue;
    size_t u = Run(kDbUser, w, c + 3);
    if (u == c + 3 || u - (c + 3) > 64 || !Lit(w, u, ":")) continue;
    size_t p = Run(kDbPassword, w, u + 1);
    if (p - (u + 1) < 3 || p - (u + 1) > 128 || !Lit(w, p, "@")) continue;
    size_t h = Run(kHost, w, p + 1);
    if (h == p + 1) continue;
    *m = {s, h, u + 1, p};
    return true;
  }
  return false;
}

// The length of generic-secret's keyword (password|passwd|pwd|secret|token|api[_-]?key|
// access[_-]?key|client[_-]?secret|auth[_-]?token) at s, ignoring case, or 0. At most one
// alternative can match at one place.
size_t GenericKeyword(std::string_view w, size_t s) {
  auto with_sep = [&](std::string_view head, std::string_view tail) -> size_t {
    if (!LitNoCase(w, s, head)) return 0;
    size_t p = s + head.size();
    if (p < w.size() && (w[p] == '_' || w[p] == '-')) ++p;
    return LitNoCase(w, p, tail) ? p + tail.size() - s : 0;
  };
  switch (w[s] | 0x20) {
    case 'p':
      return LitNoCase(w, s, "password") ? 8
             : LitNoCase(w, s, "passwd") ? 6
             : LitNoCase(w, s, "pwd")    ? 3
                                         : 0;
    case 's':
      return LitNoCase(w, s, "secret") ? 6 : 0;
    case 't':
      return LitNoCase(w, s, "token") ? 5 : 0;
    case 'a': {
      size_t n = with_sep("api", "key");
      if (n == 0) n = with_sep("access", "key");
      if (n == 0) n = with_sep("auth", "token");
      return n;
    }
    case 'c':
      return with_sep("client", "secret");
    default:
      return 0;
  }
}

// Caseless KEYWORD[A-Za-z0-9_.-]{0,20}ASSIGN([^ \t"'`,;]{10,}): the value is the longest run.
bool GenericSecret(std::string_view w, size_t pos, Match* m) {
  auto value = [](std::string_view w, size_t v, Match* m) {
    size_t e = Run(kGenericValue, w, v);
    if (e - v < 10) return false;
    m->secret_start = v;
    m->secret_end = m->end = e;
    return true;
  };
  for (size_t s = pos; s < w.size(); ++s) {
    size_t k = GenericKeyword(w, s);
    if (k == 0) continue;
    size_t r = IdentTail(w, s + k, 20);
    if (r != npos && AssignThen(w, r, value, m)) {
      m->start = s;
      return true;
    }
  }
  return false;
}

struct Entry {
  const char* id;
  SearchFn search;
  // The prefilter: the rule's regex with `cut` replaced by `with` ("" : the regex).
  const char* cut;
  const char* with;
};

constexpr Entry kEntries[] = {
    {"aws-access-key-id", AwsAccessKeyId, "", ""},
    {"aws-secret-access-key", AwsSecretAccessKey, "", ""},
    {"gcp-service-account-key", GcpServiceAccountKey, "", ""},
    {"azure-storage-account-key", AzureAccountKey, "", ""},
    {"azure-storage-key", AzureStorageKey, "", ""},
    {"github-token", GithubToken, "", ""},
    {"github-fine-grained-token", GithubFineGrainedToken, "", ""},
    {"gitlab-token", GitlabToken, "", ""},
    {"slack-token", SlackToken, "", ""},
    {"slack-webhook", SlackWebhook, "", ""},
    {"stripe-live-key", StripeLiveKey, "", ""},
    {"npm-token", NpmToken, "", ""},
    {"pypi-token", PypiToken, "{50,})(?:[^A-Za-z0-9_-]|$)", "{50})"},
    {"private-key", PrivateKey, "", ""},
    {"jwt", Jwt, "{16,})", "{16})"},
    {"database-url-password", DatabaseUrl, "@[A-Za-z0-9._-]+", "@[A-Za-z0-9._-]"},
    {"generic-secret", GenericSecret, "{10,})", "{10})"},
};

}  // namespace

BuiltinMatcher FindBuiltinMatcher(const Rule& rule) {
  for (const Entry& e : kEntries) {
    if (rule.id != e.id) continue;
    for (const Rule& b : BuiltinRules()) {
      if (b.id != rule.id || b.regex != rule.regex || b.caseless != rule.caseless ||
          b.secret_group != rule.secret_group) {
        continue;
      }
      BuiltinMatcher out{.search = e.search, .prefilter = rule.regex};
      std::string_view cut = e.cut;
      if (!cut.empty()) {
        size_t at = out.prefilter.rfind(cut);
        if (at == std::string::npos) return {};  // rules.cc changed: use the regex
        out.prefilter.replace(at, cut.size(), e.with);
      }
      return out;
    }
  }
  return {};
}

}  // namespace plumb::scan::internal
