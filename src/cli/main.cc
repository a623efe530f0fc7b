// plumb: the command. Parsing only; every verb lives in the cli library.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/keys.h"
#include "core/fs.h"
#include "target/local/shim.h"

#ifndef PLUMB_VERSION
#define PLUMB_VERSION "0.1.0-dev"
#endif

int main(int argc, char** argv) {
  using namespace plumb::cli;
  CLI::App app{
      "plumb: GitOps for hosts and clusters. Git is the source of truth; the operator "
      "makes the running system match it."};
  app.require_subcommand(1);
  app.set_version_flag("--version", PLUMB_VERSION);

  ClientOptions client;
  auto add_client = [&](CLI::App* sub) {
    sub->add_option(
        "--server", client.server,
        "operator URL (default: $PLUMB_SERVER, STATE_DIR/address, http://127.0.0.1:7420)");
    sub->add_option("--token", client.token,
                    "API token (default: $PLUMB_TOKEN or STATE_DIR/token)");
    sub->add_option("--state-dir", client.state_dir, "the operator's state directory");
    sub->add_option("--ca-file", client.ca_file,
                    "PEM CA certificates to trust for an https operator (default: $PLUMB_CA_FILE, "
                    "else the system's)");
    sub->add_option("-o,--output", client.output, "table|json|yaml")
        ->check(CLI::IsMember({"table", "json", "yaml"}));
  };

  RunOptions run;
  auto* c_run = app.add_subcommand("run", "run the operator in the foreground");
  c_run->add_option("--repo", run.repo, "repository URL or path (anything git fetches)")
      ->required();
  c_run->add_option("--branch", run.branch, "branch to follow")->capture_default_str();
  c_run->add_option("--path", run.path, "path of the root Application in the repo")
      ->capture_default_str();
  c_run->add_option("--name", run.name, "name of the root Application")->capture_default_str();
  c_run->add_option("--state-dir", run.state_dir,
                    "state directory (default: $PLUMB_STATE_DIR or ~/.local/state/plumbline)");
  c_run->add_option(
      "--allow-path", run.allow_paths,
      "directory File resources may write under (repeatable); none = no files written");
  c_run->add_option("--local-root", run.local_root,
                    "where relative File paths resolve (default: the first --allow-path)");
  c_run->add_option("--interval", run.interval, "reconcile interval of the root Application")
      ->capture_default_str();
  c_run->add_option("--listen", run.listen, "API address HOST:PORT (port 0: any free port)")
      ->capture_default_str();
  c_run->add_flag("--no-prune", run.no_prune, "never delete what git no longer declares");
  c_run->add_flag("--no-self-heal", run.no_self_heal, "report drift but do not revert it");
  c_run->add_flag("--no-auto-sync", run.no_auto, "only apply on `plumb sync`");
  c_run->add_flag("--anonymous-read", run.anonymous_read, "allow API reads without a token");
  c_run->add_flag("--once", run.once,
                  "reconcile every Application once, print the result and exit (1 if any "
                  "failed) once the replicas it asked for are launched; no drift watch");
  c_run->add_option("--workers", run.workers, "parallel reconciles")->capture_default_str();
  c_run->add_option("--retry-base", run.retry_base, "first back-off after a failure")
      ->capture_default_str();
  c_run->add_option("--retry-max", run.retry_max, "longest back-off")->capture_default_str();
  c_run->add_option("--rescan-interval", run.rescan_interval, "drift rescan besides inotify")
      ->capture_default_str();
  c_run
      ->add_option("--supervise-interval", run.supervise_interval,
                   "how often replica status (Process, Job) is checked")
      ->capture_default_str();
  c_run
      ->add_option("--restart-backoff", run.restart_backoff,
                   "first delay before restarting a replica that exited (doubles each time)")
      ->capture_default_str();
  c_run->add_option("--restart-backoff-max", run.restart_backoff_max, "longest restart delay")
      ->capture_default_str();
  c_run
      ->add_option("--restart-backoff-reset", run.restart_backoff_reset,
                   "a replica up this long has its restart delay reset")
      ->capture_default_str();
  c_run->add_option("--log-format", run.log_format, "text|json")->capture_default_str();
  c_run->add_option("--log-level", run.log_level, "debug|info|warn|error")->capture_default_str();
  c_run
      ->add_option("--notify-retry-base", run.notify_retry_base,
                   "first back-off between notification delivery attempts (doubles)")
      ->capture_default_str();
  c_run->add_option("--webhook-secret-file", run.webhook_secret_file,
                    "shared secret for git webhooks (POST "
                    "/api/v1/webhooks/{github,gitlab,gitea,generic}); without it webhooks are off");
  c_run->add_option("--webhook-secrets", run.webhook_secrets_file,
                    "per-repository webhook secrets: a file of \"REPO_URL SECRET\" lines; a push "
                    "for a listed repository must be signed with its own secret");
  c_run->add_option("--tls-cert", run.tls_cert,
                    "serve HTTPS with this PEM certificate (and chain); needs --tls-key");
  c_run->add_option("--tls-key", run.tls_key, "the unencrypted PEM private key of --tls-cert");
  c_run->add_option("--tokens", run.tokens_file,
                    "extra API tokens: a file of \"TOKEN ROLE\" lines (admin or read-only)");
  c_run->add_option("--kubectl", run.kubectl, "kubectl used for kustomize")->capture_default_str();
  c_run
      ->add_option("--hook-timeout", run.hook_timeout,
                   "how long a sync hook may run when it sets no activeDeadlineSeconds")
      ->capture_default_str();
  c_run
      ->add_option("--health-timeout", run.health_timeout,
                   "how long a sync waits for what it applied to leave Progressing "
                   "(before the next sync wave and the PostSync hooks)")
      ->capture_default_str();

  c_run
      ->add_option("--key-bits", run.key_bits,
                   "RSA size of the sealing keys the operator makes (the first, and renewals); "
                   "the first is made at start, or with --once only if the run needs it")
      ->check(CLI::Range(2048, 16384))
      ->capture_default_str();
  c_run
      ->add_option("--renew-every", run.renew_every,
                   "make a newer sealing key when the newest is this old (0: never); older keys "
                   "keep unsealing")
      ->capture_default_str();
  c_run->add_option("--restore-keys", run.restore_keys,
                    "load the keys of a `plumb keys backup` file into the state directory "
                    "before starting (disaster recovery: a fresh machine, the repo and this file)");
  c_run->add_option("--age-key-file", run.age_key_files,
                    "an age identity file (AGE-SECRET-KEY-1... lines, as age-keygen writes) whose "
                    "identities decrypt SOPS files; kept in the state directory; repeatable");
  c_run
      ->add_option("--kube-qps", run.kube_qps,
                   "requests per second to each Kubernetes API server (<= 0: unlimited)")
      ->capture_default_str();
  c_run->add_option("--kube-burst", run.kube_burst, "requests at once above --kube-qps")
      ->capture_default_str();
  c_run->add_flag("--leader-elect", run.leader_elect,
                  "reconcile only while holding the Lease plumbline-leader (in a cluster)");
  c_run->add_option("--leader-election-namespace", run.leader_election_namespace,
                    "namespace of the Lease (default: the service account's)");
  c_run->add_option("--leader-election-kubeconfig", run.leader_election_kubeconfig,
                    "kubeconfig for the Lease (default: in-cluster configuration)");
  c_run->add_flag("--allow-plaintext-secrets", run.allow_plaintext_secrets,
                  "the root Application accepts plain Secret manifests from git "
                  "(allowPlaintextSecrets: true)");
  c_run
      ->add_option("--scan-policy", run.scan_policy,
                   "the root Application's spec.scan.policy: a secret in the lines a new head "
                   "adds blocks it (block: the last applied commit stays), is applied and "
                   "alerted (warn), or is not looked for (off)")
      ->check(CLI::IsMember({"block", "warn", "off"}))
      ->capture_default_str();
  c_run->add_option("--verify-keys", run.verify_key_files,
                    "the root Application applies only commits signed by these keys "
                    "(spec.source.verify): a file of SSH public keys (\"ssh-ed25519 AAAA...\" "
                    "lines) or an ASCII-armored OpenPGP public key block; repeatable");
  c_run
      ->add_option("--verify-mode", run.verify_mode,
                   "with --verify-keys: head (the branch head commit's signature, the default) "
                   "or tag (--branch names a tag; the annotated tag's signature)")
      ->check(CLI::IsMember({"head", "tag"}));
  c_run->add_option("--signing-key", run.signing_key_file,
                    "sign every commit plumbline writes (rollbacks, promotion merges, image "
                    "updates) with this private key, so Applications that verify signatures "
                    "accept them: an OpenSSH private key or an ASCII-armored OpenPGP secret "
                    "key, without a passphrase, in a file of mode 0600");

  std::string init_dir;
  auto* c_init = app.add_subcommand(
      "init", "create an example config repository: DIR.git (bare) and DIR (a clone)");
  c_init->add_option("DIR", init_dir, "where to create it")->required();

  InstallOptions install;
  auto* c_install = app.add_subcommand("install", "print manifests that install plumbline");
  auto* c_install_k8s = c_install->add_subcommand(
      "kubernetes", "Namespace, ServiceAccount, RBAC, Deployment and Service for a cluster");
  c_install_k8s->add_option("--namespace", install.ns, "namespace")->capture_default_str();
  c_install_k8s->add_option("--image", install.image, "operator image")->capture_default_str();
  c_install_k8s->add_option("--repo", install.repo, "repository the operator follows")->required();
  c_install_k8s->add_option("--branch", install.branch, "branch")->capture_default_str();
  c_install_k8s->add_option("--path", install.path, "path of the root Application")
      ->capture_default_str();
  c_install_k8s->add_option("--replicas", install.replicas, "replicas (one leads)")
      ->capture_default_str();
  c_install->require_subcommand(1);

  std::string render_dir, render_output = "yaml";
  auto* c_render =
      app.add_subcommand("render", "print the resources a directory renders to (offline)");
  c_render->add_option("DIR", render_dir, "directory")->required();
  c_render->add_option("-o,--output", render_output, "yaml|json")
      ->check(CLI::IsMember({"yaml", "json"}));

  // `plumb shim DIR`: the supervisor of one replica, started by the operator (hidden).
  std::string shim_dir;
  auto* c_shim = app.add_subcommand("shim", "supervise one replica (started by the operator)");
  c_shim->group("");
  c_shim->add_option("DIR", shim_dir, "the replica's directory")->required();
  DemoServerOptions demo;
  auto* c_demo = app.add_subcommand(
      "demo-server", "a tiny HTTP service for examples and tests: GET / and GET /healthz");
  c_demo->add_option("--listen", demo.listen, "HOST:PORT (default: 127.0.0.1:$PORT)");
  auto* o_fail_after = c_demo->add_option("--fail-after", demo.fail_after,
                                          "exit with --exit-code after this long (crash tests)");
  c_demo->add_option("--exit-code", demo.exit_code, "exit code for --fail-after")
      ->needs(o_fail_after)
      ->capture_default_str();
  c_demo->add_flag("--never-ready", demo.never_ready, "GET /healthz answers 503");

  std::string app_name, revision;
  bool dry_run = false;
  auto* c_status = app.add_subcommand("status", "show Applications: sync, health, commits, errors");
  c_status->add_option("APP", app_name, "one Application (default: all)");
  StatusRows status_rows;
  c_status->add_flag("--summary", status_rows.summary,
                     "with APP: how many resources are in each sync and health status, "
                     "not one row each");
  c_status->add_option("--sync", status_rows.sync,
                       "with APP: only the resources with this sync status (e.g. OutOfSync)");
  c_status->add_option("--health", status_rows.health,
                       "with APP: only the resources with this health (e.g. Degraded)");
  add_client(c_status);
  auto* c_diff = app.add_subcommand(
      "diff", "diff git against the live system (exit 0 in sync, 1 drift, 2 error)");
  c_diff->add_option("APP", app_name)->required();
  add_client(c_diff);
  auto* c_sync = app.add_subcommand("sync", "reconcile an Application now");
  c_sync->add_option("APP", app_name)->required();
  c_sync->add_flag("--dry-run", dry_run, "show the plan, change nothing");
  add_client(c_sync);
  auto* c_history = app.add_subcommand("history", "reconciles that changed something");
  c_history->add_option("APP", app_name)->required();
  add_client(c_history);
  auto* c_rollback = app.add_subcommand(
      "rollback", "commit the Application's path as it was at REV (a commit or history id)");
  c_rollback->add_option("APP", app_name)->required();
  c_rollback->add_option("REV", revision)->required();
  add_client(c_rollback);
  PromoteOptions promote;
  auto* c_promote = app.add_subcommand(
      "promote",
      "merge environment FROM into TO and push, if FROM's Applications are Synced and Healthy "
      "at exactly that commit (exit 0 promoted or nothing to do, 1 refused, 2 error)");
  c_promote
      ->add_option("FROM", promote.from,
                   "the environment promoted from: an Application name, or a branch "
                   "that Applications follow (e.g. staging)")
      ->required();
  c_promote->add_option("TO", promote.to, "the environment promoted into (e.g. production)")
      ->required();
  c_promote->add_option("--app", promote.app,
                        "gate on this Application of FROM only (default: all of FROM's)");
  c_promote->add_option("--commit", promote.commit,
                        "promote this commit of FROM's branch (default: its head)");
  c_promote->add_flag("--dry-run", promote.dry_run,
                      "check the gate and the merge, push nothing, record nothing");
  c_promote->add_flag("--force", promote.force,
                      "promote even when the gate fails (recorded in history and the commit)");
  c_promote->add_flag("--ours", promote.ours,
                      "record FROM's new commits as merged without taking their changes "
                      "(git merge -s ours); no gate");
  add_client(c_promote);
  auto* c_env = app.add_subcommand("env", "environments: the Applications and what they run");
  c_env->require_subcommand(1);
  std::string env_repo;
  auto* c_env_list = c_env->add_subcommand("list",
                                           "every environment (Application): branch, path, head, "
                                           "applied commit, sync, health");
  c_env_list->add_option("--repo", env_repo, "only this repository's environments");
  add_client(c_env_list);
  std::string env_from, env_to;
  auto* c_env_diff = c_env->add_subcommand(
      "diff",
      "commits ahead/behind and the file diff between two environments (exit 0 "
      "equal, 1 different, 2 error)");
  c_env_diff->add_option("FROM", env_from, "e.g. staging")->required();
  c_env_diff->add_option("TO", env_to, "e.g. production")->required();
  add_client(c_env_diff);
  std::string images_app;
  auto* c_images = app.add_subcommand(
      "images",
      "image-update automation: ImageRepositories (last scan, tags, errors), ImagePolicies "
      "(latest image) and ImageUpdateAutomations (last commit pushed), as flux get images all");
  c_images->add_option("--app", images_app, "only this Application's objects");
  add_client(c_images);
  auto* c_events = app.add_subcommand("events", "recent events");
  c_events->add_option("APP", app_name);
  bool follow = false;
  c_events->add_flag("-f,--follow", follow, "stream new events as they happen");
  add_client(c_events);
  auto* c_suspend = app.add_subcommand("suspend", "stop applying an Application");
  c_suspend->add_option("APP", app_name)->required();
  add_client(c_suspend);
  auto* c_resume = app.add_subcommand("resume", "resume applying an Application");
  c_resume->add_option("APP", app_name)->required();
  add_client(c_resume);
  auto* c_refresh =
      app.add_subcommand("refresh", "fetch and reconcile an Application now, without waiting");
  c_refresh->add_option("APP", app_name)->required();
  add_client(c_refresh);

  LogsOptions logs;
  auto* c_logs =
      app.add_subcommand("logs", "print the logs of an Application's Processes and Jobs");
  c_logs->add_option("APP", app_name)->required();
  c_logs->add_option("NAME", logs.name, "a Process or Job (default: all of them)");
  c_logs->add_option("--kind", logs.kind, "Process|Job, when a name is both")
      ->check(CLI::IsMember({"Process", "Job"}));
  c_logs->add_option("--replica", logs.replica, "only this replica (0, 1, ...)");
  c_logs->add_flag("-f,--follow", logs.follow, "stream new lines until interrupted");
  c_logs->add_option("--tail", logs.tail, "lines to show from the end")->capture_default_str();
  add_client(c_logs);
  auto* c_local = app.add_subcommand("local", "emergency changes on the local runtime");
  c_local->require_subcommand(1);
  std::string local_target;
  int local_replicas = 0;
  auto* c_scale = c_local->add_subcommand(
      "scale", "set a Process's replicas by hand until git wins again (selfHeal reverts it)");
  c_scale->add_option("APP/NAME", local_target, "the Application and the Process")->required();
  c_scale->add_option("N", local_replicas, "replicas")->required()->check(CLI::NonNegativeNumber);
  add_client(c_scale);
  auto* c_stop = c_local->add_subcommand("stop", "stop every replica of a Process (scale to 0)");
  c_stop->add_option("APP/NAME", local_target, "the Application and the Process")->required();
  add_client(c_stop);

  KeysOptions keys;
  std::vector<std::pair<CLI::App*, std::string>> key_verbs;
  auto* c_keys =
      app.add_subcommand("keys", "the operator's sealing keys and age identities (STATE_DIR/keys)");
  c_keys->require_subcommand(1);
  auto add_keys = [&](const char* verb, const char* help) {
    auto* sub = c_keys->add_subcommand(verb, help);
    sub->add_option("--state-dir", keys.state_dir,
                    "the operator's state directory (default: $PLUMB_STATE_DIR or "
                    "~/.local/state/plumbline)");
    sub->add_option("-o,--output", keys.output, "table|json")
        ->check(CLI::IsMember({"table", "json"}));
    key_verbs.emplace_back(sub, verb);
    return sub;
  };
  add_keys("init", "generate the first sealing key (RSA, 4096 bits by default)")
      ->add_option("--bits", keys.bits, "RSA key size")
      ->check(CLI::Range(2048, 16384));
  add_keys("rotate", "add a newer sealing key: sealing uses it from now on, old keys still unseal")
      ->add_option("--bits", keys.bits, "RSA key size")
      ->check(CLI::Range(2048, 16384));
  add_keys("list", "the sealing keys, newest first, and how many age identities");
  auto* c_export = add_keys("export-public",
                            "print the newest key's certificate (PEM), as kubeseal --fetch-cert "
                            "does; makes the first key when the state directory has none yet");
  auto* c_backup = add_keys("backup",
                            "write every private key and age identity to one file (keep it "
                            "offline); makes the first key when the state directory has none yet");
  c_backup->add_option("-f,--file", keys.file, "where to write it, mode 0600 (default: stdout)");
  for (auto* sub : {c_export, c_backup})
    sub->add_option("--bits", keys.bits, "RSA size of the first key, when it is made here")
        ->check(CLI::Range(2048, 16384));
  add_keys("restore", "load a backup into this state directory (keys already there are skipped)")
      ->add_option("-f,--file", keys.file, "the backup file (- for stdin)")
      ->required();
  add_keys("age-init", "generate an age identity for SOPS files; prints its recipient (age1...)");

  SealOptions seal;
  auto* c_seal = app.add_subcommand(
      "seal",
      "seal a Secret (stdin, or --from-literal/--from-file) into a SealedSecret (stdout) with "
      "the operator's public key");
  c_seal->add_option("--cert", seal.cert_file,
                     "the operator's certificate (plumb keys export-public): seal offline");
  c_seal->add_option("--operator", seal.client.server,
                     "fetch the certificate from this operator URL (default: as other verbs "
                     "find the operator)");
  c_seal->add_option("--ca-file", seal.client.ca_file, "PEM CAs to trust for an https operator");
  c_seal->add_option("--state-dir", seal.client.state_dir,
                     "find the operator's address in this state directory");
  c_seal->add_option("--scope", seal.scope, "strict|namespace-wide|cluster-wide")
      ->check(CLI::IsMember({"strict", "namespace-wide", "cluster-wide"}))
      ->capture_default_str();
  c_seal->add_option("--name", seal.name, "the Secret's name (overrides the manifest's)");
  c_seal->add_option("--namespace", seal.ns,
                     "the Secret's namespace (overrides the manifest's; default \"default\")");
  c_seal->add_option("--from-literal", seal.from_literal, "KEY=VALUE (repeatable)");
  c_seal->add_option("--from-file", seal.from_file,
                     "[KEY=]PATH: a file's content (repeatable; KEY defaults to its name)");
  c_seal->add_option("--merge-into", seal.merge_into,
                     "add the keys to this sealed file in place instead of printing");
  c_seal->add_option("-o,--output", seal.output, "yaml|json")
      ->check(CLI::IsMember({"yaml", "json"}));

  std::string reseal_state_dir;
  std::vector<std::string> reseal_files;
  auto* c_reseal = app.add_subcommand(
      "reseal", "re-encrypt every SealedSecret in FILEs to the newest key (after a rotation)");
  c_reseal->add_option("--state-dir", reseal_state_dir,
                       "the operator's state directory, which holds the keys");
  c_reseal->add_option("FILE", reseal_files, "sealed files, rewritten in place")->required();

  ScanOptions scan;
  auto* c_scan = app.add_subcommand(
      "scan",
      "find secrets (cloud keys, tokens, private keys, passwords) in a directory, the staged "
      "changes or the git history; exit 1 when something is found, 0 when clean, 2 on error");
  c_scan
      ->add_option("PATH", scan.path,
                   "the directory or file to scan; with --staged, --git or --install-hook, a "
                   "directory in the repository")
      ->capture_default_str();
  c_scan->add_flag("--staged", scan.staged,
                   "scan the lines the index adds (what `git commit` would record)");
  auto* scan_git = c_scan
                       ->add_option("--git", scan.range,
                                    "scan the lines each commit adds: of RANGE (A..B, or every "
                                    "commit reachable from REV), or of the whole history (HEAD, "
                                    "every branch and tag) without one; write --git=RANGE "
                                    "before PATH")
                       ->expected(0, 1);
  c_scan->add_option("-o,--output", scan.output, "text|json|sarif")
      ->check(CLI::IsMember({"text", "json", "sarif"}))
      ->capture_default_str();
  c_scan->add_option("--config", scan.config,
                     "rules and allowlists (default: .plumbscan.yaml at the scanned root or the "
                     "repository's working directory, when present)");
  c_scan->add_option("--baseline", scan.baseline,
                     "a JSON report (-o json) of an earlier run: findings with the same "
                     "fingerprint are ignored");
  c_scan->add_flag("--install-hook", scan.install_hook,
                   "install a pre-commit hook running `plumb scan --staged` in the repository "
                   "holding PATH");
  c_scan->add_flag("--force", scan.force, "with --install-hook: replace an existing hook");
  auto* c_scan_staged = c_scan->get_option("--staged");
  c_scan_staged->excludes(scan_git);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (*c_shim) return plumb::target::local::RunShim(shim_dir);
  if (*c_demo) return CmdDemoServer(demo);
  ResolveClient(&client);
  if (*c_run) return CmdRun(run);
  if (*c_init) return CmdInit(init_dir);
  if (*c_install_k8s) return CmdInstallKubernetes(install);
  if (*c_render) return CmdRender(render_dir, render_output);
  if (*c_scan) {
    scan.git = scan_git->count() > 0;
    // `plumb scan --git DIR`: a directory, not a range, when nothing else names the path.
    if (scan.git && scan.path == "." && scan.range.find("..") == std::string::npos &&
        plumb::fs::IsDirectory(scan.range)) {
      scan.path = scan.range;
      scan.range.clear();
    }
    return CmdScan(scan);
  }
  for (const auto& [sub, verb] : key_verbs)
    if (*sub) return CmdKeys(verb, keys);
  if (*c_seal) return CmdSeal(seal);
  if (*c_reseal) return CmdReseal(reseal_state_dir, reseal_files);
  if (*c_status) return CmdStatus(client, app_name, status_rows);
  if (*c_diff) return CmdDiff(client, app_name);
  if (*c_sync) return CmdSync(client, app_name, dry_run);
  if (*c_history) return CmdHistory(client, app_name);
  if (*c_rollback) return CmdRollback(client, app_name, revision);
  if (*c_events) return CmdEvents(client, app_name, follow);
  if (*c_promote) return CmdPromote(client, promote);
  if (*c_env_list) return CmdEnvList(client, env_repo);
  if (*c_env_diff) return CmdEnvDiff(client, env_from, env_to);
  if (*c_images) return CmdImages(client, images_app);
  if (*c_suspend) return CmdSuspend(client, app_name, true);
  if (*c_resume) return CmdSuspend(client, app_name, false);
  if (*c_refresh) return CmdRefresh(client, app_name);
  if (*c_logs) return CmdLogs(client, app_name, logs);
  if (*c_scale) return CmdLocalScale(client, local_target, local_replicas, "plumb local scale");
  if (*c_stop) return CmdLocalScale(client, local_target, 0, "plumb local stop");
  return 2;
}
