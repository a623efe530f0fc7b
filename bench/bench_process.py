#!/usr/bin/env python3
"""plumbline Process benchmark (issue 3): commit-to-all-replicas-ready time, and the
operator's own CPU and memory while it supervises 500 idle replicas.

    python3 bench/bench_process.py [--plumb build/plumb] [--sizes 1 10 100]
                                   [--rollout-sizes 10 100] [--reps 3]
                                   [--idle 500] [--idle-window 60] [--skip-ready|--skip-idle]

Python 3 standard library only. Every repetition gets a fresh temporary directory, a bare
repository made with the git CLI (`git init --bare`) and a clone that commits and pushes
to it, and its own `plumb run --listen 127.0.0.1:0` with its own state directory.

ready       The operator starts on a commit with no resources (it syncs it), then a commit
            adds `web.yaml`, a Process of N replicas of `plumb demo-server` (one port
            `http` each, readinessProbe httpGet /healthz every 0.1 s). The clock starts when
            `git push` returns; right after, `plumb refresh root` asks for a reconcile (the
            operator runs with `--interval 1h`, so nothing else triggers one). The clock
            stops at the first poll (every 15 ms) of GET /api/v1/applications/root -- the
            answer `plumb status root -o json` prints -- whose appliedCommit is the new
            commit and whose Process web is Healthy with a message starting "N/N replicas
            ready", checked against the replicas' status.json files (N programs of the new
            template Running).
rollout     Then a commit changes the env var MESSAGE (v1 -> v2): a rolling update with the
            default strategy (maxSurge 25%, maxUnavailable 25%). Same clock, same stop
            condition, and the N running replicas must all be of the new template.
idle        A Process of --idle replicas is in the first commit; the operator runs with its
            production defaults (--supervise-interval 1s, --interval 1m). Once the status
            says all are ready, it waits --idle-settle s, then reads the operator's
            /proc/PID/stat utime+stime at the start and end of a --idle-window s window (and
            every 5 s in between) -> % of one core; VmRSS, VmHWM and Threads from
            /proc/PID/status at the end; for every shim (shim_pid of each status.json) its
            VmRSS, RssAnon, Pss (smaps_rollup) and CPU over the same window; the replicas'
            programs the same. Two variants: `sleep 100000` with no probe, and `plumb
            demo-server` with a tcpSocket readiness probe every 10 s.

Replicas outlive the operator: after every run the operator is stopped (SIGTERM) and every
shim and program it started is killed (also on failure or Ctrl-C), then checked gone.
"""
import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent",
}
POLL_S = 0.015
ARGS = None
LIVE_STATES = set()  # state dirs whose replicas must be killed at exit


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def git(*args, cwd=None):
    r = subprocess.run(["git", *args], cwd=cwd, env=dict(os.environ, **GIT_ENV),
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {r.stderr}")
    return r.stdout.strip()


class Repo:
    def __init__(self, root):
        self.bare = os.path.join(root, "config.git")
        self.work = os.path.join(root, "config")
        git("init", "-q", "--bare", "-b", "main", self.bare)
        git("init", "-q", "-b", "main", self.work)
        git("-C", self.work, "config", "gc.auto", "0")
        git("remote", "add", "origin", self.bare, cwd=self.work)

    def write(self, path, text):
        with open(os.path.join(self.work, path), "w") as f:
            f.write(text)

    def commit(self, message):
        """Commits and pushes; returns (sha, push seconds, wall time when the push returned)."""
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "--allow-empty", "-m", message, cwd=self.work)
        sha = git("rev-parse", "HEAD", cwd=self.work)
        t0 = time.monotonic()
        git("push", "-q", "origin", "HEAD:main", cwd=self.work)
        t1 = time.monotonic()
        return sha, t1 - t0, time.time(), t1


# ---- /proc ----

