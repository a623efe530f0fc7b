"""Environments and promotion: staging and production are two branches of one
repository, each followed by an Application; `plumb promote` merges staging into
production only when staging runs exactly that commit, Synced and Healthy."""
import json
import os
import unittest

from harness import E2E, file_yaml, git, wait_until
from test_notify import Receiver, notification

FAST = ["--supervise-interval", "50ms", "--restart-backoff", "50ms", "--restart-backoff-max",
        "400ms", "--restart-backoff-reset", "10m"]


def env_app(name, branch, extra=""):
    return (f"apiVersion: plumbline.dev/v1\nkind: Application\nmetadata:\n  name: {name}\n"
            f"spec:\n  source:\n    branch: {branch}\n    path: deploy\n"
            f"  target:\n    local:\n      root: ROOT/{name}\n"
            f"  sync:\n    interval: 200ms\n{extra}")


CRASHING = """apiVersion: local.plumbline.dev/v1
kind: Process
metadata:
  name: web
spec:
  replicas: 1
  command: ["sh", "-c", "echo web-crashed >&2; exit 3"]
"""


class EnvironmentsBase(E2E):
    PRODUCTION_EXTRA = ""

    def setUp(self):
        super().setUp()
        w = self.repo.work
        for env in ("staging", "production"):
            os.makedirs(os.path.join(self.host, env))
        self.rx = Receiver()
        self.addCleanup(self.rx.close)
        self.repo.write("apps/notify.yaml", notification(
            "promotions", self.rx.url, ["Promoted", "PromotionBlocked"]))
        self.repo.write("apps/staging.yaml",
                        env_app("staging", "staging").replace("ROOT", self.host))
        self.repo.write("apps/production.yaml",
                        env_app("production", "production", self.PRODUCTION_EXTRA).replace("ROOT", self.host))
        self.repo.commit("environments")
        # The environment branches share their first commit.
        git("checkout", "-q", "--orphan", "staging", cwd=w)
        git("rm", "-rqf", ".", cwd=w)
        self.repo.write("deploy/app.yaml", file_yaml("app", "app.txt", "v1\n"))
        self.c0 = self.repo.commit("v1", branch="staging")
        git("push", "-q", "origin", "HEAD:production", cwd=w)
        self.op = self.operator(path="apps", extra=FAST)
        self.op.wait_synced("staging", self.c0)
        self.op.wait_synced("production", self.c0)
        self.assertEqual(self.read("production/app.txt"), "v1\n")

    def on(self, branch):
        git("fetch", "-q", "origin", cwd=self.repo.work)
        git("checkout", "-q", "-B", branch, f"origin/{branch}", cwd=self.repo.work)

    def head(self, branch):
        return git("rev-parse", f"refs/heads/{branch}", cwd=self.repo.bare)

    def healthy_at(self, app, commit):
        def ok():
            st = self.op.status(app)["status"]
            return st["appliedCommit"] == commit and st["sync"] == "Synced" and \
                st["health"] == "Healthy"
        wait_until(ok, what=f"{app} Healthy at {commit}")

    def promote(self, *args):
        r = self.op.cli("promote", "staging", "production", *args, "-o", "json", check=False)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        return r.returncode, json.loads(r.stdout)

    def events(self, app):
        return json.loads(self.op.cli("events", app, "-o", "json").stdout)["items"]


