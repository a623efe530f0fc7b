#include "pipeline/registry.h"

#include <httplib.h>

#include <map>

#include "core/strings.h"
#include "resource/codec.h"

namespace plumb::pipeline {
namespace {

struct Challenge {
  std::string scheme;  // "bearer" | "basic" (lower case)
  std::map<std::string, std::string> params;
};

// `Bearer realm="https://auth/token",service="registry",scope="repository:a:pull"`.
Challenge ParseChallenge(const std::string& header) {
  Challenge c;
  size_t sp = header.find(' ');
  c.scheme = header.substr(0, sp);
  for (char& ch : c.scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  size_t i = sp == std::string::npos ? header.size() : sp + 1;
  while (i < header.size()) {
    while (i < header.size() && (header[i] == ' ' || header[i] == ',')) ++i;
    size_t eq = header.find('=', i);
    if (eq == std::string::npos) break;
    std::string key = Trim(header.substr(i, eq - i));
    for (char& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    i = eq + 1;
    std::string value;
    if (i < header.size() && header[i] == '"') {
      ++i;
      while (i < header.size() && header[i] != '"') {
        if (header[i] == '\\' && i + 1 < header.size()) ++i;
        value += header[i++];
      }
      ++i;
    } else {
      size_t end = header.find(',', i);
      value = Trim(header.substr(i, end == std::string::npos ? std::string::npos : end - i));
      i = end == std::string::npos ? header.size() : end;
    }
    c.params[key] = value;
  }
  return c;
}

// Splits "https://host:port/path?q" into "https://host:port" and "/path?q".
void SplitUrl(const std::string& url, std::string* base, std::string* path) {
  size_t scheme = url.find("://");
  size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  *base = url.substr(0, slash);
  *path = slash == std::string::npos ? "/" : url.substr(slash);
}

// The rel="next" target of a Link header, or "".
std::string NextLink(const std::string& link) {
  for (const auto& part : Split(link, ',')) {
    size_t lt = part.find('<'), gt = part.find('>');
    if (lt == std::string::npos || gt == std::string::npos || gt < lt) continue;
    std::string rest = part.substr(gt + 1);
    if (rest.find("rel=\"next\"") != std::string::npos ||
        rest.find("rel=next") != std::string::npos)
      return part.substr(lt + 1, gt - lt - 1);
  }
  return "";
}

Status HttpStatusError(int status, const std::string& what) {
  std::string m = what + ": HTTP " + std::to_string(status);
  if (status == 401) return Unauthenticated(m + " (unauthorized)");
  if (status == 403) return PermissionDenied(m + " (forbidden)");
  if (status == 404) return NotFound(m + " (no such repository)");
  if (status == 429 || status >= 500) return Unavailable(m);
  return InvalidArgument(m);
}

class Session {
 public:
  Session(const ImageRef& ref, const RegistryOptions& o) : ref_(ref), o_(o) {
    base_ = (o.insecure ? "http://" : "https://") + ref.Host();
    what_ = "registry " + ref.registry + " repository " + ref.repository;
  }

  // GET `path` on the registry, authenticating once when challenged.
  Result<httplib::Result> Get(const std::string& path) {
    ASSIGN_OR_RETURN(httplib::Result res, Send(base_, path, authorization_));
    if (res->status != 401 || tried_auth_) return res;
    tried_auth_ = true;
    Challenge c = ParseChallenge(res->get_header_value("WWW-Authenticate"));
    if (c.scheme == "basic") {
      if (o_.username.empty()) return HttpStatusError(401, what_ + " wants credentials");
      authorization_ = "Basic " + Base64Encode(o_.username + ":" + o_.password);
    } else if (c.scheme == "bearer") {
      ASSIGN_OR_RETURN(std::string token, Token(c));
      authorization_ = "Bearer " + token;
    } else {
      return HttpStatusError(401, what_ + " (unknown challenge \"" + c.scheme + "\")");
    }
    return Send(base_, path, authorization_);
  }

  const std::string& what() const { return what_; }

 private:
  Result<httplib::Result> Send(const std::string& base, const std::string& path,
                               const std::string& authorization) {
    httplib::Client client(base);
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(o_.timeout);
    auto usecs = std::chrono::duration_cast<std::chrono::microseconds>(o_.timeout - secs);
    client.set_connection_timeout(secs.count(), usecs.count());
    client.set_read_timeout(secs.count(), usecs.count());
    client.set_follow_location(true);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    if (!o_.ca_file.empty()) client.set_ca_cert_path(o_.ca_file.c_str());
    client.enable_server_certificate_verification(true);
#endif
    httplib::Headers headers = {{"Accept", "application/json"}};
    if (!authorization.empty()) headers.emplace("Authorization", authorization);
    httplib::Result res = client.Get(path, headers);
    if (!res) {
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
      // Name the certificate problem (httplib only says SSLServerVerification) and the fix.
      if (res.error() == httplib::Error::SSLServerVerification) {
        long v = client.get_openssl_verify_result();
        std::string why = v == X509_V_OK ? "the certificate is not for this host"
                                         : X509_verify_cert_error_string(v);
        return Unavailable(what_ + ": " + base + ": TLS certificate verification failed: " + why +
                           (o_.ca_file.empty()
                                ? " (a private CA goes in spec.certSecretRef, key ca.crt)"
                                : " (with the CA from spec.certSecretRef)"));
      }
#endif
      return Unavailable(what_ + ": " + base + " unreachable: " + httplib::to_string(res.error()));
    }
    return res;
  }

  Result<std::string> Token(const Challenge& c) {
    auto realm = c.params.find("realm");
    if (realm == c.params.end() || realm->second.empty())
      return InvalidArgument(what_ + ": Bearer challenge without a realm");
    std::string base, path;
    SplitUrl(realm->second, &base, &path);
    httplib::Params q;
    if (c.params.count("service")) q.emplace("service", c.params.at("service"));
    q.emplace("scope", c.params.count("scope") ? c.params.at("scope")
                                               : "repository:" + ref_.repository + ":pull");
    path +=
        (path.find('?') == std::string::npos ? "?" : "&") + httplib::detail::params_to_query_str(q);
    std::string auth;
    if (!o_.username.empty()) auth = "Basic " + Base64Encode(o_.username + ":" + o_.password);
    ASSIGN_OR_RETURN(httplib::Result res, Send(base, path, auth));
    if (res->status != 200) return HttpStatusError(res->status, what_ + ": token endpoint " + base);
    auto body = resource::ParseJson(res->body, "token response");
    if (!body.ok()) return InvalidArgument(what_ + ": token endpoint answered no JSON");
    std::string token = body->GetString("token");
    if (token.empty()) token = body->GetString("access_token");
    if (token.empty()) return InvalidArgument(what_ + ": token endpoint answered no token");
    return token;
  }

  ImageRef ref_;
  RegistryOptions o_;
  std::string base_, what_, authorization_;
  bool tried_auth_ = false;
};

}  // namespace

std::string ImageRef::Host() const {
  return registry == "docker.io" || registry == "index.docker.io" ? "registry-1.docker.io"
                                                                  : registry;
}

Result<ImageRef> ParseImage(const std::string& image) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("image \"" + image + "\": " + why);
  };
  if (image.empty()) return bad("empty");
  if (image.find('@') != std::string::npos) return bad("names a digest; name the repository");
  ImageRef ref;
  std::string rest = image;
  size_t slash = rest.find('/');
  std::string first = rest.substr(0, slash);
  if (slash != std::string::npos &&
      (first.find('.') != std::string::npos || first.find(':') != std::string::npos ||
       first == "localhost")) {
    ref.registry = first;
    ref.repository = rest.substr(slash + 1);
  } else {
    ref.registry = "docker.io";
    ref.repository = slash == std::string::npos ? "library/" + rest : rest;
  }
  if (ref.repository.empty()) return bad("no repository after the registry");
  if (ref.repository.find(':') != std::string::npos)
    return bad("names a tag; name the repository (the policy chooses the tag)");
  for (char c : ref.repository) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '/' || c == '.' || c == '_' ||
          c == '-'))
      return bad("repository names are lower case letters, digits, '/', '.', '_' and '-'");
  }
  return ref;
}

