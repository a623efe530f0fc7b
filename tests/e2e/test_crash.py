"""kill -9 of the operator in the middle of a large sync loses nothing."""
import os
import unittest

from harness import E2E, file_yaml, wait_until

N = int(os.environ.get("PLUMB_E2E_CRASH_FILES", "300"))


def written_files(host, name):
    """Files written under host/NAME, or still in a staging directory beside it (a new
    directory is written there and renamed into place whole; a kill -9 can leave one)."""
    n = 0
    for entry in os.listdir(host):
        if entry == name or entry.startswith(".plumb-tmp-" + name + "."):
            n += len(os.listdir(os.path.join(host, entry)))
    return n


def staging_left(host):
    return [e for e in os.listdir(host) if e.startswith(".plumb-tmp")]


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
        # Mid-sync: some files are written, not all (the local runtime's fault waits for the
        # files it queued, so the kill always finds some).
        written = written_files(self.host, "many")
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
        # Nor a staging directory: the restart removed the one the kill left.
        self.assertEqual(staging_left(self.host), [])

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
        self.assertGreater(written_files(self.host, "many"), 0)

        self.repo.remove("many.yaml")
        c2 = self.repo.commit("drop the many files")
        op = self.operator()
        op.wait_synced("root", c2)
        self.assertEqual(self.read("small.txt"), "first\n")
        left = os.listdir(os.path.join(self.host, "many")) if os.path.isdir(
            os.path.join(self.host, "many")) else []
        self.assertEqual(left, [])
        self.assertEqual(staging_left(self.host), [])

    def test_resource_status_survives_a_kill_after_passes_that_saved_only_the_summary(self):
        # A pass saves an Application's per-resource status only when it changed; the
        # passes after it save the summary alone. A kill -9 then must not lose the rows.
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "a from git\n"))
        self.repo.write("b.yaml", file_yaml("b", "b.txt", "b from git\n"))
        c1 = self.repo.commit("a and b")
        op = self.operator(extra=["--no-self-heal"])  # passes every 200 ms
        op.wait_synced("root", c1)
        with open(os.path.join(self.host, "b.txt"), "w") as f:
            f.write("edited by hand\n")

        def rows(status):
            return {r["name"]: (r["sync"], r["health"]) for r in status["status"]["resources"]}

        drifted = wait_until(lambda: (s := op.status("root")) and
                             s["status"]["sync"] == "OutOfSync" and s, what="OutOfSync")
        self.assertEqual(rows(drifted)["a"], ("Synced", "Healthy"))
        self.assertEqual(rows(drifted)["b"][0], "OutOfSync")
        # Several passes later (each saved only its summary), the rows are as they were.
        seen = drifted["status"]["lastReconcileMs"]
        later = wait_until(lambda: (s := op.status("root")) and
                           s["status"]["lastReconcileMs"] > seen + 1000 and s,
                           what="more passes")
        self.assertEqual(rows(later), rows(drifted))
        op.kill9()
        self.operators.remove(op)

        # Started again with its repository gone, the operator cannot reconcile: what it
        # shows is what engine.db kept.
        moved = self.repo.bare + ".away"
        os.rename(self.repo.bare, moved)
        op2 = self.operator(extra=["--no-self-heal"])
        failed = wait_until(lambda: (s := op2.status("root")) and s["status"]["lastError"] and s,
                            what="a failed pass")
        self.assertEqual(rows(failed), rows(later))
        self.assertEqual(failed["status"]["appliedCommit"], c1)
        code, api = op2.api("GET", "/api/v1/applications/root")
        self.assertEqual(code, 200)
        self.assertEqual(rows(api), rows(later))
        os.rename(moved, self.repo.bare)
        wait_until(lambda: (s := op2.status("root")) and not s["status"]["lastError"] and
                   s["status"]["sync"] == "OutOfSync" and rows(s) == rows(later),
                   what="OutOfSync again once the repository is back")


class FlushErrorTest(E2E):
    """A flush that fails (the disk refused a sync) fails the pass, whether it ran beside
    the health stage (nothing to run after it) or before PostSync hooks."""

    def check_failed_pass(self, extra_files):
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "one\n"))
        for name, text in extra_files.items():
            self.repo.write(name, text)
        c1 = self.repo.commit("first")
        # No second pass to look at: one would find the host as git says (the files were
        # written) and take the commit as applied.
        op = self.operator(env={"PLUMB_FAULT": "flush-error"},
                           extra=["--interval", "1h", "--retry-base", "1h", "--retry-max", "1h"])
        hist = wait_until(lambda: [h for h in op.history("root") if h["result"] != "Running"],
                          what="a finished pass")
        self.assertEqual((hist[0]["revision"], hist[0]["result"]), (c1, "Failed"))
        self.assertIn("injected: PLUMB_FAULT=flush-error", hist[0]["message"])
        # The status follows the history row (it is saved last).
        st = wait_until(lambda: (s := op.status("root")) and s["status"]["lastError"] and
                        s["status"], what="the pass's error in the status")
        self.assertIn("flush-error", st["lastError"])
        self.assertNotEqual(st["appliedCommit"], c1)  # not durable: not applied
        self.assertEqual(self.read("a.txt"), "one\n")  # written, though
        op.stop()
        self.operators.remove(op)
        # A sound disk: the next start finds the host as git says (the files and their rows
        # were written) and takes the commit as applied.
        op2 = self.operator()
        op2.wait_synced("root", c1)

    def test_a_flush_beside_the_health_stage(self):
        self.check_failed_pass({})

    def test_a_flush_before_postsync_hooks(self):
        hook = file_yaml("post", "post.txt", "post\n",
                         extra="  annotations:\n    plumbline.dev/hook: PostSync\n")
        self.check_failed_pass({"post.yaml": hook})


if __name__ == "__main__":
    unittest.main()
