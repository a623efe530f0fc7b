"""Drift on the host: hand edits are seen within seconds and healed (or only reported)."""
import json
import os
import unittest

from harness import E2E, file_yaml, wait_until


class DriftTest(E2E):
    def test_hand_edit_chmod_and_delete_are_healed_with_an_event(self):
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "from git\n", mode="0644"))
        c1 = self.repo.commit("a")
        # A long interval: only the drift watch can bring the file back quickly.
        op = self.operator(extra=["--interval", "1h"])
        op.wait_synced("root", c1)
        path = os.path.join(self.host, "a.txt")
        with open(path, "w") as f:
            f.write("edited by hand\n")
        wait_until(lambda: self.read("a.txt") == "from git\n", what="content healed")
        os.chmod(path, 0o666)
        wait_until(lambda: os.stat(path).st_mode & 0o777 == 0o644, what="mode healed")
        os.remove(path)
        wait_until(lambda: self.exists("a.txt"), what="file recreated")
        events = json.loads(op.cli("events", "root", "-o", "json").stdout)["items"]
        healed = [e for e in events if e["reason"] == "DriftHealed"]
        self.assertTrue(healed, events)
        self.assertIn("File/a", healed[0]["message"])
        self.assertNotIn("edited by hand", json.dumps(events))

    def test_detect_only_reports_out_of_sync_and_diff(self):
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "from git\n"))
        c1 = self.repo.commit("a")
        op = self.operator(extra=["--no-self-heal", "--interval", "1h"])
        op.wait_synced("root", c1)
        with open(os.path.join(self.host, "a.txt"), "w") as f:
            f.write("edited by hand\n")
        wait_until(lambda: op.status("root")["status"]["sync"] == "OutOfSync", what="OutOfSync")
        self.assertEqual(self.read("a.txt"), "edited by hand\n")
        d = op.cli("diff", "root")
        self.assertEqual(d.returncode, 1)
        self.assertIn("-    edited by hand", d.stdout)
        self.assertIn("+    from git", d.stdout)
        events = json.loads(op.cli("events", "root", "-o", "json").stdout)["items"]
        self.assertTrue([e for e in events if e["reason"] == "DriftDetected"], events)
        # A user sync puts it back.
        self.assertEqual(op.cli("sync", "root").returncode, 0)
        self.assertEqual(self.read("a.txt"), "from git\n")


if __name__ == "__main__":
    unittest.main()
