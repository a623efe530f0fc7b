#include "scan/scan.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>

#include "core/fs.h"
#include "core/strings.h"
#include "resource/codec.h"
#include "scan/confirm.h"
#include "source/git_test_util.h"

namespace plumb::scan {
namespace {

using source::testing::CommitAll;
using source::testing::Git;
using source::testing::InitRepo;
using source::testing::NewTempDir;
using source::testing::WriteFile;

// Deterministic random strings: fake tokens of the documented shapes.
class Fake {
 public:
  std::string From(const std::string& alphabet, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += alphabet[rng_() % alphabet.size()];
    return s;
  }
  std::string Alnum(size_t n) {
    return From("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", n);
  }
  std::string Digits(size_t n) { return From("0123456789", n); }
  std::string B64(size_t n) {
    return From("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", n);
  }

 private:
  std::mt19937 rng_{42};
};

class ScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Scanner::Create(BuiltinRules());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    scanner_ = std::move(s).value();
  }
  std::vector<Finding> Scan(const std::string& text) {
    auto r = scanner_->Scan(text, "f.txt");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::vector<Finding>{};
  }
  std::unique_ptr<Scanner> scanner_;
  Fake fake_;
};

TEST_F(ScanTest, FindsEveryBuiltinFormat) {
  std::string jwt_header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";  // {"alg":"HS256","typ":"JWT"}
  std::vector<std::pair<std::string, std::string>> cases = {
      {"aws-access-key-id",
       "aws_access_key_id = AKIA" + fake_.From("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)},
      {"aws-secret-access-key", "aws_secret_access_key = " + fake_.B64(40)},
      {"gcp-service-account-key",
       "  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n" + fake_.B64(64) + "\\n\","},
      {"azure-storage-account-key", "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" +
                                        fake_.B64(86) + "==;EndpointSuffix=core.windows.net"},
      {"github-token", "token: ghp_" + fake_.Alnum(36)},
      {"github-token", "GH=ghs_" + fake_.Alnum(36)},
      {"github-fine-grained-token", "github_pat_" + fake_.Alnum(22) + "_" + fake_.Alnum(59)},
      {"gitlab-token", "CI_TOKEN=glpat-" + fake_.Alnum(20)},
      {"slack-token",
       "slack: xoxb-" + fake_.Digits(12) + "-" + fake_.Digits(13) + "-" + fake_.Alnum(24)},
      {"slack-webhook", "url: https://hooks.slack.com/services/T" +
                            fake_.From("ABCDEFGHJK0123456789", 9) + "/B" +
                            fake_.From("ABCDEFGHJK0123456789", 9) + "/" + fake_.Alnum(24)},
      {"stripe-live-key", "STRIPE=sk_live_" + fake_.Alnum(24)},
      {"npm-token", "//registry.npmjs.org/:_authToken=npm_" + fake_.Alnum(36)},
      {"pypi-token", "password = pypi-AgEIcHlwaS5vcmc" + fake_.Alnum(70)},
      {"jwt",
       "Authorization: Bearer " + jwt_header + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0." + fake_.Alnum(43)},
      {"database-url-password", "DATABASE_URL=postgres://app:Zq8#rT2vLk@db.internal:5432/app"},
      {"generic-secret", "client_secret: \"" + fake_.Alnum(12) + "9\""},
  };
  for (const auto& [rule, line] : cases) {
    auto found = Scan("first line\n" + line + "\n");
    ASSERT_EQ(found.size(), 1u) << rule << " in: " << line;
    EXPECT_EQ(found[0].rule_id, rule) << line;
    EXPECT_EQ(found[0].line, 2);
    EXPECT_LE(found[0].redacted.size(), 9u);
    EXPECT_EQ(line.find(found[0].redacted), std::string::npos) << "not redacted: " << line;
  }
}

TEST_F(ScanTest, ACompiledDatabaseIsCachedAndAnUnreadableOneIsCompiledOver) {
  fs::TempDir tmp = source::testing::NewTempDir();
  ScannerOptions options;
  options.cache_dir = tmp.path() + "/cache";
  const std::string line = "token: ghp_" + fake_.Alnum(36) + "\n";
  auto files = [&] {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(options.cache_dir))
      out.push_back(e.path().string());
    return out;
  };
  auto first = Scanner::Create(BuiltinRules(), options);  // compiles, then saves
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(files().size(), 1u);
  const std::string db = files()[0];
  auto saved = fs::ReadFile(db);
  ASSERT_TRUE(saved.ok());
  auto second = Scanner::Create(BuiltinRules(), options);  // loads it
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  for (Scanner* s : {first->get(), second->get()}) {
    auto found = s->Scan(line, "f.txt");
    ASSERT_TRUE(found.ok());
    ASSERT_EQ(found->size(), 1u);
    EXPECT_EQ((*found)[0].rule_id, "github-token");
  }
  // Other rules: another file. A damaged file: compiled over, and saved again.
  auto rules = BuiltinRules();
  rules.pop_back();
  ASSERT_TRUE(Scanner::Create(rules, options).ok());
  EXPECT_EQ(files().size(), 2u);
  ASSERT_TRUE(fs::WriteFileAtomic(db, saved->substr(0, saved->size() / 2)).ok());
  auto third = Scanner::Create(BuiltinRules(), options);
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  auto found = (*third)->Scan(line, "f.txt");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->size(), 1u);
  EXPECT_EQ(fs::ReadFile(db)->size(), saved->size());
}

TEST(ScannerCacheTest, KeepsTheNewestRuleSetsOnly) {
  fs::TempDir tmp = source::testing::NewTempDir();
  ScannerOptions options;
  options.cache_dir = tmp.path();
  for (int i = 0; i < kMaxCachedDatabases + 3; ++i) {
    Rule r{.id = "r" + std::to_string(i), .regex = "secret" + std::to_string(i) + "=[a-z]+"};
    ASSERT_TRUE(Scanner::Create({r}, options).ok());
  }
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) n += !e.is_directory();
  EXPECT_EQ(n, kMaxCachedDatabases);
}

