// The hand-written matchers against std::regex with the rules' own regexes, on lines made
// of the pieces the rules look for (prefixes, keywords, separators, runs of each class) so
// that every backtracking corner is reached; and whole scans with and without them.
#include "scan/extract.h"

#include <gtest/gtest.h>

#include <random>
#include <regex>

#include "scan/scan.h"

namespace plumb::scan::internal {
namespace {

// Lines made of the pieces the rules look for: near-tokens of each rule (lengths at and
// around the counted repeats, assignment variants), bare prefixes and keywords, separators
// and runs of each class, some with a character changed.
class Lines {
 public:
  std::string Next() {
    std::string line;
    size_t n = 1 + rng_() % 6;
    for (size_t i = 0; i < n; ++i) line += rng_() % 2 == 0 ? Token() : Piece();
    if (rng_() % 3 == 0) Mutate(&line);
    return line;
  }

 private:
  static constexpr const char* kAlnum =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

  size_t Pick(size_t n) { return rng_() % n; }
  // `n` give or take one (or two).
  size_t Near(size_t n) { return n + Pick(5) - 2 + (n < 2 ? 2 : 0); }
  std::string Of(std::string_view alphabet, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += alphabet[Pick(alphabet.size())];
    return s;
  }
  std::string Alnum(size_t n) { return Of(kAlnum, n); }
  std::string B64(size_t n) { return Of(std::string(kAlnum) + "+/", n); }
  std::string Tok(size_t n) { return Of(std::string(kAlnum) + "_-", n); }
  std::string OneOf(std::initializer_list<const char*> xs) {
    return *(xs.begin() + Pick(xs.size()));
  }
  std::string Assign() {
    return OneOf({"=", ":", ":=", "=>", " = ", ": ", "\": \"", "'='", " := '", "\t=\t\"",
                  "\"=", "=>>", ":==", " ", ""});
  }

  std::string Token() {
    switch (Pick(16)) {
      case 0:
        return OneOf({"AKIA", "ASIA", "ABIA", "ACCA"}) +
               Of("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", Near(16));
      case 1:
        return OneOf({"aws", "AWS_", "Aws.x"}) + Tok(Pick(4)) + OneOf({"secret", "SECRET"}) +
               Tok(Pick(3) * 9) + Assign() + B64(Near(40)) + OneOf({"", "=", "\"", "/"});
      case 2:
        return "\"private_key\"" + OneOf({":", " : ", ":\t"}) + "\"-----BEGIN " +
               OneOf({"RSA ", "", "EC "}) + "PRIVATE KEY-----\\n" + B64(Near(32));
      case 3:
        return "AccountKey" + OneOf({"=", " = ", ":"}) + B64(Near(86)) + OneOf({"==", "=", ""});
      case 4:
        return OneOf({"azure", "AZURE_"}) + Tok(Pick(3) * 8) + OneOf({"key", "Key"}) +
               Tok(Pick(3) * 5) + Assign() + B64(Near(86)) + "==";
      case 5:
        return "gh" + OneOf({"p", "o", "u", "s", "r", "x"}) + "_" + Alnum(Near(36));
      case 6:
        return "github_pat_" + Alnum(Near(22)) + "_" + Alnum(Near(59));
      case 7:
        return "glpat-" + Tok(Near(20));
      case 8: {
        std::string s = "xox" + OneOf({"b", "p", "a", "r", "s", "z"}) + "-";
        for (size_t g = Pick(5); g > 0; --g) s += Of("0123456789", 7 + Pick(9)) + "-";
        return s + Alnum(10 + Pick(42));
      }
      case 9:
        return "hooks.slack.com/" + OneOf({"services/", "workflows/", "x/"}) + "T" +
               Of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 7 + Pick(7)) + "/B" +
               Of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 7 + Pick(7)) + "/" + Alnum(Near(24));
      case 10:
        return OneOf({"sk", "rk", "pk"}) + "_live_" + Alnum(Pick(2) == 0 ? Near(24) : Near(99));
      case 11:
        return "npm_" + Alnum(Near(36));
      case 12:
        return "pypi-AgEIcHlwaS5vcmc" + Tok(Near(50));
      case 13:
        return "eyJ" + Tok(Near(8)) + ".eyJ" + Tok(Near(8)) + "." + Tok(Near(16));
      case 14:
        return OneOf(
                   {"postgres", "postgresql", "MongoDB+srv", "redis", "rediss", "amqps", "xsql"}) +
               "://" + Of("abcdef:.-", Pick(2) == 0 ? 1 + Pick(3) : Near(64)) + ":" +
               Of("abcdef0123:!#", Pick(2) == 0 ? Near(3) : Near(128)) + "@" +
               Of("abc.-_:", Pick(4));
      default:
        return OneOf({"password", "PassWd", "pwd", "secret", "token", "api_key", "apiKey",
                      "api-KEY", "access_key", "client_secret", "auth-token", "authtoken"}) +
               Tok(Pick(2) == 0 ? Pick(3) : Near(20)) + Assign() +
               Of(std::string(kAlnum) + ":=>/.$%", Near(10));
    }
  }

