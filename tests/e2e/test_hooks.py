"""Sync hooks and sync waves with local Jobs, as Argo CD users know them: a failing
PreSync Job stops the sync and runs the SyncFail hooks; a succeeding one lets it happen
and PostSync runs after; a Job in wave -1 finishes before wave 0 is applied.
"""
import json
import os
import unittest

from harness import E2E, file_yaml, wait_until


def job_yaml(name, script, hook=None, wave=None, env=None):
    annotations = ""
    if hook:
        annotations += f"    plumbline.dev/hook: {hook}\n"
    if wave is not None:
        annotations += f'    plumbline.dev/sync-wave: "{wave}"\n'
    meta = f"metadata:\n  name: {name}\n" + (f"  annotations:\n{annotations}" if annotations else "")
    env_list = [{"name": k, "value": v} for k, v in (env or {}).items()]
    return (f"apiVersion: local.plumbline.dev/v1\nkind: Job\n{meta}"
            f"spec:\n  command: {json.dumps(['sh', '-c', script])}\n  backoffLimit: 0\n"
            f"  env: {json.dumps(env_list)}\n")


def hook_file(name, path, content, hook):
    return file_yaml(name, path, content, extra=f"  annotations:\n    plumbline.dev/hook: {hook}\n")


class FileHooksTest(E2E):
    """The hook machinery with Files as hooks (a File is Healthy once written; one outside
    --allow-path fails to apply), so it runs before the runtime has Jobs."""

    def test_hooks_run_around_the_sync_in_order_and_stay_out_of_the_plan(self):
        self.repo.write("app.yaml", file_yaml("app", "app.txt", "v1\n"))
        self.repo.write("pre.yaml", hook_file("pre", "pre.txt", "pre\n", "PreSync"))
        self.repo.write("post.yaml", hook_file("post", "post.txt", "post\n", "PostSync"))
        self.repo.write("fail.yaml", hook_file("fail", "fail.txt", "fail\n", "SyncFail"))
        c1 = self.repo.commit("hooks")
        op = self.operator()
        op.wait_synced("root", c1)
        self.assertTrue(self.exists("pre.txt") and self.exists("app.txt"))
        self.assertTrue(self.exists("post.txt"))
        self.assertFalse(self.exists("fail.txt"))
        st = op.status("root")["status"]
        self.assertEqual([r["name"] for r in st["resources"]], ["app"])
        row = op.history("root")[0]
        self.assertEqual(row["result"], "Succeeded")
        self.assertEqual([(c["name"], c.get("hook")) for c in row["changes"]],
                         [("pre", "PreSync"), ("app", None), ("post", "PostSync")])
        reasons = [e["reason"] for e in
                   json.loads(op.cli("events", "root", "-o", "json").stdout)["items"]]
        self.assertEqual(reasons.count("HookSucceeded"), 2, reasons)

        # A failing PreSync hook (its File is outside --allow-path): nothing else is
        # applied, the row says why, the SyncFail hook runs, nothing is pruned.
        self.repo.write("pre.yaml", hook_file("pre", "/proc/plumb-not-allowed", "x\n", "PreSync"))
        self.repo.write("app.yaml", file_yaml("app", "app.txt", "v2\n"))
        self.repo.commit("a failing hook")
        wait_until(lambda: self.exists("fail.txt"), what="the SyncFail hook")
        self.assertEqual(self.read("app.txt"), "v1\n")
        failed = [r for r in op.history("root") if r["result"] == "Failed"]
        self.assertIn("PreSync hook File/pre failed", failed[0]["message"])
        st = op.status("root")["status"]
        self.assertEqual(st["sync"], "OutOfSync")
        self.assertIn("not applied: PreSync hook File/pre failed", st["resources"][0]["message"])
        self.assertTrue(self.exists("pre.txt") and self.exists("post.txt"))

    def test_unknown_hook_phase_is_an_error_naming_file_and_line(self):
        self.repo.write("pre.yaml", hook_file("pre", "pre.txt", "pre\n", "PreSnyc"))
        self.repo.commit("typo")
        op = self.operator()
        st = wait_until(lambda: op.status("root")["status"]["lastError"], what="an error")
        self.assertIn("pre.yaml:1", st)
        self.assertIn("PreSnyc", st)


