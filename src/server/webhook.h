// server: git webhooks — signature verification and push-event parsing for GitHub,
// GitLab, Gitea and a generic HMAC form. Pure functions (no I/O), fuzzed.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace plumb::server {

struct PushEvent {
  std::vector<std::string> repo_urls;  // every URL form the payload names for the repo
  std::string branch;                  // "" when the push is not to a branch (a tag)
  bool ping = false;                   // a provider's connectivity check, not a push
};

// Looks a request header up by name (case-insensitive); "" when absent.
using HeaderFn = std::function<std::string(const std::string&)>;

// Checks the request's signature for `provider` (github: X-Hub-Signature-256
// "sha256=<hex hmac>"; gitlab: X-Gitlab-Token equal to the secret; gitea:
// X-Gitea-Signature "<hex hmac>"; generic: X-Plumb-Signature "sha256=<hex hmac>").
// Unauthenticated when missing or wrong; InvalidArgument for an unknown provider.
// Comparisons are constant-time.
Status VerifyWebhook(const std::string& provider, const HeaderFn& header, const std::string& body,
                     const std::string& secret);

// The secrets pushes are verified with: one shared by every repository
// (--webhook-secret-file) and repositories' own (--webhook-secrets).
struct WebhookSecrets {
  std::string shared;                          // "" = none
  std::map<std::string, std::string> by_repo;  // CanonicalRepoUrl(url) -> its secret

  bool enabled() const { return !shared.empty() || !by_repo.empty(); }
  // The repository's own secret, else the shared one; "" when neither is configured.
  const std::string& For(const std::string& repo_url) const;
};

// Verifies a payload naming `repo_urls` (read from it before it is trusted): it must be
// signed with the secret of a repository it names (that repository's own secret, else
// the shared one); a payload naming no repository must be signed with the shared secret.
// Returns the secret that verified it: only the named repositories with that secret may
// be acted on, so a repository's own secret never opens another's. Unauthenticated when
// no candidate verifies or none is configured; InvalidArgument for an unknown provider.
Result<std::string> VerifyPush(const std::string& provider, const HeaderFn& header,
                               const std::string& body, const WebhookSecrets& secrets,
                               const std::vector<std::string>& repo_urls);

// Reads the push from a payload (before or after verification: it trusts nothing in it).
// A GitHub ping carries the repository's URLs when the payload names them. Generic payloads are
// {"repo": URL, "branch": NAME} (or "ref": "refs/heads/NAME").
Result<PushEvent> ParsePushEvent(const std::string& provider, const HeaderFn& header,
                                 const std::string& body);

// A comparable form of a repository URL: scheme, credentials, a trailing ".git" and
// "/" dropped, host lowercased, scp-style "git@host:path" read as "host/path", local
// paths normalised. "https://GitHub.com/a/b.git" and "git@github.com:a/b" are equal.
std::string CanonicalRepoUrl(const std::string& url);

}  // namespace plumb::server
