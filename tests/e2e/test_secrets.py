"""Secrets in git, sealed: the whole user flow with the real binary.

`plumb keys init` -> `plumb keys export-public` -> `plumb seal --cert` -> commit the
SealedSecret -> the operator unseals it in memory and a Process and a File consume it;
a plaintext Secret in git is refused; rotation keeps old values working; SOPS+age files
decrypt; a fresh operator given only the key backup rebuilds everything (disaster
recovery); planted values never appear in logs, API answers, history or events.
"""
import base64
import json
import os
import shutil
import subprocess
import unittest

from harness import E2E, PLUMB, kill_replicas, pid_alive, replica_statuses, wait_until
from test_notify import Receiver, notification

FAST = ["--supervise-interval", "50ms", "--restart-backoff", "50ms", "--restart-backoff-max",
        "400ms", "--restart-backoff-reset", "10m"]
FIXTURES = os.path.join(os.path.dirname(__file__), "../../src/secrets/testdata")
PLANTED = "pl4nted-DR-value-9c1e"
PLANTED_FILE = "pl4nted-file-value-33a0"


def plumb(*args, stdin=None, check=True):
    r = subprocess.run([PLUMB, *args], input=stdin, capture_output=True, text=True, timeout=120)
    if check and r.returncode != 0:
        raise AssertionError(f"plumb {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r


def secret_yaml(name, **values):
    body = "".join(f"  {k}: {v}\n" for k, v in values.items())
    return f"apiVersion: local.plumbline.dev/v1\nkind: Secret\nmetadata:\n  name: {name}\nstringData:\n{body}"


def reader_yaml(marker, name="reader", secret="creds", key="password"):
    return f"""apiVersion: local.plumbline.dev/v1
kind: Process
metadata:
  name: {name}
spec:
  command: ["sh", "-c", "printf %s \\"$PASSWORD\\" > {marker}; exec sleep 600"]
  env:
  - name: PASSWORD
    valueFrom:
      secretKeyRef: {{name: {secret}, key: {key}}}
"""


def file_from_secret_yaml(name, path, secret="creds", key="file"):
    return f"""apiVersion: local.plumbline.dev/v1
kind: File
metadata:
  name: {name}
spec:
  path: {path}
  fromSecret: {{name: {secret}, key: {key}}}
"""


class SecretsTest(E2E):
    def setUp(self):
        super().setUp()
        self.state = os.path.join(self.root, "state")
        self.cert = os.path.join(self.root, "cert.pem")

    def keys_init(self, state=None):
        plumb("keys", "init", "--state-dir", state or self.state, "--bits", "2048")
        pem = plumb("keys", "export-public", "--state-dir", state or self.state).stdout
        self.assertIn("BEGIN CERTIFICATE", pem)
        with open(self.cert, "w") as f:
            f.write(pem)
        return pem

    def seal(self, secret_text, *extra):
        out = plumb("seal", "--cert", self.cert, *extra, stdin=secret_text).stdout
        self.assertIn("kind: SealedSecret", out)
        self.assertIn("bitnami.com/v1alpha1", out)
        return out

    def resource(self, op, kind, name, app="root"):
        s = op.status(app)
        for r in (s or {}).get("status", {}).get("resources", []):
            if r["kind"] == kind and r["name"] == name:
                return r
        return None

    def seen(self, marker):
        try:
            with open(marker) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def sealed_app(self):
        """Commits a sealed Secret consumed by a Process (env) and a File (fromSecret)."""
        sealed = self.seal(secret_yaml("creds", password=PLANTED, file=PLANTED_FILE))
        self.assertNotIn(PLANTED, sealed)
        self.assertNotIn(base64.b64encode(PLANTED.encode()).decode(), sealed)
        marker = os.path.join(self.host, "seen")
        self.repo.write("sealed-creds.yaml", sealed)
        self.repo.write("reader.yaml", reader_yaml(marker))
        self.repo.write("conf.yaml", file_from_secret_yaml("conf", os.path.join(self.host, "conf.secret")))
        return self.repo.commit("sealed secret, reader, file"), marker

    def test_sealed_secret_reaches_process_and_file_and_never_leaks(self):
        self.keys_init()
        commit, marker = self.sealed_app()
        op = self.operator(extra=FAST)
        wait_until(lambda: self.seen(marker) == PLANTED, what="the unsealed value in the process")
        op.wait_synced("root", commit)
        conf = os.path.join(self.host, "conf.secret")
        self.assertEqual(self.seen(conf), PLANTED_FILE)
        self.assertEqual(os.stat(conf).st_mode & 0o777, 0o600)
        wait_until(lambda: (self.resource(op, "Process", "reader") or {}).get("health") == "Healthy",
                   what="reader healthy")
        # The SealedSecret became a Secret; the status lists the Secret.
        self.assertIsNotNone(self.resource(op, "Secret", "creds"))
        # A new sealed value (same name) rolls the process; the diff says so without values.
        sealed2 = self.seal(secret_yaml("creds", password=PLANTED + "-2", file=PLANTED_FILE))
        self.repo.write("sealed-creds.yaml", sealed2)
        self.repo.commit("new password")
        wait_until(lambda: self.seen(marker) == PLANTED + "-2", what="the new value")
        self.assert_no_leak(op, [PLANTED, PLANTED + "-2", PLANTED_FILE],
                            deliveries={marker, conf})

    def test_diff_shows_a_changed_sealed_value_without_it(self):
        self.keys_init()
        commit, _ = self.sealed_app()
        op = self.operator(extra=FAST + ["--no-auto-sync"])
        wait_until(lambda: (op.status("root") or {}).get("status", {}).get("headCommit") == commit,
                   what="the head seen")
        op.cli("sync", "root")
        op.wait_synced("root", commit)
        self.repo.write("sealed-creds.yaml",
                        self.seal(secret_yaml("creds", password=PLANTED + "-2", file=PLANTED_FILE)))
        c2 = self.repo.commit("new password")
        op.cli("sync", "root", "--dry-run", check=False)  # fetch now rather than at the interval
        wait_until(lambda: op.status("root")["status"]["headCommit"] == c2, what="the new head")
        d = op.cli("diff", "root", check=False)
        self.assertEqual(d.returncode, 1, d.stderr)
        self.assertIn("<sealed value changed>", d.stdout)
        for value in (PLANTED, PLANTED + "-2", PLANTED_FILE):
            self.assertNotIn(value, d.stdout + d.stderr)
            self.assertNotIn(base64.b64encode(value.encode()).decode(), d.stdout)

    def assert_no_leak(self, op, planted, deliveries):
        texts = {"operator log": op.logs()}
        for args in (["status", "root", "-o", "json"], ["diff", "root"],
                     ["history", "root", "-o", "json"], ["events", "-o", "json"],
                     ["logs", "root"]):
            texts["plumb " + " ".join(args)] = op.cli(*args, check=False).stdout
        for path in ("/api/v1/applications", "/api/v1/applications/root",
                     "/api/v1/applications/root/diff", "/api/v1/applications/root/history",
                     "/api/v1/events"):
            texts["GET " + path] = json.dumps(op.api("GET", path)[1])
        # Every file the operator wrote except what delivers the secret on purpose.
        for base in (op.state, self.host):
            for dirpath, _, files in os.walk(base):
                for f in files:
                    p = os.path.join(dirpath, f)
                    if p in deliveries or os.path.islink(p):
                        continue
                    # A Process's environment is delivered through its template.json
                    # and each replica's spec.json, mode 0600, by design.
                    if "/processes/" in p and f in ("template.json", "spec.json"):
                        self.assertEqual(os.stat(p).st_mode & 0o777, 0o600, p)
                        continue
                    with open(p, "rb") as fh:
                        texts[p] = fh.read().decode("latin-1")
        for value in planted:
            for form in (value, base64.b64encode(value.encode()).decode()):
                for where, t in texts.items():
                    self.assertNotIn(form, t, f"planted value found in {where}")

    def test_plaintext_secret_in_git_is_refused_with_condition_event_and_notification(self):
        rx = Receiver()
        self.addCleanup(rx.close)
        self.repo.write("creds.yaml", secret_yaml("creds", password=PLANTED))
        self.repo.write("motd.yaml", "apiVersion: local.plumbline.dev/v1\nkind: File\n"
                        f"metadata:\n  name: motd\nspec:\n  path: {self.host}/motd\n  content: hi\n")
        self.repo.write("notify.yaml", notification("ops", rx.url, ["PlaintextSecretInGit"]))
        self.repo.write("conf.yaml", file_from_secret_yaml("conf", os.path.join(self.host, "conf"),
                                                           key="password"))
        self.repo.commit("plaintext secret")
        op = self.operator(extra=FAST)
        # Other resources still apply; the Secret is refused with a clear message.
        wait_until(lambda: self.exists("motd"), what="other resources still apply")
        r = wait_until(lambda: self.resource(op, "Secret", "creds"), what="the Secret in the status")
        wait_until(lambda: "PlaintextSecretInGit" in (self.resource(op, "Secret", "creds") or {}).get("message", ""),
                   what="the refusal on the Secret")
        r = self.resource(op, "Secret", "creds")
        self.assertIn("creds.yaml:1", r["message"])
        self.assertIn("plumb seal", r["message"])
        # What consumes the refused Secret says why it cannot, once, at its own line.
        conf = wait_until(lambda: self.resource(op, "File", "conf"), what="the File in the status")
        self.assertTrue(conf["message"].startswith("conf.yaml:1: spec.fromSecret: Secret creds is "
                                                   "unavailable"), conf["message"])
        self.assertNotIn("conf.yaml:1: conf.yaml:1", conf["message"])
        self.assertFalse(self.exists("conf"))
        st = op.status("root")["status"]
        self.assertEqual([c["type"] for c in st["conditions"]], ["PlaintextSecretInGit"])
        wait_until(lambda: rx.triggers() == ["PlaintextSecretInGit"], what="the notification")
        events = json.loads(op.cli("events", "-o", "json").stdout)["items"]
        self.assertIn("PlaintextSecretInGit", [e["reason"] for e in events])
        self.assert_no_leak(op, [PLANTED], deliveries=set())
        # allowPlaintextSecrets on the Application (here the root's flag) lets it through.
        op.stop()
        op2 = self.operator(extra=FAST + ["--allow-plaintext-secrets"])
        wait_until(lambda: (op2.status("root") or {}).get("status", {}).get("sync") == "Synced"
                   and not op2.status("root")["status"].get("conditions"), what="allowed")
        self.assertEqual(self.read("conf"), PLANTED)

    def test_rotation_keeps_old_values_and_reseal_moves_to_the_newest_key(self):
        self.keys_init()
        old_sealed = self.seal(secret_yaml("creds", password=PLANTED, file=PLANTED_FILE))
        plumb("keys", "rotate", "--state-dir", self.state, "--bits", "2048")
        listed = json.loads(plumb("keys", "list", "--state-dir", self.state, "-o", "json").stdout)
        items = listed["items"] if isinstance(listed, dict) else listed
        self.assertEqual(len(items), 2)
        marker = os.path.join(self.host, "seen")
        self.repo.write("sealed-creds.yaml", old_sealed)
        self.repo.write("reader.yaml", reader_yaml(marker))
        commit = self.repo.commit("sealed with the old key")
        op = self.operator(extra=FAST)
        wait_until(lambda: self.seen(marker) == PLANTED, what="old key still unseals")
        op.wait_synced("root", commit)
        # reseal rewrites the file to the newest key; it still unseals, with the same value.
        path = os.path.join(self.repo.work, "sealed-creds.yaml")
        plumb("reseal", "--state-dir", self.state, path)
        with open(path) as f:
            resealed = f.read()
        self.assertNotEqual(resealed, old_sealed)
        self.assertNotIn(PLANTED, resealed)
        commit2 = self.repo.commit("resealed")
        op.wait_synced("root", commit2)
        self.assertEqual(self.seen(marker), PLANTED)

    def test_sealed_secret_moved_to_another_name_does_not_unseal(self):
        self.keys_init()
        sealed = self.seal(secret_yaml("creds", password=PLANTED, file=PLANTED_FILE))
        self.repo.write("sealed.yaml", sealed.replace("name: creds", "name: stolen"))
        self.repo.write("motd.yaml", "apiVersion: local.plumbline.dev/v1\nkind: File\n"
                        f"metadata:\n  name: motd\nspec:\n  path: {self.host}/motd\n  content: hi\n")
        self.repo.commit("moved")
        op = self.operator(extra=FAST)
        wait_until(lambda: self.exists("motd"), what="other resources still apply")
        wait_until(lambda: "does not unseal" in (self.resource(op, "Secret", "stolen") or {}).get("message", ""),
                   what="an error on the moved SealedSecret")
        self.assertEqual(op.status("root")["status"]["sync"], "OutOfSync")
        self.assertTrue(op.proc.poll() is None, "the operator is still running")

    def test_sops_age_file_decrypts_and_a_tampered_one_is_refused(self):
        with open(os.path.join(FIXTURES, "sops", "secret.age.yaml")) as f:
            sops = f.read()
        # The fixture is Flux's: a core v1 Secret named age with stringData.key.
        self.repo.write("secret.sops.yaml", sops)
        self.repo.write("conf.yaml", file_from_secret_yaml(
            "conf", os.path.join(self.host, "sops.out"), secret="age", key="key"))
        commit = self.repo.commit("sops")
        op = self.operator(extra=FAST + ["--age-key-file", os.path.join(FIXTURES, "sops", "age.agekey")])
        op.wait_synced("root", commit)
        self.assertEqual(self.read("sops.out"), "value")
        # Tamper with the ciphertext of the value: refused, the File keeps its content.
        lines = sops.splitlines(keepends=True)
        for i, line in enumerate(lines):
            if line.strip().startswith("key: ENC[AES256_GCM,data:"):
                data = line.split("data:")[1]
                flipped = ("A" if data[0] != "A" else "B") + data[1:]
                lines[i] = line.split("data:")[0] + "data:" + flipped
        self.repo.write("secret.sops.yaml", "".join(lines))
        self.repo.commit("tampered")
        wait_until(lambda: "SOPS" in (self.resource(op, "Secret", "age") or {}).get("message", ""),
                   what="the SOPS error on the Secret")
        self.assertEqual(self.read("sops.out"), "value")

    def test_disaster_recovery_from_the_key_backup_alone(self):
        self.keys_init()
        commit, marker = self.sealed_app()
        a = self.operator(extra=FAST)
        wait_until(lambda: self.seen(marker) == PLANTED, what="operator A delivered the secret")
        a.wait_synced("root", commit)
        backup = os.path.join(self.root, "keys-backup.pem")
        plumb("keys", "backup", "--state-dir", self.state, "-f", backup)
        self.assertEqual(os.stat(backup).st_mode & 0o777, 0o600)
        # The machine is lost: the operator, its replicas, its state, everything it wrote.
        a.kill9()
        self.operators.remove(a)
        kill_replicas(self.state)
        shutil.rmtree(self.state)
        for f in os.listdir(self.host):
            os.remove(os.path.join(self.host, f))
        # Operator B: a new state directory, the repository and the one backup file.
        b_state = os.path.join(self.root, "state-b")
        b = self.operator(extra=FAST + ["--restore-keys", backup], state_dir=b_state)
        wait_until(lambda: self.seen(marker) == PLANTED, what="operator B rebuilt the process")
        b.wait_synced("root", commit)
        self.assertEqual(self.read("conf.secret"), PLANTED_FILE)
        wait_until(lambda: (self.resource(b, "Process", "reader") or {}).get("health") == "Healthy",
                   what="reader healthy under B")
        running = [s for s in replica_statuses(b_state, "root", "reader")
                   if s["state"] == "Running" and pid_alive(s["pid"])]
        self.assertEqual(len(running), 1)


if __name__ == "__main__":
    unittest.main()
