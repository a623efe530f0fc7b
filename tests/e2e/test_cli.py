"""plumb init, render and run --once, as a new user meets them."""
import json
import os
import subprocess
import tempfile
import unittest

import shutil
import urllib.request

from harness import PLUMB, git, kill_replicas, pid_alive, replica_statuses, wait_until


def plumb(*args, **kw):
    return subprocess.run([PLUMB, *args], capture_output=True, text=True, timeout=120, **kw)


class CliTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="plumb-cli-")

    def tearDown(self):
        kill_replicas(os.path.join(self.dir, "state"))  # the example's web service
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_init_creates_bare_repo_with_environment_branches_and_run_once_applies_it(self):
        repo = os.path.join(self.dir, "config")
        r = plumb("init", repo)
        self.assertEqual(r.returncode, 0, r.stderr)
        branches = git("branch", "--format=%(refname:short)", cwd=repo + ".git").split()
        self.assertEqual(sorted(branches), ["production", "staging"])
        self.assertTrue(os.path.exists(os.path.join(repo, "README.md")))
        host = os.path.join(self.dir, "host")
        r = plumb("run", "--repo", repo + ".git", "--branch", "staging", "--path", "root",
                  "--state-dir", os.path.join(self.dir, "state"), "--allow-path", host,
                  "--listen", "127.0.0.1:0", "--once")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("motd: Synced Healthy", r.stdout)
        with open(os.path.join(host, "motd.txt")) as f:
            self.assertIn("managed by plumbline", f.read())
        with open(os.path.join(host, "web/settings.env")) as f:
            self.assertIn("GREETING=hello from git", f.read())
        self.assertEqual(os.stat(os.path.join(host, "web/settings.env")).st_mode & 0o777, 0o640)
        # The example's web service: 3 replicas of plumb demo-server, greeting from git.
        state = os.path.join(self.dir, "state")

        def serving():
            reps = [s for s in replica_statuses(state, "web", "web")
                    if s["state"] == "Running" and pid_alive(s["pid"])]
            return len(reps) == 3 and reps
        for st in wait_until(serving, what="3 web replicas"):
            with open(os.path.join(st["dir"], "replica.json")) as f:
                port = json.load(f)["ports"]["http"]

            def answers():
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                        return b"hello from git" in r.read()
                except OSError:
                    return False
            wait_until(answers, what="the replica to answer")
        r = plumb("init", repo)
        self.assertEqual(r.returncode, 2)

    def test_render_prints_resources_or_file_line_errors(self):
        d = os.path.join(self.dir, "cfg")
        os.makedirs(os.path.join(d, "sub"))
        with open(os.path.join(d, "a.yaml"), "w") as f:
            f.write("apiVersion: local.plumbline.dev/v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
                    "data:\n  k: v\n---\napiVersion: local.plumbline.dev/v1\nkind: ConfigMap\n"
                    "metadata:\n  name: b\n")
        r = plumb("render", d)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("# Source: a.yaml:1", r.stdout)
        self.assertIn("# Source: a.yaml:8", r.stdout)
        with open(os.path.join(d, "sub", "dup.yaml"), "w") as f:
            f.write("apiVersion: local.plumbline.dev/v1\nkind: ConfigMap\nmetadata:\n  name: a\n")
        r = plumb("render", d)
        self.assertEqual(r.returncode, 2)
        self.assertIn("a.yaml:1", r.stderr)
        self.assertIn("sub/dup.yaml:1", r.stderr)
        with open(os.path.join(d, "sub", "dup.yaml"), "w") as f:
            f.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels: [x\n")
        r = plumb("render", d)
        self.assertEqual(r.returncode, 2)
        self.assertRegex(r.stderr, r"sub/dup\.yaml:\d+")

    def test_help_and_bad_flags(self):
        r = plumb("--help")
        self.assertEqual(r.returncode, 0)
        for verb in ("run", "init", "render", "status", "diff", "sync", "history", "rollback"):
            self.assertIn(verb, r.stdout)
        r = plumb("run", "--repo", "x", "--interval", "soon", "--state-dir",
                  os.path.join(self.dir, "s"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("invalid duration", r.stderr)


if __name__ == "__main__":
    unittest.main()
