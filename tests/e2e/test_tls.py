"""HTTPS: `plumb run --tls-cert/--tls-key`, the CLI trusting the operator with --ca-file,
plain HTTP refused, and clear errors for unusable certificate files."""
import json
import os
import shutil
import ssl
import subprocess
import unittest
import urllib.error
import urllib.request

from harness import E2E, PLUMB, file_yaml, wait_until


def make_cert(root, name, san="IP:127.0.0.1"):
    """A self-signed P-256 certificate and its key, written with the openssl CLI."""
    crt, key = os.path.join(root, name + ".crt"), os.path.join(root, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-keyout", key, "-out", crt,
                    "-subj", "/CN=plumbline-test", "-addext", "subjectAltName=" + san],
                   check=True, capture_output=True)
    return crt, key


@unittest.skipIf(shutil.which("openssl") is None, "the openssl command is missing")
class TlsTest(E2E):
    def cli(self, op, *args, env=None):
        return subprocess.run([PLUMB, *args, "--state-dir", op.state], capture_output=True,
                              text=True, timeout=120, env=dict(os.environ, **(env or {})))

    def test_https_api_trusted_through_ca_file(self):
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "v1\n"))
        c1 = self.repo.commit("v1")
        crt, key = make_cert(self.root, "operator")
        op = self.operator(extra=["--tls-cert", crt, "--tls-key", key])
        self.assertTrue(op.url.startswith("https://127.0.0.1:"), op.url)

        def applied():
            r = self.cli(op, "status", "root", "-o", "json", "--ca-file", crt)
            self.assertEqual(r.returncode, 0, r.stderr)
            return json.loads(r.stdout)["status"]["appliedCommit"] == c1
        wait_until(applied, what="root applied over https")
        self.assertEqual(self.read("a.txt"), "v1\n")
        r = self.cli(op, "status", env={"PLUMB_CA_FILE": crt})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("root", r.stdout)
        r = self.cli(op, "events", "root", "-o", "json", "--ca-file", crt)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("SyncSucceeded", [e["reason"] for e in json.loads(r.stdout)["items"]])

        # Without the CA the CLI refuses the certificate and says what to do.
        r = self.cli(op, "status")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--ca-file", r.stderr)

        # Plain HTTP to the TLS port gets no answer.
        plain = op.url.replace("https://", "http://")
        with self.assertRaises(OSError):  # URLError, RemoteDisconnected, ConnectionReset
            urllib.request.urlopen(plain + "/healthz", timeout=10).read()
        r = self.cli(op, "status", "--server", plain)
        self.assertEqual(r.returncode, 2)

        ctx = ssl.create_default_context(cafile=crt)
        with urllib.request.urlopen(op.url + "/healthz", timeout=10, context=ctx) as res:
            self.assertEqual((res.status, res.read()), (200, b"ok\n"))
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(op.url + "/api/v1/applications", timeout=10, context=ctx)
        self.assertEqual(e.exception.code, 401)
        req = urllib.request.Request(op.url + "/api/v1/applications",
                                     headers={"Authorization": "Bearer " + op.token})
        with urllib.request.urlopen(req, timeout=10, context=ctx) as res:
            self.assertEqual(json.loads(res.read())["items"][0]["name"], "root")
        # Python's own trust store does not know this certificate either.
        with self.assertRaises(urllib.error.URLError) as e:
            urllib.request.urlopen(op.url + "/healthz", timeout=10,
                                   context=ssl.create_default_context())
        self.assertIsInstance(e.exception.reason, ssl.SSLCertVerificationError)

    def test_certificate_for_another_host_is_refused(self):
        self.repo.commit("empty")
        crt, key = make_cert(self.root, "elsewhere", san="DNS:example.com")
        op = self.operator(extra=["--tls-cert", crt, "--tls-key", key])
        r = self.cli(op, "status", "--ca-file", crt)
        self.assertEqual(r.returncode, 2)
        self.assertIn("does not trust", r.stderr)

    def test_unusable_tls_files_stop_the_operator_naming_the_file(self):
        self.repo.commit("empty")
        crt_a, _ = make_cert(self.root, "a")
        _, key_b = make_cert(self.root, "b")
        missing = os.path.join(self.root, "missing.key")
        cases = [
            (["--tls-cert", crt_a, "--tls-key", key_b], key_b + " is not the private key"),
            (["--tls-cert", crt_a, "--tls-key", missing], "cannot read " + missing),
            (["--tls-cert", key_b, "--tls-key", key_b], key_b + " is not a PEM certificate"),
            (["--tls-cert", crt_a], "--tls-cert and --tls-key go together"),
        ]
        for flags, want in cases:
            with self.subTest(flags=flags):
                state = os.path.join(self.root, "state-" + str(len(flags)) + os.path.basename(
                    flags[-1]))
                r = subprocess.run([PLUMB, "run", "--repo", self.repo.bare, "--state-dir", state,
                                    "--listen", "127.0.0.1:0", *flags],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(want, r.stderr)
                self.assertFalse(os.path.exists(os.path.join(state, "address")))


if __name__ == "__main__":
    unittest.main()
