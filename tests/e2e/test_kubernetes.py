"""An Application on a Kubernetes cluster: the API-server test double (kube_fake_apiserver,
answering as the recorded kube-apiserver does) as a separate process, the real operator
talking HTTP to it through a kubeconfig."""
import base64
import json
import os
import subprocess
import unittest
import urllib.error
import urllib.request

from harness import E2E, PLUMB, wait_until

FAKE = os.environ.get("KUBE_FAKE_APISERVER",
                      os.path.join(os.path.dirname(__file__), "../../build/src/target/kube_fake_apiserver"))
FIXTURES = os.environ.get("KUBE_FIXTURES",
                          os.path.join(os.path.dirname(__file__), "../../src/target/kubernetes/testdata"))

NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n"
CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""
WIDGET = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: 3\n"
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports:
        - {containerPort: 80, protocol: TCP}
"""


def job(name, hook, command="true", policy="", extra_annotations=""):
    policy_line = f"    plumbline.dev/hook-delete-policy: {policy}\n" if policy else ""
    return f"""apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  annotations:
    plumbline.dev/hook: {hook}
{policy_line}{extra_annotations}spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: run
        image: busybox:1.36
        command: ["{command}"]
"""


def configmaps(names):
    return "---\n".join(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {n}\ndata:\n  k: v\n"
                         for n in names)


def configmap(value):
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\ndata:\n  greeting: {value}\n"


class KubernetesTest(E2E):
    def setUp(self):
        super().setUp()
        addr = os.path.join(self.root, "kube-address")
        self.kube_log = open(os.path.join(self.root, "kube.log"), "w")
        self.kube = subprocess.Popen([FAKE, "--fixtures", FIXTURES, "--address-file", addr,
                                      "--token", "admin-token", "--controllers"],
                                     stdout=self.kube_log, stderr=subprocess.STDOUT)
        def address():
            if not os.path.exists(addr):
                return None
            with open(addr) as f:
                return f.read().strip()
        self.url = wait_until(address, what="fake API server address")
        self.kubeconfig = os.path.join(self.root, "kubeconfig")
        with open(self.kubeconfig, "w") as f:
            f.write(f"""apiVersion: v1
kind: Config
current-context: fake
clusters:
- name: fake
  cluster: {{server: "{self.url}"}}
users:
- name: admin
  user: {{token: admin-token}}
contexts:
- name: fake
  context: {{cluster: fake, user: admin, namespace: demo}}
""")

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            self.kube.terminate()
            self.kube.wait(timeout=30)
            self.kube_log.close()

    def kube_api(self, method, path, body=None, content_type="application/json", query=""):
        req = urllib.request.Request(self.url + path + (("?" + query) if query else ""),
                                     method=method,
                                     data=None if body is None else body.encode())
        req.add_header("Authorization", "Bearer admin-token")
        req.add_header("Accept", "application/json")
        if body is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def get(self, path):
        return self.kube_api("GET", path)

    def app(self, interval="200ms"):
        return f"""apiVersion: plumbline.dev/v1
kind: Application
metadata:
  name: shop
spec:
  source:
    path: shop
  target:
    kubernetes:
      kubeconfig: {self.kubeconfig}
      namespace: demo
  sync:
    interval: {interval}