def proc_stat(pid):
    """(state, ppid, pgid, utime+stime ticks, starttime) or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return rest[0], int(rest[1]), int(rest[2]), int(rest[11]) + int(rest[12]), int(rest[19])


def proc_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem", "Threads"):
                    out[k] = int(v.split()[0])
    except OSError:
        return None
    return out


def proc_pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def alive(pid):
    s = proc_stat(pid) if pid else None
    return bool(s) and s[0] != "Z"


def replica_statuses(state):
    """status.json of every replica under STATE/processes, each with "dir"."""
    out = []
    root = os.path.join(state, "processes")
    if not os.path.isdir(root):
        return out
    for app in sorted(os.listdir(root)):
        for obj in sorted(os.listdir(os.path.join(root, app))):
            od = os.path.join(root, app, obj)
            if not os.path.isdir(od):
                continue
            for rep in sorted(os.listdir(od)):
                path = os.path.join(od, rep, "status.json")
                try:
                    with open(path) as f:
                        st = json.load(f)
                except (OSError, ValueError):
                    continue
                st["dir"] = os.path.join(od, rep)
                out.append(st)
    return out


def our_shims(state):
    """pids of every `plumb shim DIR` whose DIR is under this state dir (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if len(argv) >= 3 and argv[1] == b"shim" and argv[2].decode(errors="replace").startswith(
                state + "/"):
            out.append(int(d))
    return out


def children_of(pids):
    pids = set(pids)
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            s = proc_stat(int(d))
            if s and s[1] in pids:
                out.append(int(d))
    return out


def kill_replicas(state):
    """Kills every shim and program this state dir's operator started (they outlive it):
    from status.json (program's process group, shim) and, for shims that never wrote one,
    from /proc (shims by command line, their children's process groups). Returns what is
    still alive afterwards (should be [])."""
    victims = set()
    for st in replica_statuses(state):
        pid, shim = st.get("pid"), st.get("shim_pid")
        if pid and alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            victims.add(pid)
        if shim and alive(shim):
            victims.add(shim)
    shims = our_shims(state)
    for child in children_of(shims):
        try:
            os.killpg(child, signal.SIGKILL)
        except OSError:
            pass
        victims.add(child)
    victims.update(shims)
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    deadline = time.monotonic() + 10
    left = [p for p in victims if alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if alive(p)]
    return left, len(victims)


# ---- the operator ----

class Operator:
    def __init__(self, plumb, repo, root, extra):
        self.plumb = plumb
        self.state = os.path.join(root, "state")
        self.host = os.path.join(root, "host")
        os.makedirs(self.host, exist_ok=True)
        self.log_path = os.path.join(root, "operator.log")
        self.cmd = [plumb, "run", "--repo", repo.bare, "--branch", "main", "--path", ".",
                    "--state-dir", self.state, "--allow-path", self.host,
                    "--listen", "127.0.0.1:0", *extra]
        LIVE_STATES.add(self.state)
        self.logf = open(self.log_path, "ab")
        self.t_start = time.monotonic()
        self.p = subprocess.Popen(self.cmd, stdout=self.logf, stderr=self.logf,
                                  stdin=subprocess.DEVNULL)
        addr = os.path.join(self.state, "address")
        deadline = time.monotonic() + 60
        while not os.path.exists(addr):
            if self.p.poll() is not None:
                raise RuntimeError(f"operator exited {self.p.returncode}: {self.logs()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("operator did not listen within 60 s")
            time.sleep(0.01)
        time.sleep(0.01)
        with open(addr) as f:
            self.url = f.read().strip()
        with open(os.path.join(self.state, "token")) as f:
            self.token = f.read().strip()

    def logs(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def get(self, path):
        req = urllib.request.Request(self.url + path,
                                     headers={"Authorization": "Bearer " + self.token})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read()

    def status(self):
        return json.loads(self.get("/api/v1/applications/root"))

    def reconciles(self):
        total = 0.0
        for line in self.get("/metrics").decode().splitlines():
            if line.startswith("plumb_reconcile_duration_seconds_count"):
                total += float(line.rsplit(" ", 1)[1])
        return int(total)

    def cli(self, *args):
        t0 = time.monotonic()
        r = subprocess.run([self.plumb, *args, "--state-dir", self.state], capture_output=True,
                           text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"plumb {' '.join(args)} exited {r.returncode}: {r.stderr}")
        return r.stdout, time.monotonic() - t0

    def stop(self):
        """SIGTERM; returns seconds to exit (the replicas keep running)."""
        if self.p.poll() is not None:
            return None
        t0 = time.monotonic()
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            log("operator did not stop within 60 s of SIGTERM; killed")
        self.logf.close()
        return time.monotonic() - t0

    def problems(self):
        """Warning/error lines of the operator's log."""
        out = []
        for line in self.logs().splitlines():
            parts = line.split(" ", 2)  # TIME LEVEL message fields
            if len(parts) >= 2 and parts[1] in ("warn", "error"):
                out.append(line)
        return out


def teardown(op, result):
    """Stops the operator, kills its replicas, records what was left behind."""
    if op is None:
        return
    try:
        result["operator_stop_s"] = op.stop()
    except Exception as e:  # noqa: BLE001
        result["operator_stop_error"] = str(e)
    left, killed = kill_replicas(op.state)
    result["killed_processes"] = killed
    result["left_alive"] = left
    if not left:
        LIVE_STATES.discard(op.state)
    else:
        log(f"WARNING: {len(left)} processes of {op.state} still alive: {left}")
    probs = op.problems()
    result["log_problems"] = probs[:50]
    result["log_problem_count"] = len(probs)
    result["drift_lines"] = sum(1 for l in op.logs().splitlines() if "drift detected" in l)


def find_resource(app_status, kind="Process", name="web"):
    for r in app_status["status"].get("resources", []):
        if r.get("kind") == kind and r.get("name") == name:
            return r
    return None


def obj_dir(state):
    return os.path.join(state, "processes", "root", "Process..web")


def new_running(state, old_hashes):
    """status.json of replicas of any template not in old_hashes whose program runs."""
    out = []
    od = obj_dir(state)
    try:
        names = os.listdir(od)
    except OSError:
        return out
    for rep in names:
        if not rep.startswith("r"):
            continue
        parts = rep.split("-")
        if len(parts) < 3 or parts[1] in old_hashes:
            continue
        try:
            with open(os.path.join(od, rep, "status.json")) as f:
                st = json.load(f)
        except (OSError, ValueError):
            continue
        if st.get("state") == "Running" and alive(st.get("pid")):
            st["hash8"] = parts[1]
            out.append(st)
    return out


def hashes_running(state):
    return {s["hash8"] for s in new_running(state, set())}


def read_ready_log(state):
    rows = []
    try:
        with open(os.path.join(obj_dir(state), "ready.log")) as f:
            for line in f:
                xs = line.split()
                if len(xs) == 4:
                    rows.append([int(x) for x in xs])
    except OSError:
        pass
    return rows


# ---- manifests ----

def web_yaml(n, message):
    return f"""apiVersion: local.plumbline.dev/v1
kind: Process
metadata:
  name: web
spec:
  replicas: {n}
  command: [{json.dumps(ARGS.plumb)}, demo-server]
  env:
  - name: MESSAGE
    value: {message}
  ports:
  - name: http
  readinessProbe:
    httpGet: {{path: /healthz, port: http}}
    periodSeconds: 0.1
"""


def idle_yaml(n, variant):
    if variant == "sleep":
        return f"""apiVersion: local.plumbline.dev/v1
kind: Process
metadata:
  name: web
spec:
  replicas: {n}
  command: [sleep, "100000"]
"""
    return f"""apiVersion: local.plumbline.dev/v1
kind: Process
metadata:
  name: web
spec:
  replicas: {n}
  command: [{json.dumps(ARGS.plumb)}, demo-server]
  ports:
  - name: http
  readinessProbe:
    tcpSocket: {{port: http}}
    periodSeconds: 10
"""


# ---- ready ----

def wait_ready(op, n, sha, old_hashes, push_wall, push_mono, timeout):
    """Polls the status every 15 ms; returns the figures of this commit."""
    fig = {"applied_s": None, "stale_polls": 0, "polls": 0}
    deadline = push_mono + timeout
    last = None
    while True:
        now = time.monotonic()
        if now > deadline:
            raise RuntimeError(f"not ready within {timeout}s: {last}")
        try:
            s = op.status()
        except Exception as e:  # noqa: BLE001
            last = f"status error {e}"
            time.sleep(POLL_S)
            continue
        t = time.monotonic()
        fig["polls"] += 1
        st = s["status"]
        res = find_resource(s)
        last = (st.get("appliedCommit"), res and res.get("health"), res and res.get("message"))
        if st.get("appliedCommit") == sha:
            if fig["applied_s"] is None:
                fig["applied_s"] = t - push_mono
            if res and res.get("health") == "Healthy" and \
                    res.get("message", "").startswith(f"{n}/{n} replicas ready"):
                reps = new_running(op.state, old_hashes)
                if len(reps) >= n:
                    fig["ready_s"] = t - push_mono
                    fig["message"] = res["message"].split("\n")[0]
                    fig["new_hash8"] = sorted({r["hash8"] for r in reps})
                    started = [r.get("started_ms", 0) for r in reps]
                    fig["first_program_start_s"] = min(started) / 1000 - push_wall
                    fig["last_program_start_s"] = max(started) / 1000 - push_wall
                    fig["restarts"] = sum(r.get("restarts", 0) for r in reps)
                    break
                fig["stale_polls"] += 1  # the status says ready but the files disagree
        time.sleep(POLL_S)
    # When the supervisor itself saw all N of the new template ready (ready.log).
    push_ms = push_wall * 1000
    for ts, total, cur, want in read_ready_log(op.state):
        if ts >= push_ms - 5 and cur == n and total == n and want == n:
            fig["supervisor_ready_s"] = ts / 1000 - push_wall
            break
    return fig


def bench_ready_rep(n, rep, rollout):
    root = tempfile.mkdtemp(prefix=f"pb-proc-n{n}-r{rep}-", dir=ARGS.dir)
    result = {"n": n, "rep": rep, "dir": root}
    op = None
    try:
        repo = Repo(root)
        repo.write("README.md", "benchmark\n")
        base, _, _, _ = repo.commit("empty")
        op = Operator(ARGS.plumb, repo, root,
                      ["--interval", "1h", "--supervise-interval", ARGS.supervise_interval])
        deadline = time.monotonic() + 60
        while True:
            st = op.status()["status"]
            if st.get("appliedCommit") == base and st.get("sync") == "Synced":
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"first commit not synced: {st}")
            time.sleep(0.05)
        time.sleep(0.3)
        # --- cold: the Process appears in git ---
        result["load_before"] = loadavg()
        repo.write("web.yaml", web_yaml(n, "v1"))
        sha, push_s, push_wall, push_mono = repo.commit(f"web x{n}")
        _, refresh_s = op.cli("refresh", "root")
        fig = wait_ready(op, n, sha, set(), push_wall, push_mono, ARGS.timeout)
        fig.update(push_s=push_s, refresh_cli_s=refresh_s)
        result["cold"] = fig
        # Cross-check with the CLI itself once.
        out, _ = op.cli("status", "root", "-o", "json")
        r = find_resource(json.loads(out))
        result["cli_check"] = f"{r['health']}: {r['message'].splitlines()[0]}"
        log(f"n={n} rep={rep} cold: ready {fig['ready_s']:.3f}s (applied "
            f"{fig['applied_s']:.3f}s, last program start {fig['last_program_start_s']:.3f}s, "
            f"supervisor ready {fig.get('supervisor_ready_s', float('nan')):.3f}s)")
        if rollout:
            time.sleep(0.5)
            old = hashes_running(op.state)
            result["load_before_rollout"] = loadavg()
            ready_rows_before = len(read_ready_log(op.state))
            repo.write("web.yaml", web_yaml(n, "v2"))
            sha, push_s, push_wall, push_mono = repo.commit(f"web x{n} v2")
            _, refresh_s = op.cli("refresh", "root")
            fig = wait_ready(op, n, sha, old, push_wall, push_mono, ARGS.timeout)
            fig.update(push_s=push_s, refresh_cli_s=refresh_s, old_hash8=sorted(old))
            rows = read_ready_log(op.state)[ready_rows_before:]
            if rows:
                fig["min_ready_during"] = min(r[1] for r in rows)
                fig["max_ready_during"] = max(r[1] for r in rows)
            result["rollout"] = fig
            log(f"n={n} rep={rep} rollout: ready {fig['ready_s']:.3f}s (applied "
                f"{fig['applied_s']:.3f}s, supervisor ready "
                f"{fig.get('supervisor_ready_s', float('nan')):.3f}s), ready count during "
                f"{fig.get('min_ready_during')}..{fig.get('max_ready_during')}")
        result["reconciles"] = op.reconciles()
    finally:
        teardown(op, result)
        if not ARGS.keep and not result.get("left_alive"):
            shutil.rmtree(root, ignore_errors=True)
    return result


# ---- idle ----

def sample_operator(pid):
    s = proc_stat(pid)
    return time.monotonic(), s[3] if s else None


def bench_idle(n, variant):
    root = tempfile.mkdtemp(prefix=f"pb-proc-idle-{variant}-", dir=ARGS.dir)
    result = {"n": n, "variant": variant, "dir": root}
    op = None
    try:
        repo = Repo(root)
        repo.write("web.yaml", idle_yaml(n, variant))
        sha, _, _, push_mono = repo.commit(f"{variant} x{n}")
        result["load_before"] = loadavg()
        op = Operator(ARGS.plumb, repo, root, ["--supervise-interval", ARGS.supervise_interval])
        t0 = op.t_start
        deadline = t0 + ARGS.idle_timeout
        while True:
            s = op.status()
            res = find_resource(s)
            if s["status"].get("appliedCommit") == sha and res and res.get("health") == "Healthy" \
                    and res.get("message", "").startswith(f"{n}/{n} replicas ready"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{n} replicas not ready within {ARGS.idle_timeout}s: "
                                   f"{res and res.get('message', '')[:300]}")
            time.sleep(0.5)
        result["all_ready_s"] = time.monotonic() - t0
        reps = replica_statuses(op.state)
        result["replica_dirs"] = len(reps)
        log(f"idle {variant}: {n} ready {result['all_ready_s']:.1f}s after the operator started")
        time.sleep(ARGS.idle_settle)
        pid = op.p.pid
        reps = [r for r in replica_statuses(op.state) if alive(r.get("shim_pid"))]
        shims = [r["shim_pid"] for r in reps]
        progs = [r["pid"] for r in reps if alive(r.get("pid"))]

        def cpu_of(pids):
            tot = 0
            for p in pids:
                s = proc_stat(p)
                if s:
                    tot += s[3]
            return tot

        rec0 = op.reconciles()
        result["load_window_start"] = loadavg()
        shim_cpu0, prog_cpu0 = cpu_of(shims), cpu_of(progs)
        w0, c0 = sample_operator(pid)
        series = []
        prev_t, prev_c = w0, c0
        end = w0 + ARGS.idle_window
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(5.0, left))
            t, c = sample_operator(pid)
            series.append(round((c - prev_c) / CLK_TCK / (t - prev_t) * 100, 3))
            prev_t, prev_c = t, c
        w1, c1 = prev_t, prev_c
        shim_cpu1, prog_cpu1 = cpu_of(shims), cpu_of(progs)
        result["load_window_end"] = loadavg()
        rec1 = op.reconciles()
        wall = w1 - w0
        result["window_s"] = wall
        result["op_cpu_s"] = (c1 - c0) / CLK_TCK
        result["op_cpu_pct"] = (c1 - c0) / CLK_TCK / wall * 100
        result["op_cpu_pct_5s"] = series
        result["reconciles_in_window"] = rec1 - rec0
        stv = proc_status(pid)
        result["op_mem_kb"] = stv
        result["op_pss_kb"] = proc_pss_kb(pid)
        result["shims_cpu_pct"] = (shim_cpu1 - shim_cpu0) / CLK_TCK / wall * 100
        result["programs_cpu_pct"] = (prog_cpu1 - prog_cpu0) / CLK_TCK / wall * 100

        def mem_of(pids):
            rows = []
            for p in pids:
                s = proc_status(p)
                if s:
                    rows.append({"rss": s.get("VmRSS", 0), "anon": s.get("RssAnon", 0),
                                 "file": s.get("RssFile", 0), "pss": proc_pss_kb(p) or 0,
                                 "threads": s.get("Threads", 0)})
            agg = {"count": len(rows)}
            for k in ("rss", "anon", "file", "pss", "threads"):
                xs = [r[k] for r in rows]
                agg[k + "_sum"] = sum(xs)
                agg[k + "_min"] = min(xs) if xs else 0
                agg[k + "_med"] = med(xs) if xs else 0
                agg[k + "_max"] = max(xs) if xs else 0
            return agg

        result["shims_mem"] = mem_of(shims)
        result["programs_mem"] = mem_of(progs)
        log(f"idle {variant}: operator {result['op_cpu_pct']:.3f}% of one core over {wall:.0f}s "
            f"({series}), VmRSS {stv.get('VmRSS', 0) / 1024:.1f} MiB, VmHWM "
            f"{stv.get('VmHWM', 0) / 1024:.1f} MiB; shims RSS sum "
            f"{result['shims_mem']['rss_sum'] / 1024:.0f} MiB (PSS "
            f"{result['shims_mem']['pss_sum'] / 1024:.0f} MiB)")
        if ARGS.strace and shutil.which("strace"):
            # What one tick does: the operator's system calls over a few seconds (after the
            # window, so strace's overhead is not in the figures above).
            sfile = os.path.join(root, "strace.txt")
            try:
                subprocess.run(["timeout", "-s", "INT", str(ARGS.strace), "strace", "-f", "-c",
                                "-o", sfile, "-p", str(pid)], capture_output=True, timeout=60)
                with open(sfile) as f:
                    result["strace_c"] = f.read()
            except Exception as e:  # noqa: BLE001
                result["strace_c"] = f"strace failed: {e}"
    finally:
        teardown(op, result)
        if not ARGS.keep and not result.get("left_alive"):
            shutil.rmtree(root, ignore_errors=True)
    return result


# ---- report ----

def machine():
    def first(path, key):
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        return "?"
    return {
        "nproc": os.cpu_count(),
        "cpu": first("/proc/cpuinfo", "model name"),
        "mem": first("/proc/meminfo", "MemTotal"),
        "kernel": platform.release(),
        "git": subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip(),
        "plumb": ARGS.plumb,
        "plumb_mtime": time.strftime("%Y-%m-%d %H:%M",
                                     time.localtime(os.path.getmtime(ARGS.plumb))),
        "python": platform.python_version(),
        "source": ARGS.source or source_rev(),
    }


def source_rev():
    root = os.path.dirname(HERE)
    try:
        rev = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain",
                                "--untracked-files=no", "--", "src"],
                               capture_output=True, text=True).stdout
        return rev + (f" + uncommitted changes in {len(dirty.splitlines())} files under src/"
                      if dirty.strip() else "")
    except Exception:  # noqa: BLE001
        return "?"


