"""End-to-end harness: real git repositories, the real `plumb` binary, real HTTP.

Every test gets a temporary directory, a bare remote made with `git init --bare` and a
working clone to commit from, and an operator started on 127.0.0.1:0 whose bound
address is read from STATE_DIR/address. Nothing sleeps on a guess: wait_until polls a
condition with a deadline.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request

PLUMB = os.environ.get("PLUMB", os.path.join(os.path.dirname(__file__), "../../build/plumb"))
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author", "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent",
}
DEADLINE = float(os.environ.get("PLUMB_E2E_DEADLINE", "60"))


def wait_until(fn, timeout=DEADLINE, what="condition", interval=0.02):
    """Polls fn() until it returns a truthy value; fails the test after `timeout` s."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = fn()
            if last:
                return last
        except AssertionError as e:  # let helpers assert inside the poll
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def git(*args, cwd=None, check=True):
    env = dict(os.environ, **GIT_ENV)
    r = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {r.stderr}")
    return r.stdout.strip()


class Repo:
    """A bare remote (what the operator follows) and a clone to commit from."""

    def __init__(self, root, branch="main"):
        self.bare = os.path.join(root, "remote.git")
        self.work = os.path.join(root, "work")
        self.branch = branch
        git("init", "-q", "--bare", "-b", branch, self.bare)
        git("init", "-q", "-b", branch, self.work)
        git("remote", "add", "origin", self.bare, cwd=self.work)

    def write(self, path, content):
        full = os.path.join(self.work, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(content)

    def remove(self, path):
        git("rm", "-rq", path, cwd=self.work)

    def symlink(self, target, path):
        full = os.path.join(self.work, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        os.symlink(target, full)

    def commit(self, message="change", branch=None):
        branch = branch or self.branch
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "--allow-empty", "-m", message, cwd=self.work)
        git("push", "-q", "origin", f"HEAD:{branch}", cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)

    def pull(self):
        git("pull", "-q", "origin", self.branch, cwd=self.work)


def file_yaml(name, path, content, mode=None, extra=""):
    body = "\n".join("    " + line for line in content.splitlines())
    m = f'\n  mode: "{mode}"' if mode else ""
    return (f"apiVersion: local.plumbline.dev/v1\nkind: File\nmetadata:\n  name: {name}\n{extra}"
            f"spec:\n  path: {path}{m}\n  content: |\n{body}\n")


def app_yaml(name, path, extra_sync=""):
    return (f"apiVersion: plumbline.dev/v1\nkind: Application\nmetadata:\n  name: {name}\n"
            f"spec:\n  source:\n    path: {path}\n  sync:\n    interval: 200ms\n{extra_sync}")


class Operator:
    """A `plumb run` process on 127.0.0.1:0 with its own state directory."""

    def __init__(self, root, repo, branch="main", path=".", allow=None, extra=(), env=None,
                 state_dir=None):
        self.state = state_dir or os.path.join(root, "state")
        self.allow = allow or os.path.join(root, "host")
        os.makedirs(self.allow, exist_ok=True)
        self.log_path = os.path.join(root, f"operator-{int(time.time()*1000)}.log")
        defaults = {"--listen": "127.0.0.1:0", "--interval": "200ms", "--retry-base": "100ms",
                    "--retry-max": "1s", "--rescan-interval": "500ms",
                    # the first sealing key: 2048 bits is quicker to generate than 4096
                    "--key-bits": "2048"}
        extra = list(extra)
        for flag in list(defaults):
            if flag in extra:  # a test's own value wins
                del defaults[flag]
        self.args = [PLUMB, "run", "--repo", repo, "--branch", branch, "--path", path,
                     "--state-dir", self.state, "--allow-path", self.allow,
                     *[x for kv in defaults.items() for x in kv], *extra]
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.start()

    def start(self):
        addr = os.path.join(self.state, "address")
        if os.path.exists(addr):
            os.remove(addr)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=self.log, env=self.env,
                                     stdin=subprocess.DEVNULL)
        wait_until(lambda: os.path.exists(addr) or self.proc.poll() is not None,
                   what="the operator to listen")
        if self.proc.poll() is not None:
            self.log.close()
            raise AssertionError(f"operator exited {self.proc.returncode}: {self.logs()}")
        with open(addr) as f:
            self.url = f.read().strip()
        with open(os.path.join(self.state, "token")) as f:
            self.token = f.read().strip()

    def logs(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("operator did not stop on SIGTERM")
        self.log.close()
        logs = self.logs()
        if "AddressSanitizer" in logs or "runtime error:" in logs or "LeakSanitizer" in logs:
            raise AssertionError("sanitizer report in operator log:\n" + logs[-6000:])
        return self.proc.returncode

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    def cli(self, *args, check=True, token=True):
        """Runs a plumb CLI verb against this operator; returns CompletedProcess."""
        cmd = [PLUMB, *args, "--state-dir", self.state]
        env = dict(os.environ)
        if not token:
            cmd += ["--token", "not-the-token"]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        if check and r.returncode not in (0, 1):
            raise AssertionError(f"plumb {' '.join(args)} exited {r.returncode}: {r.stderr}")
        return r

    def status(self, app):
        r = self.cli("status", app, "-o", "json", check=False)
        if r.returncode != 0:
            return None
        return json.loads(r.stdout)

    def history(self, app):
        return json.loads(self.cli("history", app, "-o", "json").stdout)["items"]

    def api(self, method, path, body=None, token="admin"):
        headers = {"Content-Type": "application/json"}
        if token == "admin":
            headers["Authorization"] = "Bearer " + self.token
        elif token:
            headers["Authorization"] = "Bearer " + token
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def wait_synced(self, app, commit=None, what=None):
        def ok():
            s = self.status(app)
            if not s:
                return False
            st = s["status"]
            return st["sync"] == "Synced" and (commit is None or st["appliedCommit"] == commit) \
                and st["lastError"] == ""
        return wait_until(ok, what=what or f"{app} Synced at {commit}")


def replica_statuses(state_dir, app=None, name=None):
    """The shims' status.json of every replica under STATE_DIR/processes (optionally of one
    Application and one Process/Job name), each with its replica dir as "dir"."""
    out = []
    root = os.path.join(state_dir, "processes")
    if not os.path.isdir(root):
        return out
    for app_dir in sorted(os.listdir(root)):
        if app is not None and app_dir != app:
            continue
        for obj in sorted(os.listdir(os.path.join(root, app_dir))):
            if name is not None and not obj.endswith("." + name):
                continue
            obj_dir = os.path.join(root, app_dir, obj)
            for rep in sorted(os.listdir(obj_dir)):
                path = os.path.join(obj_dir, rep, "status.json")
                try:
                    with open(path) as f:
                        st = json.load(f)
                except (OSError, ValueError):
                    continue
                st["dir"] = os.path.join(obj_dir, rep)
                out.append(st)
    return out


def pid_alive(pid):
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def kill_replicas(state_dir):
    """Kills every shim and program a test's operator started (they outlive it)."""
    for st in replica_statuses(state_dir):
        for pid in (st.get("pid"), st.get("shim_pid")):
            if pid and pid_alive(pid):
                try:
                    os.killpg(pid, signal.SIGKILL) if pid == st.get("pid") else None
                except OSError:
                    pass
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass


class E2E(unittest.TestCase):
    """Base: a temp dir, a repo, and operator cleanup."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="plumb-e2e-")
        self.repo = Repo(self.root)
        self.operators = []
        self.host = os.path.join(self.root, "host")
        os.makedirs(self.host)

    def tearDown(self):
        errors = []
        for op in self.operators:
            try:
                op.stop()
            except AssertionError as e:
                errors.append(str(e))
        for op in self.operators:
            kill_replicas(op.state)
        if errors:
            raise AssertionError("\n".join(errors))
        if not os.environ.get("PLUMB_E2E_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)

    def operator(self, **kw):
        op = Operator(self.root, self.repo.bare, branch=self.repo.branch, allow=self.host, **kw)
        self.operators.append(op)
        return op

    def read(self, rel):
        with open(os.path.join(self.host, rel)) as f:
            return f.read()

    def exists(self, rel):
        return os.path.exists(os.path.join(self.host, rel))