Result<std::vector<std::string>> ListTags(const ImageRef& ref, const RegistryOptions& options) {
  Session s(ref, options);
  std::vector<std::string> tags;
  std::string path = "/v2/" + ref.repository + "/tags/list";
  if (options.page_size > 0) path += "?n=" + std::to_string(options.page_size);
  for (size_t page = 0; !path.empty(); ++page) {
    if (page >= options.max_pages)
      return InvalidArgument(s.what() + ": more than " + std::to_string(options.max_pages) +
                             " pages of tags");
    ASSIGN_OR_RETURN(httplib::Result res, s.Get(path));
    if (res->status != 200) return HttpStatusError(res->status, s.what());
    auto body = resource::ParseJson(res->body, "tags/list");
    if (!body.ok() || !body->is_object())
      return InvalidArgument(s.what() + ": tags/list answered no JSON object");
    const resource::Value* list = body->Find("tags");
    if (list && list->is_array()) {
      for (const auto& t : list->as_array())
        if (t.is_string()) tags.push_back(t.as_string());
    }
    std::string next = NextLink(res->get_header_value("Link"));
    if (next.rfind("http://", 0) == 0 || next.rfind("https://", 0) == 0) {
      std::string base;
      SplitUrl(next, &base, &next);
    }
    if (next == path) break;  // a registry that points at the same page again
    path = next;
  }
  return tags;
}

}  // namespace plumb::pipeline
