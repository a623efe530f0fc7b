#!/usr/bin/env python3
"""The benchmark of issue 7 (secret scanning): recall and precision per rule on a labelled
corpus (bench/gen_scan_corpus.py), then plumbline vs ripgrep (the same patterns) vs
secretlint (its recommended preset) side by side on that corpus, in one run.

  python3 bench/bench_scan.py [--files 400] [--filler-mb 20] [--reps 3] [--no-secretlint]
                              [--plain DIR ...] [--history-repo PATH [--history-secretlint]]

Needs build/plumb and build/bench/scan_bench (configure with -DPLUMB_BENCH=ON; or PLUMB and
SCAN_BENCH), `rg` (Debian ripgrep) and, for secretlint, npm: `secretlint` and
`@secretlint/secretlint-rule-preset-recommend` (10.x) are installed into a local directory under
the work directory (nothing global). OLD_PLUMB and OLD_SCAN_BENCH (another build, e.g. of the
previous commit; OLD_LABEL names it) add their rows to every table, in the same run.

--plain DIR times the scanners on a tree of real text (e.g. /usr/include). --history-repo
times `plumb scan --git` on a repository (bench/gen_history.py builds a large one) beside
ripgrep reading the same unique blobs from the object store (`git cat-file --batch` of every
blob reachable from a ref, piped into `rg -c -f`), and checks the planted secrets of
PATH.labels.json when gen_history.py wrote one. Prints a markdown report on stdout,
progress on stderr.
"""
import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def children_cpu():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def timed(argv, cwd=None, env=None, ok=(0, 1)):
    """Wall seconds and the result; the CPU seconds of the run (user + system, all its
    processes and threads) are in r.cpu."""
    c, t = children_cpu(), time.perf_counter()
    r = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t
    r.cpu = children_cpu() - c
    if r.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {r.returncode}: {r.stderr[-2000:]}")
    return dt, r


def load():
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def plumbs():
    """(label, plumb, scan_bench) for the build under test, then the old one if given."""
    out = [("", os.environ.get("PLUMB", os.path.join(ROOT, "build", "plumb")),
            os.environ.get("SCAN_BENCH", os.path.join(ROOT, "build", "bench", "scan_bench")))]
    if os.environ.get("OLD_PLUMB") or os.environ.get("OLD_SCAN_BENCH"):
        out.append((os.environ.get("OLD_LABEL", " (old)"), os.environ.get("OLD_PLUMB", ""),
                    os.environ.get("OLD_SCAN_BENCH", "")))
    return out


def rg_patterns(scan_bench, work):
    rules_j = json.loads(timed([scan_bench, "--rules"])[1].stdout)
    pats = os.path.join(work, "patterns.txt")
    with open(pats, "w") as f:
        for x in rules_j:
            f.write(("(?i)" if x["caseless"] else "") + x["regex"] + "\n")
    return pats, len(rules_j)


def rg_version():
    r = subprocess.run(["rg", "--version"], capture_output=True, text=True)
    return r.stdout.split("\n")[0]


def scanner_rows(scan_bench, label, d, reps):
    """The in-memory scanner on tree `d`: with its matchers, and (the build under test only)
    with std::regex confirming the builtin rules as before the matchers."""
    rows = []
    for flag, what in (([], ""), (["--regex"], ", std::regex confirm")):
        if flag and label:
            continue
        _, r = timed([scan_bench] + flag + [d, str(reps)])
        j = json.loads(r.stdout)
        rows.append((f"plumbline scanner{label}{what}, in memory, 1 thread", j["seconds"],
                     j.get("cpu_seconds"), len(j["findings"])))  # older builds: wall only
    return rows


def plain_tables(dirs, reps, work):
    """The scanners on trees of real text: in memory, whole process, ripgrep."""
    out = []
    for d in dirs:
        size = tree_bytes(d)
        rows = []
        log("plain text:", d, load())
        for label, plumb, scan_bench in plumbs():
            if scan_bench and os.path.exists(scan_bench):
                rows += scanner_rows(scan_bench, label, d, reps)
            if not os.path.exists(plumb):
                continue
            dt, r = best([plumb, "scan", "-o", "json", d], reps)
            rows.append((f"`plumb scan DIR`{label}", dt, r.cpu,
                         len(json.loads(r.stdout)["findings"])))
        pats, n = rg_patterns(plumbs()[0][2], work)
        dt, r = best(["rg", "--no-config", "--no-ignore", "--hidden", "-c", "-f", pats, d], reps)
        lines = sum(int(l.rsplit(":", 1)[1]) for l in r.stdout.splitlines() if ":" in l)
        rows.append((f"{rg_version()}, the same {n} patterns (matching lines)", dt, r.cpu, lines))
        out += [f"**Real text: `{d}`, {size / 1e6:.1f} MB** (best of {reps}; {load()})", ""]
        out += throughput_table(rows, size)
    return out


