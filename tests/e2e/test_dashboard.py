"""The dashboard in a real browser (Debian's Chromium, headless, driven by playwright-core)
against a real operator: log in with the token, see Applications update live, open one,
see a diff after a commit, sync it, see drift after a hand edit and self-heal, promote
staging to production. Screenshots of each view go to $PLUMB_SCREENSHOT_DIR (docs/images
with `make screenshots`), else to the test's temporary directory."""
import base64
import os
import re
import unittest
import uuid
import urllib.request

from browser import Browser, missing
from harness import E2E, file_yaml, git, wait_until

PLANTED = "planted-" + uuid.uuid4().hex
SECRET = ("apiVersion: local.plumbline.dev/v1\nkind: Secret\nmetadata:\n  name: db\n"
          f"stringData:\n  password: {PLANTED}\n")
PROCESS = """apiVersion: local.plumbline.dev/v1
kind: Process
metadata:
  name: worker
spec:
  replicas: 2
  command: ["sh", "-c", "echo hello from worker $PLUMB_REPLICA; exec sleep 600"]
"""
# Ends at once, every time: its supervisor restarts it after the (test-short) back-off.
CRASHER = """apiVersion: local.plumbline.dev/v1
kind: Process
metadata:
  name: crasher
spec:
  replicas: 1
  command: ["sh", "-c", "echo crashing on purpose; exit 3"]
"""


def child_app(name, path, branch="main", auto=True, self_heal=False, root="ROOT", extra=""):
    return (f"apiVersion: plumbline.dev/v1\nkind: Application\nmetadata:\n  name: {name}\n"
            f"spec:\n{extra}  source:\n    branch: {branch}\n    path: {path}\n"
            f"  target:\n    local:\n      root: {root}/{name}\n"
            f"  sync:\n    auto: {str(auto).lower()}\n    selfHeal: {str(self_heal).lower()}\n"
            f"    interval: 200ms\n")


