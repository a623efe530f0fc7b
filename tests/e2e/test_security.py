"""Writes stay under --allow-path; repository symlinks never escape; the API needs tokens."""
import os
import unittest

from harness import E2E, file_yaml, wait_until


class SecurityTest(E2E):
    def test_allow_path_escape_is_refused(self):
        outside = os.path.join(self.root, "outside.txt")
        self.repo.write("ok.yaml", file_yaml("ok", "ok.txt", "fine\n"))
        self.repo.write("evil.yaml", file_yaml("evil", "../outside.txt", "pwned\n"))
        self.repo.write("abs.yaml", file_yaml("abs", outside + "2", "pwned\n"))
        self.repo.commit("escape")
        op = self.operator()

        def refused():
            st = op.status("root")["status"]
            return "evil" in st["lastError"] or "abs" in st["lastError"]
        wait_until(refused, what="the escape to be refused")
        self.assertFalse(os.path.exists(outside))
        self.assertFalse(os.path.exists(outside + "2"))
        res = {r["name"]: r for r in op.status("root")["status"]["resources"]}
        self.assertEqual(res["evil"]["sync"], "OutOfSync")
        self.assertIn("allow", res["evil"]["message"])

    def test_symlink_escape_in_repository_is_refused(self):
        secret = os.path.join(self.root, "secret.yaml")
        with open(secret, "w") as f:
            f.write(file_yaml("stolen", "stolen.txt", "should never be read\n"))
        self.repo.write("ok.yaml", file_yaml("ok", "ok.txt", "fine\n"))
        self.repo.symlink(secret, "link.yaml")
        self.repo.symlink("../../../../../../etc/hostname", "rel.yaml")
        self.repo.commit("symlink escape")
        op = self.operator()
        wait_until(lambda: "symlink" in op.status("root")["status"]["lastError"],
                   what="the symlink escape error")
        self.assertFalse(self.exists("stolen.txt"))
        self.assertFalse(self.exists("ok.txt"))  # a refused render applies nothing

    def test_api_requires_tokens(self):
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "x\n"))
        c1 = self.repo.commit("a")
        op = self.operator()
        op.wait_synced("root", c1)
        code, _ = op.api("GET", "/api/v1/applications", token=None)
        self.assertEqual(code, 401)
        code, body = op.api("GET", "/api/v1/applications")
        self.assertEqual(code, 200)
        self.assertEqual(body["items"][0]["name"], "root")
        code, _ = op.api("POST", "/api/v1/applications/root/sync", {}, token="wrong")
        self.assertEqual(code, 401)
        code, _ = op.api("POST", "/api/v1/applications/root/sync", {})
        self.assertEqual(code, 200)
        code, _ = op.api("GET", "/healthz".replace("/healthz", "/api/v1/applications/nope"))
        self.assertEqual(code, 404)
        self.assertNotIn(op.token, op.logs())
        self.assertEqual(os.stat(os.path.join(op.state, "token")).st_mode & 0o777, 0o600)
        r = op.cli("sync", "root", token=False, check=False)
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main()
