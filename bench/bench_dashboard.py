#!/usr/bin/env python3
"""The dashboard with 10,000 Applications (issue 8): how long from navigation to the
Applications list rendered (goal < 1 s), and to an Application's page (goal < 300 ms),
in Debian's Chromium driven by playwright-core (tests/e2e/browser.py).

    python3 bench/bench_dashboard.py [--plumb build/plumb] [--apps 10000] [--reps 20]
                                     [--dir /tmp/plumb-bench-dashboard] [--json OUT]

Needs `make web-deps` (playwright-core in web/) and the chromium package. What is measured,
each --reps times, in one browser tab that holds the admin token (sessionStorage):

list        page.goto("/") (a full load: index.html, the bundled module and style sheet from
            the browser's cache, the first API page of 100 Applications); the figure is the
            page's own performance.mark 'plumb:list-rendered' (set after the rows are in the
            DOM), in ms from the navigation's start.
app         page.goto("/applications/aNNNNN") (a full load); the mark 'plumb:app-rendered'
            (the header and resources rendered from GET /api/v1/applications/NAME).
app-click   from the list, a click on an Application's link (routing inside the page, no
            reload): from the mark 'plumb:route' to 'plumb:app-rendered'.
search      typing a name into the search box: from the input to the list showing the one
            match (server-side q=, after the 250 ms debounce, which is included).
"""
import argparse
import datetime
import json
import os
import platform
import random
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "../tests/e2e"))
from bench_api import Operator, apps_repo, loadavg, log, summary  # noqa: E402
from browser import Browser, missing  # noqa: E402

MARK = "(n => { const e = performance.getEntriesByName(n); return e.length ? e[e.length-1].startTime : null })"


def mark(b, name):
    return b.do("eval", expression=f"{MARK}('{name}')")["value"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plumb", default=os.path.join(HERE, "../build/plumb"))
    ap.add_argument("--apps", type=int, default=10000)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--load-timeout", type=float, default=1800)
    ap.add_argument("--dir", default="/tmp/plumb-bench-dashboard")
    ap.add_argument("--json")
    args = ap.parse_args()
    why = missing()
    if why:
        sys.exit("bench_dashboard: " + why)
    subprocess.run(["rm", "-rf", args.dir], check=True)
    out = {"apps": args.apps, "reps": args.reps, "started": datetime.datetime.now().isoformat(),
           "machine": f"{os.cpu_count()} CPUs, {platform.platform()}"}
    repo, commit = apps_repo(args.dir, args.apps)
    log(f"dashboard: repo with {args.apps} child Applications at {commit[:7]}")
    t0 = time.monotonic()
    op = Operator(os.path.abspath(args.plumb), repo.bare, "root", args.dir, ["--interval", "1h"])
    browser = None
    try:
        want = args.apps + 1
        while True:
            _, items, _ = op.list_all()
            synced = sum(1 for a in items if a["status"]["sync"] == "Synced")
            if synced == want:
                break
            if time.monotonic() - t0 > args.load_timeout:
                raise RuntimeError(f"only {synced}/{want} Synced after {args.load_timeout}s")
            log(f"dashboard: {len(items)} Applications known, {synced} Synced "
                f"({time.monotonic() - t0:.0f}s)")
            time.sleep(5)
        out["load_s"] = time.monotonic() - t0
        # Settle: until no reconcile is in flight (under 5% of a CPU for 2 s), at most 60 s.
        # Before the auto-promoter stopped copying every Application 4 times a second, the
        # operator kept ≈14% of a CPU busy long after the load and this never ended.
        settle_end = time.monotonic() + 60
        out["idle_reached"] = False
        while time.monotonic() < settle_end:
            c = op.cpu_seconds()
            time.sleep(2)
            if op.cpu_seconds() - c < 0.1:
                out["idle_reached"] = True
                break
        # The idle operator's CPU share (user + system time of its process over 30 s).
        c = op.cpu_seconds()
        time.sleep(30)
        out["cpu_share_idle"] = (op.cpu_seconds() - c) / 30
        log(f"dashboard: idle: {100 * out['cpu_share_idle']:.2f}% of a CPU "
            f"(settled: {out['idle_reached']})")
        out["rss_mib_idle"] = op.rss_mib()
        out["load_before"] = loadavg()
        url = op.conn.host, op.conn.port
        base = f"http://{url[0]}:{url[1]}"
        browser = b = Browser(os.path.join(args.dir, "shots"))
        b.goto(base + "/healthz")
        b.do("eval", expression=f"sessionStorage.setItem('plumb.token', '{op.token}'), "
                                "sessionStorage.setItem('plumb.token.role', 'admin')")
        b.goto(base + "/")  # warm: the browser's cache and the server's connection
        b.wait('#apps-table tr[data-app="a00000"]')

        results = {"list": [], "app": [], "app-click": [], "search": []}
        rng = random.Random(8)
        for _ in range(args.reps):
            b.goto(base + "/")
            b.wait('#apps-table tr[data-app="a00099"]')
            results["list"].append(mark(b, "plumb:list-rendered"))
            name = f"a{rng.randrange(args.apps):05d}"
            b.goto(f"{base}/applications/{name}")
            b.wait("#resources-table td", text=name)
            results["app"].append(mark(b, "plumb:app-rendered"))
            b.goto(base + "/")
            b.wait('#apps-table tr[data-app="a00042"]')
            b.click('#apps-table a.name', text="a00042")
            b.wait("#resources-table td", text="a00042")
            results["app-click"].append(mark(b, "plumb:app-rendered") - mark(b, "plumb:route"))
            b.goto(base + "/")
            b.wait('#apps-table tr[data-app="a00000"]')
            t = time.perf_counter()
            b.fill("#app-search", name)
            b.wait(f'#apps-table tbody tr[data-app="{name}"]:only-child')
            results["search"].append((time.perf_counter() - t) * 1000)
        b.goto(base + "/")
        b.wait('#apps-table tr[data-app="a00099"]')
        out["rows_per_page"] = b.count("#apps-table tbody tr")
        b.screenshot("applications-10000.png")
        for k, v in results.items():
            out[k] = summary(v)
            log(f"dashboard: {k}: median {out[k]['median']:.0f} ms, p90 {out[k]['p90']:.0f} ms")
        out["load_after"] = loadavg()
        out["errors"] = b.errors()
    finally:
        if browser:
            browser.close()
        op.stop()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