class HooksTest(E2E):
    def path(self, name):
        return os.path.join(self.host, name)

    def events(self, op):
        return json.loads(op.cli("events", "root", "-o", "json").stdout)["items"]

    def test_failing_presync_stops_the_sync_and_runs_syncfail_then_a_fix_syncs(self):
        self.repo.write("app.yaml", file_yaml("app", "app.txt", "v1\n"))
        self.repo.write("migrate.yaml", job_yaml("migrate", "exit 3", hook="PreSync"))
        self.repo.write("on-fail.yaml", job_yaml(
            "on-fail", 'echo failed >> "$MARKER"', hook="SyncFail",
            env={"MARKER": self.path("syncfail.marker")}))
        self.repo.commit("a failing migration")
        op = self.operator(extra=["--hook-timeout", "30s"])

        wait_until(lambda: os.path.exists(self.path("syncfail.marker")), what="SyncFail hook ran")
        self.assertFalse(os.path.exists(self.path("app.txt")), "a failed PreSync applied the File")
        # The history row is finished after the SyncFail Job is seen to exit, a moment after
        # it wrote the marker.
        wait_until(lambda: any(r["result"] == "Failed" for r in op.history("root")),
                   what="the failed sync in history")
        rows = op.history("root")
        failed = [r for r in rows if r["result"] == "Failed"]
        self.assertTrue(failed, rows)
        self.assertIn("PreSync hook Job/migrate failed", failed[-1]["message"])
        hooks = {(c["name"], c.get("hook")) for c in failed[-1]["changes"]}
        self.assertIn(("migrate", "PreSync"), hooks)
        reasons = {e["reason"] for e in self.events(op)}
        self.assertTrue({"HookStarted", "HookFailed"} <= reasons, reasons)

        # Fixed: the migration succeeds, the File is applied, PostSync runs after it
        # (it copies the File, so it must run once the File is there).
        self.repo.write("migrate.yaml", job_yaml("migrate", "true", hook="PreSync"))
        self.repo.write("notify.yaml", job_yaml(
            "notify", 'cat "$APP" > "$MARKER"', hook="PostSync",
            env={"APP": self.path("app.txt"), "MARKER": self.path("postsync.marker")}))
        c2 = self.repo.commit("a working migration, and a PostSync hook")
        op.wait_synced("root", c2)
        self.assertEqual(self.read("app.txt"), "v1\n")
        wait_until(lambda: os.path.exists(self.path("postsync.marker")), what="PostSync hook ran")
        self.assertEqual(self.read("postsync.marker"), "v1\n")
        # Hooks are neither in the sync status nor pruned as "not in git".
        st = op.status("root")["status"]
        self.assertEqual(st["sync"], "Synced")
        self.assertNotIn("Job", {r["kind"] for r in st["resources"]})
        for row in op.history("root"):
            for c in row["changes"]:
                self.assertNotEqual(c["change"], "deleted", row)

    def test_wave_minus_one_job_finishes_before_wave_zero(self):
        self.repo.write("seed.yaml", job_yaml(
            "seed", 'sleep 0.5; echo seeded > "$OUT"', wave=-1,
            env={"OUT": self.path("seed.out")}))
        self.repo.write("app.yaml", file_yaml("app", "app.txt", "after the seed\n"))
        c1 = self.repo.commit("waves")
        op = self.operator()
        wait_until(lambda: os.path.exists(self.path("app.txt")), what="the wave 0 File")
        self.assertTrue(os.path.exists(self.path("seed.out")), "wave 0 applied before wave -1 ended")
        self.assertLessEqual(os.stat(self.path("seed.out")).st_mtime_ns,
                             os.stat(self.path("app.txt")).st_mtime_ns)
        op.wait_synced("root", c1)

    def test_failed_wave_skips_the_rest(self):
        self.repo.write("seed.yaml", job_yaml("seed", "exit 1", wave=-1))
        self.repo.write("app.yaml", file_yaml("app", "app.txt", "never\n"))
        self.repo.commit("a failing wave")
        op = self.operator(extra=["--health-timeout", "30s"])

        def failed_row():
            return [r for r in op.history("root") if r["result"] == "Failed"]
        rows = wait_until(failed_row, what="a failed sync")
        self.assertIn("sync wave -1", rows[-1]["message"])
        self.assertFalse(os.path.exists(self.path("app.txt")))


if __name__ == "__main__":
    unittest.main()
