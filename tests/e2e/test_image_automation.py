"""Image-update automation against a real registry (Debian's docker-registry): the newest
tag the policy allows is written into the marked field, committed once to staging, and
applied by the operator; every other byte of the file stays as it was."""
import base64
import json
import os
import subprocess
import unittest

from harness import E2E, git, wait_until
from registry import Registry

DEPLOY = """# The web image; plumbline's image automation keeps the marked line current.
apiVersion: local.plumbline.dev/v1
kind: File
metadata:
  name: web-image   # written for the test to read
spec:
  path: web-image.txt
  content:   "{host}/team/web:1.2.0"   # {{"$imagepolicy": "web"}}
---
apiVersion: local.plumbline.dev/v1
kind: File
metadata:
  name: web-tag
spec:
  path: web-tag.txt
  content: '1.2.0' # {{"$imagepolicy": "web:tag"}}
"""

IMAGES = """apiVersion: plumbline.dev/v1
kind: ImageRepository
metadata:
  name: web
spec:
  image: {host}/team/web
  interval: 200ms
  insecure: true
---
apiVersion: plumbline.dev/v1
kind: ImagePolicy
metadata:
  name: web
spec:
  imageRepositoryRef:
    name: web
  policy:
    semver:
      range: ^1.x
---
apiVersion: plumbline.dev/v1
kind: ImageUpdateAutomation
metadata:
  name: staging-images
spec:
  interval: 200ms
  git:
    commit:
      author:
        name: Image Bot
        email: imagebot@example.com
      messageTemplate: |
        Update images by {{{{ .AutomationObject }}}}
        {{{{ range .Updated.Images }}}}- {{{{ . }}}}
        {{{{ end }}}}
    push:
      branch: staging
  update:
    path: ./app
    strategy: Setters
"""