def throughput_table(rows, size):
    """rows: (tool, wall seconds, CPU seconds, findings)."""
    out = ["| tool | wall s | MB/s (wall) | CPU s | MB per CPU-second | findings |",
           "|---|---:|---:|---:|---:|---:|"]
    for name, dt, cpu, n in rows:
        cpu_cols = f"{cpu:.3f} | {size / 1e6 / cpu:.0f}" if cpu else "— | —"
        out.append(f"| {name} | {dt:.3f} | {size / 1e6 / dt:.0f} | {cpu_cols} | {n} |")
    out.append("")
    return out


def best(argv, reps, **kw):
    """The best wall time of `reps` runs and the last result, with r.cpu the least CPU time."""
    times, cpus, last = [], [], None
    for _ in range(reps):
        dt, last = timed(argv, **kw)
        times.append(dt)
        cpus.append(last.cpu)
    last.cpu = min(cpus)
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


def history_section(a, work):
    repo = a.history_repo
    out = []
    commits = int(subprocess.run(["git", "-C", repo, "rev-list", "--all", "--count"],
                                 capture_output=True, text=True, check=True).stdout)
    merges = int(subprocess.run(["git", "-C", repo, "rev-list", "--all", "--merges", "--count"],
                                capture_output=True, text=True, check=True).stdout)
    # Every blob reachable from a ref, once: what ripgrep is given.
    blobs = subprocess.run(f"git -C '{repo}' rev-list --objects --all | cut -d' ' -f1 | "
                           f"git -C '{repo}' cat-file "
                           "--batch-check='%(objecttype) %(objectname) %(objectsize)' | "
                           "awk '$1 == \"blob\" {print $2 \" \" $3}'", shell=True,
                           capture_output=True, text=True, check=True).stdout.split("\n")
    blobs = [b.split() for b in blobs if b]
    blob_bytes = sum(int(x[1]) for x in blobs)
    ids = os.path.join(work, "blob-ids.txt")
    with open(ids, "w") as f:
        f.write("".join(x[0] + "\n" for x in blobs))
    rows = []
    found = None
    for label, plumb, _ in plumbs():
        if not os.path.exists(plumb):
            continue
        log("history:", plumb, load())
        dt, r = best([plumb, "scan", "--git", "-o", "json", repo], a.history_reps)
        j = json.loads(r.stdout)
        if not label:
            found = j
        rows.append((f"`plumb scan --git`{label}", dt, r.cpu, j["commits"], j["files"],
                     j["bytes"], len(j["findings"])))
    pats, n = rg_patterns(plumbs()[0][2], work)
    argv = ["sh", "-c", f"git -C '{repo}' cat-file --batch < '{ids}' | "
            f"rg --no-config -c -f '{pats}' -"]
    dt, r = best(argv, a.history_reps)
    rows.append((f"`git cat-file --batch` (every blob) piped into {rg_version()}, the same "
                 f"{n} patterns (matching lines)", dt, r.cpu, commits, len(blobs), blob_bytes,
                 int(r.stdout.strip() or 0)))
    if a.history_secretlint and shutil.which("npm"):
        # secretlint reads files: every unique blob written out as one file.
        d = os.path.join(work, "blobs")
        os.makedirs(d, exist_ok=True)
        subprocess.run(["python3", "-c", EXPORT_BLOBS, repo, ids, d], check=True)
        sl = secretlint_setup(work)
        rc = os.path.join(work, ".secretlintrc.json")
        with open(rc, "w") as f:
            json.dump({"rules": [{"id": "@secretlint/secretlint-rule-preset-recommend"}]}, f)
        env = dict(os.environ, NODE_PATH=os.path.join(sl, "node_modules"))
        outf = os.path.join(work, "secretlint-history.json")
        argv = ["sh", "-c", f"exec '{os.path.join(sl, 'node_modules', '.bin', 'secretlint')}' "
                f"--secretlintrc '{rc}' --format json '**/*' > '{outf}'"]
        log("secretlint on", len(blobs), "blobs", load())
        dt, r = timed(argv, cwd=d, env=env)
        with open(outf) as f:
            nf = sum(len(x.get("messages", [])) for x in json.load(f))
        rows.append(("secretlint + preset-recommend over the same blobs written out as files "
                     "(file reads only; writing them out not timed)", dt, r.cpu, commits,
                     len(blobs), blob_bytes, nf))
    out += [f"**History: `{repo}`**: {commits} commits ({merges} merges), {len(blobs)} distinct "
            f"blobs reachable, {blob_bytes / 1e6:.0f} MB (best of {a.history_reps}; {load()})", "",
            "| tool | wall s | commits/s | blobs | MB read | MB/s (wall) | CPU s | "
            "MB per CPU-second | findings |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, dt, cpu, c, files, nbytes, nf in rows:
        out.append(f"| {name} | {dt:.2f} | {c / dt:.0f} | {files} | {nbytes / 1e6:.0f} | "
                   f"{nbytes / 1e6 / dt:.0f} | {cpu:.2f} | {nbytes / 1e6 / cpu:.0f} | {nf} |")
    out.append("")
    labels = repo.rstrip("/") + ".labels.json"
    if found and os.path.exists(labels):
        planted = json.load(open(labels))["planted"]
        got = {(f["rule"], f["file"], f["line"], f["commit"]) for f in found["findings"]}
        hit = [p for p in planted if (p["rule"], p["path"], p["line"], p["commit"]) in got]
        miss = [p for p in planted if p not in hit]
        merges_set = set(subprocess.run(["git", "-C", repo, "rev-list", "--all", "--merges"],
                                        capture_output=True, text=True).stdout.split())
        in_merges = sum(p["commit"] in merges_set for p in planted)
        at_merges = sum(f["commit"] in merges_set for f in found["findings"])
        out += [f"Planted by gen_history.py: {len(planted)} fake credentials (in edits, on topic "
                f"branches and in merge commits); `plumb scan --git` names the commit that "
                f"introduced {len(hit)} of them at the right file and line ({in_merges} were "
                f"written by merge commits themselves; {at_merges} findings in all name a merge "
                "commit)."
                + (" Missed: " + ", ".join(f"{p['rule']} {p['path']}:{p['line']} "
                                           f"{p['commit'][:10]}" for p in miss[:10]) if miss else ""),
                ""]
    return out


EXPORT_BLOBS = """
import subprocess, sys
repo, ids, d = sys.argv[1:]
p = subprocess.Popen(["git", "-C", repo, "cat-file", "--batch"], stdin=open(ids), stdout=subprocess.PIPE)
while True:
    head = p.stdout.readline()
    if not head:
        break
    sha, _, size = head.split()
    data = p.stdout.read(int(size))
    p.stdout.read(1)
    open(d + "/" + sha.decode() + ".txt", "wb").write(data)
"""


def corpus_section(a, work):
    _, plumb, scan_bench = plumbs()[0]
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
    report = []

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
    for label, plumb_x, scan_bench_x in plumbs():
        if scan_bench_x and os.path.exists(scan_bench_x):
            rows += scanner_rows(scan_bench_x, label, repo, a.reps)
        if not os.path.exists(plumb_x):
            continue
        dt, r = best([plumb_x, "scan", "-o", "json", repo], a.reps)
        rows.append((f"`plumb scan DIR`{label} (process, rule compile, file reads)", dt, r.cpu,
                     len(json.loads(r.stdout)["findings"])))
    if os.path.exists(scan_bench) and shutil.which("rg"):
        pats, n = rg_patterns(scan_bench, work)
        argv = ["rg", "--no-config", "--no-ignore", "--hidden", "-g", "!.git", "-c", "-f", pats,
                repo]
        dt, r = best(argv, a.reps)
        lines = sum(int(l.rsplit(":", 1)[1]) for l in r.stdout.splitlines() if ":" in l)
        rows.append((f"{rg_version()}, the same {n} patterns (matching lines, no checks)", dt,
                     r.cpu, lines))
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
        rows.append(("secretlint + preset-recommend (node start included)", dt, r.cpu, n))
    report += [f"**Throughput on the same {size / 1e6:.1f} MB tree** (best of {a.reps}; "
               f"MB/s = corpus bytes / time; {load()})", ""]
    report += throughput_table(rows, size)
    return report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=400)
    ap.add_argument("--filler-mb", type=float, default=20)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-secretlint", action="store_true")
    ap.add_argument("--history-repo", help="also time plumb scan --git on this repository")
    ap.add_argument("--history-reps", type=int, default=1, help="runs of each history scan")
    ap.add_argument("--history-secretlint", action="store_true",
                    help="also run secretlint over the history's blobs (slow)")
    ap.add_argument("--plain", action="append", default=[], help="a tree of real text to time")
    ap.add_argument("--no-corpus", action="store_true", help="skip the labelled corpus")
    ap.add_argument("--work", help="work directory (default: a temp dir, removed)")
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="plumb-scan-bench-")
    report = ["## Secret scanning (issue 7)", "", f"Start: {load()}.", ""]
    if not a.no_corpus:
        report += corpus_section(a, work)
    report += plain_tables(a.plain, a.reps, work)
    if a.history_repo:
        report += history_section(a, work)
    report += [f"End: {load()}.", ""]

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
