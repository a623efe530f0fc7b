#!/usr/bin/env bash
# Installs the Debian 12 packages plumbline builds and tests with, if any is missing.
# Idempotent and quiet when everything is there. Needs root (or sudo) to install.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libgit2-dev libyaml-dev libssl-dev libsqlite3-dev libcpp-httplib-dev nlohmann-json3-dev
  libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  python3 sqlite3 curl prometheus
  nodejs age docker-registry
  gnupg openssh-client
  libvectorscan-dev
  chromium
)
# chromium: the dashboard's browser tests (web/tests/driver.mjs, playwright-core).
# npm for tests/npm (independent implementations the tests check against): Debian's,
# unless one came with the installed nodejs (NodeSource's includes it).
if ! command -v npm >/dev/null 2>&1; then PACKAGES+=(npm); fi
if [[ "${PLUMB_BENCH_DEPS:-}" == 1 ]]; then PACKAGES+=(cfengine3 hyperfine ripgrep); fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) != 0 ]]; then SUDO=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v kubectl >/dev/null 2>&1; then
  echo "install-deps: note: kubectl is not installed; kustomize directories will not render" >&2
  echo "  (install kubectl >= 1.21 from your distribution of Kubernetes; do not use Debian's" >&2
  echo "   kubernetes-client, which ships kustomize v2)" >&2
fi