  std::string Piece() {
    return OneOf({"AKIA",
                  "ghp_",
                  "github_pat_",
                  "glpat-",
                  "xoxb-",
                  "sk_live_",
                  "npm_",
                  "-----BEGIN",
                  "-----BEGIN ",
                  "PRIVATE KEY",
                  "-----",
                  " BLOCK",
                  "PRIVATE KEY-----",
                  "eyJ",
                  ".",
                  "password",
                  "token",
                  "aws",
                  "secret",
                  "azure",
                  "key",
                  "://",
                  ":",
                  "@",
                  "=",
                  " ",
                  "\t",
                  "\"",
                  "'",
                  "`",
                  ",",
                  ";",
                  "/",
                  "+",
                  "-",
                  "_",
                  "==",
                  "\r",
                  "\xc3\xa9",
                  "x",
                  "12345678-"}) +
           (Pick(2) == 0 ? Alnum(Pick(40)) : "");
  }

  // A character replaced, inserted or removed.
  void Mutate(std::string* s) {
    if (s->empty()) return;
    size_t at = Pick(s->size());
    char c = "aZ9_-.=: \"'/+@"[Pick(14)];
    switch (Pick(3)) {
      case 0:
        (*s)[at] = c;
        break;
      case 1:
        s->insert(s->begin() + static_cast<long>(at), c);
        break;
      default:
        s->erase(at, 1);
    }
  }

  std::mt19937 rng_{7};
};

std::vector<std::array<size_t, 4>> WithMatcher(SearchFn search, std::string_view w) {
  std::vector<std::array<size_t, 4>> out;
  Match m;
  for (size_t pos = 0; pos <= w.size() && search(w, pos, &m);) {
    out.push_back({m.start, m.end, m.secret_start, m.secret_end});
    pos = m.end > m.start ? m.end : m.end + 1;
  }
  return out;
}

std::vector<std::array<size_t, 4>> WithRegex(const std::regex& re, int group, std::string_view w) {
  std::vector<std::array<size_t, 4>> out;
  for (std::cregex_iterator it(w.data(), w.data() + w.size(), re), end; it != end; ++it) {
    size_t g = static_cast<size_t>(it->position(group));
    out.push_back({static_cast<size_t>(it->position(0)),
                   static_cast<size_t>(it->position(0) + it->length(0)), g,
                   g + static_cast<size_t>(it->length(group))});
  }
  return out;
}

TEST(ExtractTest, EveryBuiltinRuleHasAMatcher) {
  for (const Rule& r : BuiltinRules()) {
    BuiltinMatcher m = FindBuiltinMatcher(r);
    EXPECT_NE(m.search, nullptr) << r.id;
    EXPECT_FALSE(m.prefilter.empty()) << r.id;
  }
  Rule changed = BuiltinRules().front();
  changed.regex += "x";
  EXPECT_EQ(FindBuiltinMatcher(changed).search, nullptr);
}

TEST(ExtractTest, MatchersFindWhatTheRegexFinds) {
  Lines lines;
  std::vector<std::string> corpus;
  for (int i = 0; i < 3000; ++i) corpus.push_back(lines.Next());
  for (const Rule& r : BuiltinRules()) {
    auto flags = std::regex::ECMAScript | (r.caseless ? std::regex::icase : std::regex::ECMAScript);
    std::regex re(r.regex, flags);
    SearchFn search = FindBuiltinMatcher(r).search;
    ASSERT_NE(search, nullptr) << r.id;
    size_t matched = 0;
    for (const auto& line : corpus) {
      auto want = WithRegex(re, r.secret_group, line);
      ASSERT_EQ(WithMatcher(search, line), want) << r.id << " on: " << line;
      matched += want.size();
    }
    // The pieces reach every rule (else this test would prove little about it).
    EXPECT_GT(matched, 0u) << r.id;
  }
}

TEST(ExtractTest, ScansAgreeWithAndWithoutMatchers) {
  auto fast = Scanner::Create(BuiltinRules());
  auto slow = Scanner::Create(BuiltinRules(), {.builtin_matchers = false});
  ASSERT_TRUE(fast.ok() && slow.ok());
  Lines lines;
  for (int file = 0; file < 40; ++file) {
    std::string text;
    for (int i = 0; i < 100; ++i) text += lines.Next() + (i % 7 == 0 ? "\r\n" : "\n");
    auto a = (*fast)->Scan(text, "f.txt");
    auto b = (*slow)->Scan(text, "f.txt");
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->size(), b->size()) << "file " << file;
    for (size_t i = 0; i < a->size(); ++i) {
      EXPECT_EQ((*a)[i].rule_id, (*b)[i].rule_id);
      EXPECT_EQ((*a)[i].line, (*b)[i].line);
      EXPECT_EQ((*a)[i].column, (*b)[i].column);
      EXPECT_EQ((*a)[i].fingerprint, (*b)[i].fingerprint);
    }
  }
}

}  // namespace
}  // namespace plumb::scan::internal