TEST_F(ScanTest, FindsPrivateKeyBlocksWithABody) {
  for (std::string kind : {"RSA PRIVATE KEY", "PRIVATE KEY", "OPENSSH PRIVATE KEY",
                           "EC PRIVATE KEY", "PGP PRIVATE KEY BLOCK"}) {
    std::string text = "-----BEGIN " + kind + "-----\n" + fake_.B64(64) + "\n" + fake_.B64(64) +
                       "\n-----END " + kind + "-----\n";
    auto found = Scan(text);
    ASSERT_EQ(found.size(), 1u) << kind;
    EXPECT_EQ(found[0].rule_id, "private-key");
    EXPECT_EQ(found[0].line, 1);
  }
}

TEST_F(ScanTest, ReportsTheColumnOfTheSecret) {
  auto found = Scan("a\nb\n    key: ghp_" + fake_.Alnum(36) + "\n");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].line, 3);
  EXPECT_EQ(found[0].column, 10);
  EXPECT_EQ(found[0].redacted, "ghp_*****");
}

TEST_F(ScanTest, IgnoresLookAlikes) {
  std::string sealed_bytes = std::string("\x01\x00", 2) + std::string(256 + 40, 'k');
  for (size_t i = 2; i < sealed_bytes.size(); ++i) sealed_bytes[i] = static_cast<char>(i * 37);
  std::vector<std::string> texts = {
      "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",  // AWS's documentation key
      "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      "password: ENC[AES256_GCM,data:Tr7o=,iv:1=,tag:x=,type:str]",  // SOPS
      "  password: " + Base64Encode(sealed_bytes),                   // SealedSecret encryptedData
      "token: 123e4567-e89b-12d3-a456-426614174000",                 // UUID
      "secret: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  // sha256
      "password = ${DB_PASSWORD}",
      "password: <your-password-here>",
      "api_key: {{ .Values.apiKey }}",
      "token = os.environ.GITHUB_TOKEN",
      "secretKeyRef: my-secret-name",
      "password: correcthorsebatterystaple",
      "  info.author_name = author->name != nullptr ? author->name : \"\";",
      "static secrets::PrivateKey k = *secrets::PrivateKey::Generate(2048);",
      "GIT_AUTHOR_EMAIL=author@example.com",
      "function headers(extra = {}, token = auth.token) {",
      "std::string secret_api_version = \"local.plumbline.dev/v1\";",
      "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
      "ghp_000000000000000000000000000000000000",
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq5oZ2Yg8QkAaJ6Vx0q3GJzvW0w6jq3l1lR2gT9kq8P alice",
      "-----BEGIN PUBLIC "
      "KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n",
      "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",  // docs
      "postgres://user:${PASSWORD}@db:5432/app",
      "sk_test_" + fake_.Alnum(24),
      "eyJhbGciOiJIUzI1NiJ9isnotajwt.eyJ" + fake_.Alnum(20),
  };
  for (const auto& t : texts) {
    auto found = Scan(t + "\n");
    EXPECT_TRUE(found.empty()) << t << " -> " << (found.empty() ? "" : found[0].rule_id);
  }
}

