"""Rollback writes a commit on the environment branch; git stays the source of truth."""
import unittest

from harness import E2E, file_yaml, git, wait_until


class RollbackTest(E2E):
    def test_rollback_commits_old_content_of_the_path_only(self):
        self.repo.write("app/a.yaml", file_yaml("a", "a.txt", "v1\n"))
        self.repo.write("other/README", "other path, untouched\n")
        c1 = self.repo.commit("v1")
        op = self.operator(path="app")
        op.wait_synced("root", c1)
        self.repo.write("app/a.yaml", file_yaml("a", "a.txt", "v2\n"))
        self.repo.write("app/b.yaml", file_yaml("b", "b.txt", "new in v2\n"))
        self.repo.write("other/README", "other path, changed in v2\n")
        c2 = self.repo.commit("v2")
        op.wait_synced("root", c2)
        self.assertEqual(self.read("a.txt"), "v2\n")

        # By history id: the row that applied c1.
        hist = op.history("root")
        row = [h for h in hist if h["revision"] == c1][0]
        r = op.cli("rollback", "root", str(row["id"]))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.repo.pull()
        head = git("rev-parse", "HEAD", cwd=self.repo.work)
        msg = git("log", "-1", "--format=%B", cwd=self.repo.work)
        self.assertIn(c1[:12], msg)
        self.assertIn("Requested-by:", msg)
        self.assertEqual(git("rev-parse", "HEAD~1", cwd=self.repo.work), c2)
        # Only the Application's path changed.
        changed = git("diff", "--name-only", "HEAD~1", "HEAD", cwd=self.repo.work).split()
        self.assertEqual(sorted(changed), ["app/a.yaml", "app/b.yaml"])
        op.wait_synced("root", head)
        self.assertEqual(self.read("a.txt"), "v1\n")
        self.assertFalse(self.exists("b.txt"))
        self.assertEqual(op.history("root")[0]["trigger"], "rollback")

        # By commit id, forward again.
        r = op.cli("rollback", "root", c2[:10])
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_until(lambda: self.exists("b.txt") and self.read("a.txt") == "v2\n",
                   what="roll forward")
        # Nothing to roll back is a clear error.
        r = op.cli("rollback", "root", c2, check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("nothing to roll back", r.stderr)


if __name__ == "__main__":
    unittest.main()
