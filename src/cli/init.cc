// plumb init: scaffold an example configuration repository.
#include <unistd.h>

#include <iostream>
#include <map>

#include "cli/commands.h"
#include "core/fs.h"
#include "source/source.h"

namespace plumb::cli {
namespace {
const char* kReadme = R"(# Example plumbline configuration repository

This repository is the single source of truth for one host. `plumb run` follows a
branch of it and makes the host match what it says; every change is a commit.

## Layout

    root/apps.yaml          the root Application's path: it declares the child Applications
    apps/motd/motd.yaml     a File with inline content
    apps/web/config.yaml    a ConfigMap, and a File rendered from one of its keys
    apps/web/service.yaml   a Process: 3 replicas of a small web service behind
                            readiness probes, configured from the ConfigMap

Each environment is a branch: `staging` and `production`. Change `staging`, check
it (`plumb status`, `plumb diff`), then promote by merging `staging` into
`production`.

## Resources

Kinds of the embedded local runtime (`apiVersion: local.plumbline.dev/v1`):

- `File`: `spec.path` (relative paths resolve under the Application's
  `spec.target.local.root`), `spec.content` or `spec.fromConfigMap {name, key}`,
  `spec.mode` ("0644"). Only written under the operator's `--allow-path` directories.
- `ConfigMap`: `data` with string values.
- `Secret`: never committed in plaintext (the operator refuses it): seal it with
  `plumb keys export-public > cert.pem; plumb seal --cert cert.pem < secret.yaml >
  sealed.yaml` and commit the `SealedSecret`; the operator unseals it in memory. Its
  values are never shown in logs, diffs or the API.
- `Process`: `spec.replicas`, `spec.command`, `spec.env`, `spec.ports`, probes,
  rolling updates. Try `plumb status web`, `plumb logs web web`, and change
  `GREETING` in apps/web/config.yaml: the replicas roll over one at a time.
- `Job`: a command run to completion (`plumbline.dev/hook: PreSync` runs it before
  each sync).

`Application` (`apiVersion: plumbline.dev/v1`) declares more Applications:
`spec.source {repo, branch, path}` (repo and branch default to this one's),
`spec.sync {auto, prune, selfHeal, interval, suspend}`, `spec.allowPlaintextSecrets`.

## Run it

    plumb run --repo PATH/TO/THIS.git --branch staging --path root \
      --allow-path /tmp/plumb-demo --state-dir /tmp/plumb-state

Then edit, commit and push in this clone, and watch `plumb status` and `plumb history root`.
)";

const char* kApps = R"(# Child Applications: each is reconciled on its own.
apiVersion: plumbline.dev/v1
kind: Application
metadata:
  name: motd
spec:
  source:
    path: apps/motd
  sync:
    prune: true
    selfHeal: true
---
apiVersion: plumbline.dev/v1
kind: Application
metadata:
  name: web
spec:
  source:
    path: apps/web
)";

const char* kMotd = R"(apiVersion: local.plumbline.dev/v1
kind: File
metadata:
  name: motd
spec:
  path: motd.txt
  mode: "0644"
  content: |
    Welcome. This file is managed by plumbline: edit it in git, not here.
)";

const char* kWeb = R"(apiVersion: local.plumbline.dev/v1
kind: ConfigMap
metadata:
  name: web-settings
data:
  settings.env: |
    GREETING=hello from git
    WORKERS=2
  greeting: hello from git
---
apiVersion: local.plumbline.dev/v1
kind: File
metadata:
  name: web-settings-file
  annotations:
    plumbline.dev/sync-wave: "1"
spec:
  path: web/settings.env
  fromConfigMap:
    name: web-settings
    key: settings.env
  mode: "0640"
)";
// The service runs this very program's demo HTTP server, so the example needs nothing
// that a fresh machine lacks. PLUMB is replaced by this program's absolute path.
const char* kWebService = R"(apiVersion: local.plumbline.dev/v1
kind: Process
metadata:
  name: web
  annotations:
    plumbline.dev/sync-wave: "2"
spec:
  replicas: 3
  command: ["PLUMB", "demo-server"]
  env:
  - name: MESSAGE
    valueFrom:
      configMapKeyRef:
        name: web-settings
        key: greeting
  ports:
  - name: http
  readinessProbe:
    httpGet:
      path: /healthz
      port: http
    periodSeconds: 2
  livenessProbe:
    tcpSocket:
      port: http
    periodSeconds: 10
  strategy:
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
)";

std::string SelfPath() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "plumb";
}
}  // namespace

int CmdInit(const std::string& dir) {
  std::string work = fs::NormalizePath(dir);
  std::string bare = work + ".git";
  std::map<std::string, std::string> files = {{"README.md", kReadme},
                                              {"root/apps.yaml", kApps},
                                              {"apps/motd/motd.yaml", kMotd},
                                              {"apps/web/config.yaml", kWeb}};
  std::string service = kWebService;
  service.replace(service.find("PLUMB"), 5, SelfPath());
  files["apps/web/service.yaml"] = service;
  Status s = source::InitRepository(bare, work, files, {"staging", "production"},
                                    "Example configuration from plumb init", {});
  if (!s.ok()) {
    std::cerr << "plumb init: " << s.message() << "\n";
    return 2;
  }
  std::cout << "Created " << bare << " (the repository the operator follows) and " << work
            << " (a clone to edit and push from),\nwith branches staging and production.\n\n"
            << "Run the operator on it:\n  plumb run --repo " << bare
            << " --branch staging --path root --allow-path /tmp/plumb-demo\n";
  return 0;
}

}  // namespace plumb::cli