TEST_F(ScanTest, SkipsBinaryData) {
  std::string bin = std::string(
                        "\x7f"
                        "ELF\0\0",
                        6) +
                    "ghp_" + fake_.Alnum(36);
  EXPECT_TRUE(Scan(bin).empty());
}

TEST_F(ScanTest, FingerprintFollowsRuleFileAndSecretNotLine) {
  std::string token = "ghp_" + fake_.Alnum(36);
  auto a = Scan("x: " + token + "\n");
  auto b = Scan("\n\n\ny: " + token + "\n");
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].fingerprint, b[0].fingerprint);
  EXPECT_NE(Refile(a[0], "other.txt").fingerprint, a[0].fingerprint);
}

TEST(ConfirmTest, EntropyAndPlaceholders) {
  EXPECT_DOUBLE_EQ(internal::ShannonEntropy("aaaa"), 0);
  EXPECT_DOUBLE_EQ(internal::ShannonEntropy("abcd"), 2);
  EXPECT_TRUE(internal::IsPlaceholder("AKIAIOSFODNN7EXAMPLE"));
  EXPECT_TRUE(internal::IsPlaceholder("<token>"));
  EXPECT_FALSE(internal::IsPlaceholder("Zq8rT2vLk9"));
  EXPECT_TRUE(internal::IsUuidOrHash("da39a3ee5e6b4b0d3255bfef95601890afd80709"));
  EXPECT_EQ(internal::Redact("hunter2secret"), "hun*****");
}

TEST(ConfigTest, AddsAndDisablesRulesAndAllowlists) {
  auto c = ParseConfig(R"(rules:
  - id: internal-token
    regex: 'itk_[a-z0-9]{32}'
    entropy: 3
disabledRules: [jwt]
allowlist:
  paths: ["testdata/**", "**/*.md"]
  commits: [0123456789ab]
  fingerprints: [aaaabbbbccccdddd]
)",
                       ".plumbscan.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto rules = EffectiveRules(*c);
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EXPECT_EQ((*rules)[0].id, "internal-token");
  for (const auto& r : *rules) EXPECT_NE(r.id, "jwt");
  auto s = Scanner::Create(*rules);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto found = (*s)->Scan("x = itk_0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d\n", "x");
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].rule_id, "internal-token");

  Filter f{.config = &*c};
  EXPECT_TRUE(f.PathAllowed("testdata/keys/a.pem"));
  EXPECT_TRUE(f.PathAllowed("README.md"));
  EXPECT_TRUE(f.PathAllowed("docs/x/y.md"));
  EXPECT_FALSE(f.PathAllowed("src/main.go"));
  EXPECT_TRUE(f.CommitAllowed("0123456789abcdef0123456789abcdef01234567"));
  EXPECT_FALSE(f.CommitAllowed("1123456789abcdef0123456789abcdef01234567"));
  EXPECT_TRUE(f.FindingIgnored(Finding{.fingerprint = "aaaabbbbccccdddd"}));
}

