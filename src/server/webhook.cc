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

namespace {
void AddUrls(const Value* obj, std::initializer_list<const char*> keys,
             std::vector<std::string>* out) {
  if (!obj) return;
  for (const char* k : keys) {
    std::string u = obj->GetString(k);
    if (!u.empty()) out->push_back(u);
  }
}

std::string BranchFromRef(const std::string& ref) {
  const std::string kHeads = "refs/heads/";
  return StartsWith(ref, kHeads) ? ref.substr(kHeads.size()) : "";
}
}  // namespace

Result<PushEvent> ParsePushEvent(const std::string& provider, const HeaderFn& header,
                                 const std::string& body) {
  PushEvent ev;
  if (provider == "github" && header("X-GitHub-Event") == "ping") {
    ev.ping = true;
    return ev;
  }
  ASSIGN_OR_RETURN(Value v, resource::ParseJson(body, "webhook payload"));
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
    AddUrls(v.Find("repository"),
            {"clone_url", "ssh_url", "git_url", "html_url", "url", "git_http_url", "git_ssh_url",
             "homepage"},
            &ev.repo_urls);
    AddUrls(v.Find("project"), {"git_http_url", "git_ssh_url", "web_url"}, &ev.repo_urls);
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
