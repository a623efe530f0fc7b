"""The GitOps loop on the local runtime: commits become files; history records it."""
import json
import os
import unittest

from harness import E2E, file_yaml, app_yaml, git, wait_until


class LoopTest(E2E):
    def test_add_change_delete_follow_commits_and_history(self):
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "one\n"))
        self.repo.write("b.yaml", file_yaml("b", "sub/b.txt", "bee\n", mode="0600"))
        c1 = self.repo.commit("add a and b")
        op = self.operator()
        op.wait_synced("root", c1)
        self.assertEqual(self.read("a.txt"), "one\n")
        self.assertEqual(self.read("sub/b.txt"), "bee\n")
        self.assertEqual(os.stat(os.path.join(self.host, "sub/b.txt")).st_mode & 0o777, 0o600)

        self.repo.write("a.yaml", file_yaml("a", "a.txt", "two\n"))
        self.repo.remove("b.yaml")
        self.repo.write("c.yaml", file_yaml("c", "c.txt", "sea\n"))
        c2 = self.repo.commit("change a, delete b, add c")
        op.wait_synced("root", c2)
        self.assertEqual(self.read("a.txt"), "two\n")
        self.assertFalse(self.exists("sub/b.txt"))
        self.assertEqual(self.read("c.txt"), "sea\n")

        hist = op.history("root")
        self.assertEqual([h["revision"] for h in hist[:2]], [c2, c1])
        changes = {(c["name"], c["change"]) for c in hist[0]["changes"]}
        self.assertEqual(changes, {("a", "configured"), ("b", "deleted"), ("c", "created")})
        self.assertEqual(hist[0]["result"], "Succeeded")
        self.assertEqual(hist[0]["commitMessage"], "change a, delete b, add c")
        # A no-op reconcile records nothing new.
        self.assertEqual(len(op.history("root")), 2)

        table = op.cli("status").stdout
        self.assertIn("root", table)
        self.assertIn("Synced", table)
        self.assertIn(c2[:7], table)

    def test_broken_yaml_reports_file_line_and_keeps_last_good_state(self):
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "good\n"))
        c1 = self.repo.commit("good")
        op = self.operator()
        op.wait_synced("root", c1)
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "changed\n"))
        self.repo.write("bad.yaml", "apiVersion: v1\nkind: File\nmetadata:\n  name: [unclosed\n")
        self.repo.commit("broken")

        def has_error():
            st = op.status("root")["status"]
            return "bad.yaml:" in st["lastError"] and st
        st = wait_until(has_error, what="the render error in status")
        self.assertRegex(st["lastError"], r"bad\.yaml:\d+")
        self.assertEqual(st["appliedCommit"], c1)
        self.assertEqual(self.read("a.txt"), "good\n")
        r = op.cli("status")
        self.assertIn("bad.yaml", r.stdout)

        self.repo.remove("bad.yaml")
        c3 = self.repo.commit("fixed")
        op.wait_synced("root", c3)
        self.assertEqual(self.read("a.txt"), "changed\n")

    def test_sync_dry_run_and_diff_exit_codes(self):
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "v1\n"))
        c1 = self.repo.commit("v1")
        op = self.operator(extra=["--no-auto-sync"])
        wait_until(lambda: op.status("root")["status"]["headCommit"] == c1, what="first compare")
        self.assertEqual(op.status("root")["status"]["sync"], "OutOfSync")
        self.assertFalse(self.exists("a.txt"))
        d = op.cli("diff", "root")
        self.assertEqual(d.returncode, 1, d.stderr)
        self.assertIn("+++ git/", d.stdout)
        self.assertIn("v1", d.stdout)
        dry = json.loads(op.cli("sync", "root", "--dry-run", "-o", "json").stdout)
        self.assertEqual(dry["result"], "DryRun")
        self.assertFalse(self.exists("a.txt"))
        r = op.cli("sync", "root")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.read("a.txt"), "v1\n")
        self.assertEqual(op.cli("diff", "root").returncode, 0)
        # An unknown application is an error (2), not drift.
        self.assertEqual(op.cli("diff", "nope", check=False).returncode, 2)

    def test_two_applications_one_broken_other_keeps_syncing(self):
        self.repo.write("root/apps.yaml", app_yaml("good", "apps/good") + "---\n" +
                        app_yaml("broken", "apps/broken"))
        self.repo.write("apps/good/f.yaml", file_yaml("good", "good.txt", "g1\n"))
        self.repo.write("apps/broken/f.yaml", "kind: File\nmetadata: {name: x}\n  bad: indent\n")
        c1 = self.repo.commit("two apps")
        op = self.operator(path="root")
        op.wait_synced("good", c1)
        wait_until(lambda: "apps/broken/f.yaml:" in (op.status("broken") or {}).get(
            "status", {}).get("lastError", ""), what="broken app error")
        self.repo.write("apps/good/f.yaml", file_yaml("good", "good.txt", "g2\n"))
        c2 = self.repo.commit("good moves on")
        op.wait_synced("good", c2)
        self.assertEqual(self.read("good.txt"), "g2\n")
        self.assertNotEqual(op.status("broken")["status"]["lastError"], "")

    def test_commits_that_change_a_few_files_among_many(self):
        """A pass over a commit that changes some files reuses what the last pass knew of the
        rest (same documents from the render cache): each shortcut must still see what
        changed."""
        def many(rev):
            # 30 Files in one YAML file; rev changes the content of f07 only.
            return "---\n".join(file_yaml(f"f{i:02d}", f"many/f{i:02d}.txt",
                                           f"{i} rev {rev if i == 7 else 0}\n")
                                 for i in range(30))
        cm = ("apiVersion: local.plumbline.dev/v1\nkind: ConfigMap\nmetadata:\n"
              "  name: settings\ndata:\n  greeting: {}\n")
        user = ("apiVersion: local.plumbline.dev/v1\nkind: File\nmetadata:\n  name: user\n"
                "spec:\n  path: user.txt\n  fromConfigMap: {name: settings, key: greeting}\n")
        self.repo.write("many.yaml", many(0))
        self.repo.write("cm.yaml", cm.format("hello"))
        self.repo.write("user.yaml", user)
        self.repo.write("other.yaml", file_yaml("other", "other.txt", "other\n"))
        c1 = self.repo.commit("start")
        op = self.operator()
        op.wait_synced("root", c1)
        self.assertEqual(self.read("user.txt"), "hello")
        self.assertEqual(self.read("many/f07.txt"), "7 rev 0\n")

        # Only the ConfigMap's file changes: the File that takes its content from it is the
        # same document as before, and must be written again all the same.
        self.repo.write("cm.yaml", cm.format("bonjour"))
        c2 = self.repo.commit("greeting")
        op.wait_synced("root", c2)
        self.assertEqual(self.read("user.txt"), "bonjour")
        changes = {(c["name"], c["change"]) for c in op.history("root")[0]["changes"]}
        self.assertEqual(changes, {("settings", "configured"), ("user", "configured")})

        # One document of a file of many: that one is configured, the others unchanged.
        self.repo.write("many.yaml", many(1))
        c3 = self.repo.commit("f07 rev 1")
        op.wait_synced("root", c3)
        self.assertEqual(self.read("many/f07.txt"), "7 rev 1\n")
        changes = {(c["name"], c["change"]) for c in op.history("root")[0]["changes"]}
        self.assertEqual(changes, {("f07", "configured")})

        # Drift of a File the commit did not touch is still healed, in the same pass as a
        # commit that changes another.
        with open(os.path.join(self.host, "many/f03.txt"), "w") as f:
            f.write("edited by hand\n")
        self.repo.write("many.yaml", many(2))
        self.repo.remove("other.yaml")
        c4 = self.repo.commit("f07 rev 2, other deleted")
        op.wait_synced("root", c4)
        self.assertEqual(self.read("many/f07.txt"), "7 rev 2\n")
        self.assertEqual(self.read("many/f03.txt"), "3 rev 0\n")
        self.assertFalse(self.exists("other.txt"))
        hist = op.history("root")
        names = {(c["name"], c["change"]) for h in hist[:2] for c in h["changes"]}
        self.assertIn(("f07", "configured"), names)
        self.assertIn(("other", "deleted"), names)
        self.assertIn(("f03", "configured"), names)

    def test_app_of_apps_adds_and_removes_child(self):
        self.repo.write("root/apps.yaml", app_yaml("one", "apps/one"))
        self.repo.write("apps/one/f.yaml", file_yaml("one", "one.txt", "1\n"))
        self.repo.write("apps/two/f.yaml", file_yaml("two", "two.txt", "2\n"))
        c1 = self.repo.commit("one child")
        op = self.operator(path="root")
        op.wait_synced("one", c1)
        self.assertIsNone(op.status("two"))
        self.repo.write("root/apps.yaml", app_yaml("one", "apps/one") + "---\n" +
                        app_yaml("two", "apps/two"))
        c2 = self.repo.commit("add two")
        op.wait_synced("two", c2)
        self.assertEqual(self.read("two.txt"), "2\n")
        self.repo.write("root/apps.yaml", app_yaml("two", "apps/two"))
        self.repo.commit("remove one")
        wait_until(lambda: op.status("one") is None, what="child one removed")
        wait_until(lambda: not self.exists("one.txt"), what="one's file pruned")
        self.assertEqual(self.read("two.txt"), "2\n")


if __name__ == "__main__":
    unittest.main()
