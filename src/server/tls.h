// server: TLS for the API listener — the OpenSSL server context built from the PEM
// files given to `plumb run --tls-cert/--tls-key`, with errors that name the file.
#pragma once

#include <openssl/ssl.h>

#include <string>

#include "core/status.h"

namespace plumb::server {

// Loads `cert_path` (a PEM certificate, optionally followed by its chain) and `key_path`
// (its unencrypted PEM private key) into `ctx`, and requires TLS 1.2 or later. Never
// prompts for a passphrase. Errors: InvalidArgument naming the file that cannot be read,
// is not PEM, or (the key) does not match the certificate.
Status ConfigureTls(SSL_CTX* ctx, const std::string& cert_path, const std::string& key_path);

}  // namespace plumb::server
