#!/usr/bin/env python3
"""Cold sync of two plumb binaries side by side, with `git checkout` of the same tree.

    python3 bench/cold_ab.py --repo DIR --old OLD/plumb --new NEW/plumb [--reps 1] [--cf]

DIR is made by bench/gen_repo.py (config.git, plain/, plain.git). Per repetition, in
this order: `git clone --no-checkout` (not timed) then timed `git -C W reset -q --hard
HEAD`; optionally cf-agent copying plain/ by digest (as bench_loop.py); then `plumb run
--once` of OLD and of NEW (NEW first in odd repetitions), each from a fresh state directory into an empty host
directory; each timed run starts after a sync(2), so none waits for the write-back of
what the one before it wrote. Reported per run: wall time, user and system CPU seconds (what a loaded machine
distorts least), peak RSS (GNU time %M), the reconcile's stages
from engine.db, the time from the reconcile's end to the process's exit, and the load
average. Every host directory is checked against plain/ (file count and bytes).
"""
import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_loop  # noqa: E402


def timed(cmd, **kw):
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%M %e %U %S"] + cmd, capture_output=True, text=True,
                       **kw)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{cmd}: {p.returncode}: {p.stderr[-2000:]}")
    fields = p.stderr.strip().splitlines()[-1].split()
    p.cpu = (float(fields[2]), float(fields[3]))  # user, system seconds
    return wall, int(fields[0]), p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--cf", action="store_true")
    ap.add_argument("--work", default="/tmp/plumb-cold-ab")
    a = ap.parse_args()
    plain = os.path.join(a.repo, "plain")
    _, want = bench_loop.tree_digest(plain)
    rows = []
    for r in range(a.reps):
        shutil.rmtree(a.work, ignore_errors=True)
        os.makedirs(a.work)
        row = {"rep": r, "load": bench_loop.loadavg()}
        w = os.path.join(a.work, "git-wt")
        subprocess.run(["git", "clone", "-q", "--no-checkout",
                        "file://" + os.path.join(a.repo, "plain.git"), w], check=True)
        os.sync()
        row["git_s"], row["git_rss_kb"], g = timed(["git", "-C", w, "reset", "-q", "--hard", "HEAD"])
        row["git_user_sys_s"] = g.cpu
        if a.cf:
            dst = os.path.join(a.work, "cf-dst")
            os.makedirs(dst)
            policy = os.path.join(a.work, "copy.cf")
            with open(policy, "w") as f:
                f.write(bench_loop.CF_POLICY.replace("{dst}", dst).replace("{src}", plain))
            os.chmod(policy, 0o600)
            os.sync()
            row["cf_s"], row["cf_rss_kb"], _ = timed(["cf-agent", "-K", "-f", policy])
        # Alternate which binary goes first: the second one runs right after the first one's
        # 10,000 files were deleted, and ext4 without a journal (this machine's) skips
        # inodes freed in the last 30 s one by one while allocating (recently_deleted),
        # which costs the second one seconds.
        pair = (("old", a.old), ("new", a.new))
        for which, exe in (pair if r % 2 == 0 else pair[::-1]):
            state, host = (os.path.join(a.work, f"{which}-{x}") for x in ("state", "host"))
            cmd = [exe, "run", "--repo", os.path.join(a.repo, "config.git"), "--branch", "main",
                   "--path", "resources", "--state-dir", state, "--allow-path", host,
                   "--listen", "127.0.0.1:0", "--interval", "1h", "--once"]
            # Every timed run starts with nothing left to write back: plumb's final syncfs
            # would otherwise also wait for what git or cf-agent wrote just before it.
            os.sync()
            wall, rss, p = timed(cmd)
            end_ms = time.time() * 1000
            if "Synced" not in p.stdout:
                raise RuntimeError(f"{which}: {p.stdout} {p.stderr[-2000:]}")
            db = sqlite3.connect(os.path.join(state, "engine.db"))
            st = json.loads(db.execute("SELECT status FROM apps WHERE name='root'").fetchone()[0])
            db.close()
            count, d = bench_loop.tree_digest(host)
            if d != want:
                raise RuntimeError(f"{which}: {host} differs from plain/ ({count} files)")
            row[which] = {"wall_s": round(wall, 4), "user_sys_s": p.cpu,
                          "rss_mib": round(rss / 1024, 1),
                          "reconcile_ms": st["lastDurationMs"], "stages_ms": st["lastStagesMs"],
                          "exit_after_reconcile_s": round((end_ms - st["lastReconcileMs"]) / 1000, 2)}
            shutil.rmtree(state, ignore_errors=True)
            shutil.rmtree(host, ignore_errors=True)
        row["load_end"] = bench_loop.loadavg()
        print(json.dumps(row), flush=True)
        rows.append(row)
    shutil.rmtree(a.work, ignore_errors=True)


if __name__ == "__main__":
    main()
