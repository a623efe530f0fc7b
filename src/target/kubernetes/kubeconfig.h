// target/kubernetes: where a cluster is and how to authenticate to it, from a kubeconfig
// file (as kubectl reads it) or from the in-cluster service account.
//
// Supported: clusters with server, certificate-authority / certificate-authority-data,
// insecure-skip-tls-verify; users with client-certificate(-data) / client-key(-data),
// token / tokenFile, exec credential plugins (client.authentication.k8s.io/v1 and
// v1beta1 ExecCredential); contexts with a namespace; current-context. Relative file
// paths resolve against the kubeconfig's directory, as kubectl does.
// Credentials (tokens, keys) are held in memory only and never appear in messages.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace plumb::target::kubernetes {

struct ExecConfig {
  std::string api_version;  // client.authentication.k8s.io/v1 or v1beta1
  std::string command;
  std::vector<std::string> args;
  std::vector<std::string> env;  // "NAME=value"
  std::string interactive_mode;  // Never | IfAvailable | Always (we never have a TTY)
  bool provide_cluster_info = false;
};

// One resolved context: everything a client needs to talk to the cluster.
struct ClusterConfig {
  std::string context;  // context name ("" for in-cluster)
  std::string server;   // https://host:port (no trailing slash)
  std::string ca_pem;   // PEM of the trusted CA(s); "" = system trust store
  bool insecure_skip_tls_verify = false;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string token;       // static bearer token
  std::string token_file;  // re-read when it changes (projected service-account tokens)
  bool has_exec = false;
  ExecConfig exec;
  std::string ca_data_b64;  // certificate-authority-data as given, for exec cluster info
  std::string namespace_ = "default";
};

// Reads `path` and resolves `context` ("" = current-context). Errors: NotFound for a
// missing file or an unknown context/cluster/user (naming it), InvalidArgument for a
// malformed kubeconfig (naming the field). Never includes a credential in the message.
Result<ClusterConfig> LoadKubeconfig(const std::string& path, const std::string& context = "");
// The same from text already read (`dir` resolves relative file paths).
Result<ClusterConfig> ParseKubeconfig(const std::string& text, const std::string& dir,
                                      const std::string& context = "");

// In-cluster configuration: KUBERNETES_SERVICE_HOST/PORT from the environment, the token
// file, ca.crt and namespace under `sa_dir`. FailedPrecondition when not in a Pod.
Result<ClusterConfig> LoadInClusterConfig(
    const std::string& sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

// The bearer token (or client certificate) to send now. Static tokens are returned as is;
// a token file is re-read; an exec plugin runs again when its credential has expired (or
// when Invalidate() was called after a 401). Thread-safe.
struct Credential {
  std::string token;
  std::string client_cert_pem;
  std::string client_key_pem;
};
class CredentialSource {
 public:
  CredentialSource(ClusterConfig config, const Clock* clock);
  Result<Credential> Get();
  // The server said 401: the next Get() asks the plugin (or file) again.
  void Invalidate();
  bool CanRefresh() const { return config_.has_exec || !config_.token_file.empty(); }

 private:
  Result<Credential> RunExec();
  ClusterConfig config_;
  const Clock* clock_;
  std::mutex mu_;
  bool have_ = false;
  Credential cached_;
  TimePoint expires_{};  // zero = never
};

// Parses an RFC 3339 time ("2026-11-26T12:00:00Z", fractional seconds allowed).
Result<TimePoint> ParseRfc3339(const std::string& text);

}  // namespace plumb::target::kubernetes
