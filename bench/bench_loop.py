#!/usr/bin/env python3
"""plumbline end-to-end benchmark (issue 2): cold sync, peak memory, no-op reconcile and
one-file commit of N `File` resources, side by side in the same run with `git checkout`
of the same tree and with cfengine3 (`cf-agent`) copying the same files by digest.

    python3 bench/bench_loop.py [--sizes 1000 10000] [--big] [--plumb build/plumb]
                                [--dir /tmp/plumb-bench] [--reps 3] [--noop 5] [--commits 5]

Python 3 standard library only. For each N it generates the repositories with
bench/gen_repo.py (seed 1), then, per phase, runs plumbline, git and cf-agent one after
the other (interleaved per repetition, so a burst of load on this shared machine hits
all three) and reports medians and ratios. What each figure measures:

cold sync   wall time, fresh state dir and empty host dir:
              plumb:  plumb run --once (one reconcile: fetch + render + plan + apply +
                      health, one syncfs); its stages are read from engine.db afterwards
              git:    `git clone --no-checkout file://plain.git W` (not timed: the objects
                      are "fetched"), then timed `git -C W reset -q --hard HEAD`, which
                      writes every file into the empty work tree
              cf:     cf-agent -K -f copy.cf (copy_from plain/ to an empty dir,
                      compare => "digest", depth_search recurse inf)
            also reported: `git clone file://plain.git W` (transfer + checkout) for context
peak memory maximum RSS of each process above (GNU time %M: the ru_maxrss of wait4 on a
            child of this script includes this script's own RSS); and VmHWM and VmRSS of
            the long-running operator after the no-op and one-file phases
no-op       plumb: `plumb sync root -o json` on the running operator, then lastDurationMs
                   and lastStagesMs from `plumb status root -o json`
            git:   `git -C W reset -q --hard HEAD` on the checked-out tree
            cf:    the same cf-agent run again on the full destination
one-file    a commit changing one File's content, pushed; then
              plumb: `plumb sync root`; "fetch done to applied" = render + plan + apply +
                     health of that reconcile (lastStagesMs); lastDurationMs also reported
              git:   `git -C W fetch` (not timed), timed `git -C W reset -q --hard origin/main`
              cf:    the source file in plain/ is changed; timed cf-agent run
Every run is checked: the host directory must equal plain/ byte for byte.
"""
import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import urllib.request
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_repo  # noqa: E402

CF_POLICY = """\
body common control
{
  bundlesequence => { "bench_copy" };
}

bundle agent bench_copy
{
  files:
    "{dst}/."
      create => "true",
      copy_from => bench_digest("{src}"),
      depth_search => bench_recurse;
}

body copy_from bench_digest(from)
{
  source => "$(from)";
  compare => "digest";
  copy_backup => "false";
  preserve => "false";
}

body depth_search bench_recurse
{
  depth => "inf";
  xdev => "true";
}
"""


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def q(cmd):
    return " ".join(shlex.quote(c) for c in cmd)


class Run:
    def __init__(self, cmd, wall, maxrss_kb, user, sys_, rc, out, err):
        self.cmd, self.wall, self.maxrss_kb, self.user, self.sys = cmd, wall, maxrss_kb, user, sys_
        self.rc, self.out, self.err = rc, out, err


GNU_TIME = "/usr/bin/time"