class PromoteTest(EnvironmentsBase):
    def test_healthy_change_is_promoted_and_production_converges(self):
        self.on("staging")
        self.repo.write("deploy/app.yaml", file_yaml("app", "app.txt", "v2\n"))
        c1 = self.repo.commit("v2", branch="staging")
        self.healthy_at("staging", c1)

        dry_code, dry = self.promote("--dry-run")
        self.assertEqual(dry_code, 0)
        self.assertEqual(dry["result"], "Promoted")
        self.assertTrue(dry["dryRun"])
        self.assertEqual(self.head("production"), self.c0)

        code, r = self.promote()
        self.assertEqual(code, 0, r)
        self.assertEqual(r["result"], "Promoted")
        self.assertEqual(r["outcome"], "FastForward")
        self.assertEqual(r["newHead"], c1)
        self.assertTrue(r["gate"]["passed"])
        self.assertEqual([c["app"] for c in r["gate"]["checks"]], ["staging"])
        self.assertEqual(self.head("production"), c1)
        self.op.wait_synced("production", c1)
        self.assertEqual(self.read("production/app.txt"), "v2\n")
        # Both environments' history and events.
        self.assertIn(("promote", "Promoted"), [(h["trigger"], h["result"])
                                                for h in self.op.history("production")])
        self.assertIn("promote", [h["trigger"] for h in self.op.history("staging")])
        self.assertIn("Promoted", [e["reason"] for e in self.events("production")])
        wait_until(lambda: "Promoted" in self.rx.triggers(), what="the Promoted notification")
        # A change needs the admin token.
        r = self.op.cli("promote", "staging", "production", token=False, check=False)
        self.assertEqual(r.returncode, 2)
        # Promoting again: nothing to do.
        code, again = self.promote()
        self.assertEqual((code, again["result"]), (0, "UpToDate"))

        # env list and env diff.
        out = self.op.cli("env", "list").stdout
        self.assertIn("staging", out)
        self.assertIn("production", out)
        d = self.op.cli("env", "diff", "staging", "production", "-o", "json")
        self.assertEqual(d.returncode, 0, d.stdout)

    def test_degraded_staging_is_refused_and_force_overrides(self):
        self.on("staging")
        self.repo.write("deploy/web.yaml", CRASHING)
        c1 = self.repo.commit("a crashing web", branch="staging")

        def degraded():
            st = self.op.status("staging")["status"]
            return st["appliedCommit"] == c1 and st["health"] == "Degraded"
        wait_until(degraded, what="staging Degraded")
        r = self.op.cli("promote", "staging", "production", check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("Degraded", r.stderr)
        self.assertIn("refused", r.stderr)
        self.assertIn("FAILED", r.stdout)
        self.assertEqual(self.head("production"), self.c0)
        self.assertIn("PromotionBlocked", [e["reason"] for e in self.events("production")])
        wait_until(lambda: "PromotionBlocked" in self.rx.triggers(),
                   what="the PromotionBlocked notification")

        # An older commit staging is not running now is refused too: "at exactly".
        code, old = self.promote("--commit", self.c0)
        self.assertEqual((code, old["result"]), (0, "UpToDate"))

        code, forced = self.promote("--force")
        self.assertEqual(code, 0, forced)
        self.assertTrue(forced["forced"])
        self.assertEqual(self.head("production"), c1)
        rows = [h for h in self.op.history("production")
                if h["trigger"] == "promote" and h["result"].startswith("Promoted")]
        self.assertEqual(rows[0]["result"], "PromotedForced")
        self.assertIn("--force", rows[0]["message"])

    def test_ours_records_the_merge_without_the_changes(self):
        self.on("staging")
        self.repo.write("deploy/app.yaml", file_yaml("app", "app.txt", "staging only\n"))
        c1 = self.repo.commit("staging-only tweak", branch="staging")
        self.healthy_at("staging", c1)
        code, r = self.promote("--ours")
        self.assertEqual(code, 0, r)
        self.assertEqual(r["outcome"], "MergeCommit")
        head = self.head("production")
        self.assertEqual(git("log", "-1", "--format=%P", head, cwd=self.repo.bare),
                         f"{self.c0} {c1}")
        self.assertIn(c1, git("log", "--format=%H", "production", cwd=self.repo.bare))
        self.assertEqual(git("rev-parse", f"{head}^{{tree}}", cwd=self.repo.bare),
                         git("rev-parse", f"{self.c0}^{{tree}}", cwd=self.repo.bare))
        self.op.wait_synced("production", head)
        self.assertEqual(self.read("production/app.txt"), "v1\n")
        # Staging is now fully merged: nothing left to promote.
        code, again = self.promote()
        self.assertEqual(again["result"], "UpToDate")

    def test_merge_commit_names_the_gate_and_a_conflict_changes_nothing(self):
        # Production's own commit on another file: a merge commit.
        self.on("production")
        self.repo.write("deploy/note.yaml", file_yaml("note", "note.txt", "prod\n"))
        p1 = self.repo.commit("production note", branch="production")
        self.on("staging")
        self.repo.write("deploy/app.yaml", file_yaml("app", "app.txt", "v2\n"))
        s1 = self.repo.commit("v2", branch="staging")
        self.healthy_at("staging", s1)
        code, r = self.promote()
        self.assertEqual(code, 0, r)
        self.assertEqual(r["outcome"], "MergeCommit")
        merge = self.head("production")
        self.assertEqual(git("log", "-1", "--format=%P", merge, cwd=self.repo.bare), f"{p1} {s1}")
        msg = git("log", "-1", "--format=%B", merge, cwd=self.repo.bare)
        self.assertIn(f"Promoted-commit: {s1}", msg)
        self.assertIn("Gate: staging passed: Synced and Healthy", msg)
        self.op.wait_synced("production", merge)
        self.assertEqual(self.read("production/app.txt"), "v2\n")
        self.assertEqual(self.read("production/note.txt"), "prod\n")

        # Both change app.yaml: a conflict, reported, production untouched.
        self.on("production")
        self.repo.write("deploy/app.yaml", file_yaml("app", "app.txt", "hotfix\n"))
        p2 = self.repo.commit("hotfix", branch="production")
        self.on("staging")
        self.repo.write("deploy/app.yaml", file_yaml("app", "app.txt", "v3\n"))
        s2 = self.repo.commit("v3", branch="staging")
        self.healthy_at("staging", s2)
        r = self.op.cli("promote", "staging", "production", check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("deploy/app.yaml", r.stdout)
        self.assertIn("conflict", r.stderr)
        self.assertEqual(self.head("production"), p2)
        self.op.wait_synced("production", p2)
        self.assertEqual(self.read("production/app.txt"), "hotfix\n")

        d = self.op.cli("env", "diff", "staging", "production", "-o", "json")
        self.assertEqual(d.returncode, 1)
        diff = json.loads(d.stdout)
        # staging has s2; production has p1, the merge and p2 of its own.
        self.assertEqual((diff["ahead"], diff["behind"]), (1, 3))
        self.assertIn("+    v3", diff["diff"])


class AutoPromoteTest(EnvironmentsBase):
    PRODUCTION_EXTRA = "  promotion:\n    from: staging\n    auto: true\n    after: 300ms\n"

    def test_staging_healthy_for_a_while_is_promoted_by_itself(self):
        self.on("staging")
        self.repo.write("deploy/app.yaml", file_yaml("app", "app.txt", "v2\n"))
        c1 = self.repo.commit("v2", branch="staging")
        wait_until(lambda: self.head("production") == c1, what="the automatic promotion")
        self.op.wait_synced("production", c1)
        self.assertEqual(self.read("production/app.txt"), "v2\n")
        rows = [h for h in self.op.history("production")
                if h["trigger"] == "auto-promote" and h["result"].startswith("Promoted")]
        self.assertEqual(rows[0]["result"], "Promoted")
        self.assertEqual(rows[0]["initiator"], "auto-promotion")
        # A Degraded staging is not promoted.
        self.on("staging")
        self.repo.write("deploy/web.yaml", CRASHING)
        c2 = self.repo.commit("a crashing web", branch="staging")
        wait_until(lambda: self.op.status("staging")["status"]["appliedCommit"] == c2 and
                   self.op.status("staging")["status"]["health"] == "Degraded",
                   what="staging Degraded")
        self.assertEqual(self.head("production"), c1)


class DirectoryPerEnvironmentTest(E2E):
    """staging and production as two directories on one branch."""

    def test_promotion_copies_the_staging_directory_in_one_commit(self):
        for env in ("stg", "prd"):
            os.makedirs(os.path.join(self.host, env))
            self.repo.write(f"apps/{env}.yaml", (
                f"apiVersion: plumbline.dev/v1\nkind: Application\nmetadata:\n  name: {env}\n"
                f"spec:\n  source:\n    path: envs/{env}\n"
                f"  target:\n    local:\n      root: {self.host}/{env}\n"
                f"  sync:\n    interval: 200ms\n"))
            self.repo.write(f"envs/{env}/app.yaml", file_yaml("app", "app.txt", "v1\n"))
        self.repo.write("envs/prd/only-prd.yaml", file_yaml("extra", "extra.txt", "x\n"))
        c0 = self.repo.commit("two environments")
        op = self.operator(path="apps")
        op.wait_synced("prd", c0)
        self.repo.write("envs/stg/app.yaml", file_yaml("app", "app.txt", "v2\n"))
        c1 = self.repo.commit("v2 in staging")

        def healthy():
            st = op.status("stg")["status"]
            return st["appliedCommit"] == c1 and st["sync"] == "Synced" and \
                st["health"] == "Healthy"
        wait_until(healthy, what="stg Healthy at c1")
        d = op.cli("env", "diff", "stg", "prd", "-o", "json")
        self.assertEqual(d.returncode, 1)
        self.assertEqual(json.loads(d.stdout)["mode"], "directory")
        r = op.cli("promote", "stg", "prd", "-o", "json", check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        report = json.loads(r.stdout)
        self.assertEqual((report["mode"], report["outcome"]), ("directory", "Commit"))
        head = git("rev-parse", "refs/heads/main", cwd=self.repo.bare)
        self.assertEqual(git("log", "-1", "--format=%P", head, cwd=self.repo.bare), c1)
        self.assertIn(f"Promoted-commit: {c1}",
                      git("log", "-1", "--format=%B", head, cwd=self.repo.bare))
        self.assertEqual(git("ls-tree", "-r", "--name-only", head, "envs/prd",
                             cwd=self.repo.bare), "envs/prd/app.yaml")
        op.wait_synced("prd", head)
        self.assertEqual(self.read("prd/app.txt"), "v2\n")
        self.assertFalse(self.exists("prd/extra.txt"))
        # --ours has no meaning here.
        r = op.cli("promote", "--ours", "stg", "prd", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--ours needs environment branches", r.stderr)


if __name__ == "__main__":
    unittest.main()
