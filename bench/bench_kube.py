#!/usr/bin/env python3
"""The Kubernetes target at scale (issue 9): N Applications of 4 objects each (a
Deployment, a ServiceAccount, a Service and a ConfigMap — the shape of Flux's published
benchmark of 1,000 Kustomizations) synced by one operator to the API-server test double.

    python3 bench/bench_kube.py [--plumb build/plumb]
        [--fake build/src/target/kube_fake_apiserver] [--apps 1000] [--workers 16]
        [--qps 500] [--burst 1000] [--dir /tmp/plumb-bench-kube] [--json OUT]

Python 3 standard library only. One repository: `root/apps.yaml` declares the N child
Applications (`target.kubernetes` naming a kubeconfig for the double), each with its own
path `apps/app-NNNN/` holding the 4 objects (in namespace default). The operator runs
with `--once`: it fetches, renders, plans (server-side dry run, and the live object),
applies (server-side apply), writes each inventory, assesses health and exits when every
Application has reconciled. Three passes, each a fresh `plumb run --once` on the same
state directory and the same double:
  cold    nothing in the cluster yet: every object is created;
  noop    nothing changed: a reconcile that applies nothing;
  change  a new commit changes every ConfigMap: one object in four is applied.
Measured per pass: wall time from starting `plumb run --once` to its exit, the
operator's peak RSS (ru_maxrss of the pass), the requests the double received (its
GET /fake/stats: by verb, and the client connections it saw) and requests per object,
and a check that every Application is Synced and Healthy and every object exists. The
double runs its simulated controllers (Deployments report their replicas ready at once),
so this measures plumbline and the HTTP round trips, not a kubelet.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent",
}
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def git(*args, cwd=None):
    subprocess.run(["git", *args], cwd=cwd, env=dict(os.environ, **GIT_ENV), check=True,
                   capture_output=True)


def objects(name):
    return f"""apiVersion: v1
kind: ServiceAccount
metadata:
  name: {name}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