def spread(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "–", "–"
    return f"{med(xs):.2f}", f"{min(xs):.2f}–{max(xs):.2f}"


def report(m, ready, idle):
    L = [f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['mem']} RAM, kernel {m['kernel']}; "
         f"{m['git']}; Python {m['python']}; plumb {m['plumb']} (source {m['source']}, "
         f"modified {m['plumb_mtime']}).", ""]
    if ready:
        L += ["### Commit to all replicas ready (seconds from `git push` returning; median, "
              "min–max over the repetitions)", "",
              "| change | N | reps | ready (status shows N/N) | min–max | applied (appliedCommit) "
              "| last program started | supervisor saw N/N (ready.log) | status polls that "
              "disagreed with the files |",
              "|---|---|---|---|---|---|---|---|---|"]
        for phase in ("cold", "rollout"):
            for n in sorted({r["n"] for r in ready}):
                rows = [r[phase] for r in ready if r["n"] == n and phase in r]
                if not rows:
                    continue
                rd, rs = spread([r["ready_s"] for r in rows])
                ap, _ = spread([r["applied_s"] for r in rows])
                lp, _ = spread([r.get("last_program_start_s") for r in rows])
                sv, _ = spread([r.get("supervisor_ready_s") for r in rows])
                stale = sum(r["stale_polls"] for r in rows)
                what = "new Process" if phase == "cold" else "env change (rolling)"
                L.append(f"| {what} | {n} | {len(rows)} | **{rd}** | {rs} | {ap} | {lp} | {sv} | "
                         f"{stale} |")
        L.append("")
        L.append("Per repetition (ready s): " + "; ".join(
            f"N={n} {ph}: " + ", ".join(f"{r[ph]['ready_s']:.2f}" for r in ready
                                         if r["n"] == n and ph in r)
            for ph in ("cold", "rollout") for n in sorted({r["n"] for r in ready})
            if any(ph in r for r in ready if r["n"] == n)))
        L.append("")
    for r in idle:
        mem = r["op_mem_kb"]
        sm, pm = r["shims_mem"], r["programs_mem"]
        L += [f"### {r['n']} idle replicas: `{r['variant']}`", "",
              f"* all {r['n']} ready {r['all_ready_s']:.1f} s after the operator started",
              f"* operator CPU over {r['window_s']:.0f} s: **{r['op_cpu_pct']:.2f} % of one core** "
              f"({r['op_cpu_s']:.2f} CPU s; per 5 s: {r['op_cpu_pct_5s']}); reconciles in the "
              f"window: {r['reconciles_in_window']}",
              f"* operator memory: **VmRSS {mem.get('VmRSS', 0) / 1024:.1f} MiB**, VmHWM "
              f"{mem.get('VmHWM', 0) / 1024:.1f} MiB (RssAnon {mem.get('RssAnon', 0) / 1024:.1f}, "
              f"RssFile {mem.get('RssFile', 0) / 1024:.1f}; PSS "
              f"{(r['op_pss_kb'] or 0) / 1024:.1f} MiB), {mem.get('Threads')} threads",
              f"* shims ({sm['count']}): VmRSS sum {sm['rss_sum'] / 1024:.0f} MiB (per shim "
              f"{sm['rss_med'] / 1024:.2f} MiB median, {sm['rss_min'] / 1024:.2f}–"
              f"{sm['rss_max'] / 1024:.2f}); PSS sum {sm['pss_sum'] / 1024:.0f} MiB; RssAnon sum "
              f"{sm['anon_sum'] / 1024:.0f} MiB; CPU {r['shims_cpu_pct']:.2f} % of one core "
              f"in all",
              f"* programs ({pm['count']}): VmRSS sum {pm['rss_sum'] / 1024:.0f} MiB, PSS sum "
              f"{pm['pss_sum'] / 1024:.0f} MiB, {pm['threads_sum']} threads, CPU "
              f"{r['programs_cpu_pct']:.2f} %",
              f"* load average: {r['load_before']} before, {r['load_window_start']} at the window's "
              f"start, {r['load_window_end']} at its end", ""]
    allr = ready + idle
    L.append("Left behind after teardown: " + str(sum(len(r.get("left_alive", [])) for r in allr))
             + " processes; operator log warning/error lines: " +
             str(sum(r.get("log_problem_count", 0) for r in allr)) + ".")
    return "\n".join(L) + "\n"


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plumb", default=os.path.join(os.path.dirname(HERE), "build", "plumb"))
    ap.add_argument("--dir", default=os.environ.get("PLUMB_BENCH_DIR", "/tmp"),
                    help="where the temporary directories go")
    ap.add_argument("--sizes", type=int, nargs="*", default=[1, 10, 100])
    ap.add_argument("--rollout-sizes", type=int, nargs="*", default=[10, 100])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=180, help="per ready measurement, seconds")
    ap.add_argument("--idle", type=int, default=500, help="replicas of the idle runs (0: skip)")
    ap.add_argument("--idle-variants", nargs="*", default=["sleep", "tcp"])
    ap.add_argument("--idle-window", type=float, default=60)
    ap.add_argument("--idle-settle", type=float, default=10)
    ap.add_argument("--idle-timeout", type=float, default=600)
    ap.add_argument("--supervise-interval", default="1s")
    ap.add_argument("--strace", type=float, default=0,
                    help="after each idle window, `strace -f -c` the operator for this many s")
    ap.add_argument("--skip-ready", action="store_true")
    ap.add_argument("--skip-idle", action="store_true")
    ap.add_argument("--source", help="what --plumb was built from, for the report")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    ap.add_argument("--json", help="also write the raw results here")
    a = ap.parse_args()
    ARGS = a
    a.plumb = os.path.abspath(a.plumb)
    if not os.access(a.plumb, os.X_OK):
        sys.exit(f"bench_process: {a.plumb} is missing (make build)")
    os.makedirs(a.dir, exist_ok=True)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)

    m = machine()
    m["load_start"] = loadavg()
    m["started"] = time.strftime("%Y-%m-%d %H:%M:%S")
    ready, idle = [], []
    try:
        if not a.skip_ready:
            for n in a.sizes:
                for rep in range(1, a.reps + 1):
                    ready.append(bench_ready_rep(n, rep, n in a.rollout_sizes))
        if not a.skip_idle and a.idle > 0:
            for v in a.idle_variants:
                idle.append(bench_idle(a.idle, v))
    finally:
        for state in list(LIVE_STATES):  # whatever a failure left running
            left, _ = kill_replicas(state)
            if left:
                log(f"WARNING: still alive after cleanup of {state}: {left}")
        m["load_end"] = loadavg()
        m["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"machine": m, "ready": ready, "idle": idle}, f, indent=1)
    text = report(m, ready, idle)
    text += (f"\nRun {m['started']} – {m['finished']}; load average (1, 5, 15 min) at start "
             f"{m['load_start']}, at end {m['load_end']}.\n")
    print(text)


if __name__ == "__main__":
    main()
