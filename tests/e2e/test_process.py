"""Processes on the local runtime: real replicas under real shims, real probes on
127.0.0.1, rolling updates, crash loops, adoption after kill -9 of the operator."""
import json
import os
import signal
import subprocess
import unittest
import urllib.request

from harness import E2E, PLUMB, app_yaml, pid_alive, replica_statuses, wait_until

# Short durations: the production defaults (10 s back-off, 1 s supervision) are flags.
FAST = ["--supervise-interval", "50ms", "--restart-backoff", "50ms", "--restart-backoff-max",
        "400ms", "--restart-backoff-reset", "10m",
        # these tests keep plaintext Secrets in git on purpose (test_secrets seals them)
        "--allow-plaintext-secrets"]


READINESS = """  readinessProbe:
    httpGet: {path: /healthz, port: http}
    periodSeconds: 0.05
    failureThreshold: 1
"""


def process_yaml(name="web", replicas=3, message="v1", extra_args="", surge=1, unavailable=0,
                 progress_deadline=None, command=None, env_extra="", probe=True):
    cmd = command or f'["{os.path.abspath(PLUMB)}", "demo-server"{extra_args}]'
    pd = f"\n  progressDeadlineSeconds: {progress_deadline}" if progress_deadline else ""
    return f"""apiVersion: local.plumbline.dev/v1
kind: Process
metadata:
  name: {name}
spec:
  replicas: {replicas}
  command: {cmd}
  env:
  - name: MESSAGE
    value: "{message}"{env_extra}
  ports:
  - name: http
{READINESS if probe else ""}  terminationGracePeriodSeconds: 5
  strategy:
    rollingUpdate: {{maxSurge: {surge}, maxUnavailable: {unavailable}}}{pd}
"""


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


