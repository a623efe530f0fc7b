// Signatures with the real tools: ssh-keygen -Y verify|sign and gpg --verify|--detach-sign.
// Both run without a shell, on files in a private temporary directory.
#include <map>

#include "core/fs.h"
#include "core/strings.h"
#include "core/subprocess.h"
#include "source/source.h"

namespace plumb::source {
namespace {

constexpr Duration kToolTimeout = Duration(30000);

Result<SubprocessResult> RunTool(const std::vector<std::string>& argv, std::string stdin_data) {
  SubprocessOptions opts;
  opts.stdin_data = std::move(stdin_data);
  opts.timeout = kToolTimeout;
  opts.max_output = 1 << 20;
  auto r = RunSubprocess(argv, opts);
  if (!r.ok() && r.status().code() == Code::kNotFound) {
    return NotFound(argv[0] + " is not installed (needed for signed commits; Debian: " +
                    (argv[0] == "gpg" ? "gnupg" : "openssh-client") + ")");
  }
  return r;
}

std::string FirstLine(const std::string& s) {
  std::string t = Trim(s);
  size_t nl = t.find('\n');
  return nl == std::string::npos ? t : t.substr(0, nl);
}

// "...with ED25519 key SHA256:abc" -> "ED25519 SHA256:abc"; "" when absent.
std::string SshKeyFromOutput(const std::string& out) {
  size_t with = out.find(" with ");
  if (with == std::string::npos) return "";
  std::string rest = FirstLine(out.substr(with + 6));
  size_t key = rest.find(" key ");
  if (key == std::string::npos) return rest;
  return rest.substr(0, key) + " " + rest.substr(key + 5);
}

bool LooksLikeSshKeyType(const std::string& word) {
  return StartsWith(word, "ssh-") || StartsWith(word, "ecdsa-") || StartsWith(word, "sk-");
}

Result<Verification> VerifySsh(const SignedObject& object, const std::vector<TrustedKey>& keys,
                               const std::string& dir) {
  std::string allowed;
  int n = 0;
  for (const TrustedKey& k : keys) {
    if (k.type != TrustedKey::Type::kSsh) continue;
    ++n;
    for (const std::string& raw : Split(k.key, '\n')) {
      std::string line = Trim(raw);
      if (line.empty() || line[0] == '#') continue;
      std::string type = line.substr(0, line.find(' '));
      if (!LooksLikeSshKeyType(type) || line.find(' ') == std::string::npos) {
        return InvalidArgument("SSH key #" + std::to_string(n) + " is not a public key line (" +
                               "\"ssh-ed25519 AAAA... comment\"): starts with \"" +
                               line.substr(0, 20) + "\"");
      }
      allowed += "* namespaces=\"git\" " + line + "\n";
    }
  }
  std::string sig_file = dir + "/signature";
  RETURN_IF_ERROR(fs::WriteFileAtomic(sig_file, object.signature, 0600));
  if (!allowed.empty()) {
    std::string allowed_file = dir + "/allowed_signers";
    RETURN_IF_ERROR(fs::WriteFileAtomic(allowed_file, allowed, 0600));
    ASSIGN_OR_RETURN(auto r, RunTool({"ssh-keygen", "-Y", "verify", "-f", allowed_file, "-I", "*",
                                      "-n", "git", "-s", sig_file},
                                     object.signed_data));
    if (r.exit_code == 0) {
      std::string key = SshKeyFromOutput(r.out + r.err);
      return Verification{.signer = "SSH key " + (key.empty() ? "(trusted)" : key)};
    }
  }
  // Not verified: say who signed, if the signature is sound at all.
  ASSIGN_OR_RETURN(auto check,
                   RunTool({"ssh-keygen", "-Y", "check-novalidate", "-n", "git", "-s", sig_file},
                           object.signed_data));
  if (check.exit_code != 0) {
    return PermissionDenied(object.name +
                            " has a bad SSH signature: " + FirstLine(check.err + check.out));
  }
  return PermissionDenied(object.name + " is signed by SSH key " +
                          SshKeyFromOutput(check.out + check.err) + ", which is not a trusted key");
}

// gpg --status-fd lines: "[GNUPG:] KEYWORD ARGS...".
std::map<std::string, std::vector<std::string>> StatusLines(const std::string& out) {
  std::map<std::string, std::vector<std::string>> lines;
  for (const std::string& line : Split(out, '\n')) {
    if (!StartsWith(line, "[GNUPG:] ")) continue;
    std::string rest = line.substr(9);
    size_t sp = rest.find(' ');
    std::string word = rest.substr(0, sp);
    lines[word] = Split(sp == std::string::npos ? "" : rest.substr(sp + 1), ' ');
  }
  return lines;
}

Result<Verification> VerifyPgp(const SignedObject& object, const std::vector<TrustedKey>& keys,
                               const std::string& dir) {
  std::string home = dir + "/gnupg";
  RETURN_IF_ERROR(fs::MakeDirs(home, 0700));
  // --no-autostart: importing and verifying need no agent; none is left running.
  const std::vector<std::string> gpg = {"gpg",      "--homedir",      home,          "--batch",
                                        "--no-tty", "--no-autostart", "--status-fd", "1"};
  int n = 0;
  for (const TrustedKey& k : keys) {
    if (k.type != TrustedKey::Type::kPgp) continue;
    ++n;
    std::vector<std::string> argv = gpg;
    argv.insert(argv.end(), {"--import"});
    ASSIGN_OR_RETURN(auto r, RunTool(argv, k.key));
    if (r.exit_code != 0 || r.out.find("[GNUPG:] IMPORT_OK") == std::string::npos) {
      return InvalidArgument(
          "OpenPGP key #" + std::to_string(n) +
          " is not an ASCII-armored public key gpg can import: " + FirstLine(r.err));
    }
  }
  std::string sig_file = dir + "/signature.asc";
  std::string data_file = dir + "/signed";
  RETURN_IF_ERROR(fs::WriteFileAtomic(sig_file, object.signature, 0600));
  RETURN_IF_ERROR(fs::WriteFileAtomic(data_file, object.signed_data, 0600));
  std::vector<std::string> argv = gpg;
  argv.insert(argv.end(), {"--verify", sig_file, data_file});
  ASSIGN_OR_RETURN(auto r, RunTool(argv, ""));
  auto st = StatusLines(r.out);
  auto arg = [&](const char* word, size_t i) {
    auto it = st.find(word);
    return it != st.end() && i < it->second.size() ? it->second[i] : std::string();
  };
  if (st.count("NO_PUBKEY") || st.count("ERRSIG")) {
    // ERRSIG's 7th field is the signer's fingerprint when the signature carries it.
    std::string who = arg("ERRSIG", 6);
    if (who.empty() || who == "-") who = arg("ERRSIG", 0);
    if (who.empty()) who = arg("NO_PUBKEY", 0);
    if (st.count("NO_PUBKEY"))
      return PermissionDenied(object.name + " is signed by OpenPGP key " + who +
                              ", which is not a trusted key");
    return PermissionDenied(object.name + " has an OpenPGP signature gpg cannot check (key " + who +
                            ")");
  }
  for (const char* bad : {"BADSIG", "EXPKEYSIG", "REVKEYSIG", "EXPSIG"}) {
    if (!st.count(bad)) continue;
    std::string why = std::string(bad) == "BADSIG"      ? "a bad signature"
                      : std::string(bad) == "EXPSIG"    ? "an expired signature"
                      : std::string(bad) == "EXPKEYSIG" ? "a signature by an expired key"
                                                        : "a signature by a revoked key";
    return PermissionDenied(object.name + " has " + why + " (OpenPGP key " + arg(bad, 0) + ")");
  }
  if (r.exit_code != 0 || !st.count("GOODSIG") || !st.count("VALIDSIG")) {
    return PermissionDenied(object.name +
                            ": gpg did not verify the signature: " + FirstLine(r.err));
  }
  std::string fpr = arg("VALIDSIG", 9);  // the primary key's fingerprint
  if (fpr.empty()) fpr = arg("VALIDSIG", 0);
  return Verification{.signer = "OpenPGP key " + fpr};
}

}  // namespace

Result<Verification> VerifySignature(const SignedObject& object,
                                     const std::vector<TrustedKey>& keys) {
  if (object.signature.empty()) {
    return FailedPrecondition(object.name + " is not signed" +
                              (object.kind == "tag" ? " (sign tags with git tag -s)"
                                                    : " (sign commits with git commit -S)"));
  }
  ASSIGN_OR_RETURN(std::string tmp, fs::MakeTempDir("plumb-verify-"));
  fs::TempDir owned(tmp);  // mkdtemp: mode 0700
  if (StartsWith(object.signature, "-----BEGIN SSH SIGNATURE-----"))
    return VerifySsh(object, keys, tmp);
  if (StartsWith(object.signature, "-----BEGIN PGP ")) return VerifyPgp(object, keys, tmp);
  return PermissionDenied(object.name + " has a signature in a format plumbline does not verify (" +
                          FirstLine(object.signature) + "): use OpenPGP or SSH");
}

namespace {

constexpr const char* kSshPrivate = "-----BEGIN OPENSSH PRIVATE KEY-----";
constexpr const char* kPgpPrivate = "-----BEGIN PGP PRIVATE KEY BLOCK-----";

Result<std::string> SignSsh(const std::string& data, const std::string& key,
                            const std::string& dir) {
  std::string key_file = dir + "/key";
  std::string data_file = dir + "/commit";
  RETURN_IF_ERROR(fs::WriteFileAtomic(key_file, key, 0600));
  RETURN_IF_ERROR(fs::WriteFileAtomic(data_file, data, 0600));
  // As git does: the data in a file, the signature written next to it (FILE.sig). A
  // passphrase-protected key would prompt: stdin is empty, so ssh-keygen fails instead.
  ASSIGN_OR_RETURN(
      auto r,
      RunTool({"ssh-keygen", "-q", "-Y", "sign", "-n", "git", "-f", key_file, data_file}, ""));
  if (r.exit_code != 0) {
    return InvalidArgument(
        "ssh-keygen could not sign with the signing key: " + FirstLine(r.err + r.out) +
        " (an unprotected OpenSSH private key is needed)");
  }
  return fs::ReadFile(data_file + ".sig");
}

Result<std::string> SignPgp(const std::string& data, const std::string& key,
                            const std::string& passphrase, const std::string& dir) {
  std::string home = dir + "/gnupg";
  RETURN_IF_ERROR(fs::MakeDirs(home, 0700));
  const std::vector<std::string> gpg = {"gpg",      "--homedir",   home, "--batch",
                                        "--no-tty", "--status-fd", "1"};
  // Importing a secret key starts gpg-agent in this home: stop it whatever happens.
  struct AgentStopper {
    std::string home;
    ~AgentStopper() { (void)RunSubprocess({"gpgconf", "--homedir", home, "--kill", "gpg-agent"}); }
  } stopper{home};
  std::vector<std::string> argv = gpg;
  argv.push_back("--import");
  ASSIGN_OR_RETURN(auto imported, RunTool(argv, key));
  if (imported.exit_code != 0 || imported.out.find("[GNUPG:] IMPORT_OK") == std::string::npos) {
    return InvalidArgument("gpg could not import the signing key: " + FirstLine(imported.err));
  }
  std::string data_file = dir + "/commit";
  std::string sig_file = dir + "/commit.asc";
  RETURN_IF_ERROR(fs::WriteFileAtomic(data_file, data, 0600));
  argv = gpg;
  // The passphrase comes on stdin (--passphrase-fd 0), never on the command line.
  argv.insert(argv.end(), {"--pinentry-mode", "loopback", "--passphrase-fd", "0", "--armor",
                           "--detach-sign", "--output", sig_file, data_file});
  ASSIGN_OR_RETURN(auto r, RunTool(argv, passphrase + "\n"));
  if (r.exit_code != 0 || r.out.find("[GNUPG:] SIG_CREATED") == std::string::npos) {
    return InvalidArgument("gpg could not sign with the signing key: " + FirstLine(r.err) +
                           (passphrase.empty() ? " (a key with a passphrase needs it too)" : ""));
  }
  return fs::ReadFile(sig_file);
}

}  // namespace

Result<std::string> SigningKeyType(const std::string& key) {
  std::string k = Trim(key);
  if (StartsWith(k, kSshPrivate)) return std::string("SSH");
  if (StartsWith(k, kPgpPrivate)) return std::string("OpenPGP");
  if (StartsWith(k, "-----BEGIN PGP PUBLIC KEY BLOCK-----") || StartsWith(k, "ssh-") ||
      StartsWith(k, "ecdsa-"))
    return InvalidArgument("the signing key is a public key: a private key is needed");
  return InvalidArgument(std::string("the signing key is neither an OpenSSH private key (\"") +
                         kSshPrivate +
                         "\", from ssh-keygen) nor an ASCII-armored OpenPGP secret key (\"" +
                         kPgpPrivate + "\", from gpg --armor --export-secret-keys)");
}

Result<std::string> SignData(const std::string& data, const std::string& key,
                             const std::string& passphrase) {
  ASSIGN_OR_RETURN(std::string type, SigningKeyType(key));
  ASSIGN_OR_RETURN(std::string tmp, fs::MakeTempDir("plumb-sign-"));
  fs::TempDir owned(tmp);  // mkdtemp: mode 0700
  std::string k = Trim(key) + "\n";
  return type == "SSH" ? SignSsh(data, k, tmp) : SignPgp(data, k, passphrase, tmp);
}

}  // namespace plumb::source
