"""Secret scanning: `plumb scan` on real git repositories, and the operator's commit gate.

The CLI half builds repositories with the git CLI and checks what `plumb scan` reports in
text, JSON and SARIF, its exit codes, --staged, --git over a history, --baseline, the
.plumbscan.yaml config and the pre-commit hook. The operator half commits an AWS-format key
and checks that the operator refuses that head (block: the files on the host stay, status
shows SecretLeak naming file, line and commit, one Warning event and one notification) and
applies the next commit that removes it; in warn mode the head is applied and alerted.

Every planted value is a fake of the documented format, made up here.
"""
import json
import os
import random
import string
import subprocess

from harness import E2E, GIT_ENV, PLUMB, file_yaml, git, wait_until
from test_notify import Receiver, notification

RNG = random.Random(7)


def fake(alphabet, n):
    return "".join(RNG.choice(alphabet) for _ in range(n))


AWS_KEY = "AKIA" + fake("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
GH_TOKEN = "ghp_" + fake(string.ascii_letters + string.digits, 36)
STRIPE = "sk_live_" + fake(string.ascii_letters + string.digits, 24)


def scan(*args, cwd=None):
    env = dict(os.environ, **GIT_ENV)
    return subprocess.run([PLUMB, "scan", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


class ScanCliTest(E2E):
    def work(self):
        return self.repo.work

    def assert_no_secret(self, text):
        for secret in (AWS_KEY, GH_TOKEN, STRIPE):
            self.assertNotIn(secret, text)
            self.assertNotIn(secret[6:], text)

    def test_working_tree_text_json_sarif_and_exit_codes(self):
        self.repo.write("README.md", "nothing to see\n")
        clean = scan(self.work())
        self.assertEqual(clean.returncode, 0, clean.stdout + clean.stderr)
        self.assertIn("0 findings", clean.stdout)

        self.repo.write("deploy/env.yaml", f"region: eu-west-1\naccess_key: {AWS_KEY}\n")
        self.repo.write("src/app.py", f"import os\n\nGITHUB = '{GH_TOKEN}'\n")
        # Look-alikes: AWS's documented example key, a SOPS value, a UUID, a placeholder.
        self.repo.write("docs/example.env",
                        "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n"
                        "password: ENC[AES256_GCM,data:Tr7o=,iv:1=,tag:x=,type:str]\n"
                        "token: 123e4567-e89b-12d3-a456-426614174000\n"
                        "api_key: ${API_KEY}\n")
        text = scan(self.work())
        self.assertEqual(text.returncode, 1, text.stderr)
        self.assertIn("deploy/env.yaml:2:13: aws-access-key-id: AKIA*****", text.stdout)
        self.assertIn("src/app.py:3:11: github-token: ghp_*****", text.stdout)
        self.assertIn("2 findings", text.stdout)
        self.assert_no_secret(text.stdout + text.stderr)

        js = scan(self.work(), "-o", "json")
        self.assertEqual(js.returncode, 1)
        report = json.loads(js.stdout)
        got = sorted((f["rule"], f["file"], f["line"]) for f in report["findings"])
        self.assertEqual(got, [("aws-access-key-id", "deploy/env.yaml", 2),
                               ("github-token", "src/app.py", 3)])
        self.assertTrue(all(len(f["fingerprint"]) == 16 for f in report["findings"]))
        self.assert_no_secret(js.stdout)

        sarif = json.loads(scan(self.work(), "-o", "sarif").stdout)
        self.assertEqual(sarif["version"], "2.1.0")
        self.assertIn("sarif", sarif["$schema"])
        run = sarif["runs"][0]
        rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
        self.assertIn("aws-access-key-id", rule_ids)
        results = run["results"]
        self.assertEqual(len(results), 2)
        for r in results:
            self.assertIn(r["ruleId"], rule_ids)
            loc = r["locations"][0]["physicalLocation"]
            self.assertIn(loc["artifactLocation"]["uri"], ("deploy/env.yaml", "src/app.py"))
            self.assertGreater(loc["region"]["startLine"], 0)
            self.assertTrue(r["partialFingerprints"])

        bad = scan(os.path.join(self.root, "missing"))
        self.assertEqual(bad.returncode, 2)
        self.assertIn("missing", bad.stderr)

    def test_git_history_staged_and_hook(self):
        w = self.work()
        self.repo.write("app.yaml", "name: app\n")
        c1 = self.repo.commit("first")
        self.repo.write("app.yaml", f"name: app\nstripe: {STRIPE}\n")
        c2 = self.repo.commit("add a payment key")
        self.repo.write("app.yaml", "name: app\n")
        c3 = self.repo.commit("remove it again")
        # The working tree is clean, the history is not.
        self.assertEqual(scan(w).returncode, 0)
        hist = scan("--git", "-o", "json", w)
        self.assertEqual(hist.returncode, 1, hist.stderr)
        report = json.loads(hist.stdout)
        self.assertEqual(report["commits"], 3)
        [f] = report["findings"]
        self.assertEqual((f["rule"], f["file"], f["line"], f["commit"]),
                         ("stripe-live-key", "app.yaml", 2, c2))
        self.assertEqual(f["author"], f"{GIT_ENV['GIT_AUTHOR_NAME']} <{GIT_ENV['GIT_AUTHOR_EMAIL']}>")
        self.assertEqual(f["match"], "sk_l*****")
        # A range that leaves c2 out is clean; --git=RANGE then a path.
        self.assertEqual(scan(f"--git={c2}..{c3}", w).returncode, 0)
        self.assertEqual(scan(f"--git={c1}..{c2}", w).returncode, 1)
        self.assertEqual(scan("--git=nosuchref", w).returncode, 2)

        # --staged: only what the index adds.
        self.repo.write("new.env", f"TOKEN={GH_TOKEN}\n")
        self.assertEqual(scan("--staged", w).returncode, 0, "not staged yet")
        git("add", "new.env", cwd=w)
        staged = scan("--staged", w)
        self.assertEqual(staged.returncode, 1, staged.stdout + staged.stderr)
        self.assertIn("new.env:1:7: github-token", staged.stdout)

        # The hook refuses the commit; --no-verify would not, an existing hook is kept.
        inst = scan("--install-hook", w)
        self.assertEqual(inst.returncode, 0, inst.stderr)
        hook = os.path.join(w, ".git", "hooks", "pre-commit")
        self.assertTrue(os.access(hook, os.X_OK))
        r = subprocess.run(["git", "commit", "-q", "-m", "leak"], cwd=w, capture_output=True,
                           text=True, env=dict(os.environ, **GIT_ENV))
        self.assertNotEqual(r.returncode, 0, "the hook let a secret through")
        self.assertIn("github-token", r.stdout + r.stderr)
        self.assertEqual(git("rev-parse", "HEAD", cwd=w), c3)
        again = scan("--install-hook", w)
        self.assertEqual(again.returncode, 2)
        self.assertIn("--force", again.stderr)
        self.assertEqual(scan("--install-hook", "--force", w).returncode, 0)
        git("reset", "-q", cwd=w)
        os.remove(os.path.join(w, "new.env"))
        self.repo.write("ok.txt", "fine\n")
        git("add", "ok.txt", cwd=w)
        git("commit", "-q", "-m", "clean", cwd=w)  # the hook passes a clean commit

    def test_baseline_and_config(self):
        w = self.work()
        self.repo.write("old/legacy.env", f"AWS_ACCESS_KEY_ID={AWS_KEY}\n")
        self.repo.commit("legacy")
        base = os.path.join(self.root, "baseline.json")
        first = scan("--git", "-o", "json", w)
        self.assertEqual(first.returncode, 1)
        with open(base, "w") as f:
            f.write(first.stdout)
        self.assertEqual(scan("--git", "--baseline", base, w).returncode, 0)
        # A new secret is still reported with the baseline.
        self.repo.write("new.py", f"t = '{GH_TOKEN}'\n")
        self.repo.commit("new token")
        r = scan("--git", "--baseline", base, "-o", "json", w)
        self.assertEqual(r.returncode, 1)
        self.assertEqual([f["rule"] for f in json.loads(r.stdout)["findings"]], ["github-token"])
        self.assertEqual(json.loads(r.stdout)["ignored"], 1)

        # .plumbscan.yaml at the root: a rule of our own, an allowlisted path.
        self.repo.write("svc.conf", "key = itk_" + "a1b2c3d4" * 4 + "\n")
        self.repo.write(".plumbscan.yaml", """rules:
  - id: internal-token
    description: Internal service token
    regex: 'itk_[a-z0-9]{32}'
allowlist:
  paths: ["old/**", "new.py"]
""")
        r = scan("-o", "json", w)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual([(f["rule"], f["file"]) for f in json.loads(r.stdout)["findings"]],
                         [("internal-token", "svc.conf")])
        self.repo.write(".plumbscan.yaml", "disabledRules: [jwtt]\n")
        r = scan(w)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no rule named jwtt", r.stderr)
        self.repo.write(".plumbscan.yaml", "allowlist:\n  paths: [1]\n")
        r = scan(w)
        self.assertEqual(r.returncode, 2)
        self.assertIn(".plumbscan.yaml:2: allowlist.paths.0: must be a non-empty string", r.stderr)


class ScanGateTest(E2E):
    def conditions(self, op, app):
        s = op.status(app)
        return [(c["type"], c["message"])
                for c in ((s or {}).get("status", {}).get("conditions") or [])]

    def events(self, op, reason):
        items = json.loads(op.cli("events", "-o", "json").stdout)["items"]
        return [e for e in items if e["reason"] == reason]

    def test_block_refuses_a_leaking_head_and_applies_the_fix(self):
        rx = Receiver()
        self.addCleanup(rx.close)
        target = os.path.join(self.host, "motd")
        self.repo.write("notify.yaml", notification("ops", rx.url, ["SecretLeak"]))
        self.repo.write("motd.yaml", file_yaml("motd", target, "v1"))
        c1 = self.repo.commit("v1")
        op = self.operator()
        op.wait_synced("root", c1)
        self.assertEqual(self.read("motd"), "v1\n")

        # A commit that adds an AWS key (line 9 of motd.yaml: inside the File's content), and
        # one on top that does not touch it, pushed together: the head is c2b, the condition
        # names the commit that added the line.
        self.repo.write("motd.yaml", file_yaml("motd", target, f"v2\naws_access_key_id: {AWS_KEY}"))
        git("add", "-A", cwd=self.repo.work)
        git("commit", "-q", "-m", "v2 with a key", cwd=self.repo.work)
        c2 = git("rev-parse", "HEAD", cwd=self.repo.work)
        self.repo.write("extra.yaml", file_yaml("extra", os.path.join(self.host, "extra"), "x"))
        c2b = self.repo.commit("another file")
        conds = wait_until(lambda: [c for c in self.conditions(op, "root") if c[0] == "SecretLeak"],
                           what="the SecretLeak condition")
        msg = conds[0][1]
        self.assertIn(f"head {c2b[:7]} adds a secret", msg)
        self.assertIn(f"motd.yaml:9: aws-access-key-id (AKIA*****) in commit {c2[:7]}", msg)
        self.assertIn(f"keeping {c1[:7]}", msg)
        st = op.status("root")["status"]
        self.assertEqual(st["appliedCommit"], c1)
        self.assertEqual(st["headCommit"], c2b)
        self.assertEqual(self.read("motd"), "v1\n")
        self.assertFalse(self.exists("extra"))
        human = op.cli("status", "root").stdout
        self.assertRegex(human, r"Condition: +SecretLeak: head " + c2b[:7] + " adds a secret")
        wait_until(lambda: rx.triggers() == ["SecretLeak"], what="the notification")
        self.assertIn(c2[:7], rx.posts[0]["message"])
        # Later passes on the same head change nothing and say it once.
        n = int(op.status("root")["status"]["lastReconcileMs"])
        wait_until(lambda: int(op.status("root")["status"]["lastReconcileMs"]) > n,
                   what="another pass")
        self.assertEqual(len(self.events(op, "SecretLeak")), 1)
        self.assertEqual(self.events(op, "SecretLeak")[0]["type"], "Warning")
        self.assertEqual(self.read("motd"), "v1\n")
        self.assertNotIn(c2b, [h["revision"] for h in op.history("root")])
        self.assertEqual(len(rx.posts), 1)
        # Nowhere the whole key: logs, API answers, events.
        self.assertNotIn(AWS_KEY, op.logs())
        self.assertNotIn(AWS_KEY, op.cli("events", "-o", "json").stdout)

        # The next commit removes the key: the lines added since c1 are clean, applied.
        self.repo.write("motd.yaml", file_yaml("motd", target, "v3"))
        c3 = self.repo.commit("v3 without the key")
        op.wait_synced("root", c3)
        self.assertEqual(self.read("motd"), "v3\n")
        self.assertEqual(self.conditions(op, "root"), [])

    def test_the_scan_decides_before_the_render(self):
        """The head is rendered while its scan runs: a head that adds a secret and also has a
        manifest that does not parse fails on the scan (the render's error is not what the
        pass reports), nothing is applied, and the commit that fixes both is applied."""
        target = os.path.join(self.host, "motd")
        self.repo.write("motd.yaml", file_yaml("motd", target, f"v1\naws_access_key_id: {AWS_KEY}"))
        self.repo.write("broken.yaml", "kind: [unclosed\n")
        c1 = self.repo.commit("v1 with a key and a broken manifest")
        op = self.operator()
        err = wait_until(lambda: (op.status("root") or {}).get("status", {}).get("lastError"),
                         what="the first pass to fail")
        self.assertIn(f"head {c1[:7]} adds a secret", err)
        self.assertIn("nothing applied yet", err)
        self.assertNotIn("render", err)
        self.assertNotIn("broken.yaml", err)
        self.assertFalse(self.exists("motd"))
        self.assertNotIn(AWS_KEY, op.logs())

        # Applied once, the same head stays refused by its scan while the render of a later
        # head (which adds a secret again) is dropped: the files stay as applied.
        self.repo.write("motd.yaml", file_yaml("motd", target, "v2"))
        os.remove(os.path.join(self.repo.work, "broken.yaml"))
        c2 = self.repo.commit("v2: no key, no broken manifest")
        op.wait_synced("root", c2)
        self.assertEqual(self.read("motd"), "v2\n")
        self.repo.write("motd.yaml", file_yaml("motd", target, f"v3\ntoken: {GH_TOKEN}"))
        self.repo.write("broken.yaml", "kind: [unclosed\n")
        c3 = self.repo.commit("v3 with a token and a broken manifest")
        conds = wait_until(lambda: [c for c in self.conditions(op, "root") if c[0] == "SecretLeak"],
                           what="the SecretLeak condition")
        self.assertIn(f"head {c3[:7]} adds a secret", conds[0][1])
        self.assertIn(f"keeping {c2[:7]}", conds[0][1])
        st = op.status("root")["status"]
        self.assertEqual(st["appliedCommit"], c2)
        self.assertFalse(st.get("lastError"))
        self.assertEqual(self.read("motd"), "v2\n")
        self.assertNotIn(GH_TOKEN, op.logs())

    def test_the_repositorys_config_applies_to_the_gate(self):
        """.plumbscan.yaml at the head: an allowlisted path is not blocked, a rule of the
        repository's own is, and a config that does not parse fails the reconcile naming
        the file and line (nothing applied)."""
        target = os.path.join(self.host, "motd")
        self.repo.write("motd.yaml", file_yaml("motd", target, "v1"))
        self.repo.write(".plumbscan.yaml", "allowlist:\n  paths: [fixtures/**]\n"
                        "rules:\n- id: acme-key\n  regex: 'acme_[0-9a-f]{24}'\n")
        c1 = self.repo.commit("v1 and a scan config")
        op = self.operator()
        op.wait_synced("root", c1)

        # A fake key under the allowlisted path: applied.
        self.repo.write("fixtures/creds.yaml",
                        file_yaml("creds", os.path.join(self.host, "creds"), f"key: {AWS_KEY}"))
        c2 = self.repo.commit("a test fixture with a fake key")
        op.wait_synced("root", c2)
        self.assertTrue(self.exists("creds"))
        self.assertEqual(self.conditions(op, "root"), [])

        # The repository's own rule blocks.
        acme = "acme_" + fake("0123456789abcdef", 24)
        self.repo.write("motd.yaml", file_yaml("motd", target, f"v3\nkey: {acme}"))
        c3 = self.repo.commit("v3 with an acme key")
        conds = wait_until(lambda: [c for c in self.conditions(op, "root") if c[0] == "SecretLeak"],
                           what="the repository's rule to block")
        self.assertIn("acme-key", conds[0][1])
        self.assertIn(f"head {c3[:7]} adds a secret", conds[0][1])
        self.assertEqual(op.status("root")["status"]["appliedCommit"], c2)
        self.assertEqual(self.read("motd"), "v1\n")

        # A broken config: the reconcile fails naming it; nothing applied.
        self.repo.write("motd.yaml", file_yaml("motd", target, "v4"))
        self.repo.write(".plumbscan.yaml", "allowlist:\n  paths: [1]\n")
        c4 = self.repo.commit("v4, a broken scan config")
        err = wait_until(lambda: ".plumbscan.yaml:2" in (op.status("root")["status"].get("lastError") or "")
                         and op.status("root")["status"]["lastError"], what="the config error")
        self.assertIn(f"secret scan of {c4[:7]}", err)
        self.assertIn("allowlist.paths.0: must be a non-empty string", err)
        self.assertEqual(self.read("motd"), "v1\n")
        self.assertEqual(op.status("root")["status"]["appliedCommit"], c2)

    def test_warn_applies_and_alerts(self):
        rx = Receiver()
        self.addCleanup(rx.close)
        target = os.path.join(self.host, "motd")
        self.repo.write("notify.yaml", notification("ops", rx.url, ["SecretLeak"]))
        self.repo.write("motd.yaml", file_yaml("motd", target, "v1"))
        c1 = self.repo.commit("v1")
        op = self.operator(extra=["--scan-policy", "warn"])
        op.wait_synced("root", c1)
        self.repo.write("motd.yaml", file_yaml("motd", target, f"v2\ntoken: {GH_TOKEN}"))
        c2 = self.repo.commit("v2 with a token")
        op.wait_synced("root", c2)
        self.assertIn("v2", self.read("motd"))
        wait_until(lambda: rx.triggers() == ["SecretLeak"], what="the warn notification")
        self.assertIn(c2[:7], rx.posts[0]["message"])
        self.assertIn(f"motd.yaml:9: github-token (ghp_*****) in commit {c2[:7]}",
                      rx.posts[0]["message"])
        self.assertIn("scan policy warn: applied", rx.posts[0]["message"])
        [e] = self.events(op, "SecretLeak")
        self.assertEqual(e["type"], "Warning")
        self.assertNotIn(GH_TOKEN, op.logs())