class ImageAutomationTest(E2E):
    def setUp(self):
        super().setUp()
        self.registry = Registry(self.root)
        self.addCleanup(self.registry.stop)
        self.repo.branch = "staging"

    def images(self, op):
        status, body = op.api("GET", "/api/v1/images")
        self.assertEqual(status, 200, body)
        return body

    def test_newest_release_in_range_is_committed_once_and_applied(self):
        host = self.registry.host
        for tag in ("1.2.0", "1.3.0-rc1", "1.3.0"):
            self.registry.push("team/web", tag)
        original = DEPLOY.format(host=host)
        self.repo.write("app/deploy.yaml", original)
        self.repo.write("app/images.yaml", IMAGES.format(host=host))
        self.repo.write("README.md", "outside the automation's path\n")
        c1 = self.repo.commit("web 1.2.0")
        op = self.operator(path=".")

        # The operator applies the commit the automation wrote (both files of it).
        wait_until(lambda: self.exists("web-image.txt") and
                   self.read("web-image.txt") == f"{host}/team/web:1.3.0" and
                   self.read("web-tag.txt") == "1.3.0",
                   what="the operator to apply 1.3.0")
        # The automation ran again after its commit and found nothing to change.
        def settled():
            a = self.images(op)["automations"][0]
            return a["lastPushCommit"] and a["message"].startswith("no change") and a
        auto = wait_until(settled, what="the automation to find nothing more to change")
        head = git("rev-parse", "staging", cwd=self.repo.bare)
        self.assertEqual(auto["lastPushCommit"], head)
        op.wait_synced("root", head)
        self.assertEqual(op.history("root")[0]["trigger"], "image-update")

        # Exactly one commit, on staging, by the automation's author, with its message.
        self.assertEqual(git("rev-list", "--count", f"{c1}..staging", cwd=self.repo.bare), "1")
        self.assertEqual(git("rev-parse", "staging~1", cwd=self.repo.bare), c1)
        self.assertEqual(git("log", "-1", "--format=%an <%ae>", "staging", cwd=self.repo.bare),
                         "Image Bot <imagebot@example.com>")
        self.assertEqual(git("log", "-1", "--format=%B", "staging", cwd=self.repo.bare),
                         f"Update images by default/staging-images\n- {host}/team/web:1.3.0")
        self.assertEqual(git("diff", "--name-only", c1, "staging", cwd=self.repo.bare),
                         "app/deploy.yaml")
        # Byte for byte: only the two marked values changed.
        new = git("show", "staging:app/deploy.yaml", cwd=self.repo.bare) + "\n"
        self.assertEqual(new, original.replace("team/web:1.2.0", "team/web:1.3.0")
                         .replace("'1.2.0'", "'1.3.0'"))

        status = self.images(op)
        repo = status["repositories"][0]
        self.assertEqual(repo["tagCount"], 3)
        self.assertTrue(repo["lastScanTime"])
        self.assertEqual(repo["error"], "")
        self.assertEqual(status["policies"][0]["latestImage"], f"{host}/team/web:1.3.0")
        # plumb images: the same, as tables (flux get images all) and as JSON.
        table = op.cli("images").stdout
        self.assertRegex(table, rf"root/web +{host}/team/web +True +3 ")
        self.assertRegex(table, rf"root/web +web +True +{host}/team/web:1.3.0")
        self.assertRegex(table, rf"root/staging-images +staging +{head[:7]} ")
        as_json = json.loads(op.cli("images", "--app", "root", "-o", "json").stdout)
        self.assertEqual(as_json["automations"][0]["lastPushCommit"], head)
        self.assertEqual(op.cli("images", "--app", "nope").stdout, "no image-update objects in nope\n")

        # A prerelease of the next minor is not taken; its release is, in one more commit.
        self.registry.push("team/web", "1.4.0-rc1")
        wait_until(lambda: self.images(op)["repositories"][0]["tagCount"] == 4,
                   what="the rescan to see 1.4.0-rc1")
        self.registry.push("team/web", "1.4.0")
        wait_until(lambda: self.exists("web-tag.txt") and self.read("web-tag.txt") == "1.4.0",
                   what="the operator to apply 1.4.0")
        self.assertEqual(git("rev-list", "--count", f"{c1}..staging", cwd=self.repo.bare), "2")

    def test_registry_outage_backs_off_and_recovers(self):
        host = self.registry.host
        self.registry.push("team/web", "1.2.0")
        self.repo.write("app/deploy.yaml", DEPLOY.format(host=host))
        self.repo.write("app/images.yaml", IMAGES.format(host=host))
        c1 = self.repo.commit("web 1.2.0")
        op = self.operator(path=".")
        op.wait_synced("root", c1)
        wait_until(lambda: self.images(op)["repositories"][0]["tagCount"] == 1,
                   what="the first scan")
        self.registry.stop()
        failing = wait_until(lambda: (r := self.images(op)["repositories"][0])["failures"] >= 2
                             and r, what="scans to fail while the registry is down")
        self.assertIn("unreachable", failing["error"])
        # The policy keeps its last choice; nothing is committed.
        self.assertEqual(self.images(op)["policies"][0]["latestTag"], "1.2.0")
        events = op.api("GET", "/api/v1/events?app=root")[1]["items"]
        self.assertEqual(len([e for e in events if e["reason"] == "ImageRepositoryScanFailed"]), 1)
        self.registry.restart_on_same_port()
        self.registry.push("team/web", "1.3.0")
        wait_until(lambda: self.exists("web-tag.txt") and self.read("web-tag.txt") == "1.3.0",
                   what="the update once the registry is back")
        repo = self.images(op)["repositories"][0]
        self.assertEqual((repo["error"], repo["failures"]), ("", 0))
        self.assertEqual(git("rev-list", "--count", f"{c1}..staging", cwd=self.repo.bare), "1")


SIGNING_SECRET = """apiVersion: local.plumbline.dev/v1
kind: Secret
metadata:
  name: image-bot-signing
stringData:
  passphrase: {passphrase}
  git.asc: |
{key}"""


