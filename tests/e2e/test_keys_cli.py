"""Sealed-secrets verbs: `plumb keys` (init, rotate, list, export-public, backup, restore,
age-init), `plumb seal` offline and from the operator, `plumb reseal`, and the operator's
first key and GET /api/v1/keys/public.pem."""
import json
import os
import stat
import subprocess
import urllib.request

from harness import E2E, PLUMB, file_yaml, wait_until

SECRET = """apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: prod
  labels: {app: web}
type: Opaque
stringData:
  password: pl4nted-s3cret
"""


def plumb(*args, stdin=None):
    return subprocess.run([PLUMB, *args], input=stdin, capture_output=True, text=True,
                          timeout=120)


class KeysCliTest(E2E):
    def keys(self, state, *args):
        return plumb("keys", *args, "--state-dir", state)

    def ok(self, r):
        self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def test_keys_seal_rotate_reseal_backup_restore(self):
        a = os.path.join(self.root, "a")
        r = self.ok(self.keys(a, "init", "--bits", "2048"))
        self.assertIn("generated sealing key sealed-secrets-key-", r.stdout)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(a, "keys")).st_mode), 0o700)
        again = self.keys(a, "init", "--bits", "2048")
        self.assertEqual(again.returncode, 2)
        self.assertIn("plumb keys rotate", again.stderr)

        recipient = json.loads(self.ok(self.keys(a, "age-init", "-o", "json")).stdout)["recipient"]
        self.assertTrue(recipient.startswith("age1"), recipient)
        agekey = os.path.join(a, "keys", "identities.agekey")
        self.assertEqual(stat.S_IMODE(os.stat(agekey).st_mode), 0o600)

        cert = os.path.join(self.root, "cert.pem")
        pem = self.ok(self.keys(a, "export-public")).stdout
        self.assertTrue(pem.startswith("-----BEGIN CERTIFICATE-----"), pem)
        with open(cert, "w") as f:
            f.write(pem)

        # Offline: only the certificate.
        sealed = self.ok(plumb("seal", "--cert", cert, stdin=SECRET)).stdout
        self.assertIn("kind: SealedSecret", sealed)
        self.assertIn("namespace: prod", sealed)
        self.assertNotIn("pl4nted-s3cret", sealed)
        as_json = json.loads(self.ok(plumb("seal", "--cert", cert, "-o", "json", "--scope",
                                           "namespace-wide", stdin=SECRET)).stdout)
        self.assertEqual(as_json["metadata"]["annotations"],
                         {"sealedsecrets.bitnami.com/namespace-wide": "true"})
        lit = json.loads(self.ok(plumb("seal", "--cert", cert, "-o", "json", "--name", "api",
                                       "--from-literal", "token=t0k")).stdout)
        self.assertEqual(lit["metadata"], {"name": "api", "namespace": "default"})
        self.assertEqual(list(lit["spec"]["encryptedData"]), ["token"])

        # A multi-document file: the other document and the comments stay as they were.
        other = "# keep me\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v}\n"
        sealed_file = os.path.join(self.root, "sealed.yaml")
        with open(sealed_file, "w") as f:
            f.write(other + sealed)
        merge = self.ok(plumb("seal", "--cert", cert, "--from-literal", "user=admin",
                              "--merge-into", sealed_file))
        self.assertIn("merged", merge.stderr)
        with open(sealed_file) as f:
            merged = f.read()
        self.assertTrue(merged.startswith(other), merged)
        self.assertIn("user: ", merged)

        self.ok(self.keys(a, "rotate", "--bits", "2048"))
        listed = json.loads(self.ok(self.keys(a, "list", "-o", "json")).stdout)["items"]
        self.assertEqual([k["newest"] for k in listed], [True, False])
        self.assertGreater(listed[0]["id"], listed[1]["id"])
        self.assertEqual(len(listed[0]["fingerprint"]), 64)

        r = self.ok(plumb("reseal", "--state-dir", a, sealed_file))
        self.assertIn("1 SealedSecret(s) resealed to " + listed[0]["id"], r.stderr)
        with open(sealed_file) as f:
            resealed = f.read()
        self.assertTrue(resealed.startswith(other), resealed)
        self.assertNotEqual(resealed, merged)

        # Disaster recovery: the backup alone unseals in a fresh state directory.
        backup = os.path.join(self.root, "keys.backup")
        self.ok(self.keys(a, "backup", "-f", backup))
        self.assertEqual(stat.S_IMODE(os.stat(backup).st_mode), 0o600)
        b = os.path.join(self.root, "b")
        for n in (2, 0):  # restoring twice is harmless
            r = self.ok(self.keys(b, "restore", "-f", backup))
            self.assertIn(f"restored {n} sealing key(s)", r.stdout)
        self.assertEqual(self.ok(self.keys(b, "export-public")).stdout,
                         self.ok(self.keys(a, "export-public")).stdout)
        restored = json.loads(self.ok(self.keys(b, "list", "-o", "json")).stdout)
        self.assertEqual(restored["ageRecipients"], [recipient])
        self.assertEqual([k["id"] for k in restored["items"]], [k["id"] for k in listed])
        self.ok(plumb("reseal", "--state-dir", b, sealed_file))
        # Without the keys it does not unseal, and the file is left alone.
        c = os.path.join(self.root, "c")
        self.ok(self.keys(c, "init", "--bits", "2048"))
        with open(sealed_file) as f:
            before = f.read()
        r = plumb("reseal", "--state-dir", c, sealed_file)
        self.assertEqual(r.returncode, 2)
        self.assertIn("SealedSecret prod/db: key password does not unseal", r.stderr)
        self.assertNotIn("pl4nted", r.stderr)
        with open(sealed_file) as f:
            self.assertEqual(f.read(), before)

    def test_bad_input_is_a_clear_error(self):
        r = plumb("seal", "--cert", os.path.join(self.root, "missing.pem"), stdin=SECRET)
        self.assertEqual(r.returncode, 2)
        self.assertIn("missing.pem", r.stderr)
        a = os.path.join(self.root, "a")
        self.ok(self.keys(a, "init", "--bits", "2048"))
        cert = os.path.join(self.root, "cert.pem")
        with open(cert, "w") as f:
            f.write(self.ok(self.keys(a, "export-public")).stdout)
        r = plumb("seal", "--cert", cert,
                  stdin="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
        self.assertEqual(r.returncode, 2)
        self.assertIn("expected a Secret", r.stderr)
        # Read-only verbs do not create a state directory.
        nowhere = os.path.join(self.root, "nowhere")
        for args in (["keys", "list"], ["keys", "export-public"], ["keys", "backup"],
                     ["reseal", os.path.join(self.root, "x.yaml")]):
            r = plumb(*args, "--state-dir", nowhere)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("plumb keys init", r.stderr)
        self.assertFalse(os.path.exists(nowhere))
        r = plumb("seal", "--cert", cert, "--from-literal", "nokey")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--name", r.stderr)
        keyfile = [f for f in os.listdir(os.path.join(a, "keys")) if f.endswith(".pem")][0]
        os.chmod(os.path.join(a, "keys", keyfile), 0o644)
        r = self.keys(a, "list")
        self.assertEqual(r.returncode, 2)
        self.assertIn("chmod 600", r.stderr)

    def test_operator_generates_its_first_key_and_serves_the_certificate(self):
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "v1\n"))
        self.repo.commit("v1")
        op = self.operator(extra=["--key-bits", "2048"])
        # The first key is generated on a thread of its own while the first sync runs;
        # the certificate endpoint waits for it.
        with urllib.request.urlopen(op.url + "/api/v1/keys/public.pem", timeout=30) as r:
            served = r.read().decode()  # no token: a public key
        wait_until(lambda: "generated sealing key sealed-secrets-key-" in op.logs(),
                   what="the key generation logged")
        self.assertEqual(served, self.ok(self.keys(op.state, "export-public")).stdout)
        # plumb seal finds the operator like the other verbs do, or takes --operator.
        for args in (["--state-dir", op.state], ["--operator", op.url]):
            r = self.ok(plumb("seal", *args, stdin=SECRET))
            self.assertIn("kind: SealedSecret", r.stdout)
        op.stop()
        self.operators.remove(op)
        op2 = self.operator(extra=["--key-bits", "2048"])
        self.assertNotIn("generated sealing key", op2.logs())
        with urllib.request.urlopen(op2.url + "/api/v1/keys/public.pem", timeout=30) as r:
            self.assertEqual(r.read().decode(), served)

    def test_run_once_makes_the_key_only_when_it_needs_one(self):
        """A one-shot run that unseals nothing spends no CPU on a sealing key; the verbs that
        hand the key out make it; a run that has a SealedSecret to unseal makes it too."""
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "v1\n"))
        self.repo.commit("v1")
        state = os.path.join(self.root, "once")
        keys_dir = os.path.join(state, "keys")

        def once():
            return plumb("run", "--repo", self.repo.bare, "--branch", self.repo.branch,
                         "--path", ".", "--state-dir", state, "--allow-path", self.host,
                         "--listen", "127.0.0.1:0", "--key-bits", "2048", "--once")

        def pems():
            return sorted(f for f in os.listdir(keys_dir) if f.endswith(".pem"))

        # A plaintext Secret is refused without a key: refusing it needs none.
        self.repo.write("plain.yaml", "apiVersion: local.plumbline.dev/v1\nkind: Secret\n"
                        "metadata: {name: plain}\nstringData: {password: n0t-a-k3y}\n")
        self.repo.commit("plaintext")
        r = once()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("PlaintextSecretInGit", r.stdout)
        self.assertEqual(pems(), [])
        self.repo.remove("plain.yaml")
        self.repo.commit("no plaintext")
        r = once()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("root: Synced", r.stdout)
        self.assertEqual(self.read("a.txt"), "v1\n")
        self.assertEqual(pems(), [])
        self.assertNotIn("generated sealing key", r.stdout + r.stderr)
        self.assertIn("no sealing keys yet", self.ok(self.keys(state, "list")).stdout)
        # export-public makes the first key (once), as the operator would have.
        first = self.ok(self.keys(state, "export-public", "--bits", "2048"))
        self.assertIn("generated sealing key sealed-secrets-key-", first.stderr)
        self.assertEqual(len(pems()), 1)
        again = self.ok(self.keys(state, "export-public"))
        self.assertEqual(again.stdout, first.stdout)
        self.assertNotIn("generated", again.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(keys_dir, pems()[0])).st_mode), 0o600)
        # Sealed with that certificate, the next one-shot run unseals it with that key.
        cert = os.path.join(self.root, "once-cert.pem")
        with open(cert, "w") as f:
            f.write(first.stdout)
        secret = ("apiVersion: local.plumbline.dev/v1\nkind: Secret\nmetadata: {name: db}\n"
                  "stringData: {password: pl4nted-s3cret}\n")
        self.repo.write("sealed.yaml", self.ok(plumb("seal", "--cert", cert, stdin=secret)).stdout)
        self.repo.write("conf.yaml", "apiVersion: local.plumbline.dev/v1\nkind: File\n"
                        "metadata: {name: conf}\nspec:\n  path: conf.secret\n"
                        "  fromSecret: {name: db, key: password}\n")
        self.repo.commit("sealed")
        r = once()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.read("conf.secret"), "pl4nted-s3cret")
        self.assertEqual(len(pems()), 1)

        # A fresh state directory whose first run has a SealedSecret to unseal makes its key
        # in that run (this one was sealed for another key, so it does not unseal).
        state = os.path.join(self.root, "once2")
        keys_dir = os.path.join(state, "keys")
        r = once()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("does not unseal", r.stdout)
        self.assertEqual(len(pems()), 1)
        self.assertNotIn("pl4nted", r.stdout + r.stderr)
        # backup hands out the key there is, without making another.
        backup = self.ok(self.keys(state, "backup")).stdout
        self.assertIn(pems()[0][:-4], backup)
        self.assertEqual(len(pems()), 1)

    def test_operator_renews_its_key_when_due(self):
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "v1\n"))
        self.repo.commit("v1")
        op = self.operator(extra=["--key-bits", "2048", "--renew-every", "1s"])

        def cert():
            with urllib.request.urlopen(op.url + "/api/v1/keys/public.pem", timeout=30) as r:
                return r.read().decode()
        first = cert()
        wait_until(lambda: cert() != first, what="a renewed certificate")
        listed = json.loads(self.ok(self.keys(op.state, "list", "-o", "json")).stdout)["items"]
        self.assertGreaterEqual(len(listed), 2)
        wait_until(lambda: "renewed the sealing key: " + listed[0]["id"] in op.logs(),
                   what="the renewal logged")
