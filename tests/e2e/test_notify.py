"""Notifications declared in git reach a receiver once per transition, with retries."""
import base64
import json
import os
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import E2E, file_yaml, replica_statuses, wait_until

# Short supervision and back-off (the production defaults are 1 s and 10 s).
FAST = ["--supervise-interval", "50ms", "--restart-backoff", "50ms", "--restart-backoff-max",
        "400ms", "--restart-backoff-reset", "10m",
        # these tests keep plaintext Secrets in git on purpose (test_secrets seals them)
        "--allow-plaintext-secrets"]


class Receiver:
    """A small HTTP server on 127.0.0.1 that records JSON posts; fails the first N."""

    def __init__(self, fail_first=0, path="/hook"):
        self.posts = []
        self.auth = []  # the Authorization header of each post that was accepted
        self.attempts = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.attempts += 1
                if outer.attempts <= fail_first:
                    self.send_response(503)
                    self.end_headers()
                    return
                outer.posts.append(json.loads(body))
                outer.auth.append(self.headers.get("Authorization"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}{path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def triggers(self):
        return [p.get("trigger") or p.get("text") for p in self.posts]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def notification(name, url, triggers, kind="webhook"):
    t = "".join(f"\n  - {x}" for x in triggers)
    return (f"apiVersion: plumbline.dev/v1\nkind: Notification\nmetadata:\n  name: {name}\n"
            f"spec:\n  provider:\n    type: {kind}\n    url: {url}\n  triggers:{t}\n")


class NotifyTest(E2E):
    def test_sync_and_drift_are_notified_once_and_failures_are_retried(self):
        ok = Receiver()
        flaky = Receiver(fail_first=2)
        self.addCleanup(ok.close)
        self.addCleanup(flaky.close)
        self.repo.write("notify.yaml", notification("ops", ok.url, ["SyncSucceeded", "DriftDetected"])
                        + "---\n" + notification("chat", flaky.url, ["SyncSucceeded"], "slack"))
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "v1\n"))
        c1 = self.repo.commit("v1 with notifications")
        op = self.operator(extra=["--notify-retry-base", "50ms", "--interval", "200ms"])
        op.wait_synced("root", c1)
        wait_until(lambda: ok.triggers() == ["SyncSucceeded"], what="SyncSucceeded")
        self.assertEqual(ok.posts[0]["app"], "root")
        self.assertIn(c1[:7], ok.posts[0]["message"])
        # The flaky receiver gets it on the third attempt, in Slack's shape.
        wait_until(lambda: len(flaky.posts) == 1, what="delivery after two failures")
        self.assertEqual(flaky.attempts, 3)
        self.assertIn("SyncSucceeded", flaky.posts[0]["text"])

        with open(os.path.join(self.host, "a.txt"), "w") as f:
            f.write("hand edit\n")
        wait_until(lambda: "DriftDetected" in ok.triggers(), what="DriftDetected")
        wait_until(lambda: self.read("a.txt") == "v1\n", what="heal")
        # Several interval reconciles later: still exactly one of each, no storm.
        hist_before = len(op.history("root"))
        events = wait_until(lambda: [e for e in json.loads(op.cli("events", "-o", "json").stdout)["items"]
                                     if e["reason"] == "NotificationSent"], what="events")
        t0 = op.status("root")["status"]["lastReconcileMs"]
        wait_until(lambda: op.status("root")["status"]["lastReconcileMs"] > t0 + 600,
                   what="a few more interval reconciles")
        self.assertEqual(ok.triggers(), ["SyncSucceeded", "DriftDetected"])
        self.assertEqual(len(flaky.posts), 1)
        self.assertEqual(len(op.history("root")), hist_before)
        self.assertNotIn(ok.url, op.logs())
        self.assertTrue(events)

    def test_secret_provider_gets_sync_drift_and_crash_loop_each_once(self):
        secret_path = "T0-s3cret-path-9f2e"
        token = "tok-planted-5b7c01"
        rx = Receiver(path=f"/services/{secret_path}")
        self.addCleanup(rx.close)
        crash = os.path.join(self.host, "crash")
        token_b64 = base64.b64encode((token + "\n").encode()).decode()  # as `base64` prints it
        self.repo.write("hooks-secret.yaml", f"""apiVersion: local.plumbline.dev/v1
kind: Secret
metadata:
  name: hooks
stringData:
  url: {rx.url}
data:
  token: {token_b64}
""")
        self.repo.write("notify.yaml", """apiVersion: plumbline.dev/v1
kind: Notification
metadata:
  name: ops
spec:
  provider:
    type: webhook
    urlFrom: {secretKeyRef: {name: hooks, key: url}}
    tokenFrom: {secretKeyRef: {name: hooks, key: token}}
  triggers: [SyncSucceeded, DriftDetected, HealthDegraded]
""")
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "v1\n"))
        # Runs until the test creates `crash`, then exits 3 0.3 s after every start: a crash
        # loop whose replica is up for a moment each time, so the Application's health may
        # flap Degraded -> Healthy -> Degraded with a new message at every crash.
        self.repo.write("worker.yaml", f"""apiVersion: local.plumbline.dev/v1
kind: Process
metadata:
  name: worker
spec:
  command: ["sh", "-c", "while [ ! -e {crash} ]; do sleep 0.05; done; echo crashing >&2; sleep 0.3; exit 3"]
""")
        c1 = self.repo.commit("v1 with a notification whose URL and token are in a Secret")
        op = self.operator(extra=FAST + ["--notify-retry-base", "50ms"])
        op.wait_synced("root", c1)

        def sent():
            return [e for e in json.loads(op.cli("events", "root", "-o", "json").stdout)["items"]
                    if e["reason"] in ("NotificationSent", "NotificationFailed")]
        wait_until(lambda: rx.triggers() == ["SyncSucceeded"], what="SyncSucceeded")
        self.assertIn(c1[:7], rx.posts[0]["message"])
        self.assertEqual(rx.auth, ["Bearer " + token])
        wait_until(lambda: op.status("root")["status"]["health"] == "Healthy", what="worker runs")

        with open(os.path.join(self.host, "a.txt"), "w") as f:
            f.write("hand edit\n")
        wait_until(lambda: "DriftDetected" in rx.triggers(), what="DriftDetected")
        wait_until(lambda: self.read("a.txt") == "v1\n", what="heal")

        open(crash, "w").close()
        wait_until(lambda: "HealthDegraded" in rx.triggers(), what="HealthDegraded")
        self.assertIn("worker", rx.posts[-1]["message"])
        # Stay a while in the crash loop, counted by the operator's own records: three more
        # crashes of the replica and several more reconciles (each may see the replica
        # Running, backing off or Degraded), then no alert may have come twice: repeated
        # health alerts about one resource are identical for the rate limit.
        def failures():
            return max([s.get("consecutive_failures", 0)
                        for s in replica_statuses(op.state, "root", "worker")] or [0])
        f0 = failures()
        t0 = op.status("root")["status"]["lastReconcileMs"]
        wait_until(lambda: failures() >= f0 + 3, what="three more crashes")
        wait_until(lambda: op.status("root")["status"]["lastReconcileMs"] > t0 + 1000,
                   what="more reconciles")
        wait_until(lambda: len(sent()) >= len(rx.posts), what="deliveries recorded")
        self.assertEqual(rx.triggers(), ["SyncSucceeded", "DriftDetected", "HealthDegraded"],
                         rx.posts)
        self.assertEqual(rx.auth, ["Bearer " + token] * 3)
        self.assertEqual([e["reason"] for e in sent()], ["NotificationSent"] * 3)

        # Neither the URL's secret part nor the token in logs, events or API answers.
        texts = [op.logs(), op.cli("events", "-o", "json").stdout,
                 op.cli("status", "root", "-o", "json").stdout, op.cli("diff", "root").stdout]
        for path in ("/api/v1/events", "/api/v1/applications", "/api/v1/applications/root",
                     "/api/v1/applications/root/diff", "/api/v1/applications/root/events"):
            texts.append(json.dumps(op.api("GET", path)[1]))
        for text in texts:
            self.assertNotIn(secret_path, text)
            self.assertNotIn(token, text)

    def test_secret_mistakes_name_the_secret_never_the_value(self):
        self.repo.write("hooks-secret.yaml", """apiVersion: local.plumbline.dev/v1
kind: Secret
metadata:
  name: hooks
stringData:
  url: ftp://T0-s3cret-host/x
""")
        self.repo.write("notify.yaml", """apiVersion: plumbline.dev/v1
kind: Notification
metadata:
  name: ops
spec:
  provider:
    urlFrom: {secretKeyRef: {name: hooks, key: url}}
  triggers: [SyncSucceeded]
""")
        c1 = self.repo.commit("a Secret URL that is not http")
        op = self.operator(extra=["--allow-plaintext-secrets"])
        op.wait_synced("root", c1)
        events = json.loads(op.cli("events", "-o", "json").stdout)["items"]
        bad = [e for e in events if e["reason"] == "InvalidNotification"]
        self.assertEqual(len(bad), 1, events)
        self.assertIn("notify.yaml:1", bad[0]["message"])
        self.assertIn("the URL from Secret hooks/url must be an http://", bad[0]["message"])
        self.assertNotIn("T0-s3cret-host", json.dumps(events) + op.logs())

    def test_invalid_notification_is_an_event_not_a_failure(self):
        self.repo.write("notify.yaml", notification("bad", "ftp://x", ["SyncSucceeded"]))
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "v1\n"))
        c1 = self.repo.commit("bad notification")
        op = self.operator()
        op.wait_synced("root", c1)
        events = json.loads(op.cli("events", "-o", "json").stdout)["items"]
        bad = [e for e in events if e["reason"] == "InvalidNotification"]
        self.assertEqual(len(bad), 1, events)
        self.assertIn("notify.yaml:1", bad[0]["message"])


if __name__ == "__main__":
    unittest.main()
