#!/usr/bin/env python3
"""A large, realistic git history from real text on this machine, for bench/bench_scan.py
(`--history-repo`). No network: the text is what Debian installed (C headers, the Python and
Perl standard libraries, npm's own node_modules, ...).

  python3 bench/gen_history.py OUT [--commits 6000] [--seed 7] [--max-mb 400] [SOURCE ...]

OUT becomes a bare-less git repository (a working clone with no checkout: only .git) built
with `git fast-import`. The history imports the source trees in steps (a few hundred files
per import commit), and between imports edits what is already there as people do: replaces,
inserts and deletes blocks of lines (with lines taken from other real files), renames and
deletes files. Every ~40 commits a topic branch forks from main, gets its own commits while
main moves on, and is merged back with a merge commit (no conflicts: main does not touch
what the topic touches); some merges change a line themselves (an "evil merge"). A few fake
credentials are planted in edits, on topic branches and in merges; OUT/../NAME.labels.json
lists them (rule, path, line, the commit that introduced the line) to check attribution.
"""
import argparse
import json
import os
import random
import subprocess
import sys

DEFAULT_SOURCES = ["/usr/include", "/usr/lib/python3", "/usr/lib/python3.11", "/usr/share/perl",
                   "/usr/share/perl5", "/usr/lib/node_modules"]
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def real_files(sources, max_bytes):
    out = []
    for src in sources:
        if not os.path.isdir(src):
            continue
        top = src.strip("/").replace("/", "_")
        for dirpath, dirs, files in os.walk(src):
            dirs.sort()
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for f in sorted(files):
                p = os.path.join(dirpath, f)
                if os.path.islink(p) or f.endswith((".pyc", ".so", ".gz")):
                    continue
                try:
                    if os.path.getsize(p) > 1 << 20:
                        continue
                    data = open(p, "rb").read()
                except OSError:
                    continue
                if not data or b"\0" in data[:8000]:
                    continue
                out.append((top + "/" + os.path.relpath(p, src), data))
                max_bytes -= len(data)
                if max_bytes <= 0:
                    return out
    return out


def fake_secret(rng):
    """A fake credential of a supported format: (rule id, line of code holding it)."""
    def rand(n, alphabet=ALNUM):
        return "".join(rng.choice(alphabet) for _ in range(n))
    kind = rng.randrange(4)
    if kind == 0:
        return "aws-access-key-id", f'aws_access_key_id = "AKIA{rand(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")}"'
    if kind == 1:
        return "github-token", f"GITHUB_TOKEN=ghp_{rand(36)}"
    if kind == 2:
        return "stripe-live-key", f"stripe.api_key = 'sk_live_{rand(32)}'"
    return "npm-token", f"//registry.npmjs.org/:_authToken=npm_{rand(36)}"


