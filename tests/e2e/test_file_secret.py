"""A File whose content comes from a Secret (spec.fromSecret) on the local runtime: written
0600, rewritten when the Secret changes in git, and its value shown nowhere but in the
file: not in plumb diff, status, history, events or the operator's log."""
import base64
import json
import os
import unittest
import uuid

from harness import E2E, app_yaml, file_yaml, wait_until


def secret_yaml(value):
    return ("apiVersion: local.plumbline.dev/v1\nkind: Secret\nmetadata:\n  name: db\n"
            f"stringData:\n  password: {value}\n")


def secret_file_yaml(key="password", mode=None):
    m = f'\n  mode: "{mode}"' if mode else ""
    return ("apiVersion: local.plumbline.dev/v1\nkind: File\nmetadata:\n  name: cred\n"
            f"spec:\n  path: db.pw{m}\n  fromSecret: {{name: db, key: {key}}}\n")


class FileFromSecretTest(E2E):
    """The resources live in a child Application "app" that allows plain Secrets in git
    (this is about the File, not about sealing)."""

    def write_app(self, auto=True):
        sync = "" if auto else "    auto: false\n"
        self.repo.write("root/apps.yaml",
                        app_yaml("app", "apps/app", sync).replace(
                            "spec:\n", "spec:\n  allowPlaintextSecrets: true\n", 1))

    def assert_hidden(self, op, text, *values):
        for v in values:
            for form in (v, base64.b64encode(v.encode()).decode()):
                self.assertNotIn(form, text)

    def test_written_owner_only_rewritten_on_change_and_never_shown(self):
        v1, v2 = "planted-" + uuid.uuid4().hex, "planted-" + uuid.uuid4().hex
        self.write_app(auto=False)
        self.repo.write("apps/app/secret.yaml", secret_yaml(v1))
        self.repo.write("apps/app/cred.yaml", secret_file_yaml())
        c1 = self.repo.commit("a file from a secret")
        op = self.operator(path="root")
        wait_until(lambda: ((op.status("app") or {}).get("status", {}).get("headCommit") == c1),
                   what="first compare")
        d = op.cli("diff", "app")
        self.assertEqual(d.returncode, 1, d.stderr)
        self.assertIn("File/cred", d.stdout)
        self.assertIn("<secret value hidden>", d.stdout)
        self.assert_hidden(op, d.stdout, v1)

        r = op.cli("sync", "app")
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        self.assertEqual(self.read("db.pw"), v1)
        self.assertEqual(os.stat(os.path.join(self.host, "db.pw")).st_mode & 0o777, 0o600)
        self.assertEqual(op.cli("diff", "app").returncode, 0)

        # A new value in git: the File is out of sync (only its hash line moves) and a
        # sync rewrites it.
        self.repo.write("apps/app/secret.yaml", secret_yaml(v2))
        c2 = self.repo.commit("rotate the password")
        wait_until(lambda: op.status("app")["status"]["headCommit"] == c2, what="second compare")
        self.assertEqual(op.status("app")["status"]["sync"], "OutOfSync")
        d = op.cli("diff", "app")
        self.assertEqual(d.returncode, 1, d.stderr)
        self.assertIn("File/cred", d.stdout)
        self.assertIn("<secret value hidden>", d.stdout)
        self.assertIn("contentHash", d.stdout)
        self.assert_hidden(op, d.stdout, v1, v2)
        r = op.cli("sync", "app")
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        self.assertEqual(self.read("db.pw"), v2)

        # spec.mode overrides the 0600 default.
        self.repo.write("apps/app/cred.yaml", secret_file_yaml(mode="0640"))
        c3 = self.repo.commit("group-readable")
        wait_until(lambda: op.status("app")["status"]["headCommit"] == c3, what="third compare")
        self.assertEqual(op.cli("sync", "app").returncode, 0)
        self.assertEqual(os.stat(os.path.join(self.host, "db.pw")).st_mode & 0o777, 0o640)

        seen = [json.dumps(op.status("app")), json.dumps(op.history("app")),
                op.cli("events", "app", "-o", "json").stdout, op.logs()]
        for text in seen:
            self.assert_hidden(op, text, v1, v2)

    def test_a_missing_key_is_an_error_on_that_file_and_the_rest_applies(self):
        self.write_app()
        self.repo.write("apps/app/secret.yaml", secret_yaml("hunter2-" + uuid.uuid4().hex))
        self.repo.write("apps/app/cred.yaml", secret_file_yaml(key="nope"))
        self.repo.write("apps/app/a.yaml", file_yaml("a", "a.txt", "still applied\n"))
        self.repo.commit("a file from a missing key")
        op = self.operator(path="root")
        wait_until(lambda: self.exists("a.txt"), what="the other file applied")

        def error():
            err = (op.status("app") or {}).get("status", {}).get("lastError", "")
            return err if "cred.yaml:" in err else None
        err = wait_until(error, what="the error on File/cred")
        self.assertIn('Secret db has no key "nope"', err)
        self.assertIn("fix spec.fromSecret.key", err)
        self.assertNotIn("hunter2", err)
        self.assertFalse(self.exists("db.pw"))


if __name__ == "__main__":
    unittest.main()
