#include "server/webhook.h"

#include <algorithm>

#include "core/fs.h"
#include "core/strings.h"
#include "resource/codec.h"

namespace plumb::server {
using resource::Value;

Status VerifyWebhook(const std::string& provider, const HeaderFn& header, const std::string& body,
                     const std::string& secret) {
  if (secret.empty()) return FailedPrecondition("webhooks are disabled: no secret configured");
  std::string expected = HmacSha256Hex(secret, body);
  if (provider == "github" || provider == "generic") {
    const char* name = provider == "github" ? "X-Hub-Signature-256" : "X-Plumb-Signature";
    std::string sig = header(name);
    if (sig.empty()) return Unauthenticated(std::string("missing ") + name + " header");
    if (!ConstantTimeEquals(sig, "sha256=" + expected))
      return Unauthenticated(std::string(name) + " does not match the payload");
    return Status::Ok();
  }
  if (provider == "gitea") {
    std::string sig = header("X-Gitea-Signature");
    if (sig.empty()) return Unauthenticated("missing X-Gitea-Signature header");
    if (!ConstantTimeEquals(sig, expected))
      return Unauthenticated("X-Gitea-Signature does not match the payload");
    return Status::Ok();
  }
  if (provider == "gitlab") {
    std::string token = header("X-Gitlab-Token");
    if (token.empty()) return Unauthenticated("missing X-Gitlab-Token header");
    if (!ConstantTimeEquals(token, secret)) return Unauthenticated("X-Gitlab-Token is wrong");
    return Status::Ok();
  }
  return InvalidArgument("unknown webhook provider \"" + provider +
                         "\": use github, gitlab, gitea or generic");
}

const std::string& WebhookSecrets::For(const std::string& repo_url) const {
  if (by_repo.empty()) return shared;
  auto it = by_repo.find(CanonicalRepoUrl(repo_url));
  return it == by_repo.end() ? shared : it->second;
}

Result<std::string> VerifyPush(const std::string& provider, const HeaderFn& header,
                               const std::string& body, const WebhookSecrets& secrets,
                               const std::vector<std::string>& repo_urls) {
  std::vector<const std::string*> candidates;
  auto consider = [&](const std::string& secret) {
    if (secret.empty()) return;
    for (const std::string* c : candidates)
      if (*c == secret) return;
    candidates.push_back(&secret);
  };
  for (const auto& url : repo_urls) consider(secrets.For(url));
  if (repo_urls.empty()) consider(secrets.shared);
  if (candidates.empty()) {
    if (!secrets.enabled()) return VerifyWebhook(provider, header, body, "");
    return Unauthenticated(
        "no webhook secret is configured for " +
        (repo_urls.empty() ? std::string("a payload naming no repository") : repo_urls.front()));
  }
  Status first;
  for (const std::string* secret : candidates) {
    Status s = VerifyWebhook(provider, header, body, *secret);
    if (s.ok()) return *secret;
    if (s.code() == Code::kInvalidArgument) return s;
    if (first.ok()) first = s;
  }
  return first;
}

namespace {
void AddUrls(const Value* obj, std::initializer_list<const char*> keys,
             std::vector<std::string>* out) {
  if (!obj) return;
  for (const char* k : keys) {
    std::string u = obj->GetString(k);
    if (!u.empty()) out->push_back(u);
  }
}

// GitHub, Gitea and GitLab name the repository in "repository" (GitLab also "project").
void AddRepositoryUrls(const Value& payload, std::vector<std::string>* out) {
  AddUrls(payload.Find("repository"),
          {"clone_url", "ssh_url", "git_url", "html_url", "url", "git_http_url", "git_ssh_url",
           "homepage"},
          out);
  AddUrls(payload.Find("project"), {"git_http_url", "git_ssh_url", "web_url"}, out);
}

std::string BranchFromRef(const std::string& ref) {
  const std::string kHeads = "refs/heads/";
  return StartsWith(ref, kHeads) ? ref.substr(kHeads.size()) : "";
}
}  // namespace

Result<PushEvent> ParsePushEvent(const std::string& provider, const HeaderFn& header,
                                 const std::string& body) {
  PushEvent ev;
  auto parsed = resource::ParseJson(body, "webhook payload");
  if (provider == "github" && header("X-GitHub-Event") == "ping") {
    ev.ping = true;
    if (parsed.ok() && parsed->is_object()) AddRepositoryUrls(*parsed, &ev.repo_urls);
    return ev;
  }
  if (!parsed.ok()) return parsed.status();
  Value& v = *parsed;
  if (!v.is_object()) return InvalidArgument("webhook payload must be a JSON object");
  if (provider == "generic") {
    AddUrls(&v, {"repo", "repoURL"}, &ev.repo_urls);
    ev.branch = v.GetString("branch");
    if (ev.branch.empty()) ev.branch = BranchFromRef(v.GetString("ref"));
  } else {
    std::string event = provider == "github"  ? header("X-GitHub-Event")
                        : provider == "gitea" ? header("X-Gitea-Event")
                                              : header("X-Gitlab-Event");
    if (!event.empty() && event != "push" && event != "Push Hook")
      return InvalidArgument("only push events are handled, not \"" + event + "\"");
    ev.branch = BranchFromRef(v.GetString("ref"));
    AddRepositoryUrls(v, &ev.repo_urls);
  }
  if (ev.repo_urls.empty()) return InvalidArgument("the payload names no repository URL");
  return ev;
}

std::string CanonicalRepoUrl(const std::string& url) {
  std::string u = Trim(url);
  size_t scheme = u.find("://");
  bool local = false;
  if (scheme != std::string::npos) {
    std::string s = u.substr(0, scheme);
    u = u.substr(scheme + 3);
    local = s == "file";
  } else if (!u.empty() && (u[0] == '/' || u[0] == '.')) {
    local = true;
  } else if (size_t colon = u.find(':'); colon != std::string::npos && u.find('/') > colon) {
    u[colon] = '/';  // scp-like git@host:owner/repo
  }
  if (!local) {
    size_t at = u.find('@');
    size_t slash = u.find('/');
    if (at != std::string::npos && at < slash) u = u.substr(at + 1);
    slash = u.find('/');
    std::string host = u.substr(0, slash);
    std::transform(host.begin(), host.end(), host.begin(), ::tolower);
    // Default ports say nothing.
    for (const char* p : {":443", ":80", ":22"})
      if (EndsWith(host, p)) host.resize(host.size() - std::string(p).size());
    u = host + (slash == std::string::npos ? "" : u.substr(slash));
  } else {
    u = fs::NormalizePath(u);
  }
  while (!u.empty() && u.back() == '/') u.pop_back();
  if (EndsWith(u, ".git")) u.resize(u.size() - 4);
  return u;
}

}  // namespace plumb::server