@unittest.skipIf(os.environ.get("PLUMB_SKIP_BROWSER") == "1", "PLUMB_SKIP_BROWSER=1")
class DashboardTest(E2E):
    def setUp(self):
        why = missing()
        if why:
            self.fail(why)  # CI installs both (scripts/install-deps.sh, make web-deps)
        super().setUp()
        self.shots = os.environ.get("PLUMB_SCREENSHOT_DIR") or os.path.join(self.root, "shots")
        w = self.repo.work
        for name in ("web", "config", "site", "staging", "production", "worker"):
            os.makedirs(os.path.join(self.host, name))
        # main: the Applications (apps/) and what three of them follow.
        self.repo.write("apps/web.yaml", child_app("web", "web", auto=False, root=self.host,
                                                   extra="  allowPlaintextSecrets: true\n"))
        self.repo.write("web/secret.yaml", SECRET)
        self.repo.write("apps/config.yaml", child_app("config", "config", root=self.host))
        self.repo.write("apps/site.yaml", child_app("site", "site", self_heal=True, root=self.host))
        self.repo.write("apps/staging.yaml",
                        child_app("staging", "deploy", branch="staging", root=self.host))
        self.repo.write("apps/production.yaml",
                        child_app("production", "deploy", branch="production", root=self.host))
        self.repo.write("apps/worker.yaml", child_app("worker", "worker", root=self.host))
        self.repo.write("worker/crasher.yaml", CRASHER)
        self.repo.write("web/page.yaml", file_yaml("page", "page.html", "<h1>v1</h1>\n"))
        self.repo.write("web/worker.yaml", PROCESS)
        self.repo.write("config/settings.yaml", file_yaml("settings", "settings.ini", "level=info\n"))
        self.repo.write("site/index.yaml", file_yaml("index", "index.html", "welcome\n"))
        self.main0 = self.repo.commit("applications")
        # staging and production share their first commit.
        git("checkout", "-q", "--orphan", "staging", cwd=w)
        git("rm", "-rqf", ".", cwd=w)
        self.repo.write("deploy/app.yaml", file_yaml("app", "app.txt", "v1\n"))
        self.env0 = self.repo.commit("v1", branch="staging")
        git("push", "-q", "origin", "HEAD:production", cwd=w)
        git("checkout", "-q", "-B", "main", "origin/main", cwd=w)

        self.browser = Browser(self.shots)
        self.addCleanup(self.browser.close)

    def assert_no_secret(self, b):
        html = b.do("eval", expression="document.documentElement.outerHTML")["value"]
        for form in (PLANTED, base64.b64encode(PLANTED.encode()).decode()):
            self.assertNotIn(form, html)

    def status(self, op, app):
        s = op.status(app)
        return s["status"] if s else {}

    def test_token_live_list_diff_sync_drift_and_promotion(self):
        op = self.operator(path="apps", extra=["--restart-backoff", "100ms",
                                               "--restart-backoff-max", "500ms"])
        for app in ("config", "site", "staging", "production"):
            op.wait_synced(app)
        b = self.browser

        # No --anonymous-read: the dashboard asks for the token before showing anything.
        b.goto(op.url + "/")
        b.wait("#login-dialog")
        b.fill("#token-input", "not-the-token")
        b.click("#login-submit")
        b.wait("#login-error", text="not valid")
        b.fill("#token-input", op.token)
        b.click("#login-submit")
        for app in ("config", "production", "site", "staging", "web"):
            b.wait(f'#apps-table tr[data-app="{app}"]')
        b.wait("#live.up", text="live")
        b.wait('tr[data-app="site"] [data-sync="Synced"]')
        b.screenshot("applications.png")

        # Live: a commit that site applies by itself shows up without a reload.
        self.repo.write("site/index.yaml", file_yaml("index", "index.html", "welcome back\n"))
        c_site = self.repo.commit("site: welcome back")
        b.wait(f'tr[data-app="site"] code.commit[title="{c_site}"]')
        self.assertEqual(b.do("eval", expression="performance.getEntriesByType('navigation').length")
                         ["value"], 1)

        # Search and filter are answered by the server.
        b.fill("#app-search", "stag")
        b.wait('#app-count', text="1 shown")
        self.assertEqual(b.count("#apps-table tbody tr"), 1)
        b.fill("#app-search", "")
        b.wait('#apps-table tr[data-app="web"]')

        # Pages of the server (limit/continue), forwards and back.
        b.goto(op.url + "/?limit=2")
        b.wait("#app-count", text="2 shown · page 1")
        b.wait('#apps-table tr[data-app="production"]')
        b.click("#page-next")
        b.wait("#app-count", text="page 2")
        b.wait('#apps-table tr[data-app="site"]')
        self.assertEqual(b.count('#apps-table tr[data-app="config"]'), 0)
        b.click("#page-prev")
        b.wait('#apps-table tr[data-app="config"]')
        b.goto(op.url + "/")
        b.wait('#apps-table tr[data-app="web"]')

        # web is manual (auto: false): a new commit is a diff until someone syncs.
        b.click('a.name', text="web")
        b.wait("#app-name", text="web")
        self.repo.write("web/page.yaml", file_yaml("page", "page.html", "<h1>v2</h1>\n"))
        c_web = self.repo.commit("web: v2")
        wait_until(lambda: self.status(op, "web").get("headCommit") == c_web, what="web's head")
        b.click('[data-tab="diff"]')
        b.wait("#diff-summary", text="Out of sync")
        b.wait(".diff.unified td.code", text="<h1>v2</h1>")
        # Secret values are masked by the operator; the page never holds them.
        b.wait(".diff.unified td.code", text="<secret value hidden>")
        self.assert_no_secret(b)
        b.screenshot("application-diff-unified.png")
        b.click("#diff-split")
        b.wait(".diff.split td.code.add", text="<h1>v2</h1>")
        self.assert_no_secret(b)
        b.screenshot("application-diff-split.png")

        # Sync with the token (already given this session): Synced, the file is there.
        b.click("#action-sync")
        b.wait('#app-sync [data-sync="Synced"]')
        wait_until(lambda: self.read("web/page.html") == "<h1>v2</h1>\n", what="web applied")
        self.assertEqual(self.status(op, "web")["appliedCommit"], c_web)
        b.click('[data-tab="resources"]')
        b.wait('#resources-table tr[data-resource="Process/worker"]')
        b.screenshot("application-resources.png")
        b.click("#view-tree")
        b.wait("#resources-tree", text="worker")
        b.screenshot("application-tree.png")
        b.click('[data-tab="history"]')
        b.wait("#history-table td", text="user")
        b.click('[data-tab="processes"]')
        b.wait('[data-process="worker"] pre.log', text="hello from worker")
        b.wait('[data-process="worker"] tr[data-replica="worker-1"] td', text="Running")
        self.assertEqual(b.text('[data-process="worker"] tr[data-replica="worker-0"] td.restarts'),
                         "0")
        b.wait('[data-process="worker"] p.replicas', text="2/2 ready")
        b.screenshot("application-processes.png")

        # A Process that keeps crashing: its replica's restarts count up, live, with its log.
        status, body = op.api("GET", "/api/v1/applications/worker/processes")
        self.assertEqual(status, 200, body)
        self.assertEqual([(p["kind"], p["name"], p["replicas"]) for p in body["items"]],
                         [("Process", "crasher", 1)])
        b.goto(op.url + "/applications/worker/processes")
        b.wait('[data-process="crasher"] pre.log', text="crashing on purpose")
        b.wait('[data-process="crasher"] tr[data-replica="crasher-0"] td.restarts.warn')
        restarts = int(b.text('[data-process="crasher"] tr[data-replica="crasher-0"] td.restarts'))
        self.assertGreaterEqual(restarts, 1)
        b.wait('[data-process="crasher"] tr[data-replica="crasher-0"]', text="exit code 3")
        b.screenshot("application-processes-restarts.png")
        status, body = op.api("GET", "/api/v1/applications/worker/processes?name=crasher")
        replica = body["items"][0]["replicaStatus"][0]
        self.assertEqual((replica["name"], replica["lastExit"]), ("crasher-0", "exit code 3"))
        self.assertGreaterEqual(replica["restarts"], restarts)
        status, body = op.api("GET", "/api/v1/applications/config/processes")
        self.assertEqual((status, body["items"]), (200, []))
        status, body = op.api("GET", "/api/v1/applications/worker/processes?name=nothing")
        self.assertEqual(status, 404, body)

        # Drift: a hand edit of config's file (selfHeal off) stays, and is shown.
        with open(os.path.join(self.host, "config", "settings.ini"), "w") as f:
            f.write("level=debug\n")
        wait_until(lambda: self.status(op, "config").get("sync") == "OutOfSync",
                   what="config OutOfSync")
        b.goto(op.url + "/")
        b.wait('tr.drifted[data-app="config"]')
        b.click('a.name', text="config")
        b.wait("#drift.active", text="DriftDetected")
        b.click('[data-tab="diff"]')
        b.wait(".diff.unified tr.del td.code", text="level=debug")
        # ... and site's (selfHeal on) is put back: the Drift view says what self-heal did.
        with open(os.path.join(self.host, "site", "index.html"), "w") as f:
            f.write("defaced\n")
        wait_until(lambda: self.read("site/index.html") == "welcome back\n", what="site healed")
        b.click('a[data-nav="drift"]')
        b.wait('#drifted li[data-app="config"]', text="update")
        b.wait("#drift-events tr", text="DriftHealed")
        b.screenshot("drift.png")

        # Promotion: staging runs a new commit; the Environments view promotes it.
        w = self.repo.work
        git("fetch", "-q", "origin", cwd=w)
        git("checkout", "-q", "-B", "staging", "origin/staging", cwd=w)
        self.repo.write("deploy/app.yaml", file_yaml("app", "app.txt", "v2\n"))
        c_env = self.repo.commit("v2", branch="staging")
        wait_until(lambda: self.status(op, "staging").get("appliedCommit") == c_env and
                   self.status(op, "staging").get("health") == "Healthy",
                   what="staging Healthy at v2")
        b.click('a[data-nav="envs"]')
        b.wait("#ahead-behind", text="1 commit(s) ahead")
        b.wait("#gate.ok", text="Gate open")
        b.screenshot("environments.png")
        b.click("#action-promote")
        b.wait("#promotion-report", text="Promoted")
        self.assertEqual(git("rev-parse", "refs/heads/production", cwd=self.repo.bare), c_env)
        op.wait_synced("production", c_env)
        self.assertEqual(self.read("production/app.txt"), "v2\n")
        b.wait('[data-env="production"] code.commit[title="%s"]' % c_env)
        b.wait("#ahead-behind", text="0 commit(s) ahead")

        # Rollback from site's history: a commit restores site/ as at its first commit.
        b.goto(op.url + "/applications/site/history")
        b.wait(f'#history-table [data-rollback="{self.main0}"]')
        b.screenshot("application-history.png")
        b.click(f'#history-table [data-rollback="{self.main0}"]')
        b.wait("#confirm-dialog", text="Roll back")
        b.click("#confirm-ok")
        b.wait("#toast", text="Rollback committed")
        wait_until(lambda: self.read("site/index.html") == "welcome\n", what="site rolled back")

        # A phone's width: the list still reads (less important columns hidden).
        b.do("viewport", width=390, height=844)
        b.goto(op.url + "/")
        b.wait('#apps-table tr[data-app="web"]')
        b.screenshot("applications-phone.png")
        b.goto(op.url + "/applications/web")
        b.wait('#resources-table tr[data-resource="Process/worker"]')
        b.screenshot("application-phone.png")
        self.assertEqual(b.errors(), [])

    def test_anonymous_read_shows_everything_and_asks_for_the_token_to_act(self):
        op = self.operator(path="apps", extra=["--anonymous-read"])
        op.wait_synced("config")
        b = self.browser
        # Keyboard: "/" goes to the search box; Enter on a link opens the Application.
        b.goto(op.url + "/")
        b.wait('#apps-table tr[data-app="web"]')
        b.do("press", key="/")
        self.assertEqual(b.do("eval", expression="document.activeElement.id")["value"], "app-search")
        b.do("press", key="Tab")
        b.do("eval", expression="document.querySelector('tr[data-app=\"site\"] a.name').focus()")
        b.do("press", key="Enter")
        b.wait("#app-name", text="site")
        b.goto(op.url + "/applications/web")
        b.wait("#app-name", text="web")
        b.wait("#who", text="anonymous")
        self.assertEqual(b.do("eval", expression="document.getElementById('login-dialog').open")
                         ["value"], False)
        b.click("#action-sync")
        b.wait("#login-dialog", text="admin token")
        b.fill("#token-input", op.token)
        b.click("#login-submit")
        b.wait('#app-sync [data-sync="Synced"]')
        self.assertEqual(self.status(op, "web")["appliedCommit"], self.main0)
        self.assertEqual(b.errors(), [])

    def test_static_files_carry_security_headers_and_fall_back_to_index(self):
        op = self.operator(path="apps")
        with urllib.request.urlopen(op.url + "/") as r:
            html = r.read().decode()
        # One module and one style sheet, named after their content (the build bundles them).
        js = re.search(r'<script type="module" src="(/assets/app\.[0-9a-f]{16}\.js)"', html)
        css = re.search(r'<link rel="stylesheet" href="(/assets/style\.[0-9a-f]{16}\.css)"', html)
        self.assertTrue(js and css, html)
        self.assertEqual(html.count("<script"), 1)
        for path, ctype, cache in (
                ("/", "text/html", "no-cache"),
                ("/applications/web/diff", "text/html", "no-cache"),
                (js.group(1), "text/javascript", "public, max-age=31536000, immutable"),
                (css.group(1), "text/css", "public, max-age=31536000, immutable")):
            with urllib.request.urlopen(op.url + path) as r:
                self.assertEqual(r.status, 200)
                self.assertTrue(r.headers["Content-Type"].startswith(ctype), r.headers)
                csp = r.headers["Content-Security-Policy"]
                self.assertIn("default-src 'self'", csp)
                self.assertIn("frame-ancestors 'none'", csp)
                self.assertEqual(r.headers["X-Content-Type-Options"], "nosniff")
                self.assertEqual(r.headers["Cache-Control"], cache)
                etag = r.headers["ETag"]
        req = urllib.request.Request(op.url + css.group(1), headers={"If-None-Match": etag})
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(req)
        self.assertEqual(cm.exception.code, 304)
        # index.html, which names the assets, is revalidated: a 304 while unchanged.
        with urllib.request.urlopen(op.url + "/") as r:
            etag = r.headers["ETag"]
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(urllib.request.Request(op.url + "/",
                                                          headers={"If-None-Match": etag}))
        self.assertEqual(cm.exception.code, 304)
        # An asset of another build is a 404, not index.html served as a script.
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(op.url + "/assets/main.js")
        self.assertEqual(cm.exception.code, 404)
        # API paths are never the dashboard: JSON 404, and reads still need the token.
        status, body = op.api("GET", "/api/v1/nothing-here")
        self.assertEqual((status, body["code"]), (404, "NotFound"))
        status, _ = op.api("GET", "/api/v1/applications", token=None)
        self.assertEqual(status, 401)


if __name__ == "__main__":
    unittest.main()