data:
  greeting: hello from {name}
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {name}}}
  ports:
  - {{name: http, port: 80, targetPort: 8080, protocol: TCP}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      serviceAccountName: {name}
      containers:
      - name: web
        image: nginx:1.25
        ports:
        - {{containerPort: 8080, protocol: TCP}}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plumb", default=os.path.join(ROOT, "build/plumb"))
    ap.add_argument("--fake", default=os.path.join(ROOT, "build/src/target/kube_fake_apiserver"))
    ap.add_argument("--apps", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--qps", type=float, default=500)
    ap.add_argument("--burst", type=int, default=1000)
    ap.add_argument("--dir", default="/tmp/plumb-bench-kube")
    ap.add_argument("--json")
    a = ap.parse_args()

    shutil.rmtree(a.dir, ignore_errors=True)
    os.makedirs(a.dir)
    bare, work = os.path.join(a.dir, "remote.git"), os.path.join(a.dir, "work")
    git("init", "-q", "--bare", "-b", "main", bare)
    git("init", "-q", "-b", "main", work)
    addr = os.path.join(a.dir, "kube-address")
    fake_log = open(os.path.join(a.dir, "fake.log"), "w")
    fake = subprocess.Popen([a.fake, "--fixtures", os.path.join(ROOT, "src/target/kubernetes/testdata"),
                             "--address-file", addr, "--token", "bench-token", "--controllers"],
                            stdout=fake_log, stderr=subprocess.STDOUT)
    try:
        for _ in range(500):
            if os.path.exists(addr):
                break
            time.sleep(0.01)
        with open(addr) as f:
            url = f.read().strip()
        kubeconfig = os.path.join(a.dir, "kubeconfig")
        with open(kubeconfig, "w") as f:
            f.write(f"apiVersion: v1\nkind: Config\ncurrent-context: bench\nclusters:\n"
                    f"- name: bench\n  cluster: {{server: \"{url}\"}}\nusers:\n"
                    f"- name: bench\n  user: {{token: bench-token}}\ncontexts:\n"
                    f"- name: bench\n  context: {{cluster: bench, user: bench, namespace: default}}\n")
        names = [f"app-{i:04d}" for i in range(a.apps)]
        os.makedirs(os.path.join(work, "root"))
        with open(os.path.join(work, "root/apps.yaml"), "w") as f:
            f.write("---\n".join(
                f"apiVersion: plumbline.dev/v1\nkind: Application\nmetadata:\n  name: {n}\n"
                f"spec:\n  source: {{path: apps/{n}}}\n"
                f"  target:\n    kubernetes: {{kubeconfig: {kubeconfig}, namespace: default}}\n"
                f"  sync: {{interval: 1h}}\n" for n in names))
        for n in names:
            os.makedirs(os.path.join(work, "apps", n))
            with open(os.path.join(work, "apps", n, "objects.yaml"), "w") as f:
                f.write(objects(n))
        git("add", "-A", cwd=work)
        git("commit", "-qm", f"{a.apps} applications", cwd=work)
        git("push", "-q", bare, "main", cwd=work)

        state = os.path.join(a.dir, "state")

        def stats():
            req = urllib.request.Request(url + "/fake/stats")
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read())

        def count(path):
            req = urllib.request.Request(url + path, headers={"Authorization": "Bearer bench-token"})
            with urllib.request.urlopen(req, timeout=60) as r:
                return len(json.loads(r.read())["items"])
        sel = "?labelSelector=app.plumbline.dev%2Fname"
        paths = {"deployments": "/apis/apps/v1/namespaces/default/deployments" + sel,
                 "serviceaccounts": "/api/v1/namespaces/default/serviceaccounts" + sel,
                 "services": "/api/v1/namespaces/default/services" + sel,
                 "configmaps": "/api/v1/namespaces/default/configmaps" + sel}
        cmd = [a.plumb, "run", "--repo", bare, "--branch", "main", "--path", "root",
               "--state-dir", state, "--listen", "127.0.0.1:0", "--once",
               "--workers", str(a.workers), "--kube-qps", str(a.qps), "--kube-burst", str(a.burst),
               "--interval", "1h", "--key-bits", "2048", "--log-level", "warn"]
        passes = {}
        ok = True
        for name in ("cold", "noop", "change"):
            if name == "change":
                for n in names:
                    with open(os.path.join(work, "apps", n, "objects.yaml"), "w") as f:
                        f.write(objects(n).replace(f"hello from {n}", f"hello again from {n}"))
                git("commit", "-qam", "every greeting changes", cwd=work)
                git("push", "-q", bare, "main", cwd=work)
            print(f"{name}: {a.apps} Applications x 4 objects ...", file=sys.stderr)
            before = stats()
            start = time.monotonic()
            with open(os.path.join(a.dir, f"operator-{name}.log"), "w") as log:
                # /usr/bin/time -f %M: this pass's peak RSS (ru_maxrss of the children
                # accumulates the maximum over every pass).
                p = subprocess.Popen(["/usr/bin/time", "-f", "maxrss_kib=%M", *cmd],
                                     stdout=subprocess.PIPE, stderr=log, text=True)
                out, _ = p.communicate()
            wall = time.monotonic() - start
            after = stats()
            with open(os.path.join(a.dir, f"operator-{name}.log")) as log:
                rss = [l for l in log.read().splitlines() if l.startswith("maxrss_kib=")]
            lines = [l for l in out.splitlines() if l.startswith("app-")]
            healthy = sum(1 for l in lines if " Synced Healthy " in l and "error" not in l)
            counts = {k: count(p) for k, p in paths.items()}
            requests = after["requests"] - before["requests"]
            by_verb = {k: v - before["byVerb"].get(k, 0) for k, v in after["byVerb"].items()
                       if v - before["byVerb"].get(k, 0)}
            passes[name] = {
                "exit_code": p.returncode, "wall_seconds": round(wall, 2),
                "peak_rss_mib": round(int(rss[-1].split("=")[1]) / 1024, 1) if rss else None,
                "requests": requests, "requests_per_object": round(requests / (4 * a.apps), 2),
                "requests_by_verb": by_verb,
                "connections": after["connections"] - before["connections"],
                "synced_healthy": healthy, "objects_in_cluster": counts,
            }
            ok &= p.returncode == 0 and healthy == a.apps and \
                all(v == a.apps for v in counts.values())
        result = {"apps": a.apps, "objects": 4 * a.apps, "workers": a.workers, "qps": a.qps,
                  "burst": a.burst, "plumb": a.plumb, "passes": passes}
        print(json.dumps(result, indent=2))
        if a.json:
            with open(a.json, "w") as f:
                json.dump(result, f, indent=2)
        return 0 if ok else 1
    finally:
        fake.terminate()
        fake.wait()
        fake_log.close()


if __name__ == "__main__":
    sys.exit(main())
