// The builtin rules, written from each provider's documented token format. Patterns stay
// inside one line (`[ \t]`, never `\s`) and end at a character the token cannot hold, so a
// longer random string is not mistaken for a token.
#include "scan/scan.h"

namespace plumb::scan {

namespace {

using Check = Rule::Check;

// After a token of [A-Za-z0-9_-]: the next character is none of those (or the line ends).
constexpr const char* kEnd = "(?:[^A-Za-z0-9_-]|$)";
// An assignment: optional closing quote of the key, `=`, `:`, `:=` or `=>`, optional quote.
constexpr const char* kAssign = "[\"']?[ \t]*(?::=|=>|=|:)[ \t]*[\"']?";

std::vector<Rule> Make() {
  std::string end = kEnd;
  std::string assign = kAssign;
  std::vector<Rule> r;
  r.push_back({.id = "aws-access-key-id",
               .description = "AWS access key ID",
               .regex = "\\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\\b",
               .secret_group = 1,
               .min_entropy = 3.0,
               .keywords = {"AKIA", "ASIA", "ABIA", "ACCA"}});
  r.push_back({.id = "aws-secret-access-key",
               .description = "AWS secret access key (next to an aws...secret key name)",
               .regex = "aws[A-Za-z0-9_.-]{0,20}secret[A-Za-z0-9_.-]{0,20}" + assign +
                        "([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)",
               .secret_group = 1,
               .caseless = true,
               .min_entropy = 3.5,
               .keywords = {"aws"}});
  r.push_back({.id = "gcp-service-account-key",
               .description = "GCP service-account JSON private_key",
               .regex = "\"private_key\"[ \t]*:[ \t]*\"-----BEGIN (?:RSA )?PRIVATE KEY-----"
                        "\\\\n([A-Za-z0-9+/]{32})",
               .secret_group = 1,
               .keywords = {"private_key"}});
  r.push_back({.id = "azure-storage-account-key",
               .description = "Azure storage account key (connection string AccountKey=)",
               .regex = "AccountKey[ \t]*=[ \t]*([A-Za-z0-9+/]{86}==)",
               .secret_group = 1,
               .min_entropy = 4.0,
               .keywords = {"AccountKey"}});
  r.push_back({.id = "azure-storage-key",
               .description = "Azure storage key (next to an azure...key name)",
               .regex = "azure[A-Za-z0-9_.-]{0,30}key[A-Za-z0-9_.-]{0,10}" + assign +
                        "([A-Za-z0-9+/]{86}==)",
               .secret_group = 1,
               .caseless = true,
               .min_entropy = 4.0,
               .keywords = {"azure"}});
  r.push_back({.id = "github-token",
               .description = "GitHub token (personal, OAuth, user-to-server, server, refresh)",
               .regex = "\\b(gh[pousr]_[A-Za-z0-9]{36})" + end,
               .secret_group = 1,
               .min_entropy = 3.0,
               .keywords = {"ghp_", "gho_", "ghu_", "ghs_", "ghr_"}});
  r.push_back({.id = "github-fine-grained-token",
               .description = "GitHub fine-grained personal access token",
               .regex = "\\b(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})" + end,
               .secret_group = 1,
               .min_entropy = 3.0,
               .keywords = {"github_pat_"}});
  r.push_back({.id = "gitlab-token",
               .description = "GitLab personal access token",
               .regex = "\\b(glpat-[A-Za-z0-9_-]{20})" + end,
               .secret_group = 1,
               .min_entropy = 3.0,
               .keywords = {"glpat-"}});
  r.push_back({.id = "slack-token",
               .description = "Slack token (bot, user, app, refresh, legacy)",
               .regex = "\\b(xox[baprs]-(?:[0-9]{8,14}-){1,3}[0-9A-Za-z]{12,48})" + end,
               .secret_group = 1,
               .min_entropy = 3.0,
               .keywords = {"xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"}});
  r.push_back({.id = "slack-webhook",
               .description = "Slack incoming webhook URL",
               .regex = "hooks\\.slack\\.com/(?:services|workflows)/"
                        "(T[A-Z0-9]{8,12}/B[A-Z0-9]{8,12}/[A-Za-z0-9]{24})",
               .secret_group = 1,
               .min_entropy = 3.0,
               .keywords = {"hooks.slack.com"}});
  r.push_back({.id = "stripe-live-key",
               .description = "Stripe live secret or restricted key",
               .regex = "\\b((?:sk|rk)_live_[0-9A-Za-z]{24,99})" + end,
               .secret_group = 1,
               .min_entropy = 3.0,
               .keywords = {"sk_live_", "rk_live_"}});
  r.push_back({.id = "npm-token",
               .description = "npm access token",
               .regex = "\\b(npm_[A-Za-z0-9]{36})" + end,
               .secret_group = 1,
               .min_entropy = 3.0,
               .keywords = {"npm_"}});
  r.push_back({.id = "pypi-token",
               .description = "PyPI upload token",
               .regex = "\\b(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})" + end,
               .secret_group = 1,
               .keywords = {"pypi-AgEIcHlwaS5vcmc"}});
  r.push_back({.id = "private-key",
               .description = "Private key block (PEM, OpenSSH, PGP)",
               .regex = "-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----",
               .keywords = {"PRIVATE KEY"},
               .check = Check::kPrivateKeyBody});
  r.push_back({.id = "jwt",
               .description = "JSON Web Token",
               .regex = "\\b(eyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{16,})",
               .secret_group = 1,
               .keywords = {"eyJ"},
               .check = Check::kJwt});
  r.push_back({.id = "database-url-password",
               .description = "Database URL with a password",
               .regex = "\\b(?:postgres|postgresql|mysql|mariadb|mongodb|mongodb\\+srv|redis|"
                        "rediss|amqp|amqps|mssql|sqlserver)://[^:/@ \t\"'<>]{1,64}:"
                        "([^@/ \t\"'<>]{3,128})@[A-Za-z0-9._-]+",
               .secret_group = 1,
               .caseless = true,
               .keywords = {"://"}});
  r.push_back({.id = "generic-secret",
               .description = "Password, secret, token or API key assigned a random value",
               .regex = "(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|"
                        "client[_-]?secret|auth[_-]?token)[A-Za-z0-9_.-]{0,20}" +
                        assign + "([^ \t\"'`,;]{10,})",
               .secret_group = 1,
               .caseless = true,
               .min_entropy = 3.2,
               .keywords = {"password", "secret", "token", "key", "pwd", "passwd"},
               .check = Check::kGeneric});
  return r;
}

}  // namespace

const std::vector<Rule>& BuiltinRules() {
  static const std::vector<Rule> rules = Make();
  return rules;
}

}  // namespace plumb::scan
