#!/usr/bin/env python3
"""The benchmark of issue 7 (secret scanning): recall and precision per rule on a labelled
corpus (bench/gen_scan_corpus.py), then plumbline vs ripgrep (the same patterns) vs
secretlint (its recommended preset) side by side on that corpus, in one run.

  python3 bench/bench_scan.py [--files 400] [--filler-mb 20] [--reps 3] [--no-secretlint]
                              [--history-repo PATH]

Needs build/plumb and build/bench/scan_bench (configure with -DPLUMB_BENCH=ON), `rg`
(Debian ripgrep) and, for secretlint, npm: `secretlint` and
`@secretlint/secretlint-rule-preset-recommend` (10.x) are installed into a local directory under
the work directory (nothing global). Prints a markdown report on stdout, progress on stderr.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def timed(argv, cwd=None, env=None, ok=(0, 1)):
    t = time.perf_counter()
    r = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if r.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {r.returncode}: {r.stderr[-2000:]}")
    return dt, r


def best(argv, reps, **kw):
    times, last = [], None
    for _ in range(reps):
        dt, last = timed(argv, **kw)
        times.append(dt)
    return min(times), last


def tree_bytes(d):
    n = 0
    for dirpath, dirs, files in os.walk(d):
        dirs[:] = [x for x in dirs if x != ".git"]
        n += sum(os.path.getsize(os.path.join(dirpath, f)) for f in files)
    return n


def per_rule(labels, findings, rules):
    want = {tuple(x) for x in labels}
    got = {(f["rule"], f["file"], f["line"]) for f in findings}
    rows = []
    for r in rules:
        w = {x for x in want if x[0] == r}
        g = {x for x in got if x[0] == r}
        tp = len(w & g)
        rows.append((r, len(w), len(g), tp, tp / len(w) if w else 1.0, tp / len(g) if g else 1.0))
    tp = len(want & got)
    total = ("all", len(want), len(got), tp, tp / len(want) if want else 1.0,
             tp / len(got) if got else 1.0)
    return rows, total, sorted(got - want), sorted(want - got)


def table(title, rows, total):
    out = [f"**{title}**", "", "| rule | planted | reported | correct | recall | precision |",
           "|---|---:|---:|---:|---:|---:|"]
    for r in rows + [total]:
        out.append(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.3f} | {r[5]:.3f} |")
    return "\n".join(out)


def secretlint_setup(work):
    d = os.path.join(work, "secretlint")
    os.makedirs(d, exist_ok=True)
    log("installing secretlint into", d)
    subprocess.run(["npm", "install", "--prefix", d, "--no-audit", "--no-fund", "--silent",
                    # 10.x: the newest line that runs on Debian 12's node 20 (13.x needs 22)
                    "secretlint@^10", "@secretlint/secretlint-rule-preset-recommend@^10"],
                   check=True, capture_output=True)
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=400)
    ap.add_argument("--filler-mb", type=float, default=20)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-secretlint", action="store_true")
    ap.add_argument("--history-repo", help="also time plumb scan --git on this repository")
    ap.add_argument("--work", help="work directory (default: a temp dir, removed)")
    a = ap.parse_args()
    plumb = os.environ.get("PLUMB", os.path.join(ROOT, "build", "plumb"))
    scan_bench = os.environ.get("SCAN_BENCH", os.path.join(ROOT, "build", "bench", "scan_bench"))
    work = a.work or tempfile.mkdtemp(prefix="plumb-scan-bench-")
    corpus = os.path.join(work, "corpus")
    if os.path.exists(corpus):
        shutil.rmtree(corpus)
    gen = ["python3", os.path.join(HERE, "gen_scan_corpus.py"), corpus, "--files", str(a.files),
           "--filler-mb", str(a.filler_mb)]
    log(" ".join(gen))
    subprocess.run(gen, check=True, stdout=sys.stderr)
    repo = os.path.join(corpus, "repo")
    labels = json.load(open(os.path.join(corpus, "labels.json")))
    rules = labels["rules"]
    size = tree_bytes(repo)
    report = ["## Secret scanning (issue 7)", ""]

    # Accuracy: plumb scan over the tree and over the history.
    _, tree = timed([plumb, "scan", "-o", "json", repo])
    _, hist = timed([plumb, "scan", "--git", "-o", "json", repo])
    tree_j, hist_j = json.loads(tree.stdout), json.loads(hist.stdout)
    rows, total, extra_t, missed_t = per_rule(labels["tree"], tree_j["findings"], rules)
    hrows, htotal, extra_h, missed_h = per_rule(labels["history"], hist_j["findings"], rules)
    report += [f"Corpus: {a.files} files, {size / 1e6:.1f} MB of text, "
               f"{len(labels['tree'])} secrets in the working tree, {len(labels['history'])} in "
               f"{hist_j['commits']} commits of history, and 200 look-alikes that must not be "
               "reported (AWS's example key, SOPS and sealed values, placeholders, UUIDs, "
               "hashes, public keys, sk_test_ keys, references).", "",
               table("plumb scan (working tree)", rows, total), "",
               table("plumb scan --git (history)", hrows, htotal), ""]
    for what, extra, missed in (("tree", extra_t, missed_t), ("history", extra_h, missed_h)):
        if extra:
            report.append(f"False positives ({what}): " + ", ".join(f"{r} {f}:{l}" for r, f, l in extra[:10]))
        if missed:
            report.append(f"Missed ({what}): " + ", ".join(f"{r} {f}:{l}" for r, f, l in missed[:10]))
    report.append("")

    # Throughput, side by side on the same tree.
    rows = []
    if os.path.exists(scan_bench):
        _, r = timed([scan_bench, repo, str(a.reps)])
        j = json.loads(r.stdout)
        rows.append(("plumbline (scanner, in memory)", j["seconds"], len(j["findings"])))
        rules_j = json.loads(timed([scan_bench, "--rules"])[1].stdout)
    else:
        log("no", scan_bench, "(configure with -DPLUMB_BENCH=ON): skipping the in-memory figure")
        rules_j = None
    dt, r = best([plumb, "scan", "-o", "json", repo], a.reps)
    label = os.environ.get("PLUMB_LABEL", "")
    rows.append((f"plumbline (`plumb scan DIR`{label}: process, rule compile, file reads)", dt,
                 len(json.loads(r.stdout)["findings"])))
    if rules_j and shutil.which("rg"):
        pats = os.path.join(work, "patterns.txt")
        with open(pats, "w") as f:
            for x in rules_j:
                f.write(("(?i)" if x["caseless"] else "") + x["regex"] + "\n")
        argv = ["rg", "--no-config", "--no-ignore", "--hidden", "-g", "!.git", "-c", "-f", pats,
                repo]
        dt, r = best(argv, a.reps)
        lines = sum(int(l.rsplit(":", 1)[1]) for l in r.stdout.splitlines() if ":" in l)
        rows.append(("ripgrep 13, the same 17 patterns (matching lines, no checks)", dt, lines))
    if not a.no_secretlint and shutil.which("npm"):
        d = secretlint_setup(work)
        rc = os.path.join(work, ".secretlintrc.json")
        with open(rc, "w") as f:
            json.dump({"rules": [{"id": "@secretlint/secretlint-rule-preset-recommend"}]}, f)
        env = dict(os.environ, NODE_PATH=os.path.join(d, "node_modules"))
        out = os.path.join(work, "secretlint.json")
        # Into a file: node exits before a pipe takes more than 64 KiB of its output.
        argv = ["sh", "-c", f"exec '{os.path.join(d, 'node_modules', '.bin', 'secretlint')}' "
                f"--secretlintrc '{rc}' --format json '**/*' > '{out}'"]
        dt, r = best(argv, max(1, min(a.reps, 2)), cwd=repo, env=env)
        with open(out) as f:
            n = sum(len(x.get("messages", [])) for x in json.load(f))
        rows.append(("secretlint + preset-recommend", dt, n))
    report += [f"**Throughput on the same {size / 1e6:.1f} MB tree** (best of {a.reps}; "
               "MB/s = corpus bytes / wall time)", "",
               "| tool | seconds | MB/s | findings |", "|---|---:|---:|---:|"]
    for name, dt, n in rows:
        report.append(f"| {name} | {dt:.3f} | {size / 1e6 / dt:.0f} | {n} |")
    report.append("")

    if a.history_repo:
        dt, r = best([plumb, "scan", "--git", "-o", "json", a.history_repo], a.reps)
        j = json.loads(r.stdout)
        report += [f"History of `{a.history_repo}`: {j['commits']} commits, {j['files']} "
                   f"distinct blobs ({j['bytes'] / 1e6:.1f} MB) read and scanned in {dt:.2f} s "
                   f"({j['bytes'] / 1e6 / dt:.0f} MB/s), {len(j['findings'])} findings.", ""]

    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    report += [f"Machine: {cpu}, {os.cpu_count()} cores shared with other work, "
               f"{platform.system()} {platform.release()}.", ""]
    print("\n".join(report))
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
