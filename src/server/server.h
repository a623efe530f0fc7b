// server: the operator's HTTP API (JSON under /api/v1), /healthz, and later webhooks,
// /metrics and the dashboard. Authentication follows ARCHITECTURE.md's table: reads
// need a token unless --anonymous-read; every change needs the admin token.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "core/status.h"
#include "engine/engine.h"
#include "server/webhook.h"

namespace plumb::server {

struct ServerOptions {
  std::string listen = "127.0.0.1:7420";  // HOST:PORT; port 0 picks a free one
  std::string state_dir;                  // the admin token and the bound address live here
  bool anonymous_read = false;
  int threads = 32;
  WebhookSecrets webhooks;                    // none configured = webhooks disabled
  std::map<std::string, std::string> tokens;  // extra tokens -> "admin" | "read-only"
  // PEM files; both set = HTTPS (TLS 1.2 or later), both empty = plain HTTP.
  std::string tls_cert;  // the certificate, optionally followed by its chain
  std::string tls_key;   // its private key, unencrypted
  // The newest sealing certificate (PEM), served openly at GET /api/v1/keys/public.pem as
  // kubeseal --fetch-cert reads it; unset: that path answers 404.
  std::function<Result<std::string>()> public_cert_pem;
  // Image automation's status (ImageRepositories, ImagePolicies, ImageUpdateAutomations),
  // served at GET /api/v1/images; unset: that path answers 404.
  std::function<resource::Value()> images_status;
};

// Reads a tokens file: one "TOKEN ROLE" a line (roles admin, read-only); blank lines and
// lines starting with # are skipped. Errors name the file and line (never the token).
Result<std::map<std::string, std::string>> LoadTokensFile(const std::string& path);

// Reads a per-repository webhook secrets file: one "REPO_URL SECRET" a line, the URL in
// any form git or the provider names it (compared by CanonicalRepoUrl); blank lines and
// lines starting with # are skipped. Returns CanonicalRepoUrl -> secret. Errors name the
// file and line, never a secret; a repository listed twice is an error.
Result<std::map<std::string, std::string>> LoadWebhookSecretsFile(const std::string& path);

// Reads STATE_DIR/token, creating it (32 random bytes, hex, mode 0600) on first use.
Result<std::string> LoadOrCreateAdminToken(const std::string& state_dir);

class Server {
 public:
  // Errors: InvalidArgument when only one of tls_cert and tls_key is set, or when they
  // cannot be read, are not PEM, or do not match (naming the file).
  static Result<std::unique_ptr<Server>> Create(engine::Engine* engine, ServerOptions options);
  ~Server();
  // Binds, writes the bound "http://HOST:PORT" (https with TLS) to STATE_DIR/address, and
  // serves on a background thread. Errors: Unavailable when the address cannot be bound.
  Status Start();
  void Stop();
  std::string url() const;

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace plumb::server
