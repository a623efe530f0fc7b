"""kill -9 of the operator in the middle of a large sync loses nothing."""
import os
import unittest

from harness import E2E, file_yaml, wait_until

N = int(os.environ.get("PLUMB_E2E_CRASH_FILES", "300"))


class CrashTest(E2E):
    def test_kill9_mid_sync_then_restart_converges_with_history_intact(self):
        self.repo.write("small.yaml", file_yaml("small", "small.txt", "first\n"))
        c1 = self.repo.commit("first")
        op = self.operator()
        op.wait_synced("root", c1)
        op.stop()
        self.operators.remove(op)

        docs = "---\n".join(file_yaml(f"f{i:04d}", f"many/f{i:04d}.txt", f"content {i}\n")
                            for i in range(N))
        self.repo.write("many.yaml", docs)
        c2 = self.repo.commit("many files")
        crashing = self.operator(env={"PLUMB_FAULT": f"crash-after-applies:{N // 2}"})
        wait_until(lambda: crashing.proc.poll() is not None, what="the injected crash")
        self.assertEqual(crashing.proc.returncode, -9)
        crashing.log.close()
        self.operators.remove(crashing)
        written = len(os.listdir(os.path.join(self.host, "many")))
        self.assertGreater(written, 0)
        self.assertLess(written, N)

        op2 = self.operator()
        op2.wait_synced("root", c2)
        self.assertEqual(len(os.listdir(os.path.join(self.host, "many"))), N)
        for i in (0, N // 2, N - 1):
            self.assertEqual(self.read(f"many/f{i:04d}.txt"), f"content {i}\n")
        hist = op2.history("root")
        results = [(h["revision"], h["result"]) for h in hist]
        self.assertIn((c1, "Succeeded"), results)
        self.assertIn((c2, "Interrupted"), results)
        self.assertIn((c2, "Succeeded"), results)
        # No leftover temp files from the interrupted writes.
        leftovers = [f for f in os.listdir(os.path.join(self.host, "many")) if ".plumb-tmp" in f]
        self.assertEqual(leftovers, [])

    def test_files_written_before_a_kill_are_pruned_when_git_drops_them(self):
        # The rows of a cold sync are committed in batches; a kill -9 before the commit
        # must not leave files that the next start does not know it owns.
        self.repo.write("small.yaml", file_yaml("small", "small.txt", "first\n"))
        docs = "---\n".join(file_yaml(f"f{i:04d}", f"many/f{i:04d}.txt", f"content {i}\n")
                            for i in range(N))
        self.repo.write("many.yaml", docs)
        self.repo.commit("many files")
        crashing = self.operator(env={"PLUMB_FAULT": f"crash-after-applies:{N // 2}"})
        wait_until(lambda: crashing.proc.poll() is not None, what="the injected crash")
        self.assertEqual(crashing.proc.returncode, -9)
        crashing.log.close()
        self.operators.remove(crashing)
        self.assertGreater(len(os.listdir(os.path.join(self.host, "many"))), 0)

        self.repo.remove("many.yaml")
        c2 = self.repo.commit("drop the many files")
        op = self.operator()
        op.wait_synced("root", c2)
        self.assertEqual(self.read("small.txt"), "first\n")
        left = os.listdir(os.path.join(self.host, "many")) if os.path.isdir(
            os.path.join(self.host, "many")) else []
        self.assertEqual(left, [])


if __name__ == "__main__":
    unittest.main()
