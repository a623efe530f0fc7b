"""`plumb logs` and `plumb local scale|stop`: the CLI, the API and their errors; with
real Processes: logs with replica prefixes, following, secret values masked, and an
emergency stop healed by selfHeal."""
import base64
import json
import os
import subprocess
import unittest

from harness import E2E, PLUMB, file_yaml, wait_until

FAST = ["--supervise-interval", "50ms", "--restart-backoff", "50ms", "--restart-backoff-max",
        "400ms",
        # these tests keep plaintext Secrets in git on purpose (test_secrets seals them)
        "--allow-plaintext-secrets"]
PLANTED = "s3cr3t-planted-in-logs-9c2"
PLANTED_DATA = "d4t4-planted-in-logs-51e"  # given base64-encoded under `data`


def ticker_yaml(name="ticker", replicas=2):
    script = 'i=0; while true; do echo "tick $i pw=$PW tok=$TOK"; i=$((i+1)); sleep 0.05; done'
    return f"""apiVersion: local.plumbline.dev/v1
kind: Secret
metadata:
  name: creds
stringData:
  pw: {PLANTED}
data:
  tok: {base64.b64encode(PLANTED_DATA.encode()).decode()}
---
apiVersion: local.plumbline.dev/v1
kind: Process
metadata:
  name: {name}
spec:
  replicas: {replicas}
  command: {json.dumps(["sh", "-c", script])}
  env:
  - name: PW
    valueFrom:
      secretKeyRef: {{name: creds, key: pw}}
  - name: TOK
    valueFrom:
      secretKeyRef: {{name: creds, key: tok}}
"""


class LocalOpsErrorsTest(E2E):
    def test_errors_name_what_is_wrong(self):
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "x\n"))
        c1 = self.repo.commit("a file only")
        op = self.operator()
        op.wait_synced("root", c1)

        r = op.cli("logs", "root", check=False)
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn("runs no Process or Job", r.stderr)
        r = op.cli("logs", "nosuch", "web", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no Application named nosuch", r.stderr)
        r = op.cli("local", "scale", "root/web", "2", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("runs no Process or Job", r.stderr)
        r = op.cli("local", "stop", "root", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("APP/NAME", r.stderr)

        code, body = op.api("POST", "/api/v1/applications/root/scale",
                            {"name": "web", "replicas": -1})
        self.assertEqual(code, 400, body)
        code, body = op.api("POST", "/api/v1/applications/root/scale",
                            {"name": "web", "replicas": 1}, token=None)
        self.assertEqual(code, 401, body)
        code, _ = op.api("GET", "/api/v1/applications/root/logs", token=None)
        self.assertEqual(code, 401)


class LocalOpsTest(E2E):
    def start(self):
        self.repo.write("ticker.yaml", ticker_yaml())
        commit = self.repo.commit("a ticker")
        op = self.operator(extra=FAST)
        op.wait_synced("root", commit)
        return op

    def test_logs_tail_prefix_replica_and_masked_secret(self):
        op = self.start()

        def two_replicas_logging():
            out = op.cli("logs", "root", "ticker", "--tail", "3").stdout
            lines = out.splitlines()
            # Each replica has printed at least its 3 lines (they start a moment apart).
            full = all(sum(1 for x in lines if x.startswith(f"[ticker-{i}] tick")) == 3
                       for i in (0, 1))
            return out if full else None
        out = wait_until(two_replicas_logging, what="both replicas logging 3 lines")
        lines = out.splitlines()
        self.assertEqual(len(lines), 6, out)
        self.assertNotIn(PLANTED, out)
        self.assertNotIn(PLANTED_DATA, out)
        self.assertIn("pw=<secret value hidden> tok=<secret value hidden>", out)

        one = op.cli("logs", "root", "ticker", "--replica", "1", "--tail", "2").stdout
        self.assertEqual(len(one.splitlines()), 2, one)
        self.assertTrue(one.startswith("tick "), one)
        r = op.cli("logs", "root", "ticker", "--replica", "7", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("ticker-0", r.stderr)
        r = op.cli("logs", "root", "nope", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("Process/ticker", r.stderr)  # says what the Application runs

    def test_follow_streams_new_lines_until_the_client_leaves(self):
        op = self.start()
        cmd = [PLUMB, "logs", "root", "ticker", "--replica", "0", "-f", "--tail", "1",
               "--state-dir", op.state]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            seen = [p.stdout.readline() for _ in range(5)]
            numbers = [int(line.split()[1]) for line in seen]
            self.assertEqual(numbers, sorted(numbers), seen)
            self.assertEqual(len(set(numbers)), 5, seen)
            self.assertNotIn(PLANTED, "".join(seen))
        finally:
            p.kill()
            p.wait()
            p.stdout.close()
            p.stderr.close()
        # The operator is not held up by the stream it served.
        self.assertEqual(op.stop(), 0)

    def test_emergency_stop_is_out_of_sync_and_healed_with_an_event(self):
        self.repo.write("ticker.yaml", ticker_yaml())
        commit = self.repo.commit("a ticker")
        op = self.operator(extra=FAST + ["--interval", "1h"])
        op.wait_synced("root", commit)
        r = op.cli("local", "stop", "root/ticker")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Process/ticker", r.stdout)

        def events():
            return json.loads(op.cli("events", "root", "-o", "json").stdout)["items"]
        scaled = wait_until(lambda: [e for e in events() if e["reason"] == "ScaledByHand"],
                            what="ScaledByHand event")
        self.assertIn("scaled to 0", scaled[0]["message"])
        self.assertIn("plumb local stop", scaled[0]["message"])
        self.assertIn("git says 2", scaled[0]["message"])
        healed = wait_until(lambda: [e for e in events() if e["reason"] == "DriftHealed"],
                            what="DriftHealed event")
        self.assertIn("Process/ticker", healed[0]["message"])
        op.wait_synced("root", commit)

    def test_scale_without_self_heal_stays_out_of_sync(self):
        self.repo.write("ticker.yaml", ticker_yaml())
        commit = self.repo.commit("a ticker")
        op = self.operator(extra=FAST + ["--no-self-heal", "--interval", "1h"])
        op.wait_synced("root", commit)
        r = op.cli("local", "scale", "root/ticker", "3", "-o", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["name"], "ticker")
        wait_until(lambda: op.status("root")["status"]["sync"] == "OutOfSync", what="OutOfSync")
        scaled = [e for e in json.loads(op.cli("events", "root", "-o", "json").stdout)["items"]
                  if e["reason"] == "ScaledByHand"]
        self.assertIn("scaled to 3", scaled[0]["message"])


if __name__ == "__main__":
    unittest.main()
