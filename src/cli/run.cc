#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/keys.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/strings.h"
#include "engine/engine.h"
#include "pipeline/auto_promote.h"
#include "pipeline/image_automation.h"
#include "render/render.h"
#include "resource/codec.h"
#include "secrets/age.h"
#include "secrets/keystore.h"
#include "server/server.h"
#include "source/source.h"
#include "target/kubernetes/kube_target.h"
#include "target/kubernetes/kubeconfig.h"
#include "target/kubernetes/lease.h"
#include "target/local/local_target.h"
#include "target/router.h"

namespace plumb::cli {
namespace {
int Fail(const std::string& what, const Status& s) {
  log::Error(what + ": " + s.message());
  return 2;
}

std::string Absolute(const std::string& p) {
  if (p.empty()) return p;
  std::error_code ec;
  return fs::NormalizePath(std::filesystem::absolute(p, ec).string());
}

// A local path given as the repository is made absolute so every process names it
// the same way (the mirror is keyed by URL).
std::string NormalizeRepo(const std::string& repo) {
  if (repo.find("://") != std::string::npos || repo.find('@') != std::string::npos) return repo;
  return Absolute(repo);
}
}  // namespace

int CmdRun(RunOptions o) {
  log::Format format;
  log::Level level;
  if (!log::ParseFormat(o.log_format, &format) || !log::ParseLevel(o.log_level, &level)) {
    std::cerr << "plumb run: --log-format is text|json, --log-level is debug|info|warn|error\n";
    return 2;
  }
  log::SetFormat(format);
  log::SetLevel(level);
  if (o.repo.empty()) {
    std::cerr << "plumb run: --repo is required (a path or URL git can fetch)\n";
    return 2;
  }
  // OpenSSL's initialisation (its configuration and providers, ~2 ms; hashing and keys
  // need it) and libgit2's (~5-8 ms: its TLS library parses the system's CA bundle) on a
  // thread beside the key store's, the databases' and the server's start; the first use
  // of a repository waits for it (source::InitGit), the end of this function joins it.
  std::jthread git_init([] {
    (void)Sha256Hex("");
    source::InitGit();
  });
  if (o.state_dir.empty()) o.state_dir = DefaultStateDir();
  o.state_dir = Absolute(o.state_dir);
  for (auto& p : o.allow_paths) p = Absolute(p);
  if (o.local_root.empty() && !o.allow_paths.empty()) o.local_root = o.allow_paths[0];
  o.local_root = Absolute(o.local_root);

  engine::EngineOptions eo;
  eo.state_dir = o.state_dir;
  eo.workers = o.workers;
  eo.root.name = o.name;
  eo.root.repo = NormalizeRepo(o.repo);
  eo.root.branch = o.branch;
  eo.root.path = o.path;
  eo.root.local_root = o.local_root;
  eo.root.sync.prune = !o.no_prune;
  eo.root.sync.self_heal = !o.no_self_heal;
  eo.root.sync.automated = !o.no_auto;
  eo.render.kubectl = o.kubectl;
  eo.root.allow_plaintext_secrets = o.allow_plaintext_secrets;
  eo.root.scan_policy = o.scan_policy;
  if (!o.verify_mode.empty() && o.verify_key_files.empty()) {
    std::cerr << "plumb run: --verify-mode needs --verify-keys (the keys to trust)\n";
    return 2;
  }
  for (const auto& file : o.verify_key_files) {
    auto text = fs::ReadFile(file);
    if (!text.ok()) return Fail("--verify-keys", text.status());
    eo.root.verify.keys.push_back(engine::TrustedKeyFromText(*text));
  }
  if (!o.verify_key_files.empty())
    eo.root.verify.mode = o.verify_mode.empty() ? "head" : o.verify_mode;
  if (!o.signing_key_file.empty()) {
    struct stat st {};
    if (::stat(o.signing_key_file.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      std::cerr << "plumb run: --signing-key " << o.signing_key_file
                << ": a private key readable by others; chmod 600 it\n";
      return 2;
    }
    auto key = fs::ReadFile(o.signing_key_file);
    if (!key.ok()) return Fail("--signing-key", key.status());
    auto type = source::SigningKeyType(*key);
    if (!type.ok()) return Fail("--signing-key " + o.signing_key_file, type.status());
    eo.signing_key = *key;
  }
  if (const char* f = std::getenv("PLUMB_FAULT")) eo.fault = f;
  eo.watch_drift = !o.once;  // one reconcile, then exit: no drift to watch for
  for (auto [flag, text, out] :
       {std::tuple{"--interval", &o.interval, &eo.root.sync.interval},
        std::tuple{"--retry-base", &o.retry_base, &eo.retry_base},
        std::tuple{"--retry-max", &o.retry_max, &eo.retry_max},
        std::tuple{"--notify-retry-base", &o.notify_retry_base, &eo.notify_retry_base},
        std::tuple{"--hook-timeout", &o.hook_timeout, &eo.hook_timeout},
        std::tuple{"--health-timeout", &o.health_timeout, &eo.health_timeout}}) {
    auto d = ParseDuration(*text);
    if (!d.ok()) return Fail(std::string("plumb run ") + flag, d.status());
    *out = *d;
  }
  auto renew_every = ParseDuration(o.renew_every);
  if (!renew_every.ok()) return Fail("plumb run --renew-every", renew_every.status());
  auto rescan = ParseDuration(o.rescan_interval);
  if (!rescan.ok()) return Fail("plumb run --rescan-interval", rescan.status());
  target::local::LocalOptions lo{
      .state_dir = o.state_dir, .allow_paths = o.allow_paths, .rescan_interval = *rescan};
  // The local runtime takes the engine's fault (it waits for its queued file writes first).
  lo.crash_after_applies = engine::EngineOptions::CrashAfterApplies(eo.fault);
  for (auto [flag, text, out] :
       {std::tuple{"--supervise-interval", &o.supervise_interval, &lo.supervise_interval},
        std::tuple{"--restart-backoff", &o.restart_backoff, &lo.restart_backoff},
        std::tuple{"--restart-backoff-max", &o.restart_backoff_max, &lo.restart_backoff_max},
        std::tuple{"--restart-backoff-reset", &o.restart_backoff_reset,
                   &lo.restart_backoff_reset}}) {
    auto d = ParseDuration(*text);
    if (!d.ok()) return Fail(std::string("plumb run ") + flag, d.status());
    *out = *d;
  }

  // Few malloc arenas: the operator's threads mostly wait, and one arena per thread
  // turns short bursts of allocation into resident memory that is never returned.
  mallopt(M_ARENA_MAX, 2);
  Status mk = fs::MakeDirs(o.state_dir);
  if (!mk.ok()) return Fail("state directory", mk);
  // The sealing keys; the first is generated on the first start, as the Sealed Secrets
  // controller does.
  auto opened_keys = secrets::KeyStore::Open(o.state_dir + "/keys");
  if (!opened_keys.ok()) return Fail("sealing keys", opened_keys.status());
  std::shared_ptr<secrets::KeyStore> keystore = std::move(*opened_keys);
  if (!o.restore_keys.empty()) {
    auto backup = fs::ReadFile(o.restore_keys);
    if (!backup.ok()) return Fail("--restore-keys", backup.status());
    Status restored = keystore->Restore(*backup);
    if (!restored.ok()) return Fail("--restore-keys " + o.restore_keys, restored);
    log::Info("restored keys from " + o.restore_keys,
              {{"sealingKeys", std::to_string(keystore->Current()->sealing.size())},
               {"ageIdentities", std::to_string(keystore->Current()->age_identities.size())}});
  }
  for (const auto& file : o.age_key_files) {
    auto text = fs::ReadFile(file);
    if (!text.ok()) return Fail("--age-key-file", text.status());
    auto ids = secrets::ParseAgeIdentities(*text);
    if (!ids.ok()) return Fail("--age-key-file " + file, ids.status());
    for (const auto& id : *ids) {
      Status added = keystore->AddAgeIdentity(id.ToString());
      if (!added.ok()) return Fail("--age-key-file " + file, added);
    }
  }
  // The first key is generated on a thread of its own while the first sync runs (RSA-4096
  // takes 0.5-5 s of CPU); whatever needs it (unsealing, the certificate, Secret rows of
  // local.db) waits for it. A --once run makes it only if something needs it: one that
  // unseals nothing and stores no Secret exits without spending that CPU on a key it never
  // uses (plumb keys export-public or the next run makes it). Without a key the operator
  // cannot go on: a failure ends it.
  const bool generating = keystore->Current()->sealing.empty();
  if (generating) {
    auto first_key = [](const Result<secrets::KeyInfo>& first) {
      if (!first.ok()) {
        log::Error("sealing keys: " + first.status().message());
        std::fflush(nullptr);
        std::_Exit(2);
      }
      log::Info("generated sealing key " + first->id,
                {{"bits", std::to_string(first->bits)}, {"fingerprint", first->fingerprint}});
    };
    if (o.once) {
      keystore->GenerateWhenNeeded(o.key_bits, first_key);
    } else {
      keystore->InitInBackground(o.key_bits, first_key);
    }
  }
  // An allowed directory that does not exist yet is created, as a package would.
  for (const auto& p : o.allow_paths) {
    mk = fs::MakeDirs(p);
    if (!mk.ok()) return Fail("--allow-path " + p, mk);
  }
  // Signals are taken by this thread with sigwait; block them before threads start.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  eo.keys = keystore;
  // Secret rows in local.db are encrypted with a key derived from the oldest sealing
  // key, so it survives rotations and comes back with a key backup.
  if (generating) {
    lo.secret_key_source = [keystore] {
      auto key = keystore->DerivedKey("local.db");
      return key.ok() ? *key : std::string();  // not 32 bytes: the cipher aborts
    };
  } else {
    auto db_key = keystore->DerivedKey("local.db");
    if (!db_key.ok()) return Fail("sealing keys", db_key.status());
    lo.secret_key = *db_key;
  }
  // Applications with spec.target.kubernetes go to their cluster: one target per
  // kubeconfig and context; its inventory ConfigMaps live in the context's namespace.
  // Made by the engine beside its own database's opening.
  bool local_failed = false;
  auto make_target = [&lo, &local_failed, qps = o.kube_qps,
                      burst = o.kube_burst]() -> Result<std::unique_ptr<target::Target>> {
    auto local = target::local::NewLocalTarget(lo);
    if (!local.ok()) {
      local_failed = true;
      return local.status();
    }
    return target::NewRoutingTarget(
        std::move(*local),
        [qps, burst](const target::KubernetesRef& ref) -> Result<std::unique_ptr<target::Target>> {
          namespace k8s = target::kubernetes;
          k8s::KubeTargetOptions ko;
          ko.client.qps = qps;
          ko.client.burst = burst;
          if (ref.kubeconfig.empty()) {
            ASSIGN_OR_RETURN(ko.cluster, k8s::LoadInClusterConfig());
          } else {
            ASSIGN_OR_RETURN(ko.cluster, k8s::LoadKubeconfig(ref.kubeconfig, ref.context));
          }
          ko.inventory_namespace = ko.cluster.namespace_;
          return k8s::NewKubeTarget(ko);
        });
  };
  // Image automation sees each Application's image manifests after every render.
  auto images = std::make_shared<pipeline::ImageAutomation>(
      pipeline::ImageAutomationOptions{.state_dir = o.state_dir,
                                       .retry_base = eo.retry_base,
                                       .retry_max = eo.retry_max,
                                       .author_name = eo.author_name,
                                       .author_email = eo.author_email,
                                       .signing_key = eo.signing_key});
  eo.on_image_resources = [images](const engine::AppSpec& app,
                                   const std::vector<resource::Resource>& objects,
                                   const std::vector<resource::Resource>& desired) {
    images->SetFor(app, objects, desired);
  };
  auto eng = engine::Engine::Create(eo, make_target);
  if (!eng.ok()) return Fail(local_failed ? "local runtime" : "engine", eng.status());
  server::ServerOptions so{.listen = o.listen,
                           .state_dir = o.state_dir,
                           .anonymous_read = o.anonymous_read,
                           .tls_cert = o.tls_cert,
                           .tls_key = o.tls_key,
                           .public_cert_pem = [keystore] { return keystore->CertificatePem(); },
                           .images_status = [images] { return images->StatusSnapshot(); }};
  if (!o.webhook_secret_file.empty()) {
    auto secret = fs::ReadFile(o.webhook_secret_file);
    if (!secret.ok()) return Fail("--webhook-secret-file", secret.status());
    so.webhooks.shared = Trim(*secret);
    if (so.webhooks.shared.empty())
      return Fail("--webhook-secret-file", InvalidArgument(o.webhook_secret_file + " is empty"));
  }
  if (!o.webhook_secrets_file.empty()) {
    auto secrets = server::LoadWebhookSecretsFile(o.webhook_secrets_file);
    if (!secrets.ok()) return Fail("--webhook-secrets", secrets.status());
    so.webhooks.by_repo = std::move(*secrets);
  }
  if (!o.tokens_file.empty()) {
    auto tokens = server::LoadTokensFile(o.tokens_file);
    if (!tokens.ok()) return Fail("--tokens", tokens.status());
    so.tokens = std::move(*tokens);
  }
  auto srv = server::Server::Create(eng->get(), so);
  if (!srv.ok()) return Fail("server", srv.status());
  Status s = (*srv)->Start();
  if (!s.ok()) return Fail("server", s);
  // --leader-elect: wait for the Lease before reconciling; losing it ends the process
  // (its Deployment starts it again as a follower), as controller-runtime does.
  std::atomic<bool> stop_election{false};
  std::thread elector_thread;
  std::unique_ptr<target::kubernetes::KubeClient> lease_client;
  std::unique_ptr<target::kubernetes::LeaderElector> elector;
  if (o.leader_elect) {
    namespace k8s = target::kubernetes;
    auto cfg = o.leader_election_kubeconfig.empty()
                   ? k8s::LoadInClusterConfig()
                   : k8s::LoadKubeconfig(o.leader_election_kubeconfig);
    if (!cfg.ok()) return Fail("--leader-elect", cfg.status());
    static SystemClock lease_clock;
    auto c = k8s::KubeClient::Create(*cfg, {}, &lease_clock);
    if (!c.ok()) return Fail("--leader-elect", c.status());
    lease_client = std::move(*c);
    const char* pod = getenv("POD_NAME");
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    std::string identity = pod && *pod ? pod : std::string(host) + "_" + std::to_string(getpid());
    elector = std::make_unique<k8s::LeaderElector>(
        lease_client.get(),
        k8s::LeaseOptions{.ns = o.leader_election_namespace.empty() ? cfg->namespace_
                                                                    : o.leader_election_namespace,
                          .identity = identity},
        &lease_clock);
    std::atomic<bool> leading{false};
    elector_thread = std::thread([&elector, &leading, &stop_election] {
      Status es = elector->Run([&leading] { leading = true; },
                               [] {
                                 log::Error("leader election lost: exiting");
                                 _exit(1);
                               },
                               &stop_election);
      (void)es;
    });
    timespec wait_tick{0, 50 * 1000 * 1000};
    while (!leading) {
      int sig = sigtimedwait(&sigs, nullptr, &wait_tick);
      if (sig > 0) {
        stop_election = true;
        elector_thread.join();
        (*srv)->Stop();
        return 0;
      }
    }
  }
  images->Start(eng->get());
  s = (*eng)->Start();
  if (!s.ok()) return Fail("engine", s);
  // spec.promotion {auto: true}: promotes on its own once staging has been Healthy.
  pipeline::AutoPromoter promoter(eng->get());
  if (!o.once) promoter.Start();
  log::Info("plumbline operator started",
            {{"api", (*srv)->url()},
             {"repo", eo.root.repo},
             {"branch", o.branch},
             {"path", o.path},
             {"state_dir", o.state_dir},
             {"token_file", o.state_dir + "/token"},
             {"allow_paths",
              o.allow_paths.empty() ? "(none: no files are written)" : Join(o.allow_paths, ",")}});

  int code = 0;
  if (o.once) {
    // Wait for every Application (children included) to finish a reconcile.
    int64_t started = UnixMillis(SystemClock().Now());
    // Every millisecond: the exit follows the last reconcile closely (a 1,000-File cold
    // sync takes ~0.1 s; a 5 ms tick held it 2.5 ms on average). Idle() is cheap; the list
    // (a copy of every Application's status) is made only once the engine is idle.
    timespec tick{0, 1000 * 1000};
    while (true) {
      int sig = sigtimedwait(&sigs, nullptr, &tick);
      if (sig > 0) {
        log::Info("stopping before every Application reconciled",
                  {{"signal", std::to_string(sig)}});
        code = 2;
        break;
      }
      if (!(*eng)->Idle()) continue;
      auto apps = (*eng)->ListApps();
      bool done = !apps.empty();
      for (const auto& a : apps) done &= a.status.last_reconcile_ms >= started;
      if (!done) continue;
      for (const auto& a : apps) {
        if (!a.status.last_error.empty()) code = 1;
        std::cout << a.spec.name << ": " << a.status.sync << " " << a.status.health << " "
                  << a.status.applied_commit.substr(0, 7)
                  << (a.status.last_error.empty() ? "" : " error: " + a.status.last_error) << "\n";
      }
      break;
    }
  } else {
    // Waits for a signal, making a newer sealing key whenever one is due.
    const int64_t tick_ms =
        renew_every->count() > 0 ? std::min<int64_t>(renew_every->count(), 60000) : 60000;
    int sig = -1;
    while (sig <= 0) {
      RenewSealingKeyIfDue(*keystore, *renew_every, o.key_bits);
      timespec tick{tick_ms / 1000, (tick_ms % 1000) * 1000000};
      sig = sigtimedwait(&sigs, nullptr, &tick);
    }
    log::Info("stopping", {{"signal", std::to_string(sig)}});
  }
  promoter.Stop();
  images->Stop();  // before the engine it tells about commits
  (*eng)->Stop();  // before the server: it also ends the event streams it serves
  (*srv)->Stop();
  if (elector_thread.joinable()) {
    stop_election = true;
    elector_thread.join();
  }
  // A key being generated at this first start is on disk before the process ends.
  keystore->WaitForKeys();
  if (o.once && code != 2) {
    // Every thread has stopped and every write is committed (local.db by the target's
    // Flush, engine.db per statement; SQLite in WAL mode needs no close for that). Freeing
    // the trees of 100,000 resources one by one took seconds; the system takes the memory
    // back at once.
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    std::_Exit(code);
  }
  return code;
}

int CmdRender(const std::string& dir, const std::string& output) {
  render::Renderer renderer(nullptr, {});
  auto out = renderer.RenderDirectory(dir);
  if (!out.ok()) {
    std::cerr << "plumb render: " << out.status().message() << "\n";
    return 2;
  }
  if (output == "json") {
    resource::Value list = resource::Value::EmptyArray();
    for (const auto& r : out->resources) list.Append(r.body());
    std::cout << resource::ToJson(list, 2) << "\n";
    return 0;
  }
  for (const auto& r : out->resources) {
    std::cout << "---\n# Source: " << r.origin().ToString() << "\n"
              << resource::ToYaml(resource::MaskSecretValues(r.id(), r.body()));
  }
  std::cerr << out->resources.size() << " resources\n";
  return 0;
}

}  // namespace plumb::cli