TEST(ConfigTest, ErrorsNameFileLineAndField) {
  auto c = ParseConfig("disabledRules: [jwt]\nallowlist:\n  paths: [1]\n", "repo/.plumbscan.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "repo/.plumbscan.yaml:3: allowlist.paths.0: must be a non-empty string");
  c = ParseConfig("rules:\n  - id: x\n    regex: 'a'\n    colour: red\n", "c.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("c.yaml:4: rules.0.colour: unknown field"), std::string::npos)
      << c.status().message();
  c = ParseConfig("rules: [{id: x, regex: 'a{300}'}]\n", "c.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("larger than 200"), std::string::npos);
  auto bad = ParseConfig("rules: [{id: bad, regex: '(unclosed'}]\n", "c.yaml");
  ASSERT_TRUE(bad.ok());
  auto rules = EffectiveRules(*bad);
  ASSERT_TRUE(rules.ok());
  auto s = Scanner::Create(*rules);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("rule bad: regex does not compile"), std::string::npos)
      << s.status().message();
  Config typo;
  typo.disabled_rules = {"jwtt"};
  EXPECT_FALSE(EffectiveRules(typo).ok());
}

TEST(BaselineTest, ReadsFingerprintsOfAJsonReport) {
  Report r;
  r.findings.push_back(Finding{.rule_id = "jwt", .file = "a", .line = 1, .fingerprint = "f1"});
  auto fps = ParseBaseline(ToJson(r), "base.json");
  ASSERT_TRUE(fps.ok()) << fps.status().ToString();
  EXPECT_EQ(*fps, std::set<std::string>{"f1"});
  EXPECT_FALSE(ParseBaseline("{\"x\": 1}", "base.json").ok());
}

TEST(ReportTest, SarifHasTheShapeCodeScanningReads) {
  Report r;
  r.findings.push_back(Finding{.rule_id = "github-token",
                               .description = "GitHub token",
                               .file = "a/b.txt",
                               .line = 3,
                               .column = 5,
                               .redacted = "ghp_*****",
                               .fingerprint = "0123"});
  auto v = resource::ParseJson(ToSarif(r, BuiltinRules()), "sarif");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->GetString("version"), "2.1.0");
  EXPECT_FALSE(v->GetString("$schema").empty());
  const auto& run = v->Find("runs")->as_array()[0];
  EXPECT_EQ(run.FindPath({"tool", "driver", "rules"})->size(), BuiltinRules().size());
  const auto& res = run.Find("results")->as_array()[0];
  EXPECT_EQ(res.GetString("ruleId"), "github-token");
  const auto& loc = res.Find("locations")->as_array()[0];
  EXPECT_EQ(loc.FindPath({"physicalLocation", "artifactLocation"})->GetString("uri"), "a/b.txt");
  EXPECT_EQ(loc.FindPath({"physicalLocation", "region", "startLine"})->as_int(), 3);
  EXPECT_EQ(res.Find("partialFingerprints")->GetString("plumbScan/v1"), "0123");
  EXPECT_TRUE(resource::ParseJson(ToJson(r), "json").ok());
}

class HistoryTest : public ScanTest {};

TEST_F(HistoryTest, ScansAddedLinesOfEachCommitAndEachBlobOnce) {
  auto tmp = NewTempDir();
  std::string dir = tmp.path() + "/repo";
  InitRepo(dir);
  std::string token = "ghp_" + fake_.Alnum(36);
  WriteFile(dir, "app/config.yaml", "name: app\n");
  std::string c1 = CommitAll(dir, "first");
  WriteFile(dir, "app/config.yaml", "name: app\ntoken: " + token + "\n");
  std::string c2 = CommitAll(dir, "add a token");
  WriteFile(dir, "app/config.yaml", "name: app2\ntoken: " + token + "\n");
  WriteFile(dir, "copy/config.yaml", "name: app\ntoken: " + token + "\n");  // c2's blob again
  std::string c3 = CommitAll(dir, "rename app, copy the old config");

  auto repo = source::LocalRepo::Open(dir + "/app");
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  auto report = ScanHistory(*scanner_, **repo, "", Filter{});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->commits, 3u);
  // c2 adds the token line; c3 changes line 1 only of app/config.yaml and adds
  // copy/config.yaml, a copy of c2's blob (detected as a copy: nothing added).
  ASSERT_EQ(report->findings.size(), 1u) << ToText(*report);
  EXPECT_EQ(report->findings[0].commit, c2);
  EXPECT_EQ(report->findings[0].file, "app/config.yaml");
  EXPECT_EQ(report->findings[0].line, 2);
  EXPECT_EQ(report->findings[0].author, "Test Author <author@example.com>");
  // Blobs read: c1's, c2's, c3's new app/config.yaml (copy/ has no added lines).
  EXPECT_EQ(report->files, 3u);

  auto range = ScanHistory(*scanner_, **repo, c2 + ".." + c3, Filter{});
  ASSERT_TRUE(range.ok()) << range.status().ToString();
  EXPECT_EQ(range->commits, 1u);
  EXPECT_TRUE(range->findings.empty()) << ToText(*range);

  Config allow;
  allow.allow_commits = {c2.substr(0, 10)};
  auto allowed = ScanHistory(*scanner_, **repo, "", Filter{.config = &allow});
  ASSERT_TRUE(allowed.ok());
  EXPECT_TRUE(allowed->findings.empty());
  (void)c1;
}