class ProcessTest(E2E):
    def start(self, root_path=".", flags=None, **files):
        for path, content in files.items():
            self.repo.write(path, content)
        commit = self.repo.commit("processes")
        op = self.operator(extra=flags or FAST, path=root_path)
        return op, commit

    def resource(self, op, kind="Process", name="web", app="root"):
        s = op.status(app)
        if not s:
            return None
        for r in s["status"]["resources"]:
            if r["kind"] == kind and r["name"] == name:
                return r
        return None

    def health(self, op, name="web"):
        r = self.resource(op, name=name)
        return (r["health"], r.get("message", "")) if r else (None, "")

    def running(self, op, name="web"):
        """Replicas whose program runs now."""
        return [s for s in replica_statuses(op.state, "root", name)
                if s["state"] == "Running" and pid_alive(s["pid"])]

    def ports(self, st):
        with open(os.path.join(st["dir"], "replica.json")) as f:
            return json.load(f)["ports"]

    def wait_healthy(self, op, n, name="web"):
        def ok():
            h, msg = self.health(op, name)
            return h == "Healthy" and msg.startswith(f"{n}/{n} replicas ready") \
                and len(self.running(op, name)) == n
        wait_until(ok, what=f"{n} replicas of {name} ready: {self.health(op, name)}")

    def test_replicas_become_ready_answer_and_come_back_after_kill9(self):
        op, _ = self.start(**{"web.yaml": process_yaml()})
        self.wait_healthy(op, 3)
        reps = self.running(op)
        ports = sorted(self.ports(s)["http"] for s in reps)
        self.assertEqual(len(set(ports)), 3, "each replica has its own port")
        answers = sorted(get(f"http://127.0.0.1:{p}/") for p in ports)
        for i, a in enumerate(answers):
            self.assertIn(f"web-{i}", a)
            self.assertIn("v1", a)
        # kill -9 of one replica: its shim restarts it with a new pid.
        victim = reps[0]
        os.kill(victim["pid"], signal.SIGKILL)
        wait_until(lambda: any(s["dir"] == victim["dir"] and s["pid"] != victim["pid"]
                               and s["restarts"] >= 1 for s in self.running(op)),
                   what="the killed replica to be restarted")
        self.wait_healthy(op, 3)
        ev = op.cli("events", "root", "-o", "json").stdout
        self.assertIn("ReplicaRestarted", ev)
        self.assertIn("SIGKILL", ev)
        metrics = get(op.url + "/metrics")
        self.assertRegex(metrics, r'plumb_process_restarts_total\{name="root",process="web"\} [1-9]')
        self.assertIn('plumb_process_replicas_ready{name="root",process="web"} 3', metrics)

    def test_scaling_in_git_converges(self):
        op, _ = self.start(**{"web.yaml": process_yaml(replicas=3)})
        self.wait_healthy(op, 3)
        self.repo.write("web.yaml", process_yaml(replicas=5))
        self.repo.commit("scale to 5")
        self.wait_healthy(op, 5)
        self.repo.write("web.yaml", process_yaml(replicas=2))
        self.repo.commit("scale to 2")
        self.wait_healthy(op, 2)
        wait_until(lambda: len(replica_statuses(op.state, "root", "web")) == 2,
                   what="stopped replicas to be cleaned up")

    def test_env_change_rolls_out_within_max_unavailable(self):
        op, _ = self.start(**{"web.yaml": process_yaml(replicas=3, surge=1, unavailable=0)})
        self.wait_healthy(op, 3)
        old = {s["pid"] for s in self.running(op)}
        self.repo.write("web.yaml", process_yaml(replicas=3, message="v2", surge=1,
                                                 unavailable=0))
        self.repo.commit("v2")

        def rolled():
            reps = self.running(op)
            return len(reps) == 3 and not ({s["pid"] for s in reps} & old) and \
                self.health(op)[0] == "Healthy" and \
                all("v2" in get(f"http://127.0.0.1:{self.ports(s)['http']}/") for s in reps)
        wait_until(rolled, what="v2 on every replica")
        # The operator's record of ready counts: never below replicas - maxUnavailable
        # once the first rollout was done.
        log = os.path.join(op.state, "processes", "root", "Process..web", "ready.log")
        with open(log) as f:
            rows = [[int(x) for x in line.split()[1:]] for line in f if line.strip()]
        first_full = [r[0] for r in rows].index(3)
        during = rows[first_full:]
        self.assertGreaterEqual(min(r[0] for r in during), 3, rows)
        # The new template's ready count climbed 0 -> 3 one replica at a time (surge 1).
        new_counts = [r[1] for r in during]
        for n in (0, 1, 2, 3):
            self.assertIn(n, new_counts, rows)
        self.assertLessEqual(max(r[0] for r in during), 4, rows)

    def test_crash_loop_goes_degraded_with_growing_backoff(self):
        # A cap of 3.2 s leaves waits of 100 ms to 1.6 s below it: long enough to be seen
        # by the sampler below however loaded the machine is.
        flags = [("3200ms" if f == "400ms" else f) for f in FAST]
        op, _ = self.start(flags=flags, **{"web.yaml": process_yaml(
            replicas=1, command='["sh", "-c", "echo boom-on-stderr >&2; exit 3"]')})
        # Back-off grows: the wait after the k-th failure in a row is 50 ms * 2^(k-1), at
        # most 3.2 s (the flags above), as the shim records it. Sampled from the start.
        waits = {}

        def sample():
            for st in replica_statuses(op.state, "root", "web"):
                if st["state"] == "BackOff" and st["next_start_ms"]:
                    waits[st["consecutive_failures"]] = st["next_start_ms"] - st["last_exit_ms"]
            return len([k for k in waits if k >= 2]) >= 3
        wait_until(sample, what=f"several back-offs (seen {waits})", interval=0.005)
        for k, wait in waits.items():
            self.assertEqual(wait, min(50 * 2 ** (k - 1), 3200), waits)
        self.assertGreater(max(waits.values()), min(waits.values()), waits)

        def degraded():
            h, msg = self.health(op)
            return h == "Degraded" and "exit code 3" in msg and "boom-on-stderr" in msg
        wait_until(degraded, what=f"Degraded with the exit code and log: {self.health(op)}")
        app = op.status("root")["status"]
        self.assertEqual(app["health"], "Degraded")

    def test_broken_new_version_stops_rollout_and_old_keeps_serving(self):
        op, _ = self.start(**{"web.yaml": process_yaml(replicas=3, progress_deadline=1)})
        self.wait_healthy(op, 3)
        old = self.running(op)
        self.repo.write("web.yaml", process_yaml(replicas=3, message="v2", progress_deadline=1,
                                                 extra_args=', "--never-ready"'))
        self.repo.commit("broken v2")

        def stalled():
            h, msg = self.health(op)
            return h == "Degraded" and "stalled" in msg
        wait_until(stalled, what=f"the rollout to stall: {self.health(op)}")
        # All three old replicas still run and answer v1.
        for s in old:
            self.assertTrue(pid_alive(s["pid"]))
            self.assertIn("v1", get(f"http://127.0.0.1:{self.ports(s)['http']}/"))
        self.assertEqual(op.status("root")["status"]["health"], "Degraded")

    def test_operator_kill9_leaves_replicas_and_restart_adopts_them(self):
        op, _ = self.start(**{"web.yaml": process_yaml(replicas=3)})
        self.wait_healthy(op, 3)
        before = {(s["pid"], s["shim_pid"]) for s in self.running(op)}
        op.kill9()
        for pid, shim in before:
            self.assertTrue(pid_alive(pid) and pid_alive(shim))
        op.start()
        self.wait_healthy(op, 3)
        after = {(s["pid"], s["shim_pid"]) for s in self.running(op)}
        self.assertEqual(before, after, "the same replicas, adopted")
        # No duplicates: exactly three demo servers of this state dir run.
        out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
        shims = [l for l in out.splitlines() if " shim " in l and op.state in l]
        self.assertEqual(len(shims), 3, out)

    def test_pruning_a_process_stops_its_replicas(self):
        op, _ = self.start(**{"web.yaml": process_yaml(replicas=2)})
        self.wait_healthy(op, 2)
        reps = self.running(op)
        self.repo.remove("web.yaml")
        self.repo.write("keep.txt", "x")
        self.repo.commit("remove web")
        wait_until(lambda: not any(pid_alive(s["pid"]) or pid_alive(s["shim_pid"])
                                   for s in reps), what="replicas stopped")
        wait_until(lambda: not replica_statuses(op.state, "root", "web"),
                   what="replica dirs removed")

    def test_secret_values_reach_the_process_but_never_logs_or_api(self):
        planted = "s3cr3t-planted-value-7f1"
        secret = f"""apiVersion: local.plumbline.dev/v1
kind: Secret
metadata:
  name: creds
stringData:
  password: {planted}
"""
        marker = os.path.join(self.host, "seen")
        proc = f"""apiVersion: local.plumbline.dev/v1
kind: Process
metadata:
  name: reader
spec:
  command: ["sh", "-c", "printf %s \\"$PASSWORD\\" > {marker}; exec sleep 600"]
  env:
  - name: PASSWORD
    valueFrom:
      secretKeyRef: {{name: creds, key: password}}
"""
        op, _ = self.start(**{"secret.yaml": secret, "reader.yaml": proc})
        def seen():
            with open(marker) as f:
                return f.read()
        wait_until(lambda: os.path.exists(marker) and seen() == planted,
                   what="the secret value to reach the process")
        wait_until(lambda: self.health(op, "reader")[0] == "Healthy", what="reader healthy")
        texts = [op.logs()]
        for args in (["status", "root", "-o", "json"], ["diff", "root"],
                     ["history", "root", "-o", "json"], ["events", "root", "-o", "json"]):
            texts.append(op.cli(*args).stdout)
        for path in ("/api/v1/applications", "/api/v1/applications/root",
                     "/api/v1/applications/root/diff", "/api/v1/events"):
            texts.append(json.dumps(op.api("GET", path)[1]))
        for t in texts:
            self.assertNotIn(planted, t)
        # Changing the secret rolls the process (its hash changes), still without leaking.
        self.repo.write("secret.yaml", secret.replace(planted, planted + "-2"))
        self.repo.commit("rotate")
        wait_until(lambda: seen() == planted + "-2", what="rolled with new secret")
        self.assertNotIn(planted, op.logs())

    def test_scale_by_hand_is_drift_that_self_heal_reverts(self):
        root_app = app_yaml("svc", "svc", "    selfHeal: true\n    prune: true\n")
        op, _ = self.start("root", **{"root/apps.yaml": root_app,
                                      "svc/web.yaml": process_yaml(replicas=3)})
        op2 = op  # one operator; the Application "svc" runs the Process

        def svc_health():
            s = op2.status("svc")
            if not s:
                return None
            for r in s["status"]["resources"]:
                if r["name"] == "web":
                    return r["health"], r.get("message", "")
            return None
        wait_until(lambda: (svc_health() or ("",))[0] == "Healthy", what="svc web Healthy")
        r = op.cli("local", "stop", "svc/web")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("replicas 3 -> 0", r.stdout)
        # Self-heal puts it back and says what it reverted.
        def healed():
            ev = op.cli("events", "svc", "-o", "json").stdout
            return "ScaledByHand" in ev and "DriftHealed" in ev and "replicas 0 -> 3" in ev
        wait_until(healed, what="ScaledByHand then DriftHealed naming replicas 0 -> 3")
        wait_until(lambda: len([s for s in replica_statuses(op.state, "svc", "web")
                                if s["state"] == "Running" and pid_alive(s["pid"])]) == 3,
                   what="3 replicas again")

    def test_scale_by_hand_without_self_heal_shows_out_of_sync(self):
        root_app = app_yaml("svc", "svc", "    selfHeal: false\n")
        op, _ = self.start("root", **{"root/apps.yaml": root_app,
                                      "svc/web.yaml": process_yaml(replicas=2)})
        wait_until(lambda: op.status("svc") and op.status("svc")["status"]["sync"] == "Synced"
                   and op.status("svc")["status"]["health"] == "Healthy", what="svc healthy")
        r = op.cli("local", "scale", "svc/web", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_until(lambda: op.status("svc")["status"]["sync"] == "OutOfSync",
                   what="svc OutOfSync after a hand scale")
        d = op.cli("diff", "svc")
        self.assertEqual(d.returncode, 1)
        self.assertIn("replicas", d.stdout)
        wait_until(lambda: len([s for s in replica_statuses(op.state, "svc", "web")
                                if s["state"] == "Running" and pid_alive(s["pid"])]) == 1,
                   what="1 replica left")

    def test_logs_of_replicas(self):
        cmd = '["sh", "-c", "echo started replica $PLUMB_REPLICA $0; exec sleep 600", "$(MESSAGE)"]'
        op, _ = self.start(**{"web.yaml": process_yaml(replicas=2, command=cmd, probe=False)})
        wait_until(lambda: self.health(op)[0] == "Healthy", what="web Healthy")

        def logs():
            r = op.cli("logs", "root", "web", "--tail", "5")
            return r.returncode == 0 and "[web-0] started replica 0 v1" in r.stdout and \
                "[web-1] started replica 1 v1" in r.stdout
        wait_until(logs, what="plumb logs to show both replicas")
        r = op.cli("logs", "root", "web", "--replica", "1")
        self.assertIn("started replica 1", r.stdout)
        self.assertNotIn("started replica 0", r.stdout)

    def test_limits_are_enforced_or_said_to_be_unenforced(self):
        proc = process_yaml(replicas=1).replace(
            "  terminationGracePeriodSeconds: 5\n",
            "  terminationGracePeriodSeconds: 5\n  resources:\n    limits: {memory: 256Mi, "
            "cpu: 500m, openFiles: 1024}\n")
        op, _ = self.start(**{"web.yaml": proc})
        wait_until(lambda: self.running(op), what="a replica")
        pid = self.running(op)[0]["pid"]
        with open(f"/proc/{pid}/limits") as f:
            self.assertRegex(f.read(), r"Max open files\s+1024\s+1024")
        with open(f"/proc/{pid}/cgroup") as f:
            in_cgroup = "plumbline-replicas" in f.read()
        if not in_cgroup:
            wait_until(lambda: "not enforced" in self.health(op)[1] and
                       "memory" in self.health(op)[1],
                       what=f"the status to say the limits are not enforced: {self.health(op)}")


if __name__ == "__main__":
    unittest.main()
