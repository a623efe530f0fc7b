#!/usr/bin/env python3
"""plumbline as a service (issue 4): how fast the API lists 10,000 Applications, and how
long a one-file change takes from `git push` to applied with a GitHub push webhook and with
interval polling.

    python3 bench/bench_api.py [--plumb build/plumb] [--apps 10000] [--requests 200]
                               [--webhook-reps 20] [--poll-intervals 10s 1m]
                               [--poll-reps 10 4] [--dir /tmp/plumb-bench-api] [--json OUT]
                               [--skip-list] [--skip-webhook] [--skip-poll]

Python 3 standard library only. What each figure measures:

list        One operator follows a repository whose root path declares --apps child
            Applications (`apps.yaml`, one multi-document file), each with its own path
            holding one ConfigMap. When every Application is Synced and the operator is
            idle, this script sends --requests sequential GETs with keep-alive HTTP/1.1
            (http.client, Authorization: Bearer with the admin token; the server closes a
            connection after 5 requests, so every 5th also connects, on 127.0.0.1) and
            times each from sending the request to having read the whole body:
              default page   GET /api/v1/applications            (the server's default limit)
              one page 5000  GET /api/v1/applications?limit=5000 (the largest page served)
              full list      every page of ?limit=5000, following `continue` (one figure =
                             the sum of the pages' times; each list is checked complete)
webhook     Another operator (--interval 1m, the production default) follows a small repo
            (100 Files). Per repetition: a commit changing one File is pushed (not timed),
            then the clock starts, a GitHub push webhook signed with X-Hub-Signature-256 is
            POSTed, and GET /api/v1/applications/root is polled every 5 ms until
            status.appliedCommit is the new commit (what `plumb status` shows; `plumb status`
            is run once at the end to check). Reported: that time, and the operator's own
            history row (trigger must be "webhook").
polling     The same small repo and no webhook, operator started with --interval I. Per
            repetition this script waits a uniformly random 0..I (so the push lands at a
            random phase of the timer), pushes a one-file commit and times push-done to
            applied as above. Expected median: I/2 + one reconcile.
"""
import argparse
import datetime
import hashlib
import hmac
import http.client
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent",
}
SECRET = "bench-webhook-secret"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def git(*args, cwd=None):
    r = subprocess.run(["git", *args], cwd=cwd, env=dict(os.environ, **GIT_ENV),
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {r.stderr}")
    return r.stdout.strip()


def parse_duration(s):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for u in ("ms", "s", "m", "h"):
        if s.endswith(u) and s[:-len(u)].replace(".", "").isdigit():
            return float(s[:-len(u)]) * units[u]
    raise ValueError(f"not a duration: {s}")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def summary(xs):
    return {"n": len(xs), "median": statistics.median(xs), "p10": pct(xs, 10), "p90": pct(xs, 90),
            "min": min(xs), "max": max(xs)}


class Repo:
    def __init__(self, root):
        self.bare = os.path.join(root, "config.git")
        self.work = os.path.join(root, "config")
        git("init", "-q", "--bare", "-b", "main", self.bare)
        git("init", "-q", "-b", "main", self.work)
        git("remote", "add", "origin", self.bare, cwd=self.work)

    def write(self, rel, text):
        p = os.path.join(self.work, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)

    def commit(self, msg):
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "-m", msg, cwd=self.work)
        git("push", "-q", "origin", "HEAD:main", cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)


