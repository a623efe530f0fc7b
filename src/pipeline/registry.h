// pipeline (internal): the OCI Distribution API client an ImageRepository scans with.
// GET /v2/<name>/tags/list, following the Link header's rel="next" pages; on 401 it
// answers the WWW-Authenticate challenge: Basic with the credentials, or Bearer by asking
// the token endpoint the challenge names (with the credentials, if any) for a pull token.
// HTTPS by default (server certificates verified against the system's CAs or `ca_file`);
// plain HTTP only when `insecure`. Thread-compatible: one call per thread.
#pragma once

#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace plumb::pipeline {

struct ImageRef {
  std::string registry;      // host[:port] as written ("docker.io" for Docker Hub)
  std::string repository;    // "team/app" ("library/nginx" for Hub's official images)
  std::string Host() const;  // where to connect ("registry-1.docker.io" for Docker Hub)
};

// "nginx", "ghcr.io/org/app", "127.0.0.1:5000/team/app". A tag or digest on the end is an
// error (an ImageRepository names a repository). InvalidArgument saying what is wrong.
Result<ImageRef> ParseImage(const std::string& image);

struct RegistryOptions {
  bool insecure = false;  // plain HTTP
  std::string username;   // Basic, or sent to the token endpoint
  std::string password;
  std::string ca_file;                 // extra CA bundle for HTTPS ("" = the system's)
  int page_size = 0;                   // `n` on the first request (0 = the registry's default)
  Duration timeout = Duration(30000);  // per request
  size_t max_pages = 1000;
};

// Every tag of `ref`, in the registry's order. Unavailable for network failures and
// 5xx/429 answers (transient: retry with back-off); Unauthenticated / PermissionDenied /
// NotFound for 401 / 403 / 404 after authenticating; InvalidArgument for answers that are
// not the API's. Messages name the registry and repository, never the password.
Result<std::vector<std::string>> ListTags(const ImageRef& ref, const RegistryOptions& options);

}  // namespace plumb::pipeline
