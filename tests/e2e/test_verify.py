"""Signed commits (spec.source.verify): only a head signed by a trusted key is applied.

Keys and signatures are made here with the real tools (ssh-keygen, gpg) and the real
`git commit -S` (gpg.format=ssh for SSH keys). An unsigned or untrusted head is not
applied: the files stay at the last verified commit's content, the Application shows the
SourceVerificationFailed condition, an event is recorded and a notification delivered;
a signed commit on top is applied again.
"""
import json
import os
import subprocess

from harness import E2E, PLUMB, Operator, file_yaml, git, wait_until
from test_notify import Receiver, notification


def run(*argv, env=None):
    r = subprocess.run(list(argv), capture_output=True, text=True, env=env, timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {r.returncode}: {r.stderr}")
    return r.stdout


class VerifyTest(E2E):
    def setUp(self):
        super().setUp()
        self.gpg_homes = []

    def tearDown(self):
        for home in self.gpg_homes:  # the agent git's gpg started to sign
            subprocess.run(["gpgconf", "--homedir", home, "--kill", "gpg-agent"],
                           capture_output=True)
        super().tearDown()

    def ssh_key(self, name):
        path = os.path.join(self.root, name)
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path)
        return path

    def pgp_key(self, email):
        home = os.path.join(self.root, "gnupg-" + email.split("@")[0])
        os.makedirs(home, mode=0o700)
        self.gpg_homes.append(home)
        run("gpg", "--homedir", home, "--batch", "--passphrase", "", "--quick-gen-key",
            f"Test <{email}>", "ed25519", "sign", "never")
        return home

    def commit(self, message, sign=None, env=None):
        """Commits and pushes; `sign` is git -c options for signing (None: unsigned)."""
        w = self.repo.work
        git("add", "-A", cwd=w)
        if sign is None:
            git("commit", "-q", "-m", message, cwd=w)
        else:
            old = {k: os.environ.get(k) for k in (env or {})}
            os.environ.update(env or {})
            try:
                git(*sign, "commit", "-q", "-S", "-m", message, cwd=w)
            finally:
                for k, v in old.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
        git("push", "-q", "origin", f"HEAD:{self.repo.branch}", cwd=w)
        return git("rev-parse", "HEAD", cwd=w)

    def conditions(self, op, app):
        s = op.status(app)
        return [(c["type"], c["message"]) for c in ((s or {}).get("status", {}).get("conditions") or [])]

    def events(self, op, reason):
        items = json.loads(op.cli("events", "-o", "json").stdout)["items"]
        return [e for e in items if e["reason"] == reason]

    def test_root_with_ssh_key_applies_only_signed_heads(self):
        alice = self.ssh_key("alice")
        mallory = self.ssh_key("mallory")
        keys = os.path.join(self.root, "trusted.pub")
        with open(alice + ".pub") as src, open(keys, "w") as dst:
            dst.write("# who may change production\n" + src.read())
        sign_alice = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={alice}"]
        sign_mallory = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={mallory}"]
        rx = Receiver()
        self.addCleanup(rx.close)
        target = os.path.join(self.host, "motd")
        self.repo.write("notify.yaml", notification("ops", rx.url, ["SourceVerificationFailed"]))
        self.repo.write("motd.yaml", file_yaml("motd", target, "v1"))
        c1 = self.commit("v1, signed", sign_alice)
        op = self.operator(extra=["--verify-keys", keys])
        op.wait_synced("root", c1)
        self.assertEqual(self.read("motd"), "v1\n")
        self.assertEqual(self.conditions(op, "root"), [])
        self.assertEqual(op.status("root")["status"]["verifiedCommit"], c1)

        # Unsigned on top: not applied, the files stay at v1.
        self.repo.write("motd.yaml", file_yaml("motd", target, "v2 unsigned"))
        c2 = self.commit("v2, unsigned")
        wait_until(lambda: op.status("root")["status"]["headCommit"] == c2, what="the new head seen")
        conds = wait_until(lambda: self.conditions(op, "root"), what="the condition")
        self.assertEqual(conds[0][0], "SourceVerificationFailed")
        self.assertIn(f"commit {c2[:7]} is not signed", conds[0][1])
        self.assertIn(f"keeping {c1[:7]}", conds[0][1])
        st = op.status("root")["status"]
        self.assertEqual(st["appliedCommit"], c1)
        self.assertEqual(st["verifiedCommit"], c1)
        self.assertEqual(self.read("motd"), "v1\n")
        human = op.cli("status", "root").stdout
        self.assertRegex(human, r"Condition: +SourceVerificationFailed: commit " + c2[:7])
        self.assertRegex(human, r"Verify: +head signed by 1 key; last verified " + c1)
        wait_until(lambda: rx.triggers() == ["SourceVerificationFailed"], what="the notification")
        self.assertIn(c2[:7], rx.posts[0]["message"])
        events = self.events(op, "SourceVerificationFailed")
        self.assertEqual(len(events), 1)
        self.assertEqual(events[0]["type"], "Warning")
        # Later passes on the same head change nothing and say it once.
        n = int(op.status("root")["status"]["lastReconcileMs"])
        wait_until(lambda: int(op.status("root")["status"]["lastReconcileMs"]) > n,
                   what="another pass")
        self.assertEqual(len(self.events(op, "SourceVerificationFailed")), 1)
        self.assertEqual(self.read("motd"), "v1\n")
        self.assertNotIn(c2, [h["revision"] for h in op.history("root")])

        # Signed by a key nobody trusts: refused, naming the key.
        fp = run("ssh-keygen", "-l", "-f", mallory + ".pub").split()[1]
        self.repo.write("motd.yaml", file_yaml("motd", target, "v3 mallory"))
        c3 = self.commit("v3, signed by mallory", sign_mallory)
        wait_until(lambda: any(c3[:7] in m and fp in m for _, m in self.conditions(op, "root")),
                   what="the untrusted key named")
        self.assertEqual(self.read("motd"), "v1\n")
        wait_until(lambda: len(rx.triggers()) == 2, what="the second notification")

        # Signed by alice again: applied, condition gone.
        self.repo.write("motd.yaml", file_yaml("motd", target, "v4"))
        c4 = self.commit("v4, signed", sign_alice)
        op.wait_synced("root", c4)
        self.assertEqual(self.read("motd"), "v4\n")
        self.assertEqual(self.conditions(op, "root"), [])
        self.assertEqual(op.status("root")["status"]["verifiedCommit"], c4)

    def test_rollback_commit_signed_by_the_operator_is_applied(self):
        """plumb run --signing-key: the rollback commit plumbline writes is signed with the
        operator's key, so the Application that trusts that key (and the developers') keeps
        applying; without the key the same rollback is refused as unsigned."""
        alice = self.ssh_key("alice")
        bot = self.ssh_key("operator")
        os.chmod(bot, 0o600)
        keys = os.path.join(self.root, "trusted.pub")
        with open(keys, "w") as dst:
            for k in (alice, bot):
                with open(k + ".pub") as src:
                    dst.write(src.read())
        sign_alice = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={alice}"]
        target = os.path.join(self.host, "motd")
        self.repo.write("motd.yaml", file_yaml("motd", target, "v1"))
        c1 = self.commit("v1, signed", sign_alice)
        self.repo.write("motd.yaml", file_yaml("motd", target, "v2"))
        c2 = self.commit("v2, signed", sign_alice)

        # A key readable by others is refused at start, naming the fix.
        loose = os.path.join(self.root, "loose-key")
        with open(bot) as src, open(loose, "w") as dst:
            dst.write(src.read())
        os.chmod(loose, 0o644)
        r = subprocess.run([PLUMB, "run", "--repo", self.repo.bare, "--signing-key", loose],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("chmod 600", r.stderr)

        op = self.operator(extra=["--verify-keys", keys, "--signing-key", bot])
        op.wait_synced("root", c2)
        self.assertEqual(self.read("motd"), "v2\n")
        op.cli("rollback", "root", c1)
        head = git("rev-parse", self.repo.branch, cwd=self.repo.bare)
        self.assertNotEqual(head, c2)
        op.wait_synced("root", head)
        self.assertEqual(self.read("motd"), "v1\n")
        self.assertEqual(self.conditions(op, "root"), [])
        self.assertEqual(op.status("root")["status"]["verifiedCommit"], head)
        # The real git agrees: a good signature by the operator's key.
        allowed = os.path.join(self.root, "allowed")
        with open(bot + ".pub") as src, open(allowed, "w") as dst:
            dst.write("plumbline@localhost " + src.read())
        self.assertEqual(git("-c", f"gpg.ssh.allowedSignersFile={allowed}", "log", "-1",
                             "--format=%G?", head, cwd=self.repo.bare), "G")
        op.stop()

        # The same operator without --signing-key: its rollback commit is unsigned and the
        # Application refuses it, keeping what it verified.
        op2 = self.operator(extra=["--verify-keys", keys])
        op2.wait_synced("root", head)
        op2.cli("rollback", "root", c2)
        unsigned = git("rev-parse", self.repo.branch, cwd=self.repo.bare)
        self.assertNotEqual(unsigned, head)
        conds = wait_until(lambda: self.conditions(op2, "root"), what="the condition")
        self.assertEqual(conds[0][0], "SourceVerificationFailed")
        self.assertIn(f"commit {unsigned[:7]} is not signed", conds[0][1])
        self.assertEqual(self.read("motd"), "v1\n")

    def test_application_with_inline_pgp_key(self):
        home = self.pgp_key("alice@example.com")
        public = run("gpg", "--homedir", home, "--armor", "--export")
        key_block = "\n".join("          " + line for line in public.strip().splitlines())
        target = os.path.join(self.host, "app.txt")
        self.repo.write("root/signed.yaml", f"""apiVersion: plumbline.dev/v1
kind: Application
metadata:
  name: signed
spec:
  source:
    path: app
    verify:
      mode: head
      keys:
      - pgp: |
{key_block}
  sync:
    interval: 200ms
""")
        self.repo.write("app/file.yaml", file_yaml("app", target, "v1"))
        sign = ["-c", "user.signingkey=alice@example.com"]
        env = {"GNUPGHOME": home}
        c1 = self.commit("v1, gpg-signed", sign, env)
        op = self.operator(path="root")
        op.wait_synced("signed", c1)
        self.assertEqual(self.read("app.txt"), "v1\n")

        self.repo.write("app/file.yaml", file_yaml("app", target, "v2 unsigned"))
        c2 = self.commit("v2, unsigned")
        wait_until(lambda: any(t == "SourceVerificationFailed" and c2[:7] in m
                               for t, m in self.conditions(op, "signed")),
                   what="the condition on the child")
        self.assertEqual(op.status("signed")["status"]["appliedCommit"], c1)
        self.assertEqual(self.read("app.txt"), "v1\n")
        # The root Application has no verify: it is not concerned.
        op.wait_synced("root", c2)
        self.assertEqual(self.conditions(op, "root"), [])

        self.repo.write("app/file.yaml", file_yaml("app", target, "v3"))
        c3 = self.commit("v3, gpg-signed", sign, env)
        op.wait_synced("signed", c3)
        self.assertEqual(self.read("app.txt"), "v3\n")
        self.assertEqual(self.conditions(op, "signed"), [])

    def test_tag_mode_verifies_the_annotated_tag(self):
        alice = self.ssh_key("alice")
        keys = alice + ".pub"
        sign = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={alice}"]
        w = self.repo.work
        target = os.path.join(self.host, "motd")

        def release(content, signed):
            self.repo.write("motd.yaml", file_yaml("motd", target, content))
            c = self.commit(content)  # the commits themselves are unsigned
            tag = ["tag", "-f", "-s" if signed else "-a", "prod", "-m", content]
            git(*(sign if signed else []), *tag, cwd=w)
            git("push", "-q", "-f", "origin", "refs/tags/prod", cwd=w)
            return c

        c1 = release("v1", signed=True)
        op = Operator(self.root, self.repo.bare, branch="prod", allow=self.host,
                      extra=["--verify-keys", keys, "--verify-mode", "tag"])
        self.operators.append(op)
        op.wait_synced("root", c1)
        self.assertEqual(self.read("motd"), "v1\n")

        c2 = release("v2", signed=False)
        wait_until(lambda: any("tag prod is not signed" in m
                               for _, m in self.conditions(op, "root")),
                   what="the unsigned tag refused")
        self.assertEqual(op.status("root")["status"]["headCommit"], c2)
        self.assertEqual(op.status("root")["status"]["appliedCommit"], c1)
        self.assertEqual(self.read("motd"), "v1\n")

        c3 = release("v3", signed=True)
        op.wait_synced("root", c3)
        self.assertEqual(self.read("motd"), "v3\n")
        self.assertEqual(self.conditions(op, "root"), [])