def measure(cmd, check=True, **kw):
    """Runs cmd; returns wall seconds, peak RSS (KiB), CPU.

    The peak RSS is GNU time's %M (the command's own ru_maxrss, as time's child). The
    ru_maxrss that wait4 returns for a child of this Python process is useless for small
    commands: Linux carries the RSS high-water mark of the forked (or vforked) parent into
    the child across exec, so every child reported at least this script's own RSS (25-45
    MiB; the earlier report's identical git/cf-agent/git clone figures were that floor).
    Without /usr/bin/time it falls back to wait4, and says so in the figures' JSON."""
    # Start every timed command with no dirty pages left by the one before (the disk is
    # shared and mounted with `discard`: deletions and writeback of a previous step
    # otherwise land in the next one's time).
    os.sync()
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe, \
            tempfile.NamedTemporaryFile(mode="r") as fm:
        wrapped = cmd
        if os.access(GNU_TIME, os.X_OK):
            wrapped = [GNU_TIME, "-f", "%M", "-o", fm.name, *cmd]
        t0 = time.monotonic()
        p = subprocess.Popen(wrapped, stdout=fo, stderr=fe, **kw)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        maxrss = ru.ru_maxrss
        if wrapped is not cmd:
            lines = [x for x in fm.read().split("\n") if x.strip()]
            if lines and lines[-1].strip().isdigit():
                maxrss = int(lines[-1].strip())
        fo.seek(0)
        fe.seek(0)
        r = Run(cmd, wall, maxrss, ru.ru_utime, ru.ru_stime, p.returncode,
                fo.read().decode(errors="replace"), fe.read().decode(errors="replace"))
    if check and r.rc != 0:
        raise RuntimeError(f"{q(cmd)} exited {r.rc}\n{r.out[-2000:]}\n{r.err[-2000:]}")
    return r


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def rmtree(p):
    if os.path.exists(p):
        shutil.rmtree(p)


def tree_digest(root):
    """(number of regular files, sha256 over sorted relative paths and contents)."""
    h = hashlib.sha256()
    paths = []
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x != ".git"]
        for f in files:
            paths.append(os.path.relpath(os.path.join(d, f), root))
    paths.sort()
    for p in paths:
        h.update(p.encode() + b"\0")
        with open(os.path.join(root, p), "rb") as f:
            h.update(f.read())
    return len(paths), h.hexdigest()


def med(xs):
    return statistics.median(xs) if xs else float("nan")


class Operator:
    """A long-running `plumb run` (not --once) on an existing state dir."""

    def __init__(self, plumb, cfg_git, state, host, logpath):
        self.plumb, self.state = plumb, state
        for f in ("address", "token"):
            if os.path.exists(os.path.join(state, f)):
                os.remove(os.path.join(state, f))
        self.cmd = [plumb, "run", "--repo", cfg_git, "--branch", "main", "--path", "resources",
                    "--state-dir", state, "--allow-path", host, "--listen", "127.0.0.1:0",
                    "--interval", "1h"]
        self.log = open(logpath, "w")
        self.started_ms = int(time.time() * 1000)
        self.p = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT)

    def cli(self, *args):
        return [self.plumb, *args, "--state-dir", self.state]

    def status(self):
        # Only the fields above, not 100,000 resource rows (17 MB at 100,000): --summary where
        # the binary has it.
        if not hasattr(self, "summary"):
            self.summary = "--summary" in sh([self.plumb, "status", "--help"])
        out = sh(self.cli("status", "root", "-o", "json", *(["--summary"] if self.summary else [])))
        v = json.loads(out)
        return v.get("status", v)

    def wait_synced(self, timeout=1800):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                raise RuntimeError(f"plumb run exited {self.p.returncode}; see {self.log.name}")
            if os.path.exists(os.path.join(self.state, "address")):
                try:
                    st = self.status()
                    if (st.get("lastReconcileMs", 0) >= self.started_ms and st.get("phase") == "Idle"
                            and st.get("sync") == "Synced"):
                        return st
                except (subprocess.CalledProcessError, json.JSONDecodeError):
                    pass
            time.sleep(0.5)
        raise RuntimeError("operator did not become Synced")

    def sync(self):
        """Forces a reconcile; returns (CLI wall seconds, sync report, status after)."""
        t0 = time.monotonic()
        out = sh(self.cli("sync", "root", "-o", "json"))
        wall = time.monotonic() - t0
        return wall, json.loads(out), self.status()

    def reconciles(self):
        """plumb_reconcile_duration_seconds_count{name="root"} from /metrics (open on loopback):
        how many reconciles of root this operator has run."""
        with open(os.path.join(self.state, "address")) as f:
            url = f.read().strip()
        if not url.startswith("http"):
            url = "http://" + url
        with urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=30) as r:
            text = r.read().decode()
        for line in text.splitlines():
            if line.startswith("plumb_reconcile_duration_seconds_count") and 'name="root"' in line:
                return int(float(line.split()[-1]))
        return 0

    def vm(self):
        vals = {}
        with open(f"/proc/{self.p.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS"):
                    vals[k] = int(v.split()[0])
        return vals

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.log.close()