TEST_F(HistoryTest, AMergeAddsOnlyLinesNewAgainstEveryParent) {
  auto tmp = NewTempDir();
  std::string dir = tmp.path() + "/repo";
  InitRepo(dir);
  WriteFile(dir, "a.txt", "one\n");
  CommitAll(dir, "base");
  std::string main = Git(dir, {"rev-parse", "--abbrev-ref", "HEAD"});
  Git(dir, {"checkout", "-q", "-b", "topic"});
  WriteFile(dir, "b.txt", "x\ntoken = ghp_" + fake_.Alnum(36) + "\n");
  std::string on_topic = CommitAll(dir, "topic adds a token");
  Git(dir, {"checkout", "-q", main});
  WriteFile(dir, "c.txt", "main moves on\n");
  CommitAll(dir, "main");
  Git(dir, {"merge", "-q", "--no-ff", "--no-commit", "topic"});
  // An "evil merge": the merge commit itself adds a line.
  WriteFile(dir, "a.txt", "one\n//registry.npmjs.org/:_authToken=npm_" + fake_.Alnum(36) + "\n");
  std::string merge = CommitAll(dir, "merge topic");
  ASSERT_EQ(Git(dir, {"rev-list", "--parents", "-n1", "HEAD"}).size(), 3 * 40 + 2);

  auto repo = source::LocalRepo::Open(dir);
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  auto report = ScanHistory(*scanner_, **repo, "", Filter{});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->commits, 4u);
  // The topic's token is the topic commit's, not the merge's (against its first parent the
  // merge adds b.txt too); the merge's own line is the merge's.
  ASSERT_EQ(report->findings.size(), 2u) << ToText(*report);
  std::map<std::string, Finding> by_rule;
  for (const auto& f : report->findings) by_rule[f.rule_id] = f;
  EXPECT_EQ(by_rule["github-token"].commit, on_topic);
  EXPECT_EQ(by_rule["github-token"].file, "b.txt");
  EXPECT_EQ(by_rule["github-token"].line, 2);
  EXPECT_EQ(by_rule["npm-token"].commit, merge);
  EXPECT_EQ(by_rule["npm-token"].file, "a.txt");
  EXPECT_EQ(by_rule["npm-token"].line, 2);

  auto additions = (*repo)->Additions(merge);
  ASSERT_TRUE(additions.ok()) << additions.status().ToString();
  ASSERT_EQ(additions->files.size(), 1u);
  EXPECT_EQ(additions->files[0].path, "a.txt");
  EXPECT_EQ(additions->files[0].lines, std::vector<int>{2});
}

TEST_F(HistoryTest, StagedScansWhatTheIndexAdds) {
  auto tmp = NewTempDir();
  std::string dir = tmp.path() + "/repo";
  InitRepo(dir);
  auto repo = source::LocalRepo::Open(dir);
  ASSERT_TRUE(repo.ok());
  std::string key = "AKIA" + fake_.From("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16);
  WriteFile(dir, "a.env", "A=1\nAWS_ACCESS_KEY_ID=" + key + "\n");
  Git(dir, {"add", "a.env"});  // on an unborn branch: everything staged is added
  auto staged = ScanStaged(*scanner_, **repo, Filter{});
  ASSERT_TRUE(staged.ok()) << staged.status().ToString();
  ASSERT_EQ(staged->findings.size(), 1u);
  EXPECT_EQ(staged->findings[0].file, "a.env");
  EXPECT_EQ(staged->findings[0].line, 2);
  EXPECT_TRUE(staged->findings[0].commit.empty());
  CommitAll(dir, "with key");
  WriteFile(dir, "a.env", "A=2\nAWS_ACCESS_KEY_ID=" + key + "\n");
  Git(dir, {"add", "a.env"});
  staged = ScanStaged(*scanner_, **repo, Filter{});
  ASSERT_TRUE(staged.ok());
  EXPECT_TRUE(staged->findings.empty()) << "line 2 is not added again";
}

TEST_F(ScanTest, DirectorySkipsGitAndAllowlistedPaths) {
  auto tmp = NewTempDir();
  std::string token = "glpat-" + fake_.Alnum(20);
  WriteFile(tmp.path(), "src/a.py", "TOKEN = '" + token + "'\n");
  WriteFile(tmp.path(), "testdata/b.py", "TOKEN = '" + token + "'\n");
  WriteFile(tmp.path(), ".git/config", "TOKEN = '" + token + "'\n");
  Config c;
  c.allow_paths = {"testdata/**"};
  auto r = ScanDirectory(*scanner_, tmp.path(), Filter{.config = &c});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->findings.size(), 1u) << ToText(*r);
  EXPECT_EQ(r->findings[0].file, "src/a.py");
  EXPECT_EQ(r->findings[0].rule_id, "gitlab-token");
  Filter base{.baseline = {r->findings[0].fingerprint}};
  base.config = &c;
  auto again = ScanDirectory(*scanner_, tmp.path(), base);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->findings.empty());
  EXPECT_EQ(again->ignored, 1u);
}

}  // namespace
}  // namespace plumb::scan