"""

    def write_shop(self, greeting="hello", with_configmap=True, interval="200ms"):
        self.repo.write("root/apps.yaml", self.app(interval))
        self.repo.write("shop/namespace.yaml", NAMESPACE)
        self.repo.write("shop/crd.yaml", CRD)
        self.repo.write("shop/widget.yaml", WIDGET)
        self.repo.write("shop/deployment.yaml", DEPLOYMENT)
        if with_configmap:
            self.repo.write("shop/configmap.yaml", configmap(greeting))
        else:
            self.repo.remove("shop/configmap.yaml")

    def test_sync_change_prune_and_heal_drift_via_the_watch(self):
        # Long intervals: only the watch can notice the drift quickly.
        self.write_shop(interval="1h")
        c1 = self.repo.commit("shop on the cluster")
        op = self.operator(path="root", extra=["--interval", "1h"])
        op.wait_synced("shop", c1)
        code, cm = self.get("/api/v1/namespaces/demo/configmaps/app-config")
        self.assertEqual(code, 200, cm)
        self.assertEqual(cm["data"]["greeting"], "hello")
        self.assertEqual(cm["metadata"]["labels"]["app.plumbline.dev/name"], "shop")
        self.assertEqual(self.get("/apis/example.com/v1/namespaces/demo/widgets/w1")[0], 200)
        wait_until(lambda: op.status("shop")["status"]["health"] == "Healthy", what="Healthy")

        # A change in git reaches the cluster.
        self.write_shop(greeting="bonjour", interval="1h")
        c2 = self.repo.commit("greeting")
        op.cli("refresh", "shop")
        op.wait_synced("shop", c2)
        self.assertEqual(self.get("/api/v1/namespaces/demo/configmaps/app-config")[1]["data"]
                         ["greeting"], "bonjour")

        # kubectl scale by hand: the watch sees it and selfHeal puts it back, long before
        # the 1h interval.
        code, _ = self.kube_api("PATCH", "/apis/apps/v1/namespaces/demo/deployments/web",
                                '{"spec":{"replicas":5}}', "application/merge-patch+json",
                                "fieldManager=kubectl-edit")
        self.assertEqual(code, 200)
        wait_until(lambda: self.get("/apis/apps/v1/namespaces/demo/deployments/web")[1]["spec"]
                   ["replicas"] == 3, what="replicas healed to 3", timeout=20)
        # The heal's event is recorded when its reconcile ends, after the cluster holds 3.
        def events():
            return json.loads(op.cli("events", "shop", "-o", "json").stdout)["items"]
        wait_until(lambda: any(e["reason"] == "DriftHealed" for e in events()),
                   what="the DriftHealed event")
        events = events()
        self.assertTrue([e for e in events if "(drift)" in e["message"]], events)
        self.assertTrue([e for e in events if e["reason"] == "DriftHealed" and
                         "apps/Deployment/web" in e["message"]], events)
        self.assertFalse([e for e in events if "Healthy -> " in e["message"]], events)

        # Removed from git: pruned from the cluster; the rest stays.
        self.write_shop(with_configmap=False, interval="1h")
        c3 = self.repo.commit("no configmap")
        op.cli("refresh", "shop")
        op.wait_synced("shop", c3)
        wait_until(lambda: self.get("/api/v1/namespaces/demo/configmaps/app-config")[0] == 404,
                   what="ConfigMap pruned")
        self.assertEqual(self.get("/apis/apps/v1/namespaces/demo/deployments/web")[0], 200)
        d = op.cli("diff", "shop", check=False)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)

    def test_hooks_run_as_jobs_and_a_failed_presync_hook_stops_the_sync(self):
        self.write_shop()
        c1 = self.repo.commit("shop")
        op = self.operator(path="root")
        op.wait_synced("shop", c1)

        # A PreSync Job that runs 300 ms and is deleted once it succeeded, a PostSync Job
        # kept (BeforeHookCreation, the default), and a SyncFail Job.
        self.write_shop(greeting="bonjour")
        self.repo.write("shop/hooks.yaml", "---\n".join([
            job("migrate", "PreSync", policy="HookSucceeded",
                extra_annotations="    fake.plumbline.dev/job-duration-ms: \"300\"\n"),
            job("smoke", "PostSync"),
            job("cleanup", "SyncFail")]))
        c2 = self.repo.commit("hooks")
        op.cli("refresh", "shop")
        op.wait_synced("shop", c2)
        row = [h for h in op.history("shop") if h["revision"] == c2][0]
        self.assertEqual(row["result"], "Succeeded", row)
        hooks = {(c["hook"], c["name"]): c for c in row["changes"] if "hook" in c}
        self.assertIn(("PreSync", "migrate"), hooks, row)
        self.assertIn(("PostSync", "smoke"), hooks, row)
        self.assertNotIn(("SyncFail", "cleanup"), hooks, row)
        self.assertIn("succeeded", hooks[("PreSync", "migrate")]["message"])
        # HookSucceeded: the PreSync Job is gone; the PostSync one completed and stays.
        self.assertEqual(self.get("/apis/batch/v1/namespaces/demo/jobs/migrate")[0], 404)
        code, smoke = self.get("/apis/batch/v1/namespaces/demo/jobs/smoke")
        self.assertEqual(code, 200, smoke)
        self.assertEqual(smoke["status"]["succeeded"], 1)
        self.assertEqual(smoke["metadata"]["labels"]["app.plumbline.dev/name"], "shop")
        self.assertEqual(self.get("/apis/batch/v1/namespaces/demo/jobs/cleanup")[0], 404)
        self.assertEqual(self.get("/api/v1/namespaces/demo/configmaps/app-config")[1]["data"]
                         ["greeting"], "bonjour")

        # A failing PreSync Job (its command is `false`): nothing is applied, the sync fails
        # naming the hook, and the SyncFail Job runs.
        self.write_shop(greeting="hola")
        self.repo.write("shop/hooks.yaml", "---\n".join([
            job("migrate", "PreSync", command="false"), job("cleanup", "SyncFail")]))
        c3 = self.repo.commit("a failing migration")
        op.cli("refresh", "shop")
        def failed_row():
            rows = [h for h in op.history("shop") if h["revision"] == c3 and
                    h["result"] == "Failed"]
            return rows[0] if rows else None
        row = wait_until(failed_row, what="the failed sync of c3")
        self.assertIn("PreSync hook", row["message"])
        self.assertIn("migrate", row["message"])
        self.assertIn("backoff limit", row["message"])
        self.assertEqual(self.get("/api/v1/namespaces/demo/configmaps/app-config")[1]["data"]
                         ["greeting"], "bonjour")  # not applied
        code, cleanup = wait_until(
            lambda: (lambda r: r if r[0] == 200 and r[1].get("status", {}).get("succeeded")
                     else None)(self.get("/apis/batch/v1/namespaces/demo/jobs/cleanup")),
            what="the SyncFail Job complete")
        self.assertEqual(cleanup["metadata"]["labels"]["app.plumbline.dev/name"], "shop")
        code, migrate = self.get("/apis/batch/v1/namespaces/demo/jobs/migrate")
        self.assertEqual(code, 200)  # BeforeHookCreation: the failed run stays to be looked at
        self.assertEqual(migrate["status"]["failed"], 1)
        events = json.loads(op.cli("events", "shop", "-o", "json").stdout)["items"]
        self.assertTrue([e for e in events if e["reason"] == "HookFailed"], events)

    def test_an_operator_killed_mid_sync_leaves_nothing_unpruned(self):
        self.repo.write("root/apps.yaml", self.app())
        self.repo.write("shop/namespace.yaml", NAMESPACE)
        self.repo.write("shop/configmaps.yaml", configmaps(["a", "b", "c"]))
        c1 = self.repo.commit("a, b, c")
        op = self.operator(path="root")
        op.wait_synced("shop", c1)
        op.stop()

        # The next commit drops a and adds d and e: the operator dies (SIGKILL) right after
        # it applied d.
        self.repo.write("shop/configmaps.yaml", configmaps(["b", "c", "d", "e"]))
        c2 = self.repo.commit("b, c, d, e")
        crashing = self.operator(path="root", env={"PLUMB_FAULT": "crash-after-applies:1"})
        wait_until(lambda: crashing.proc.poll() is not None, what="the injected crash")
        self.assertEqual(crashing.proc.returncode, -9)
        crashing.log.close()
        self.operators.remove(crashing)
        self.assertEqual(self.get("/api/v1/namespaces/demo/configmaps/d")[0], 200)
        self.assertEqual(self.get("/api/v1/namespaces/demo/configmaps/e")[0], 404)
        # d was in the inventory before it was applied.
        code, inv = self.get("/api/v1/namespaces/demo/configmaps/plumbline-inventory-shop")
        self.assertEqual(code, 200, inv)
        self.assertIn("/ConfigMap//d", inv["data"]["entries"])

        # Before the operator is back, git drops d too: the restarted operator prunes
        # everything of this Application that git no longer has.
        self.repo.write("shop/configmaps.yaml", configmaps(["b", "c", "e"]))
        c3 = self.repo.commit("b, c, e")
        op = self.operator(path="root")
        op.wait_synced("shop", c3)
        code, listed = self.get(
            "/api/v1/namespaces/demo/configmaps?labelSelector=app.plumbline.dev%2Fname%3Dshop")
        self.assertEqual(code, 200, listed)
        self.assertEqual(sorted(i["metadata"]["name"] for i in listed["items"]), ["b", "c", "e"])

    def test_429_storm_is_retried_and_an_expired_token_is_a_clear_error(self):
        self.write_shop()
        c1 = self.repo.commit("shop")
        self.kube_api("POST", "/fake/fail", query="count=3&status=429&retryAfter=0")
        op = self.operator(path="root")
        op.wait_synced("shop", c1)
        # The token expires: the reconcile fails, naming the cause, and no token is shown.
        self.kube_api("POST", "/fake/revoke", query="token=admin-token")
        op.cli("refresh", "shop")
        wait_until(lambda: "Unauthorized" in op.status("shop")["status"]["lastError"],
                   what="Unauthorized error")
        self.assertNotIn("admin-token", json.dumps(op.status("shop")))
        self.assertNotIn("admin-token", op.logs())
        # A renewed token: it syncs again.
        self.kube_api("POST", "/fake/token", query="token=admin-token")
        wait_until(lambda: op.status("shop")["status"]["lastError"] == "", what="recovered")

    def test_leader_election_one_replica_reconciles_and_hands_over_on_stop(self):
        self.write_shop()
        c1 = self.repo.commit("shop")
        # The Lease lives in a namespace that exists before anything is applied.
        elect = ["--leader-elect", "--leader-election-kubeconfig", self.kubeconfig,
                 "--leader-election-namespace", "default"]
        first = self.operator(path="root", extra=elect)
        first.wait_synced("shop", c1)
        second = self.operator(path="root", extra=elect,
                               state_dir=os.path.join(self.root, "state2"))
        wait_until(lambda: "waiting for Lease default/plumbline-leader" in second.logs(),
                   what="the second replica waiting")
        self.assertIsNone(second.status("shop"))  # it reconciles nothing
        code, lease = self.get(
            "/apis/coordination.k8s.io/v1/namespaces/default/leases/plumbline-leader")
        self.assertEqual(code, 200, lease)
        holder = lease["spec"]["holderIdentity"]
        first.stop()  # a clean stop gives the Lease up: the second leads at once
        second.wait_synced("shop", c1)
        code, lease = self.get(
            "/apis/coordination.k8s.io/v1/namespaces/default/leases/plumbline-leader")
        self.assertNotEqual(lease["spec"]["holderIdentity"], holder)

    def test_sealed_secret_becomes_a_cluster_secret_and_never_leaks(self):
        planted = "pl4nted-kube-value-71d3"
        state = os.path.join(self.root, "state")
        subprocess.run([PLUMB, "keys", "init", "--state-dir", state, "--bits", "2048"],
                       check=True, capture_output=True)
        cert = subprocess.run([PLUMB, "keys", "export-public", "--state-dir", state],
                              check=True, capture_output=True, text=True).stdout
        cert_path = os.path.join(self.root, "cert.pem")
        with open(cert_path, "w") as f:
            f.write(cert)
        secret = ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: demo\n"
                  f"stringData:\n  password: {planted}\n")
        sealed = subprocess.run([PLUMB, "seal", "--cert", cert_path], input=secret, check=True,
                                capture_output=True, text=True).stdout
        self.assertNotIn(planted, sealed)
        self.write_shop()
        self.repo.write("shop/sealed-creds.yaml", sealed)
        c1 = self.repo.commit("sealed secret for the cluster")
        op = self.operator(path="root", state_dir=state)
        op.wait_synced("shop", c1)
        code, s = self.get("/api/v1/namespaces/demo/secrets/creds")
        self.assertEqual(code, 200, s)
        self.assertEqual(base64.b64decode(s["data"]["password"]).decode(), planted)
        self.assertEqual(s["metadata"]["labels"]["app.plumbline.dev/name"], "shop")
        d = op.cli("diff", "shop", check=False)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        for text in (json.dumps(op.status("shop")), op.cli("events", "shop").stdout,
                     op.logs(), d.stdout):
            self.assertNotIn(planted, text)
            self.assertNotIn(base64.b64encode(planted.encode()).decode(), text)


if __name__ == "__main__":
    unittest.main()