def stages_of(st):
    s = st.get("lastStagesMs", {})
    return {k: s.get(k, 0) for k in ("fetch", "render", "plan", "apply", "health")}


def bench_size(a, n):
    out = os.path.join(a.dir, f"n{n}")
    run = os.path.join(out, "run")
    res = {"n": n, "load_start": loadavg(), "commands": {}}
    log(f"== N={n}: generating {out} (load {loadavg()})")
    t0 = time.monotonic()
    gen_repo.generate(out, n, a.seed)
    res["generate_s"] = time.monotonic() - t0
    cfg_git, plain, plain_git = (os.path.join(out, x) for x in ("config.git", "plain", "plain.git"))
    os.makedirs(run)
    _, want = tree_digest(plain)
    policy = os.path.join(run, "copy.cf")

    def cf_cmd(dst):
        with open(policy, "w") as f:
            f.write(CF_POLICY.replace("{dst}", dst).replace("{src}", plain))
        os.chmod(policy, 0o600)
        return [a.cf_agent, "-K", "-f", policy]

    def plumb_once(state, host):
        return [a.plumb, "run", "--repo", cfg_git, "--branch", "main", "--path", "resources",
                "--state-dir", state, "--allow-path", host, "--listen", "127.0.0.1:0",
                "--interval", "1h", "--once"]

    def check_tree(root, what):
        count, d = tree_digest(root)
        if d != want_now[0]:
            raise RuntimeError(f"{what}: {root} differs from plain/ ({count} files)")

    want_now = [want]
    # ---- cold sync, interleaved repetitions
    reps = a.reps_big if n >= 100000 else a.reps
    cold = {"plumb": [], "git": [], "cf": [], "git_clone": [], "plumb_rss": [], "git_rss": [],
            "cf_rss": [], "git_clone_rss": [], "plumb_stages": [], "plumb_cpu": [], "load": []}
    for r in range(reps):
        last = r == reps - 1
        sfx = "" if last else f"-{r}"
        w, state, host, cfdst, clone = (os.path.join(run, x + sfx) for x in
                                        ("git-wt", "plumb-state", "plumb-host", "cf-dst", "git-clone"))
        cold["load"].append(loadavg())
        # git
        sh(["git", "clone", "-q", "--no-checkout", "file://" + plain_git, w])
        cmd = ["git", "-C", w, "reset", "-q", "--hard", "HEAD"]
        g = measure(cmd)
        cold["git"].append(g.wall)
        cold["git_rss"].append(g.maxrss_kb)
        res["commands"]["cold_git"] = f"git clone -q --no-checkout file://{plain_git} W && " + \
            f"time git -C W reset -q --hard HEAD"
        # cfengine
        os.makedirs(cfdst)
        c = measure(cf_cmd(cfdst))
        cold["cf"].append(c.wall)
        cold["cf_rss"].append(c.maxrss_kb)
        res["commands"]["cold_cf"] = f"time {a.cf_agent} -K -f copy.cf  # into an empty dir"
        # plumb: `--once` runs exactly one reconcile (the startup one); its status, read
        # from engine.db after the process has exited, holds that reconcile's stages.
        cmd = plumb_once(state, host)
        p = measure(cmd)
        cold["plumb"].append(p.wall)
        cold["plumb_rss"].append(p.maxrss_kb)
        cold["plumb_cpu"].append(p.user + p.sys)
        res["commands"]["cold_plumb"] = "time " + q(cmd)
        db = sqlite3.connect(os.path.join(state, "engine.db"))
        hist = db.execute("SELECT trigger, result, started_ms, finished_ms FROM history "
                          "WHERE app='root' ORDER BY id").fetchall()
        st = json.loads(db.execute("SELECT status FROM apps WHERE name='root'").fetchone()[0])
        db.close()
        stages = stages_of(st)
        # One reconcile applied everything: a single history row, and the status is that
        # reconcile's (a later no-op reconcile would have overwritten it with apply = 0 and
        # finished after the history row).
        if len(hist) != 1 or stages["apply"] == 0 or st["lastReconcileMs"] < hist[0][3]:
            raise RuntimeError(f"plumb run --once: expected one applying reconcile, got history "
                               f"{hist} and status stages {stages}")
        cold["plumb_stages"].append(stages | {"total": st["lastDurationMs"]})
        cold.setdefault("plumb_reconciles", []).append(
            {"history": [list(h) for h in hist],
             "history_ms": hist[0][3] - hist[0][2],
             "status_end_minus_history_end_ms": st["lastReconcileMs"] - hist[0][3]})
        if "Synced" not in p.out:
            raise RuntimeError(f"plumb run --once: {p.out} {p.err[-2000:]}")
        # git clone (transfer + checkout), for context
        gc = measure(["git", "clone", "-q", "file://" + plain_git, clone])
        cold["git_clone"].append(gc.wall)
        cold["git_clone_rss"].append(gc.maxrss_kb)
        res["commands"]["cold_git_clone"] = f"time git clone -q file://{plain_git} W"
        if last:
            check_tree(host, "plumb cold sync")
            check_tree(w, "git cold checkout")
            check_tree(cfdst, "cf-agent cold copy")
        for x in (w, state, host, cfdst) if not last else ():
            rmtree(x)
        rmtree(clone)
        log(f"   cold rep {r}: plumb {p.wall:.2f}s git {g.wall:.2f}s cf {c.wall:.2f}s "
            f"(load {loadavg()})")
    res["cold"] = cold
    w, state, host, cfdst = (os.path.join(run, x) for x in ("git-wt", "plumb-state", "plumb-host", "cf-dst"))

    # ---- no-op reconcile
    op = Operator(a.plumb, cfg_git, state, host, os.path.join(run, "operator.log"))
    res["commands"]["operator"] = q(op.cmd)
    try:
        t0 = time.monotonic()
        st0 = op.wait_synced()
        res["startup_s"] = time.monotonic() - t0
        res["startup_stages"] = stages_of(st0) | {"total": st0.get("lastDurationMs")}
        # A start runs one reconcile (it used to be followed at once by an "interval" one).
        time.sleep(2)
        res["startup_reconciles"] = op.reconciles()
        if res["startup_reconciles"] != 1:
            log(f"   WARNING: {res['startup_reconciles']} reconciles after the operator started")
        noop = {"plumb_total": [], "plumb_cli": [], "plumb_stages": [], "result": [], "git": [],
                "cf": [], "load": []}
        k = a.noop_big if n >= 100000 else a.noop
        for i in range(k):
            noop["load"].append(loadavg())
            wall, rep, st = op.sync()
            noop["plumb_cli"].append(wall)
            noop["plumb_total"].append(st["lastDurationMs"])
            noop["plumb_stages"].append(stages_of(st))
            noop["result"].append(rep.get("result"))
            noop["git"].append(measure(["git", "-C", w, "reset", "-q", "--hard", "HEAD"]).wall)
            noop["cf"].append(measure(cf_cmd(cfdst)).wall)
            log(f"   no-op {i}: plumb {st['lastDurationMs']} ms {stages_of(st)} "
                f"({rep.get('result')}), git {noop['git'][-1]*1000:.0f} ms, "
                f"cf {noop['cf'][-1]*1000:.0f} ms")
        res["commands"]["noop_plumb"] = q(op.cli("sync", "root", "-o", "json")) + \
            " && " + q(op.cli("status", "root", "-o", "json")) + "  # lastDurationMs, lastStagesMs"
        res["commands"]["noop_git"] = "time git -C W reset -q --hard HEAD"
        res["commands"]["noop_cf"] = f"time {a.cf_agent} -K -f copy.cf  # onto the full destination"
        res["noop"] = noop
        check_tree(host, "plumb after no-op")

        # ---- one-file commit
        one = {"plumb_f2a": [], "plumb_total": [], "plumb_cli": [], "plumb_stages": [], "git": [],
               "cf": [], "load": []}
        k = a.commits_big if n >= 100000 else a.commits
        for i in range(k):
            idx = (i * 7919 + n // 3) % n
            path, text = gen_repo.modify_one(out, idx, i + 1)
            _, want_now[0] = tree_digest(plain) if i == k - 1 else (0, None)
            one["load"].append(loadavg())
            wall, rep, st = op.sync()
            s = stages_of(st)
            one["plumb_cli"].append(wall)
            one["plumb_total"].append(st["lastDurationMs"])
            one["plumb_stages"].append(s)
            one["plumb_f2a"].append(s["render"] + s["plan"] + s["apply"] + s["health"])
            with open(os.path.join(host, path)) as f:
                if f.read() != text:
                    raise RuntimeError(f"plumb did not apply the change to {path}: {rep}")
            sh(["git", "-C", w, "fetch", "-q", "origin"])
            one["git"].append(measure(["git", "-C", w, "reset", "-q", "--hard", "origin/main"]).wall)
            one["cf"].append(measure(cf_cmd(cfdst)).wall)
            for root in (w, cfdst):
                with open(os.path.join(root, path)) as f:
                    if f.read() != text:
                        raise RuntimeError(f"{root}: change to {path} not applied")
            log(f"   one-file {i}: plumb {st['lastDurationMs']} ms {s} ({rep.get('result')}), "
                f"git {one['git'][-1]*1000:.0f} ms, cf {one['cf'][-1]*1000:.0f} ms")
        res["commands"]["one_plumb"] = ("edit one File's content in config/, git commit, git push; then "
                                        + q(op.cli("sync", "root", "-o", "json")) + " && "
                                        + q(op.cli("status", "root", "-o", "json"))
                                        + "  # render+plan+apply+health of lastStagesMs")
        res["commands"]["one_git"] = ("commit the same change to plain.git; git -C W fetch -q origin && "
                                      "time git -C W reset -q --hard origin/main")
        res["commands"]["one_cf"] = f"change the file in plain/; time {a.cf_agent} -K -f copy.cf"
        res["one"] = one
        check_tree(host, "plumb after one-file commits")
        check_tree(w, "git after one-file commits")
        check_tree(cfdst, "cf-agent after one-file commits")
        res["operator_vm_kb"] = op.vm()
        res["operator_reconciles"] = op.reconciles()
    finally:
        op.stop()
    res["load_end"] = loadavg()
    if not a.keep:
        rmtree(out)
    return res


def machine():
    def first(path, key):
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        return "?"
    try:
        disk = sh(["sh", "-c", "df -hT %s | tail -1" % shlex.quote(ARGS.dir)]).strip()
    except Exception:  # noqa: BLE001
        disk = "?"
    return {
        "nproc": os.cpu_count(),
        "cpu": first("/proc/cpuinfo", "model name"),
        "mem": first("/proc/meminfo", "MemTotal"),
        "kernel": platform.release(),
        "disk": disk,
        "git": sh(["git", "--version"]).strip(),
        "cfengine": sh([ARGS.cf_agent, "--version"]).strip(),
        "plumb": sh([ARGS.plumb, "--version"]).strip(),
        "plumb_mtime": time.strftime("%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(ARGS.plumb))),
        "python": platform.python_version(),
        "source": ARGS.source or source_rev(),
    }


def source_rev():
    """The commit build/plumb was built from, and whether the tree had local changes."""
    root = os.path.dirname(HERE)
    try:
        rev = sh(["git", "-C", root, "rev-parse", "--short", "HEAD"]).strip()
        dirty = sh(["git", "-C", root, "status", "--porcelain", "--untracked-files=no", "--", "src"])
        return rev + (f" + uncommitted changes in {len(dirty.splitlines())} files under src/"
                      if dirty.strip() else "")
    except Exception:  # noqa: BLE001
        return "?"


def fmt_s(x):
    return f"{x:.2f}"


def fmt_ms(x):
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}"


def report(m, results):
    L = []
    L.append(f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['mem']} RAM, kernel {m['kernel']}, "
             f"disk `{m['disk']}`; {m['git']}, {m['cfengine']}, plumb {m['plumb']} "
             f"(source {m['source']}, build/plumb modified {m['plumb_mtime']}).")
    L.append("")
    L.append("### Cold sync (seconds, median of the repetitions; ratios against `git checkout`)")
    L.append("")
    L.append("| N | plumb run --once | git checkout | cf-agent | plumb/git | cf/git | git clone (for context) | reps | load avg |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        c = r["cold"]
        pg, gg, cg = med(c["plumb"]), med(c["git"]), med(c["cf"])
        L.append(f"| {r['n']:,} | {fmt_s(pg)} | {fmt_s(gg)} | {fmt_s(cg)} | {pg/gg:.1f}× | {cg/gg:.1f}× | "
                 f"{fmt_s(med(c['git_clone']))} | {len(c['plumb'])} | {c['load'][0]} |")
    L.append("")
    L.append("Cold sync, where plumb's time goes (ms, lastStagesMs of the --once reconcile, median):")
    L.append("")
    L.append("| N | fetch | render | plan | apply | health | lastDurationMs | history row (finished − started) | process wall | CPU (user+sys) s |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        c = r["cold"]
        s = {k: med([x[k] for x in c["plumb_stages"]]) for k in c["plumb_stages"][0]}
        hist_ms = med([x["history_ms"] for x in c["plumb_reconciles"]])
        L.append(f"| {r['n']:,} | {s['fetch']:.0f} | {s['render']:.0f} | {s['plan']:.0f} | {s['apply']:.0f} | "
                 f"{s['health']:.0f} | {s['total']:.0f} | {hist_ms:.0f} | {med(c['plumb'])*1000:.0f} | "
                 f"{med(c['plumb_cpu']):.2f} |")
    L.append("")
    L.append("Reconciles: `--once` ran one (one history row, status = that reconcile) in every repetition; "
             "the long-running operator ran " + ", ".join(
                 f"{r.get('startup_reconciles')} at start and {r.get('operator_reconciles')} in all at {r['n']:,}"
                 for r in results) + " (`plumb_reconcile_duration_seconds_count`).")
    L.append("")
    L.append("### Peak memory (MiB, maximum resident set size)")
    L.append("")
    L.append("| N | plumb run --once | plumb run (VmHWM after all phases) | plumb run (VmRSS at the end) | git checkout | cf-agent | git clone |")
    L.append("|---|---|---|---|---|---|---|")
    for r in results:
        c = r["cold"]
        L.append(f"| {r['n']:,} | {max(c['plumb_rss'])/1024:.0f} | {r['operator_vm_kb'].get('VmHWM', 0)/1024:.0f} | "
                 f"{r['operator_vm_kb'].get('VmRSS', 0)/1024:.0f} | "
                 f"{max(c['git_rss'])/1024:.0f} | {max(c['cf_rss'])/1024:.0f} | {max(c['git_clone_rss'])/1024:.0f} |")
    L.append("")
    L.append("### No-op reconcile (ms, median)")
    L.append("")
    L.append("| N | plumb lastDurationMs | fetch | render | plan | apply | health | `plumb sync` CLI wall | git reset --hard | cf-agent | plumb/git | cf/git | runs |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        o = r["noop"]
        s = {k: med([x[k] for x in o["plumb_stages"]]) for k in o["plumb_stages"][0]}
        pt, gt, ct = med(o["plumb_total"]), med(o["git"]) * 1000, med(o["cf"]) * 1000
        L.append(f"| {r['n']:,} | {fmt_ms(pt)} | {s['fetch']:.0f} | {s['render']:.0f} | {s['plan']:.0f} | "
                 f"{s['apply']:.0f} | {s['health']:.0f} | {fmt_ms(med(o['plumb_cli'])*1000)} | {fmt_ms(gt)} | "
                 f"{fmt_ms(ct)} | {pt/gt:.1f}× | {ct/gt:.1f}× | {len(o['git'])} |")
    L.append("")
    L.append("### One-file commit (ms, median; plumb: from fetch done to applied = render+plan+apply+health)")
    L.append("")
    L.append("| N | plumb fetch→applied | fetch | render | plan | apply | health | lastDurationMs | `plumb sync` CLI wall | git reset --hard origin/main | cf-agent | plumb/git | cf/git | commits |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        o = r["one"]
        s = {k: med([x[k] for x in o["plumb_stages"]]) for k in o["plumb_stages"][0]}
        pf, gt, ct = med(o["plumb_f2a"]), med(o["git"]) * 1000, med(o["cf"]) * 1000
        L.append(f"| {r['n']:,} | {fmt_ms(pf)} | {s['fetch']:.0f} | {s['render']:.0f} | {s['plan']:.0f} | "
                 f"{s['apply']:.0f} | {s['health']:.0f} | {fmt_ms(med(o['plumb_total']))} | "
                 f"{fmt_ms(med(o['plumb_cli'])*1000)} | {fmt_ms(gt)} | {fmt_ms(ct)} | {pf/gt:.1f}× | {ct/gt:.1f}× | "
                 f"{len(o['git'])} |")
    L.append("")
    L.append("### Goals")
    L.append("")
    L.append("| goal | measured | met? |")
    L.append("|---|---|---|")
    by = {r["n"]: r for r in results}
    for r in results:
        c = r["cold"]
        ratio = med(c["plumb"]) / med(c["git"])
        L.append(f"| cold sync within 3× of git checkout ({r['n']:,}) | {ratio:.1f}× | {'yes' if ratio <= 3 else 'NO'} |")
    if 10000 in by:
        t = med(by[10000]["noop"]["plumb_total"])
        L.append(f"| no-op reconcile of 10,000 under 100 ms | {t:.0f} ms | {'yes' if t < 100 else 'NO'} |")
        t = med(by[10000]["one"]["plumb_f2a"])
        L.append(f"| one-file commit at 10,000 applied under 50 ms | {t:.0f} ms | {'yes' if t < 50 else 'NO'} |")
    if 100000 in by:
        c = by[100000]
        peak = max(max(c["cold"]["plumb_rss"]), c["operator_vm_kb"].get("VmHWM", 0)) / 1024
        L.append(f"| under 300 MB peak memory at 100,000 | {peak:.0f} MiB | {'yes' if peak * 1.048576 < 300 else 'NO'} |")
    L.append("")
    L.append("Commands (W is a clone of plain.git; copy.cf is written by bench_loop.py):")
    L.append("")
    for r in results:
        L.append(f"N={r['n']:,}:")
        L.append("")
        for k, v in r["commands"].items():
            L.append(f"    {k}: {v}")
        L.append("")
    return "\n".join(L)


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--big", action="store_true", help="add 100000")
    ap.add_argument("--plumb", default=os.path.join(os.path.dirname(HERE), "build", "plumb"))
    ap.add_argument("--cf-agent", default=shutil.which("cf-agent") or "/usr/bin/cf-agent")
    ap.add_argument("--dir", default=os.environ.get("PLUMB_BENCH_DIR", "/tmp/plumb-bench"),
                    help="work directory (on the disk being measured)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3, help="cold sync repetitions")
    ap.add_argument("--reps-big", type=int, default=1, help="cold sync repetitions at 100,000")
    ap.add_argument("--noop", type=int, default=5, help="no-op reconciles")
    ap.add_argument("--noop-big", type=int, default=3)
    ap.add_argument("--commits", type=int, default=5, help="one-file commits")
    ap.add_argument("--commits-big", type=int, default=3)
    ap.add_argument("--source", help="what --plumb was built from, for the report (default: this "
                    "checkout's HEAD and its uncommitted changes under src/)")
    ap.add_argument("--keep", action="store_true", help="keep the generated repositories")
    ap.add_argument("--json", help="also write the raw results here")
    a = ap.parse_args()
    ARGS = a
    a.plumb = os.path.abspath(a.plumb)
    a.dir = os.path.abspath(a.dir)
    sizes = list(a.sizes) + ([100000] if a.big and 100000 not in a.sizes else [])
    for tool in (a.plumb, a.cf_agent):
        if not os.access(tool, os.X_OK):
            sys.exit(f"bench_loop: {tool} is missing (make build; apt-get install cfengine3)")
    os.makedirs(a.dir, exist_ok=True)
    m = machine()
    m["load_start"] = loadavg()
    results = []
    for n in sizes:
        results.append(bench_size(a, n))
    m["load_end"] = loadavg()
    text = report(m, results)
    text += f"\nLoad average (1, 5, 15 min) at start {m['load_start']}, at end {m['load_end']}.\n"
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": m, "results": results}, f, indent=1)
    print(text)


ARGS = None

if __name__ == "__main__":
    main()