class Operator:
    def __init__(self, plumb, repo, path, root, extra):
        self.plumb = plumb
        self.state = os.path.join(root, "state")
        self.host = os.path.join(root, "host")
        os.makedirs(self.host, exist_ok=True)
        self.log_path = os.path.join(root, "operator.log")
        self.log = open(self.log_path, "ab")
        cmd = [plumb, "run", "--repo", repo, "--branch", "main", "--path", path,
               "--state-dir", self.state, "--allow-path", self.host, "--listen", "127.0.0.1:0",
               *extra]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        addr = os.path.join(self.state, "address")
        deadline = time.monotonic() + 60
        while not os.path.exists(addr):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"operator did not start; see {self.log_path}")
            time.sleep(0.02)
        with open(addr) as f:
            url = urllib.parse.urlparse(f.read().strip())
        with open(os.path.join(self.state, "token")) as f:
            self.token = f.read().strip()
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)

    def request(self, method, path, body=None, headers=None):
        """(seconds from request to whole body, status, body bytes). The server closes a
        keep-alive connection after 5 requests or 5 s idle (cpp-httplib's defaults); then
        the request is sent again on a new connection and only that attempt is timed."""
        headers = dict(headers or {}, Authorization="Bearer " + self.token)
        for attempt in (1, 2):
            t = time.perf_counter()
            try:
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                data = r.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                if attempt == 2:
                    raise
                continue
            if r.will_close:
                self.conn.close()
            return time.perf_counter() - t, r.status, data

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body, headers):
        _, code, data = self.request("POST", path, body, headers)
        return code, data

    def app(self, name):
        _, code, body = self.get(f"/api/v1/applications/{name}")
        return json.loads(body) if code == 200 else None

    def list_all(self, extra=""):
        """Every Application, page by page (limit=5000); returns (seconds, items, pages)."""
        items, after, total, pages = [], "", 0.0, 0
        while True:
            q = "?limit=5000" + (f"&continue={urllib.parse.quote(after)}" if after else "") + extra
            dt, code, body = self.get("/api/v1/applications" + q)
            if code != 200:
                raise RuntimeError(f"list answered {code}: {body[:200]!r}")
            total += dt
            pages += 1
            page = json.loads(body)
            items += page["items"]
            after = page["continue"]
            if not after:
                return total, items, pages

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        self.conn.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wait_applied(op, commit, timeout):
    """Seconds (monotonic) when root's appliedCommit became `commit`, polling every 5 ms."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        a = op.app("root")
        if a and a["status"]["appliedCommit"] == commit:
            return time.monotonic()
        time.sleep(0.005)
    raise RuntimeError(f"{commit[:7]} not applied within {timeout}s")


# --- list ------------------------------------------------------------------------------

def apps_repo(root, count):
    """A repository whose path root/ declares `count` child Applications (a00000, ...) in
    one apps.yaml, each following its own path apps/NAME with one ConfigMap. Returns
    (repo, commit)."""
    repo = Repo(root)
    docs = []
    for i in range(count):
        name = f"a{i:05d}"
        docs.append(f"apiVersion: plumbline.dev/v1\nkind: Application\nmetadata:\n  name: {name}\n"
                    f"spec:\n  source:\n    path: apps/{name}\n  sync:\n    interval: 1h\n")
        repo.write(f"apps/{name}/cm.yaml",
                   f"apiVersion: local.plumbline.dev/v1\nkind: ConfigMap\nmetadata:\n"
                   f"  name: {name}\ndata:\n  owner: team-{i % 37}\n  level: info\n")
    repo.write("root/apps.yaml", "---\n".join(docs))
    return repo, repo.commit(f"{count} Applications")


def bench_list(args, out):
    root = os.path.join(args.dir, "list")
    repo, commit = apps_repo(root, args.apps)
    log(f"list: repo with {args.apps} child Applications at {commit[:7]}")
    t0 = time.monotonic()
    op = Operator(args.plumb, repo.bare, "root", root, ["--interval", "1h"])
    try:
        want = args.apps + 1
        while True:
            _, items, _ = op.list_all()
            synced = sum(1 for a in items if a["status"]["sync"] == "Synced" and
                         a["status"]["appliedCommit"] == commit)
            if synced == want:
                break
            if time.monotonic() - t0 > args.load_timeout:
                raise RuntimeError(f"only {synced}/{want} Synced after {args.load_timeout}s")
            log(f"list: {len(items)} Applications known, {synced} Synced "
                f"({time.monotonic() - t0:.0f}s)")
            time.sleep(5)
        out["load_s"] = time.monotonic() - t0
        # Idle: no reconcile in flight (CPU time stops growing).
        while True:
            c = op.cpu_seconds()
            time.sleep(2)
            if op.cpu_seconds() - c < 0.1:
                break
        out["rss_mib_idle"] = op.rss_mib()
        log(f"list: all {want} Synced in {out['load_s']:.1f}s; RSS {out['rss_mib_idle']:.0f} MiB")
        out["load_before"] = loadavg()
        cpu0 = op.cpu_seconds()

        def run(label, fn):
            times = []
            for _ in range(args.requests):
                times.append(fn())
            out[label] = summary([t * 1000 for t in times])
            log(f"list: {label}: median {out[label]['median']:.1f} ms, "
                f"p90 {out[label]['p90']:.1f} ms ({args.requests} requests)")

        _, code, body = op.get("/api/v1/applications")
        page = json.loads(body)
        out["default_page_items"] = len(page["items"])
        out["default_page_bytes"] = len(body)
        assert code == 200 and (page["continue"] != "") == (want > len(page["items"])), page.keys()
        run("default_page_ms", lambda: op.get("/api/v1/applications")[0])
        _, _, body = op.get("/api/v1/applications?limit=5000")
        out["page5000_items"] = len(json.loads(body)["items"])
        out["page5000_bytes"] = len(body)
        run("page5000_ms", lambda: op.get("/api/v1/applications?limit=5000")[0])

        def full():
            dt, items, pages = op.list_all()
            assert len(items) == want, len(items)
            out["full_pages"] = pages
            return dt
        run("full_list_ms", full)
        # A filter that matches one Application still walks all of them.
        run("filtered_ms", lambda: op.get("/api/v1/applications?name=a09999")[0])
        out["cpu_s_during_requests"] = op.cpu_seconds() - cpu0
        out["load_after"] = loadavg()
    finally:
        op.stop()


# --- webhook and polling ---------------------------------------------------------------

def small_repo(root):
    repo = Repo(root)
    for i in range(100):
        repo.write(f"files/f{i:03d}.yaml",
                   f"apiVersion: local.plumbline.dev/v1\nkind: File\nmetadata:\n  name: f{i:03d}\n"
                   f"spec:\n  path: f{i:03d}.txt\n  content: |\n    value = {i}\n")
    return repo, repo.commit("100 Files")


def one_file_change(repo, n):
    repo.write("files/f000.yaml",
               "apiVersion: local.plumbline.dev/v1\nkind: File\nmetadata:\n  name: f000\n"
               f"spec:\n  path: f000.txt\n  content: |\n    value = change-{n}\n")
    return repo.commit(f"change {n}")


def bench_webhook(args, out):
    root = os.path.join(args.dir, "webhook")
    repo, c0 = small_repo(root)
    secret_file = os.path.join(root, "webhook-secret")
    with open(secret_file, "w") as f:
        f.write(SECRET + "\n")
    op = Operator(args.plumb, repo.bare, "files", root,
                  ["--interval", "1m", "--webhook-secret-file", secret_file])
    try:
        wait_applied(op, c0, 120)
        times, own = [], []
        out["load_before"] = loadavg()
        for n in range(args.webhook_reps):
            commit = one_file_change(repo, n)
            body = json.dumps({"ref": "refs/heads/main",
                               "repository": {"clone_url": "file://" + repo.bare}}).encode()
            sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            t0 = time.monotonic()
            wall0 = time.time()
            code, answer = op.post("/api/v1/webhooks/github", body,
                                   {"X-GitHub-Event": "push", "X-Hub-Signature-256": sig,
                                    "Content-Type": "application/json"})
            if code != 202:
                raise RuntimeError(f"webhook answered {code}: {answer!r}")
            t1 = wait_applied(op, commit, 60)
            times.append((t1 - t0) * 1000)
            _, _, hist = op.get("/api/v1/applications/root/history?limit=1")
            row = json.loads(hist)["items"][0]
            if row["trigger"] != "webhook" or row["revision"] != commit:
                raise RuntimeError(f"applied by {row['trigger']}, not the webhook: {row}")
            finished = datetime.datetime.fromisoformat(row["finishedAt"].replace("Z", "+00:00"))
            own.append((finished.timestamp() - wall0) * 1000)
            time.sleep(0.2)
        out["webhook_to_applied_ms"] = summary(times)
        out["webhook_to_history_finished_ms"] = summary(own)
        out["load_after"] = loadavg()
        r = subprocess.run([args.plumb, "status", "root", "-o", "json", "--state-dir", op.state],
                           capture_output=True, text=True)
        out["cli_check"] = json.loads(r.stdout)["status"]["appliedCommit"] == commit
        log(f"webhook: median {out['webhook_to_applied_ms']['median']:.0f} ms "
            f"({args.webhook_reps} pushes)")
    finally:
        op.stop()


def bench_poll(args, interval, reps, out):
    secs = parse_duration(interval)
    root = os.path.join(args.dir, f"poll-{interval}")
    repo, c0 = small_repo(root)
    op = Operator(args.plumb, repo.bare, "files", root, ["--interval", interval])
    rng = random.Random(1)
    try:
        wait_applied(op, c0, 120)
        times = []
        out["load_before"] = loadavg()
        for n in range(reps):
            time.sleep(rng.uniform(0, secs))
            commit = one_file_change(repo, n)
            t0 = time.monotonic()
            t1 = wait_applied(op, commit, secs * 2 + 60)
            times.append((t1 - t0) * 1000)
            log(f"poll {interval}: push {n + 1}/{reps} applied after {times[-1]:.0f} ms")
        out["push_to_applied_ms"] = summary(times)
        out["expected_median_ms"] = secs * 1000 / 2
        out["load_after"] = loadavg()
    finally:
        op.stop()


def machine():
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cpus": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
            "python": platform.python_version()}


def report(res):
    m = res["machine"]
    print(f"## API list and webhook latency ({res['source']})\n")
    print(f"{m['cpus']} CPUs ({m['cpu_model']}), kernel {m['kernel']}, Python {m['python']}; "
          f"binary {res['plumb']}.\n")
    if "list" in res:
        L = res["list"]
        print(f"### List of {res['apps']} Applications (+ root), {res['requests']} sequential "
              f"requests each, keep-alive\n")
        print(f"Loaded (all Synced) in {L['load_s']:.1f} s; operator RSS {L['rss_mib_idle']:.0f} "
              f"MiB idle. Load average before {L['load_before']}, after {L['load_after']}.\n")
        print("| request | items | bytes | median ms | p10 | p90 | max |")
        print("|---|---|---|---|---|---|---|")
        rows = [("GET /api/v1/applications (default page)", "default_page_ms",
                 L["default_page_items"], L["default_page_bytes"]),
                ("GET /api/v1/applications?limit=5000", "page5000_ms", L["page5000_items"],
                 L["page5000_bytes"]),
                (f"full list: {L.get('full_pages')} pages of limit=5000", "full_list_ms",
                 res["apps"] + 1, ""),
                ("GET /api/v1/applications?name=a09999 (1 match)", "filtered_ms", 1, "")]
        for label, key, items, size in rows:
            s = L[key]
            print(f"| {label} | {items} | {size} | {s['median']:.1f} | {s['p10']:.1f} | "
                  f"{s['p90']:.1f} | {s['max']:.1f} |")
        print()
    if "webhook" in res:
        W = res["webhook"]
        s, o = W["webhook_to_applied_ms"], W["webhook_to_history_finished_ms"]
        print("### One-file change: push to applied (ms)\n")
        print("| trigger | pushes | median | p10 | p90 | max | expected |")
        print("|---|---|---|---|---|---|---|")
        print(f"| GitHub push webhook (interval 1m) | {s['n']} | {s['median']:.0f} | "
              f"{s['p10']:.0f} | {s['p90']:.0f} | {s['max']:.0f} | — |")
        for interval, P in res.get("poll", {}).items():
            p = P["push_to_applied_ms"]
            print(f"| polling, --interval {interval} | {p['n']} | {p['median']:.0f} | "
                  f"{p['p10']:.0f} | {p['p90']:.0f} | {p['max']:.0f} | "
                  f"{P['expected_median_ms']:.0f} + one reconcile |")
        print(f"\nWebhook: the operator's history row finished a median {o['median']:.0f} ms "
              f"after the POST; `plumb status` agreed: {W['cli_check']}. "
              f"Load before {W['load_before']}, after {W['load_after']}.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plumb", default=os.path.join(os.path.dirname(__file__), "../build/plumb"))
    ap.add_argument("--apps", type=int, default=10000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--webhook-reps", type=int, default=20)
    ap.add_argument("--poll-intervals", nargs="*", default=["10s", "1m"])
    ap.add_argument("--poll-reps", nargs="*", type=int, default=[10, 4])
    ap.add_argument("--load-timeout", type=float, default=1800)
    ap.add_argument("--dir", default="/tmp/plumb-bench-api")
    ap.add_argument("--json")
    ap.add_argument("--source", default="", help="label for the binary's commit in the report")
    ap.add_argument("--skip-list", action="store_true")
    ap.add_argument("--skip-webhook", action="store_true")
    ap.add_argument("--skip-poll", action="store_true")
    args = ap.parse_args()
    args.plumb = os.path.abspath(args.plumb)
    shutil.rmtree(args.dir, ignore_errors=True)
    os.makedirs(args.dir)
    res = {"machine": machine(), "plumb": args.plumb, "apps": args.apps,
           "requests": args.requests, "source": args.source or "unlabelled build",
           "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    try:
        if not args.skip_list:
            res["list"] = {}
            bench_list(args, res["list"])
        if not args.skip_webhook:
            res["webhook"] = {}
            bench_webhook(args, res["webhook"])
        if not args.skip_poll:
            res["poll"] = {}
            for interval, reps in zip(args.poll_intervals, args.poll_reps):
                res["poll"][interval] = {}
                bench_poll(args, interval, reps, res["poll"][interval])
    finally:
        if args.json:
            with open(args.json, "w") as f:
                json.dump(res, f, indent=1)
    report(res)
    shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
