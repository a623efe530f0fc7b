"""Drives Debian's Chromium through web/tests/driver.mjs (playwright-core) for the dashboard's
browser tests: one JSON command a line, one JSON answer a line. Every wait has a timeout;
nothing sleeps."""
import json
import os
import shutil
import subprocess

WEB = os.path.normpath(os.path.join(os.path.dirname(__file__), "../../web"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def missing():
    """Why the browser tests cannot run here, or None."""
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is missing: apt-get install chromium (scripts/install-deps.sh does)"
    if not shutil.which("node"):
        return "node is missing: apt-get install nodejs"
    if not os.path.isdir(os.path.join(WEB, "node_modules", "playwright-core")):
        return "web/node_modules is missing: run `make web-deps` (npm ci in web/)"
    return None


class Browser:
    def __init__(self, screenshot_dir):
        self.screenshot_dir = screenshot_dir
        self.proc = subprocess.Popen(
            ["node", os.path.join(WEB, "tests", "driver.mjs")], cwd=WEB, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None,
            env=dict(os.environ, CHROMIUM=CHROMIUM))

    def do(self, op, **kw):
        self.proc.stdin.write(json.dumps({"op": op, **kw}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"the browser driver exited ({self.proc.wait()}) during {op} {kw}")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise AssertionError(f"browser {op} {kw}: {reply.get('error')}")
        return reply

    def goto(self, url):
        return self.do("goto", url=url)

    def wait(self, selector, text=None, timeout=30000, state="visible"):
        kw = {"selector": selector, "timeout": timeout, "state": state}
        if text is not None:
            kw["text"] = text
        return self.do("wait", **kw)

    def click(self, selector, text=None):
        kw = {"selector": selector}
        if text is not None:
            kw["text"] = text
        return self.do("click", **kw)

    def fill(self, selector, value):
        return self.do("fill", selector=selector, value=value)

    def text(self, selector):
        return self.do("text", selector=selector)["text"]

    def count(self, selector):
        return self.do("count", selector=selector)["count"]

    def screenshot(self, name, full_page=False):
        path = os.path.join(self.screenshot_dir, name)
        self.do("screenshot", path=path, fullPage=full_page)
        return path

    def errors(self):
        """The page's script errors and CSP refusals so far (answers like a 401 to a wrong
        token or the 404 of the token check are expected, not errors of the page)."""
        return [e for e in self.do("errors")["errors"] if "Failed to load resource" not in e]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.do("close")
            except AssertionError:
                pass
            self.proc.stdin.close()
            self.proc.stdout.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
