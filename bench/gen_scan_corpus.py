#!/usr/bin/env python3
"""A labelled corpus for the secret scanner (issue 7): a git repository whose files and
history hold realistic fake tokens of every supported format, plus look-alikes that must
not be reported (AWS's documentation key, SOPS and sealed values, placeholders, UUIDs,
hashes, public keys, test-mode keys, references).

  bench/gen_scan_corpus.py OUT [--files 400] [--filler-mb 20] [--seed 1]

Writes OUT/repo (a git repository; the working tree is its last commit) and
OUT/labels.json: {"tree": [[rule, file, line], ...], "history": [[rule, file, line], ...]}.
`tree` is what a scan of the working tree must find; `history` what `plumb scan --git` must
find (every planted line at the commit that added it, including ones removed later).
Every value is random, made here, and of no use to anyone.
"""
import argparse
import base64
import json
import os
import random
import string
import subprocess

ALNUM = string.ascii_letters + string.digits
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
B64 = string.ascii_letters + string.digits + "+/"


class Fakes:
    def __init__(self, rng):
        self.r = rng

    def s(self, alphabet, n):
        return "".join(self.r.choice(alphabet) for _ in range(n))

    # rule -> a function giving (line text) with one token of that rule.
    def positives(self):
        s = self.s
        jwt_header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
        return {
            "aws-access-key-id": lambda: f'aws_access_key_id = "{self.r.choice(["AKIA", "ASIA"])}{s(B32, 16)}"',
            "aws-secret-access-key": lambda: f"AWS_SECRET_ACCESS_KEY={s(B64, 40)}",
            "gcp-service-account-key": lambda: '  "private_key": "-----BEGIN PRIVATE KEY-----\\n'
            + s(B64, 64) + "\\n" + s(B64, 64) + '\\n-----END PRIVATE KEY-----\\n",',
            "azure-storage-account-key": lambda: "conn = \"DefaultEndpointsProtocol=https;AccountName="
            + s(string.ascii_lowercase, 10) + ";AccountKey=" + s(B64, 86) + "==;EndpointSuffix=core.windows.net\"",
            "azure-storage-key": lambda: f"azure_storage_key: {s(B64, 86)}==",
            "github-token": lambda: f"GITHUB_TOKEN={self.r.choice(['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'])}{s(ALNUM, 36)}",
            "github-fine-grained-token": lambda: f"const gh = 'github_pat_{s(ALNUM, 22)}_{s(ALNUM, 59)}';",
            "gitlab-token": lambda: f"  gitlab: glpat-{s(ALNUM + '_-', 19)}{s(ALNUM, 1)}",
            "slack-token": lambda: f"SLACK_BOT=xoxb-{s(string.digits, 12)}-{s(string.digits, 13)}-{s(ALNUM, 24)}",
            "slack-webhook": lambda: f"webhook: https://hooks.slack.com/services/T{s(B32[:26] + '0123456789', 10)}/B{s(B32[:26] + '0123456789', 10)}/{s(ALNUM, 24)}",
            "stripe-live-key": lambda: f"stripe.api_key = \"{self.r.choice(['sk', 'rk'])}_live_{s(ALNUM, 32)}\"",
            "npm-token": lambda: f"//registry.npmjs.org/:_authToken=npm_{s(ALNUM, 36)}",
            "pypi-token": lambda: f"    password: pypi-AgEIcHlwaS5vcmc{s(ALNUM + '-_', 120)}",
            "private-key": lambda: "-----BEGIN " + self.r.choice(["RSA ", "EC ", "OPENSSH ", ""])
            + "PRIVATE KEY-----\n" + s(B64, 64) + "\n" + s(B64, 64) + "\n-----END PRIVATE KEY-----",
            "jwt": lambda: f"Authorization: Bearer {jwt_header}.{base64.urlsafe_b64encode(json.dumps({'sub': s(string.digits, 8)}).encode()).decode().rstrip('=')}.{s(ALNUM + '-_', 43)}",
            "database-url-password": lambda: f"DATABASE_URL=postgres://app:{s(ALNUM, 14)}@db-{s(string.ascii_lowercase, 4)}.internal:5432/app",
            "generic-secret": lambda: f"  client_secret: \"{s(ALNUM, 20)}\"",
        }

    def negatives(self):
        s = self.s
        sealed = base64.b64encode(b"\x01\x00" + bytes(self.r.randrange(256) for _ in range(256 + 60))).decode()
        return [
            lambda: "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
            lambda: "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            lambda: f"  password: ENC[AES256_GCM,data:{s(B64, 24)}=,iv:{s(B64, 43)}=,tag:{s(B64, 22)}==,type:str]",
            lambda: f"    password: {sealed}",
            lambda: f"token: {s('0123456789abcdef', 8)}-{s('0123456789abcdef', 4)}-4{s('0123456789abcdef', 3)}-a{s('0123456789abcdef', 3)}-{s('0123456789abcdef', 12)}",
            lambda: f"secret_sha256: {s('0123456789abcdef', 64)}",
            lambda: f"commit_token = \"{s('0123456789abcdef', 40)}\"",
            lambda: "password = ${DB_PASSWORD}",
            lambda: "api_key: <your-api-key>",
            lambda: "token: {{ .Values.token }}",
            lambda: "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            lambda: f"stripe_test = \"sk_test_{s(ALNUM, 24)}\"",
            lambda: f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{s(B64, 43)} alice@example.com",
            lambda: f"-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA{s(B64, 20)}",
            lambda: "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
            lambda: "token = os.environ.GITHUB_TOKEN",
            lambda: "password: correcthorsebatterystaple",
            lambda: "DATABASE_URL=postgres://app:${DB_PASSWORD}@db:5432/app",
            lambda: f"id: {s('0123456789abcdef', 32)}",
            lambda: "secretKeyRef: {name: db-credentials, key: password}",
        ]


