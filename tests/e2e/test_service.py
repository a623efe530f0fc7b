"""The operator as a service: webhooks, metrics, event stream, tokens."""
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import threading
import unittest
import urllib.request

from harness import E2E, PLUMB, app_yaml, file_yaml, wait_until

SECRET = "webhook-secret-for-tests"


class ServiceTest(E2E):
    def start(self, **kw):
        secret_file = os.path.join(self.root, "webhook-secret")
        with open(secret_file, "w") as f:
            f.write(SECRET + "\n")
        tokens = os.path.join(self.root, "tokens")
        with open(tokens, "w") as f:
            f.write("# extra tokens\nreadonly-token-0123456789 read-only\n")
        return self.operator(extra=["--interval", "1h", "--webhook-secret-file", secret_file,
                                    "--tokens", tokens, *kw.pop("extra", [])], **kw)

    def post_webhook(self, op, provider, body, headers):
        req = urllib.request.Request(op.url + f"/api/v1/webhooks/{provider}", data=body,
                                     method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def test_github_push_webhook_applies_without_waiting_and_forgery_is_refused(self):
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "v1\n"))
        c1 = self.repo.commit("v1")
        op = self.start()
        op.wait_synced("root", c1)
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "v2\n"))
        c2 = self.repo.commit("v2")
        body = json.dumps({"ref": "refs/heads/main",
                           "repository": {"clone_url": "file://" + self.repo.bare}}).encode()
        forged = "sha256=" + hmac.new(b"wrong", body, hashlib.sha256).hexdigest()
        code, _ = self.post_webhook(op, "github", body, {"X-GitHub-Event": "push",
                                                         "X-Hub-Signature-256": forged})
        self.assertEqual(code, 401)
        self.assertEqual(op.status("root")["status"]["headCommit"], c1)  # nothing fetched
        good = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        code, out = self.post_webhook(op, "github", body, {"X-GitHub-Event": "push",
                                                           "X-Hub-Signature-256": good})
        self.assertEqual(code, 202, out)
        self.assertEqual(out["queued"], ["root"])
        op.wait_synced("root", c2)
        self.assertEqual(self.read("a.txt"), "v2\n")
        self.assertEqual(op.history("root")[0]["trigger"], "webhook")
        events = json.loads(op.cli("events", "-o", "json").stdout)["items"]
        reasons = [e["reason"] for e in events]
        self.assertIn("WebhookRejected", reasons)
        self.assertIn("WebhookReceived", reasons)
        # Another branch queues nothing.
        body = json.dumps({"repo": self.repo.bare, "branch": "other"}).encode()
        sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        code, out = self.post_webhook(op, "generic", body, {"X-Plumb-Signature": sig})
        self.assertEqual((code, out["queued"]), (202, []))

    def test_a_repository_with_its_own_webhook_secret_refuses_the_shared_one(self):
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "v1\n"))
        c1 = self.repo.commit("v1")
        repo_secret = "this-repository-only-secret"
        secrets = os.path.join(self.root, "webhook-secrets")
        with open(secrets, "w") as f:  # named in another form than the operator's --repo
            f.write(f"# per-repository secrets\nfile://{self.repo.bare}/ {repo_secret}\n"
                    f"https://git.example.com/acme/unrelated.git other-secret-value\n")
        op = self.start(extra=["--webhook-secrets", secrets, "--log-format", "json"])
        op.wait_synced("root", c1)
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "v2\n"))
        c2 = self.repo.commit("v2")
        body = json.dumps({"ref": "refs/heads/main",
                           "repository": {"clone_url": self.repo.bare}}).encode()

        def signed(secret):
            return {"X-GitHub-Event": "push", "X-Hub-Signature-256":
                    "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}
        for wrong in (SECRET, "other-secret-value"):
            code, out = self.post_webhook(op, "github", body, signed(wrong))
            self.assertEqual(code, 401, out)
        self.assertEqual(op.status("root")["status"]["headCommit"], c1)  # nothing fetched
        code, out = self.post_webhook(op, "github", body, signed(repo_secret))
        self.assertEqual((code, out["queued"]), (202, ["root"]))
        op.wait_synced("root", c2)
        self.assertEqual(self.read("a.txt"), "v2\n")
        # A repository's ping is verified with its secret too.
        ping = json.dumps({"zen": "hi", "repository": {"clone_url": self.repo.bare}}).encode()
        sig = "sha256=" + hmac.new(repo_secret.encode(), ping, hashlib.sha256).hexdigest()
        code, _ = self.post_webhook(op, "github", ping, {"X-GitHub-Event": "ping",
                                                         "X-Hub-Signature-256": sig})
        self.assertEqual(code, 202)
        logs = op.logs()
        for secret in (repo_secret, "other-secret-value", SECRET):
            self.assertNotIn(secret, logs)

    def test_json_log_lines_of_a_reconcile_name_the_application_and_commit(self):
        self.repo.write("root/a.yaml", file_yaml("a", "a.txt", "v1\n"))
        self.repo.write("root/apps.yaml", app_yaml("web", "apps/web"))
        self.repo.write("apps/web/w.yaml", file_yaml("w", "w.txt", "w1\n"))
        c1 = self.repo.commit("v1")
        op = self.start(path="root", extra=["--log-format", "json"])
        op.wait_synced("root", c1)
        op.wait_synced("web", c1)
        lines = [json.loads(l) for l in op.logs().splitlines() if l.startswith("{")]
        started = [l for l in lines if l["msg"] == "plumbline operator started"]
        self.assertEqual(len(started), 1)
        self.assertNotIn("commit", started[0])  # not during a reconcile
        applied = {l["app"]: l for l in lines if l.get("reason") == "SyncSucceeded"}
        self.assertEqual(set(applied), {"root", "web"}, lines)
        for app in ("root", "web"):
            self.assertEqual(applied[app]["commit"], c1, applied[app])
        # Drift found and healed during a later reconcile carries them too.
        with open(os.path.join(self.host, "w.txt"), "w") as f:
            f.write("drift\n")
        op.api("POST", "/api/v1/applications/web/sync", {})

        def healed():
            return [json.loads(l) for l in op.logs().splitlines()
                    if l.startswith("{") and '"DriftHealed"' in l]
        line = wait_until(healed, what="a DriftHealed log line")[0]
        self.assertEqual((line["app"], line["commit"]), ("web", c1))

    @unittest.skipIf(shutil.which("promtool") is None, "promtool (Debian package prometheus) missing")
    def test_metrics_pass_promtool(self):
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "v1\n"))
        c1 = self.repo.commit("v1")
        op = self.start()
        op.wait_synced("root", c1)
        with urllib.request.urlopen(op.url + "/metrics", timeout=30) as r:  # open on loopback
            text = r.read().decode()
        for name in ("plumb_reconcile_duration_seconds_bucket", "plumb_app_info{",
                     "plumb_sync_total{", "plumb_git_fetch_duration_seconds_count"):
            self.assertIn(name, text)
        self.assertIn('sync_status="Synced"', text)
        check = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                               capture_output=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_read_only_token_and_event_stream(self):
        self.repo.write("a.yaml", file_yaml("a", "a.txt", "v1\n"))
        c1 = self.repo.commit("v1")
        op = self.start()
        op.wait_synced("root", c1)
        code, _ = op.api("GET", "/api/v1/applications/root", token="readonly-token-0123456789")
        self.assertEqual(code, 200)
        code, body = op.api("POST", "/api/v1/applications/root/sync", {},
                            token="readonly-token-0123456789")
        self.assertEqual(code, 403, body)

        follower = subprocess.Popen([PLUMB, "events", "-f", "root", "--state-dir", op.state],
                                    stdout=subprocess.PIPE, text=True)
        lines = []
        reader = threading.Thread(target=lambda: [lines.append(l) for l in follower.stdout])
        reader.start()
        try:
            wait_until(lambda: any("SyncSucceeded" in l for l in lines), what="past events")
            with open(os.path.join(self.host, "a.txt"), "w") as f:
                f.write("drift\n")
            wait_until(lambda: any("DriftHealed" in l for l in lines), what="a live event")
        finally:
            follower.terminate()
            follower.wait()
            reader.join()


if __name__ == "__main__":
    unittest.main()
