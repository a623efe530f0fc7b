// Signed commits and tags made by the real git with real keys (ssh-keygen, gpg), read
// through libgit2 and verified with ssh-keygen -Y verify and gpg --verify.
#include <gtest/gtest.h>

#include "core/fs.h"
#include "core/strings.h"
#include "source/git_test_util.h"
#include "source/signature.h"
#include "source/source.h"

namespace plumb::source {
namespace {

using testing::CommitAll;
using testing::Git;
using testing::InitRepo;
using testing::NewTempDir;
using testing::WriteFile;

std::string RunTool(const std::vector<std::string>& argv,
                    const std::vector<std::string>& env = {}) {
  SubprocessOptions opts;
  opts.extra_env = env;
  auto r = RunSubprocess(argv, opts);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return "";
  EXPECT_EQ(r->exit_code, 0) << argv[0] << ": " << r->err;
  return r->out;
}

class VerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = NewTempDir("plumb-verify-test-");
    repo_ = tmp_.path() + "/repo";
    cache_ = std::make_unique<RepoCache>(tmp_.path() + "/cache");
    InitRepo(repo_);
  }
  void TearDown() override {
    // The agent git's gpg started for signing; verification itself never starts one.
    for (const auto& home : gpg_homes_)
      (void)RunSubprocess({"gpgconf", "--homedir", home, "--kill", "gpg-agent"});
  }

  // A new ed25519 key; returns the private key's path (NAME.pub holds the public one).
  std::string SshKey(const std::string& name) {
    std::string path = tmp_.path() + "/" + name;
    RunTool({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path});
    return path;
  }
  std::string SshPublic(const std::string& key) { return Trim(*fs::ReadFile(key + ".pub")); }
  std::string SshFingerprint(const std::string& key) {
    return Split(RunTool({"ssh-keygen", "-l", "-f", key + ".pub"}), ' ')[1];
  }

  // A new OpenPGP signing key for EMAIL in its own GNUPGHOME; returns that home.
  std::string PgpKey(const std::string& email) {
    std::string home = tmp_.path() + "/gnupg-" + email;
    EXPECT_TRUE(fs::MakeDirs(home, 0700).ok());
    gpg_homes_.push_back(home);
    RunTool({"gpg", "--homedir", home, "--batch", "--passphrase", "", "--quick-gen-key",
             "Test <" + email + ">", "ed25519", "sign", "never"});
    return home;
  }
  std::string PgpPublic(const std::string& home) {
    return RunTool({"gpg", "--homedir", home, "--armor", "--export"});
  }
  std::string PgpFingerprint(const std::string& home) {
    for (const auto& line : Split(RunTool({"gpg", "--homedir", home, "--with-colons", "-K"}), '\n'))
      if (StartsWith(line, "fpr:")) return Split(line, ':')[9];
    return "";
  }

  std::vector<std::string> SshSigning(const std::string& key) {
    return {"-c", "gpg.format=ssh", "-c", "user.signingkey=" + key};
  }

  // Commits a change signed per `config` (empty: unsigned); returns the commit id.
  std::string Commit(const std::string& content, const std::vector<std::string>& config,
                     const std::vector<std::string>& env = {}) {
    WriteFile(repo_, "app.yaml", content);
    Git(repo_, {"add", "-A"});
    std::vector<std::string> args = config;
    args.insert(args.end(), {"commit", "-q", "-m", "change"});
    if (!config.empty()) args.push_back("-S");
    Git(repo_, args, env);
    EXPECT_TRUE(cache_->Fetch(repo_).ok());
    return Git(repo_, {"rev-parse", "HEAD"});
  }

  Result<Verification> VerifyCommit(const std::string& commit, std::vector<TrustedKey> keys) {
    auto obj = cache_->CommitSignature(repo_, commit);
    if (!obj.ok()) return obj.status();
    return VerifySignature(*obj, keys);
  }

  fs::TempDir tmp_;
  std::string repo_;
  std::unique_ptr<RepoCache> cache_;
  std::vector<std::string> gpg_homes_;
};

TEST_F(VerifyTest, SshSignedCommitByTrustedKeyIsVerified) {
  std::string alice = SshKey("alice");
  std::string c = Commit("a: 1\n", SshSigning(alice));
  auto v = VerifyCommit(c, {{TrustedKey::Type::kSsh, SshPublic(alice)}});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->signer, "SSH key ED25519 " + SshFingerprint(alice));
}

