#include "server/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <memory>

#include "core/fs.h"

namespace plumb::server {
namespace {
// The reason of the oldest queued OpenSSL error ("no start line", ...); clears the queue.
std::string OpenSslReason() {
  unsigned long e = ERR_peek_error();
  const char* reason = e ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return reason ? reason : "unknown error";
}

// An encrypted key would otherwise make OpenSSL ask on the operator's terminal.
int NoPassphrase(char*, int, int, void*) { return 0; }
}  // namespace

Status ConfigureTls(SSL_CTX* ctx, const std::string& cert_path, const std::string& key_path) {
  for (const auto& [flag, path] : {std::pair{"--tls-cert", &cert_path}, {"--tls-key", &key_path}}) {
    auto readable = fs::ReadFile(*path);
    if (!readable.ok())
      return InvalidArgument(std::string(flag) + ": cannot read " + *path + ": " +
                             readable.status().message());
  }
  ERR_clear_error();
  SSL_CTX_set_default_passwd_cb(ctx, NoPassphrase);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_path.c_str()) != 1)
    return InvalidArgument("--tls-cert: " + cert_path + " is not a PEM certificate (" +
                           OpenSslReason() + ")");
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(key_path.c_str(), "r"), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr) : nullptr,
      EVP_PKEY_free);
  if (!key)
    return InvalidArgument("--tls-key: " + key_path + " is not an unencrypted PEM private key (" +
                           OpenSslReason() + ")");
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return InvalidArgument("--tls-key: " + key_path +
                           " is not the private key of the certificate in " + cert_path);
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  return Status::Ok();
}

}  // namespace plumb::server
