"""A real OCI registry for tests: Debian's docker-registry on 127.0.0.1, its storage in a
temporary directory, run as the current user. Images are pushed over its HTTP API (a
config blob, a layer blob and a Docker v2 manifest per tag) with urllib.

Registry(root, tls=True) serves HTTPS with a server certificate for IP 127.0.0.1 signed by
a throw-away CA (self.ca_pem) made with the openssl CLI; users={"name": "password"} turns
on htpasswd basic auth (bcrypt entries from python's crypt).
"""
import base64
import crypt
import hashlib
import json
import os
import shutil
import ssl
import subprocess
import urllib.request

from harness import wait_until

REGISTRY_BIN = shutil.which("docker-registry") or "/usr/bin/docker-registry"


def _listening_port(pid):
    """The TCP port process `pid` listens on (found through /proc, so no port is guessed)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] == "0A" and cols[9] in inodes:  # LISTEN
                return int(cols[1].split(":")[1], 16)
    return None


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca_and_server_cert(d):
    """A CA and a server certificate for IP 127.0.0.1 it signed, in directory d."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.crt", "-days", "2", "-subj", "/CN=plumbline test CA", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
             "server.csr", "-subj", "/CN=127.0.0.1", cwd=d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext", cwd=d)


class Registry:
    def __init__(self, root, tls=False, users=None):
        self.dir = os.path.join(root, "registry")
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        self.config = os.path.join(self.dir, "config.yml")
        self.scheme = "https" if tls else "http"
        self.ssl_context = None
        self.ca_pem = None
        self.auth_header = {}
        http = "http:\n  addr: 127.0.0.1:0\n"
        auth = ""
        if tls:
            make_ca_and_server_cert(self.dir)
            with open(os.path.join(self.dir, "ca.crt")) as f:
                self.ca_pem = f.read()
            self.ssl_context = ssl.create_default_context(cafile=os.path.join(self.dir, "ca.crt"))
            http += (f"  tls:\n    certificate: {self.dir}/server.crt\n"
                     f"    key: {self.dir}/server.key\n")
        if users:
            htpasswd = os.path.join(self.dir, "htpasswd")
            with open(htpasswd, "w") as f:
                for user, password in users.items():
                    f.write(f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))}\n")
            auth = f"auth:\n  htpasswd:\n    realm: plumbline-test\n    path: {htpasswd}\n"
            user, password = next(iter(users.items()))
            self.auth_header = {"Authorization": "Basic " + base64.b64encode(
                f"{user}:{password}".encode()).decode()}
        with open(self.config, "w") as f:
            f.write("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                    f"    rootdirectory: {self.dir}/data\n  delete:\n    enabled: true\n"
                    + http + auth)
        self.proc = None
        self.port = None
        self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, "registry.log"), "ab")
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", self.config], stdout=self.log,
                                     stderr=self.log, stdin=subprocess.DEVNULL)
        self.port = wait_until(lambda: self.proc.poll() is None and _listening_port(self.proc.pid),
                               what="docker-registry to listen")
        self.host = f"127.0.0.1:{self.port}"
        wait_until(lambda: self._get("/v2/")[0] == 200, what="docker-registry to answer")

    def _open(self, req):
        if isinstance(req, str):
            req = urllib.request.Request(req)
        for k, v in self.auth_header.items():
            req.add_header(k, v)
        return urllib.request.urlopen(req, timeout=10, context=self.ssl_context)

    def restart_on_same_port(self):
        """Starts again with the port it had (after stop()), as a registry back from an outage."""
        with open(self.config) as f:
            text = f.read()
        with open(self.config, "w") as f:
            f.write(text.replace("127.0.0.1:0", self.host))
        self.start()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        if self.proc:
            self.log.close()
        self.proc = None

    def _get(self, path):
        try:
            with self._open(f"{self.scheme}://{self.host}{path}") as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError:
            return 0, b""

    def _blob(self, name, data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        req = urllib.request.Request(f"{self.scheme}://{self.host}/v2/{name}/blobs/uploads/", method="POST",
                                     data=b"")
        with self._open(req) as r:
            location = r.headers["Location"]
        if location.startswith("/"):
            location = f"{self.scheme}://{self.host}{location}"
        sep = "&" if "?" in location else "?"
        req = urllib.request.Request(f"{location}{sep}digest={digest}", method="PUT", data=data,
                                     headers={"Content-Type": "application/octet-stream"})
        with self._open(req) as r:
            assert r.status == 201, r.status
        return {"size": len(data), "digest": digest}

    def push(self, name, tag):
        """Pushes a small image `name:tag` (its own config and layer, so digests differ)."""
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "config": {"Labels": {"tag": tag}}, "rootfs":
                             {"type": "layers", "diff_ids": []}}).encode()
        layer = f"layer of {name}:{tag}\n".encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": dict(mediaType="application/vnd.docker.container.image.v1+json",
                           **self._blob(name, config)),
            "layers": [dict(mediaType="application/vnd.docker.image.rootfs.diff.tar.gzip",
                            **self._blob(name, layer))],
        }
        req = urllib.request.Request(
            f"{self.scheme}://{self.host}/v2/{name}/manifests/{tag}", method="PUT",
            data=json.dumps(manifest).encode(),
            headers={"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"})
        with self._open(req) as r:
            assert r.status == 201, r.status

    def tags(self, name):
        status, body = self._get(f"/v2/{name}/tags/list")
        return json.loads(body).get("tags") or [] if status == 200 else []