TEST_F(VerifyTest, SshSignedCommitByUnknownKeyIsRefusedNamingTheKey) {
  std::string alice = SshKey("alice");
  std::string mallory = SshKey("mallory");
  std::string c = Commit("a: 1\n", SshSigning(mallory));
  auto v = VerifyCommit(c, {{TrustedKey::Type::kSsh, SshPublic(alice)}});
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kPermissionDenied);
  EXPECT_NE(v.status().message().find(SshFingerprint(mallory)), std::string::npos)
      << v.status().message();
  EXPECT_NE(v.status().message().find("not a trusted key"), std::string::npos);
  EXPECT_NE(v.status().message().find(c.substr(0, 7)), std::string::npos);
}

TEST_F(VerifyTest, UnsignedCommitIsRefused) {
  std::string alice = SshKey("alice");
  std::string c = Commit("a: 1\n", {});
  auto v = VerifyCommit(c, {{TrustedKey::Type::kSsh, SshPublic(alice)}});
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(v.status().message(),
            "commit " + c.substr(0, 7) + " is not signed (sign commits with git commit -S)");
}

TEST_F(VerifyTest, TamperedSignedDataIsRefused) {
  std::string alice = SshKey("alice");
  std::string c = Commit("a: 1\n", SshSigning(alice));
  auto obj = cache_->CommitSignature(repo_, c);
  ASSERT_TRUE(obj.ok());
  obj->signed_data += "extra\n";
  auto v = VerifySignature(*obj, {{TrustedKey::Type::kSsh, SshPublic(alice)}});
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kPermissionDenied);
}

TEST_F(VerifyTest, PgpSignedCommitByTrustedKeyIsVerified) {
  std::string home = PgpKey("alice@example.com");
  std::string c =
      Commit("a: 1\n", {"-c", "user.signingkey=alice@example.com"}, {"GNUPGHOME=" + home});
  // Another trusted key beside it changes nothing.
  std::string other = PgpKey("bob@example.com");
  auto v = VerifyCommit(
      c, {{TrustedKey::Type::kPgp, PgpPublic(other)}, {TrustedKey::Type::kPgp, PgpPublic(home)}});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->signer, "OpenPGP key " + PgpFingerprint(home));
}

TEST_F(VerifyTest, PgpSignedCommitByUnknownKeyIsRefusedNamingTheKey) {
  std::string alice = PgpKey("alice@example.com");
  std::string mallory = PgpKey("mallory@example.com");
  std::string c =
      Commit("a: 1\n", {"-c", "user.signingkey=mallory@example.com"}, {"GNUPGHOME=" + mallory});
  auto v = VerifyCommit(c, {{TrustedKey::Type::kPgp, PgpPublic(alice)}});
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kPermissionDenied);
  EXPECT_NE(v.status().message().find(PgpFingerprint(mallory)), std::string::npos)
      << v.status().message();
  // An SSH key does not vouch for an OpenPGP signature either.
  std::string ssh = SshKey("alice");
  v = VerifyCommit(c, {{TrustedKey::Type::kSsh, SshPublic(ssh)}});
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kPermissionDenied);
}

TEST_F(VerifyTest, UnreadableKeysAreInvalidArguments) {
  std::string alice = SshKey("alice");
  std::string c = Commit("a: 1\n", SshSigning(alice));
  auto v = VerifyCommit(c, {{TrustedKey::Type::kSsh, "not a key"}});
  EXPECT_EQ(v.status().code(), Code::kInvalidArgument) << v.status().ToString();
  std::string home = PgpKey("alice@example.com");
  c = Commit("a: 2\n", {"-c", "user.signingkey=alice@example.com"}, {"GNUPGHOME=" + home});
  v = VerifyCommit(c, {{TrustedKey::Type::kPgp, "-----BEGIN PGP PUBLIC KEY BLOCK-----\nxx\n"}});
  EXPECT_EQ(v.status().code(), Code::kInvalidArgument) << v.status().ToString();
}