FILLER_WORDS = ("the operator renders every manifest at the commit and applies the plan "
                "replicas image port health readiness liveness timeout retry config value "
                "name namespace label selector container volume mount path mode owner").split()


def filler_line(rng):
    kind = rng.randrange(4)
    if kind == 0:
        return "    " + " ".join(rng.choice(FILLER_WORDS) for _ in range(rng.randrange(4, 14)))
    if kind == 1:
        return f"  {rng.choice(FILLER_WORDS)}: {rng.choice(FILLER_WORDS)}-{rng.randrange(1000)}"
    if kind == 2:
        return f"def {rng.choice(FILLER_WORDS)}_{rng.randrange(100)}(x): return x * {rng.randrange(9)}"
    return f"// {rng.choice(FILLER_WORDS)} {rng.choice(FILLER_WORDS)} = {rng.randrange(10**6)};"


EXTS = [".py", ".js", ".go", ".yaml", ".env", ".json", ".tf", ".properties", ".sh", ".md"]


def git(repo, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="Corpus", GIT_AUTHOR_EMAIL="corpus@example.com",
               GIT_COMMITTER_NAME="Corpus", GIT_COMMITTER_EMAIL="corpus@example.com",
               GIT_CONFIG_NOSYSTEM="1", HOME="/nonexistent")
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--files", type=int, default=400)
    ap.add_argument("--filler-mb", type=float, default=20)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    fk = Fakes(rng)
    pos = fk.positives()
    neg = fk.negatives()
    repo = os.path.join(a.out, "repo")
    os.makedirs(repo)
    git(repo, "init", "-q", "-b", "main")

    lines_per_file = max(20, int(a.filler_mb * 1e6 / 60 / a.files))
    # path -> entries: (None, text) filler or a look-alike, (rule, text) a planted secret.
    files = {}
    for i in range(a.files):
        path = f"{rng.choice(['src', 'config', 'deploy', 'lib', 'docs'])}/m{i:04d}{rng.choice(EXTS)}"
        files[path] = [(None, filler_line(rng)) for _ in range(lines_per_file)]
    rules = list(pos)
    # Every rule planted 10 times, every look-alike 10 times, at random places.
    plants = [(r, pos[r]) for r in rules for _ in range(10)] + [(None, n) for n in neg for _ in range(10)]
    rng.shuffle(plants)
    paths = sorted(files)
    for rule, make in plants:
        entries = files[rng.choice(paths)]
        entries.insert(rng.randrange(len(entries) + 1), (rule, make()))

    tree_labels = []
    for path, entries in files.items():
        full = os.path.join(repo, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        line = 1
        out = []
        for rule, text in entries:
            if rule is not None:
                tree_labels.append([rule, path, line])  # a finding is on the first line
            out.append(text)
            line += text.count("\n") + 1
        with open(full, "w") as f:
            f.write("\n".join(out) + "\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "the corpus")
    history_labels = list(tree_labels)
    # History: 34 commits each add a secret in a new file; every other one removes it again.
    for c in range(2 * len(rules)):
        rule = rules[c % len(rules)]
        path = f"history/h{c:03d}{rng.choice(EXTS)}"
        body = [filler_line(rng) for _ in range(5)] + [pos[rule]()] + [filler_line(rng)]
        full = os.path.join(repo, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write("\n".join(body) + "\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"history {c}")
        history_labels.append([rule, path, 6])
        if c % 2 == 1:
            os.remove(full)
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "-m", f"remove {c}")
        else:
            tree_labels.append([rule, path, 6])
    with open(os.path.join(a.out, "labels.json"), "w") as f:
        json.dump({"rules": rules, "tree": sorted(tree_labels), "history": sorted(history_labels)}, f)
    size = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(repo) if "/.git" not in d + "/"
               for n in ns)
    print(f"gen_scan_corpus: {len(files)} files, {size / 1e6:.1f} MB, {len(tree_labels)} secrets in "
          f"the tree, {len(history_labels)} in the history, {10 * len(neg)} look-alikes")


if __name__ == "__main__":
    main()