class SignedImageUpdateTest(E2E):
    """spec.git.commit.signingKey.secretRef (Flux's): the automation's commit carries an
    OpenPGP signature by the key in the Secret, which the real git verifies."""

    def setUp(self):
        super().setUp()
        self.registry = Registry(self.root)
        self.addCleanup(self.registry.stop)
        self.repo.branch = "staging"
        self.home = os.path.join(self.root, "gnupg-bot")
        os.makedirs(self.home, mode=0o700)
        self.addCleanup(subprocess.run, ["gpgconf", "--homedir", self.home, "--kill", "gpg-agent"],
                        capture_output=True)

    def gpg(self, *args):
        return subprocess.run(["gpg", "--homedir", self.home, "--batch", "--pinentry-mode",
                               "loopback", *args], check=True, capture_output=True, text=True,
                              timeout=120).stdout

    def test_commit_is_signed_with_the_secrets_key(self):
        host = self.registry.host
        self.registry.push("team/web", "1.2.0")
        self.registry.push("team/web", "1.3.0")
        passphrase = "b0t-signing-pass-91c4"
        self.gpg("--passphrase", passphrase, "--quick-gen-key", "Image Bot <imagebot@example.com>",
                 "ed25519", "sign", "never")
        secret = self.gpg("--passphrase", passphrase, "--armor", "--export-secret-keys")
        signing = "      signingKey:\n        secretRef:\n          name: image-bot-signing\n"
        images = IMAGES.format(host=host).replace(
            "      messageTemplate:", signing + "      messageTemplate:", 1)
        self.repo.write("app/deploy.yaml", DEPLOY.format(host=host))
        self.repo.write("app/images.yaml", images)
        c1 = self.repo.commit("web 1.2.0; the signing Secret is missing")
        op = self.operator(path=".", extra=["--allow-plaintext-secrets"])
        op.wait_synced("root", c1)

        # No such Secret: the automation says so and commits nothing.
        def refused():
            status, body = op.api("GET", "/api/v1/images")
            autos = body.get("automations") or []
            return autos and "image-bot-signing" in autos[0]["error"] and autos[0]
        auto = wait_until(refused, what="the automation to name the missing Secret")
        self.assertIn("signingKey", auto["error"])
        self.assertEqual(git("rev-parse", "staging", cwd=self.repo.bare), c1)

        self.repo.write("app/signing.yaml", SIGNING_SECRET.format(
            passphrase=passphrase,
            key="".join("    " + line + "\n" for line in secret.splitlines())))
        c2 = self.repo.commit("the automation's signing key")
        wait_until(lambda: self.exists("web-tag.txt") and self.read("web-tag.txt") == "1.3.0",
                   what="the signed update to be applied")
        head = git("rev-parse", "staging", cwd=self.repo.bare)
        self.assertEqual(git("rev-parse", "staging~1", cwd=self.repo.bare), c2)
        r = subprocess.run(["git", "-C", self.repo.bare, "verify-commit", "--raw", head],
                           capture_output=True, text=True, env={**os.environ, "GNUPGHOME": self.home})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("GOODSIG", r.stderr)
        # The key and its passphrase appear nowhere the operator talks.
        texts = [op.logs()]
        for path in ("/api/v1/images", "/api/v1/applications/root", "/api/v1/events"):
            texts.append(json.dumps(op.api("GET", path)[1]))
        for text in texts:
            self.assertNotIn(passphrase, text)
            self.assertNotIn(secret.splitlines()[3], text)


PASSWORD = "pl4nted-registry-pw-7d2f"
WRONG = "wr0ng-registry-pw-51ab"

CREDS_PLAIN = """apiVersion: local.plumbline.dev/v1
kind: Secret
metadata:
  name: registry-creds
stringData:
  username: robot
  password: {password}
"""

CREDS_DOCKERCONFIG = """apiVersion: local.plumbline.dev/v1
kind: Secret
metadata:
  name: registry-creds
stringData:
  .dockerconfigjson: '{config}'
"""

CA_SECRET = """apiVersion: local.plumbline.dev/v1
kind: Secret
metadata:
  name: registry-ca
stringData:
  ca.crt: |
{pem}"""