TEST_F(VerifyTest, SignedAnnotatedTagsAreVerified) {
  std::string alice = SshKey("alice");
  std::string mallory = SshKey("mallory");
  Commit("a: 1\n", {});  // the commit itself unsigned: tag mode checks the tag
  std::vector<std::string> tag = SshSigning(alice);
  tag.insert(tag.end(), {"tag", "-s", "v1", "-m", "release 1"});
  Git(repo_, tag);
  tag = SshSigning(mallory);
  tag.insert(tag.end(), {"tag", "-s", "v2", "-m", "release 2"});
  Git(repo_, tag);
  Git(repo_, {"tag", "-a", "v3", "-m", "unsigned"});
  Git(repo_, {"tag", "light"});
  std::string home = PgpKey("alice@example.com");
  Git(repo_, {"-c", "user.signingkey=alice@example.com", "tag", "-s", "v4", "-m", "pgp"},
      {"GNUPGHOME=" + home});
  ASSERT_TRUE(cache_->Fetch(repo_).ok());
  std::vector<TrustedKey> keys = {{TrustedKey::Type::kSsh, SshPublic(alice)},
                                  {TrustedKey::Type::kPgp, PgpPublic(home)}};

  auto v1 = cache_->TagSignature(repo_, "v1");
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  EXPECT_EQ(v1->name, "tag v1");
  EXPECT_TRUE(VerifySignature(*v1, keys).ok());
  auto v2 = cache_->TagSignature(repo_, "refs/tags/v2");
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(VerifySignature(*v2, keys).status().code(), Code::kPermissionDenied);
  auto v3 = cache_->TagSignature(repo_, "v3");
  ASSERT_TRUE(v3.ok());
  EXPECT_EQ(VerifySignature(*v3, keys).status().message(),
            "tag v3 is not signed (sign tags with git tag -s)");
  EXPECT_EQ(cache_->TagSignature(repo_, "light").status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(cache_->TagSignature(repo_, "nope").status().code(), Code::kNotFound);
  auto v4 = cache_->TagSignature(repo_, "v4");
  ASSERT_TRUE(v4.ok());
  auto ok4 = VerifySignature(*v4, keys);
  EXPECT_TRUE(ok4.ok()) << ok4.status().ToString();
  // What git itself verifies agrees on where the signature starts.
  EXPECT_FALSE(StartsWith(v1->signed_data, "-----"));
  EXPECT_NE(v1->signed_data.find("release 1"), std::string::npos);
}

// Commits plumbline writes (rollback, promotion, image updates) signed with the operator's
// key: what the real `git verify-commit` accepts, and what plumbline itself verifies.
class SigningTest : public VerifyTest {
 protected:
  void SetUp() override {
    VerifyTest::SetUp();
    WriteFile(repo_, "app.yaml", "a: 1\n");
    CommitAll(repo_, "first");
    branch_ = Git(repo_, {"rev-parse", "--abbrev-ref", "HEAD"});
    bare_ = tmp_.path() + "/bare.git";
    Git(tmp_.path(), {"clone", "-q", "--bare", repo_, bare_});
  }
  // CommitFiles through a fresh cache, as image automation writes; returns the result.
  Result<std::string> WriteSigned(const Signature& author, const std::string& content) {
    RepoCache cache(tmp_.path() + "/write-cache");
    RETURN_IF_ERROR(cache.Fetch(bare_).status());
    std::string head = Git(bare_, {"rev-parse", branch_});
    return cache.CommitFiles(bare_, branch_, head, {{"app.yaml", content}}, "update", author);
  }
  std::string branch_, bare_;
};

TEST_F(SigningTest, SshSignedCommitIsAcceptedByGitAndByVerify) {
  std::string op = SshKey("operator");
  Signature author{.name = "Bot", .email = "bot@example.com", .signing_key = *fs::ReadFile(op)};
  auto c = WriteSigned(author, "a: 2\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(Git(bare_, {"rev-parse", branch_}), *c);
  // The real git verifies it with the operator's public key as an allowed signer.
  WriteFile(tmp_.path(), "allowed", "bot@example.com " + SshPublic(op) + "\n");
  std::string out = Git(bare_, {"-c", "gpg.ssh.allowedSignersFile=" + tmp_.path() + "/allowed",
                                "log", "-1", "--format=%G?", *c});
  EXPECT_EQ(out, "G");
  // And so does plumbline's verification (what spec.source.verify runs).
  ASSERT_TRUE(cache_->Fetch(bare_).ok());
  auto obj = cache_->CommitSignature(bare_, *c);
  ASSERT_TRUE(obj.ok()) << obj.status().ToString();
  auto v = VerifySignature(*obj, {{TrustedKey::Type::kSsh, SshPublic(op)}});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->signer, "SSH key ED25519 " + SshFingerprint(op));
  EXPECT_EQ(Git(bare_, {"show", branch_ + ":app.yaml"}), "a: 2");
}

TEST_F(SigningTest, PgpSignedCommitIsAcceptedByGitAndByVerify) {
  std::string home = PgpKey("bot@example.com");
  std::string secret = RunTool({"gpg", "--homedir", home, "--batch", "--pinentry-mode", "loopback",
                                "--passphrase", "", "--armor", "--export-secret-keys"});
  Signature author{.name = "Bot", .email = "bot@example.com", .signing_key = secret};
  auto c = WriteSigned(author, "a: 3\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  std::string out =
      RunTool({"git", "-C", bare_, "verify-commit", "--raw", *c}, {"GNUPGHOME=" + home});
  (void)out;  // RunTool asserts the exit code 0: git and gpg accept the signature
  ASSERT_TRUE(cache_->Fetch(bare_).ok());
  auto obj = cache_->CommitSignature(bare_, *c);
  ASSERT_TRUE(obj.ok());
  auto v = VerifySignature(*obj, {{TrustedKey::Type::kPgp, PgpPublic(home)}});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->signer, "OpenPGP key " + PgpFingerprint(home));
}

TEST_F(SigningTest, PgpKeyWithPassphraseNeedsIt) {
  std::string home = tmp_.path() + "/gnupg-pass";
  ASSERT_TRUE(fs::MakeDirs(home, 0700).ok());
  gpg_homes_.push_back(home);
  RunTool({"gpg", "--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase",
           "s3cret-pass", "--quick-gen-key", "Bot <bot@example.com>", "ed25519", "sign", "never"});
  std::string secret = RunTool({"gpg", "--homedir", home, "--batch", "--pinentry-mode", "loopback",
                                "--passphrase", "s3cret-pass", "--armor", "--export-secret-keys"});
  std::string before = Git(bare_, {"rev-parse", branch_});
  auto no = WriteSigned({.signing_key = secret}, "a: 4\n");
  ASSERT_FALSE(no.ok());
  EXPECT_EQ(no.status().code(), Code::kInvalidArgument) << no.status().ToString();
  EXPECT_NE(no.status().message().find("signing the commit"), std::string::npos);
  EXPECT_NE(no.status().message().find("passphrase"), std::string::npos);
  EXPECT_EQ(no.status().message().find("s3cret-pass"), std::string::npos);
  EXPECT_EQ(Git(bare_, {"rev-parse", branch_}), before);  // nothing written
  auto yes = WriteSigned({.signing_key = secret, .signing_passphrase = "s3cret-pass"}, "a: 4\n");
  ASSERT_TRUE(yes.ok()) << yes.status().ToString();
  RunTool({"git", "-C", bare_, "verify-commit", *yes}, {"GNUPGHOME=" + home});
}

TEST_F(SigningTest, WhatIsNotAPrivateKeyIsRefusedAndNothingIsWritten) {
  std::string op = SshKey("operator");
  EXPECT_EQ(*SigningKeyType(*fs::ReadFile(op)), "SSH");
  auto pub = SigningKeyType(SshPublic(op));
  EXPECT_EQ(pub.status().message(), "the signing key is a public key: a private key is needed");
  EXPECT_EQ(SigningKeyType("hello").status().code(), Code::kInvalidArgument);
  std::string before = Git(bare_, {"rev-parse", branch_});
  // Looks like an OpenSSH key, is not one: ssh-keygen's refusal, nothing pushed.
  auto c = WriteSigned(
      {.signing_key = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE "
                      "KEY-----\n"},
      "a: 5\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("ssh-keygen could not sign"), std::string::npos)
      << c.status().message();
  EXPECT_EQ(Git(bare_, {"rev-parse", branch_}), before);
}

TEST(SplitTagSignature, SplitsAtTheFirstSignatureLine) {
  std::string data, sig;
  ASSERT_TRUE(internal::SplitTagSignature(
      "object x\ntag v1\n\nmsg -----BEGIN PGP SIGNATURE----- inline\n"
      "-----BEGIN SSH SIGNATURE-----\nAAA\n-----END SSH SIGNATURE-----\n",
      &data, &sig));
  EXPECT_EQ(data, "object x\ntag v1\n\nmsg -----BEGIN PGP SIGNATURE----- inline\n");
  EXPECT_EQ(sig, "-----BEGIN SSH SIGNATURE-----\nAAA\n-----END SSH SIGNATURE-----\n");
  EXPECT_FALSE(internal::SplitTagSignature("object x\n\nmsg\n", &data, &sig));
}

}  // namespace
}  // namespace plumb::source
