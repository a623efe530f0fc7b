#!/usr/bin/env python3
"""plumbline secrets benchmark (issue 5): what unsealing costs a sync, side by side in one run.

    python3 bench/bench_secrets.py [--sizes 100 1000] [--plumb build/plumb] [--reps 3]
                                   [--bits 4096] [--dir /tmp/plumb-bench-secrets]

For each N it makes two repositories holding the same N Secrets (two values each) and N
Files taking their content from them (`spec.fromSecret`):

  plain    the Secrets in plaintext (run with --allow-plaintext-secrets)
  sealed   the same Secrets as SealedSecrets made by `plumb seal --cert` (strict scope,
           RSA-`--bits` keys, as kubeseal makes them)

and measures, interleaved per repetition so a burst of load on this shared machine hits
both:

  cold sync  wall time of `plumb run --once` with a fresh state directory (the sealing
             key restored from a backup with --restore-keys, so key generation is not
             counted) and an empty host directory: fetch + render + unseal + plan + apply
  no-op      `plumb sync root` on a running operator, then lastDurationMs from
             `plumb status root -o json` (the unsealed Secrets are cached per commit)

Every run is checked: each File holds its Secret's value. Python 3 standard library only.
Prints a markdown table on stdout (progress on stderr).
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost"}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True,
                          env=dict(os.environ, **GIT_ENV), **kw)


def secret_yaml(i):
    return (f"apiVersion: local.plumbline.dev/v1\nkind: Secret\nmetadata:\n  name: s{i}\n"
            f"stringData:\n  password: pw-{i}-0123456789abcdef\n  token: tok-{i}-fedcba9876543210\n")


def file_yaml(i, host):
    return (f"apiVersion: local.plumbline.dev/v1\nkind: File\nmetadata:\n  name: f{i}\n"
            f"spec:\n  path: {host}/f{i}\n  fromSecret: {{name: s{i}, key: password}}\n")


def make_repo(base, name, n, host, secret_text):
    bare = os.path.join(base, name + ".git")
    work = os.path.join(base, name)
    run(["git", "init", "-q", "--bare", "-b", "main", bare])
    run(["git", "init", "-q", "-b", "main", work])
    for i in range(n):
        with open(os.path.join(work, f"s{i}.yaml"), "w") as f:
            f.write(secret_text(i))
        with open(os.path.join(work, f"f{i}.yaml"), "w") as f:
            f.write(file_yaml(i, host))
    run(["git", "-C", work, "add", "-A"])
    run(["git", "-C", work, "commit", "-q", "-m", name])
    run(["git", "-C", work, "push", "-q", bare, "main"])
    return bare


def check_host(host, n):
    for i in range(n):
        with open(os.path.join(host, f"f{i}")) as f:
            if f.read() != f"pw-{i}-0123456789abcdef":
                raise SystemExit(f"bench: {host}/f{i} does not hold its Secret's value")


def fresh(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


def cold(plumb, bare, backup, base, host, n, plain):
    state = os.path.join(base, "state")
    shutil.rmtree(state, ignore_errors=True)
    fresh(host)
    cmd = [plumb, "run", "--once", "--repo", bare, "--branch", "main", "--state-dir", state,
           "--allow-path", host, "--restore-keys", backup, "--listen", "127.0.0.1:0",
           "--log-level", "warn"]
    if plain:
        cmd.append("--allow-plaintext-secrets")
    t = time.monotonic()
    run(cmd)
    dt = time.monotonic() - t
    check_host(host, n)
    return dt


def noop(plumb, bare, backup, base, host, n, plain, reps):
    state = os.path.join(base, "state")
    shutil.rmtree(state, ignore_errors=True)
    fresh(host)
    cmd = [plumb, "run", "--repo", bare, "--branch", "main", "--state-dir", state,
           "--allow-path", host, "--restore-keys", backup, "--listen", "127.0.0.1:0",
           "--interval", "1h", "--log-level", "warn"]
    if plain:
        cmd.append("--allow-plaintext-secrets")
    op = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while True:
            r = subprocess.run([plumb, "status", "root", "-o", "json", "--state-dir", state],
                               capture_output=True, text=True)
            if r.returncode == 0 and json.loads(r.stdout)["status"]["sync"] == "Synced":
                break
            if time.monotonic() > deadline or op.poll() is not None:
                raise SystemExit("bench: the operator did not sync")
            time.sleep(0.2)
        check_host(host, n)
        out = []
        for _ in range(reps):
            run([plumb, "sync", "root", "--state-dir", state])
            st = json.loads(run([plumb, "status", "root", "-o", "json", "--state-dir", state]).stdout)
            out.append(st["status"]["lastDurationMs"])
        return statistics.median(out)
    finally:
        op.terminate()
        op.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--plumb", default=os.path.join(ROOT, "build", "plumb"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--bits", type=int, default=4096)
    ap.add_argument("--dir", default="/tmp/plumb-bench-secrets")
    a = ap.parse_args()
    plumb = os.path.abspath(a.plumb)
    fresh(a.dir)
    keys = os.path.join(a.dir, "keys-state")
    run([plumb, "keys", "init", "--state-dir", keys, "--bits", str(a.bits)])
    backup = os.path.join(a.dir, "keys.backup")
    run([plumb, "keys", "backup", "--state-dir", keys, "-f", backup])
    cert = os.path.join(a.dir, "cert.pem")
    with open(cert, "w") as f:
        f.write(run([plumb, "keys", "export-public", "--state-dir", keys]).stdout)

    rows = []
    for n in a.sizes:
        base = os.path.join(a.dir, str(n))
        fresh(base)
        host = os.path.join(base, "host")
        log(f"N={n}: sealing {n} Secrets")
        t = time.monotonic()
        sealed = [run([plumb, "seal", "--cert", cert], input=secret_yaml(i)).stdout
                  for i in range(n)]
        seal_s = time.monotonic() - t
        plain_bare = make_repo(base, "plain", n, host, secret_yaml)
        sealed_bare = make_repo(base, "sealed", n, host, lambda i: sealed[i])
        c_plain, c_sealed = [], []
        for rep in range(a.reps):
            log(f"N={n}: cold sync, repetition {rep + 1}")
            c_plain.append(cold(plumb, plain_bare, backup, base, host, n, True))
            c_sealed.append(cold(plumb, sealed_bare, backup, base, host, n, False))
        log(f"N={n}: no-op reconciles")
        n_plain = noop(plumb, plain_bare, backup, base, host, n, True, a.reps)
        n_sealed = noop(plumb, sealed_bare, backup, base, host, n, False, a.reps)
        rows.append((n, statistics.median(c_plain), statistics.median(c_sealed), n_plain,
                     n_sealed, seal_s / n))

    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"{platform.platform()}; RSA-{a.bits}; median of {a.reps}\n")
    print("| Secrets (2 values each) + Files | cold sync plain (s) | cold sync sealed (s) "
          "| ratio | no-op plain (ms) | no-op sealed (ms) | ratio | plumb seal per Secret (ms) |")
    print("|---|---|---|---|---|---|---|---|")
    for n, cp, cs, np_, ns, sp in rows:
        print(f"| {n} | {cp:.2f} | {cs:.2f} | {cs / cp:.2f} | {np_:.0f} | {ns:.0f} | "
              f"{ns / max(np_, 1):.2f} | {sp * 1000:.1f} |")


if __name__ == "__main__":
    main()
