// cli: the verbs that run locally (run, init, render, scan).
#pragma once

#include <string>
#include <vector>

namespace plumb::cli {

struct RunOptions {
  std::string repo;
  std::string branch = "main";
  std::string path = ".";
  std::string name = "root";
  std::string state_dir;
  std::vector<std::string> allow_paths;
  std::string local_root;
  std::string interval = "1m";
  std::string listen = "127.0.0.1:7420";
  bool no_prune = false;
  bool no_self_heal = false;
  bool no_auto = false;
  bool anonymous_read = false;
  bool once = false;
  int workers = 4;
  std::string retry_base = "10s";
  std::string retry_max = "5m";
  std::string rescan_interval = "30s";
  std::string supervise_interval = "1s";
  std::string restart_backoff = "10s";
  std::string restart_backoff_max = "5m";
  std::string restart_backoff_reset = "10m";
  std::string log_format = "text";
  std::string log_level = "info";
  std::string kubectl = "kubectl";
  std::string webhook_secret_file;
  std::string webhook_secrets_file;  // per-repository "REPO_URL SECRET" lines
  std::string tls_cert;
  std::string tls_key;
  std::string tokens_file;
  std::string notify_retry_base = "2s";
  std::string hook_timeout = "10m";
  std::string health_timeout = "5m";
  int key_bits = 4096;                     // the size of sealing keys the operator makes
  std::string renew_every = "720h";        // a newer sealing key this often (30 days); "0": never
  std::string restore_keys;                // a `plumb keys backup` file loaded before starting
  std::vector<std::string> age_key_files;  // *.agekey files whose identities decrypt SOPS
  bool allow_plaintext_secrets = false;    // the root Application's allowPlaintextSecrets
  std::string scan_policy = "block";       // the root Application's spec.scan.policy
  // --leader-elect: reconcile only while holding a coordination.k8s.io/v1 Lease.
  bool leader_elect = false;
  double kube_qps = 50;  // per cluster client: sustained requests per second
  int kube_burst = 100;
  std::string leader_election_namespace;   // default: the service account's namespace
  std::string leader_election_kubeconfig;  // default: in-cluster configuration
  // The root Application's spec.source.verify: key files (SSH public key lines or an
  // armored OpenPGP public key block) and the mode (head when keys are given).
  std::vector<std::string> verify_key_files;
  std::string verify_mode;
  std::string signing_key_file;
};

int CmdRun(RunOptions o);
int CmdInit(const std::string& dir);
struct InstallOptions {
  std::string ns = "plumbline";
  std::string image = "ghcr.io/plumbline/plumb:latest";
  std::string repo, branch = "main", path = ".";
  int replicas = 2;
};
// Prints the manifests that run the operator in a cluster (plumb install kubernetes).
int CmdInstallKubernetes(const InstallOptions& o);
int CmdRender(const std::string& dir, const std::string& output);

// `plumb demo-server`: a tiny HTTP service for the example repository and tests
// (demo_server.cc). Returns the process exit code.
struct DemoServerOptions {
  std::string listen;      // HOST:PORT; empty: 127.0.0.1:$PORT
  std::string fail_after;  // a duration: exit with exit_code once it has passed
  int exit_code = 1;
  bool never_ready = false;  // /healthz answers 503
};
int CmdDemoServer(const DemoServerOptions& o);

// `plumb scan` (scan.cc): finds secrets in a directory, the index or a history. Returns 1
// when something is found, 0 when clean, 2 on error (printed to stderr).
struct ScanOptions {
  std::string path = ".";       // the directory or file scanned; the repository for the git modes
  bool staged = false;          // the lines the index adds
  bool git = false;             // the lines each commit of `range` adds
  std::string range;            // "" = the whole history (HEAD, every branch and tag)
  std::string output = "text";  // text | json | sarif
  std::string config;           // "" = .plumbscan.yaml at the root, when there is one
  std::string baseline;         // a JSON report of an earlier run: its findings are ignored
  bool install_hook = false;    // write .git/hooks/pre-commit running `plumb scan --staged`
  bool force = false;           // replace an existing pre-commit hook
};
int CmdScan(const ScanOptions& o);

}  // namespace plumb::cli