class History:
    def __init__(self, out, rng):
        self.rng = rng
        self.out = out
        self.mark = 0
        self.time = 1500000000
        self.main = {}      # path -> bytes: main's tree
        self.labels = []    # planted secrets: rule, path, line, mark (→ commit)
        self.commits = 0
        self.blob_bytes = 0

    def write(self, b):
        self.out.write(b)

    def data(self, b):
        self.write(b"data %d\n" % len(b) + b + b"\n")

    def commit(self, ref, msg, ops, frm=None, merge=None):
        """ops: list of ("M", path, bytes) / ("D", path) / ("R", old, new)."""
        self.mark += 1
        self.commits += 1
        self.time += self.rng.randrange(60, 7200)
        who = self.rng.choice(["Ada Lovelace <ada@example.org>", "Linus T <lt@example.org>",
                               "Grace Hopper <grace@example.org>", "Ken T <ken@example.org>"])
        self.write(f"commit {ref}\nmark :{self.mark}\nauthor {who} {self.time} +0000\n"
                   f"committer {who} {self.time} +0000\n".encode())
        self.data(msg.encode())
        if frm:
            self.write(f"from :{frm}\n".encode())
        if merge:
            self.write(f"merge :{merge}\n".encode())
        for op in ops:
            if op[0] == "M":
                self.write(f'M 100644 inline "{op[1]}"\n'.encode())
                self.data(op[2])
                self.blob_bytes += len(op[2])
            elif op[0] == "D":
                self.write(f'D "{op[1]}"\n'.encode())
            else:
                self.write(f'R "{op[1]}" "{op[2]}"\n'.encode())
        return self.mark

    def edit(self, tree, path, plant=False):
        """A changed copy of tree[path]: a block replaced, inserted or deleted, with lines from
        another real file; `plant` puts a fake credential on a new line. Returns the bytes."""
        rng = self.rng
        lines = tree[path].split(b"\n")
        donor = tree[rng.choice(list(tree))].split(b"\n")
        start = rng.randrange(len(donor))
        new = donor[start:start + rng.randrange(1, 30)]
        at = rng.randrange(len(lines) + 1)
        kind = rng.randrange(3)
        if kind == 0:
            lines[at:at + rng.randrange(1, 10)] = new
        elif kind == 1:
            lines[at:at] = new
        elif len(lines) > 20:
            del lines[at:at + rng.randrange(1, 10)]
        if plant:
            rule, secret_line = fake_secret(rng)
            at = rng.randrange(len(lines) + 1)
            lines.insert(at, secret_line.encode())
            self.labels.append({"rule": rule, "path": path, "line": at + 1, "mark": self.mark + 1})
        return b"\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("sources", nargs="*", default=DEFAULT_SOURCES)
    ap.add_argument("--commits", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--max-mb", type=float, default=400, help="real text to import at most")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    files = real_files(a.sources, int(a.max_mb * 1e6))
    log(f"{len(files)} real files, {sum(len(d) for _, d in files) / 1e6:.0f} MB")
    if os.path.exists(a.out):
        raise SystemExit(f"{a.out} exists")
    subprocess.run(["git", "init", "-q", "-b", "main", a.out], check=True)
    marks = os.path.abspath(os.path.join(a.out, ".git", "bench-marks"))
    fi = subprocess.Popen(["git", "-C", a.out, "fast-import", "--quiet", f"--export-marks={marks}"],
                          stdin=subprocess.PIPE)
    h = History(fi.stdin, rng)
    imports = max(1, a.commits // 3)
    per_import = max(1, len(files) // imports)
    pending = list(files)
    topic = None  # {"tree": dict, "touched": set, "last": mark, "left": n}
    n_topic = 0
    while h.commits < a.commits:
        i = h.commits
        # A topic branch forks from main every ~40 commits and merges back 4-12 commits later.
        if topic is None and i % 40 == 20 and len(h.main) > 50:
            n_topic += 1
            topic = {"tree": dict(h.main), "touched": set(), "last": h.mark, "left": rng.randrange(4, 12),
                     "ref": f"refs/heads/topic/{n_topic % 8}", "first": True}
        if topic is not None and rng.random() < 0.4:
            paths = rng.sample(sorted(topic["tree"]), 2)
            ops = []
            for p in paths:
                if p in topic["touched"] or rng.random() < 0.9:
                    topic["tree"][p] = h.edit(topic["tree"], p, plant=rng.random() < 0.02)
                    topic["touched"].add(p)
                    ops.append(("M", p, topic["tree"][p]))
            topic["last"] = h.commit(topic["ref"], f"topic {n_topic}: rework {paths[0]}\n", ops,
                                     frm=topic["last"] if topic["first"] else None)
            topic["first"] = False
            topic["left"] -= 1
            if topic["left"] <= 0:
                ops = [("M", p, topic["tree"][p]) for p in sorted(topic["touched"])]
                for p in topic["touched"]:
                    h.main[p] = topic["tree"][p]
                if rng.random() < 0.3:  # an evil merge: the merge itself changes a line
                    p = rng.choice(sorted(h.main))
                    h.main[p] = h.edit(h.main, p, plant=rng.random() < 0.5)
                    ops.append(("M", p, h.main[p]))
                h.commit("refs/heads/main", f"Merge topic {n_topic}\n", ops, merge=topic["last"])
                topic = None
            continue
        busy = topic["touched"] if topic else set()
        ops = []
        if pending and i % 3 == 0:
            batch, pending = pending[:per_import], pending[per_import:]
            for p, d in batch:
                h.main[p] = d
                ops.append(("M", p, d))
            msg = f"import {batch[0][0].split('/')[0]}: {len(batch)} files\n"
        else:
            free = [p for p in rng.sample(sorted(h.main), min(8, len(h.main))) if p not in busy]
            msg = "edit"
            for p in free[:rng.randrange(1, 5)]:
                roll = rng.random()
                if roll < 0.05 and len(h.main) > 100 and not topic:
                    newp = os.path.dirname(p) + "/renamed_" + os.path.basename(p)
                    if newp not in h.main:
                        h.main[newp] = h.main.pop(p)
                        ops.append(("R", p, newp))
                        msg += f" rename {p}"
                        continue
                if roll < 0.07 and len(h.main) > 100 and not topic:
                    del h.main[p]
                    ops.append(("D", p))
                    continue
                h.main[p] = h.edit(h.main, p, plant=rng.random() < 0.01)
                ops.append(("M", p, h.main[p]))
                msg += f" {p}"
            msg += "\n"
        if ops:
            h.commit("refs/heads/main", msg, ops)
        elif not h.main:
            raise SystemExit("no files to import")
        if h.commits % 500 == 0:
            log(f"{h.commits} commits, {h.blob_bytes / 1e6:.0f} MB of blobs written")
    fi.stdin.close()
    if fi.wait() != 0:
        raise SystemExit("git fast-import failed")
    by_mark = {}
    for line in open(marks):
        m, sha = line.split()
        by_mark[int(m[1:])] = sha
    for x in h.labels:
        x["commit"] = by_mark[x.pop("mark")]
    labels = os.path.abspath(a.out).rstrip("/") + ".labels.json"
    with open(labels, "w") as f:
        json.dump({"commits": h.commits, "blob_bytes": h.blob_bytes, "planted": h.labels}, f, indent=1)
    subprocess.run(["git", "-C", a.out, "repack", "-q", "-a", "-d"], check=True)
    log(f"{a.out}: {h.commits} commits, {n_topic} merges, {h.blob_bytes / 1e6:.0f} MB of blobs "
        f"written, {len(h.labels)} planted secrets listed in {labels}")


if __name__ == "__main__":
    main()