class PrivateRegistryTest(E2E):
    """The registry over HTTPS (a private CA) with htpasswd basic auth: the ImageRepository
    trusts the CA through spec.certSecretRef and logs in through spec.secretRef."""

    def setUp(self):
        super().setUp()
        self.registry = Registry(self.root, tls=True, users={"robot": PASSWORD})
        self.addCleanup(self.registry.stop)
        self.repo.branch = "staging"

    def repository(self, op):
        status, body = op.api("GET", "/api/v1/images")
        self.assertEqual(status, 200, body)
        return body["repositories"][0] if body["repositories"] else None

    def failing(self, op, text, what):
        def check():
            r = self.repository(op)
            return r and text in r["error"] and r["failures"] >= 1 and r
        return wait_until(check, what=what)

    def test_https_with_private_ca_and_basic_auth(self):
        host = self.registry.host
        for tag in ("1.2.0", "1.3.0"):
            self.registry.push("team/web", tag)
        images = IMAGES.format(host=host).replace("  insecure: true\n", "")
        self.repo.write("app/deploy.yaml", DEPLOY.format(host=host))
        self.repo.write("app/images.yaml", images)
        self.repo.write("app/creds.yaml", CREDS_PLAIN.format(password=PASSWORD))
        self.repo.write("app/ca.yaml", CA_SECRET.format(
            pem="".join("    " + line + "\n" for line in self.registry.ca_pem.splitlines())))
        c1 = self.repo.commit("web 1.2.0 from the private registry, no CA yet")
        op = self.operator(path=".", extra=["--allow-plaintext-secrets"])
        op.wait_synced("root", c1)

        # 1. Without certSecretRef the registry's certificate is not trusted: the scan fails
        # with a certificate error and nothing is committed.
        r = self.failing(op, "certificate", "the scan to fail on the unknown CA")
        self.assertIn("certSecretRef", r["error"])
        self.assertEqual(r["tagCount"], 0)
        self.assertEqual(git("rev-parse", "staging", cwd=self.repo.bare), c1)

        # 2. With the CA but a wrong password: unauthorized, still nothing committed.
        with_refs = images.replace(
            f"  image: {host}/team/web\n",
            f"  image: {host}/team/web\n  certSecretRef:\n    name: registry-ca\n"
            "  secretRef:\n    name: registry-creds\n", 1)
        self.repo.write("app/images.yaml", with_refs)
        self.repo.write("app/creds.yaml", CREDS_PLAIN.format(password=WRONG))
        c2 = self.repo.commit("trust the registry's CA; a wrong password")
        op.wait_synced("root", c2)
        r = self.failing(op, "unauthorized", "the scan to fail with unauthorized")
        self.assertNotIn("certificate", r["error"])
        self.assertEqual(r["tagCount"], 0)
        self.assertEqual(git("rev-parse", "staging", cwd=self.repo.bare), c2)

        # 3. The right credentials (as a docker config): the automation commits 1.3.0.
        auth = base64.b64encode(f"robot:{PASSWORD}".encode()).decode()
        config = json.dumps({"auths": {host: {"auth": auth}}})
        self.repo.write("app/creds.yaml", CREDS_DOCKERCONFIG.format(config=config))
        c3 = self.repo.commit("the right registry credentials")
        wait_until(lambda: self.exists("web-tag.txt") and self.read("web-tag.txt") == "1.3.0" and
                   self.read("web-image.txt") == f"{host}/team/web:1.3.0",
                   what="the operator to apply 1.3.0 from the private registry")
        r = self.repository(op)
        self.assertEqual((r["error"], r["failures"], r["tagCount"]), ("", 0, 2))
        self.assertEqual(git("rev-list", "--count", f"{c3}..staging", cwd=self.repo.bare), "1")
        self.assertEqual(git("log", "-1", "--format=%an", "staging", cwd=self.repo.bare),
                         "Image Bot")
        self.assertEqual(git("diff", "--name-only", c3, "staging", cwd=self.repo.bare),
                         "app/deploy.yaml")

        # Neither password (nor its base64 forms) shows in the log or the API's answers.
        texts = {"operator log": op.logs()}
        for path in ("/api/v1/images", "/api/v1/applications", "/api/v1/applications/root",
                     "/api/v1/applications/root/history", "/api/v1/events"):
            status, body = op.api("GET", path)
            self.assertEqual(status, 200, (path, body))
            texts["GET " + path] = json.dumps(body)
        for value in (PASSWORD, WRONG):
            for form in (value, base64.b64encode(f"robot:{value}".encode()).decode(),
                         base64.b64encode(value.encode()).decode()):
                for where, text in texts.items():
                    self.assertNotIn(form, text, f"a registry password in {where}")


if __name__ == "__main__":
    unittest.main()
