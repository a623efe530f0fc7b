#!/usr/bin/env bash
# The benchmark of issue 2: plumbline vs `git checkout` vs cfengine3, side by side.
#   bench/run.sh          # 1,000 and 10,000 File resources
#   bench/run.sh --big    # adds 100,000
# Any other argument goes to bench/bench_loop.py (see its --help). `make bench` builds
# build/plumb first. Prints a markdown report on stdout (progress on stderr) and keeps
# the raw figures in bench/results/LAST.json (not committed).
#
# The benchmark of issue 3 (Processes), ≈5 minutes, needs no cf-agent:
#   bench/run.sh --process              # commit-to-ready for 1/10/100 replicas, rolling
#                                       # updates, 500 idle replicas' CPU and memory
#   bench/run.sh --process --skip-idle  # any other argument goes to bench/bench_process.py
# Raw figures in bench/results/PROCESS.json (not committed).
#
# The benchmark of issue 4 (the operator as a service), ≈10 minutes, needs no cf-agent:
#   bench/run.sh --api                  # GET /api/v1/applications with 10,000 Applications;
#                                       # push-to-applied with a webhook and with polling
#   bench/run.sh --api --skip-poll      # any other argument goes to bench/bench_api.py
# Raw figures in bench/results/API.json (not committed).
#
# The benchmark of issue 8 (the dashboard with 10,000 Applications), ≈10 minutes, needs
# chromium and `make web-deps`:
#   python3 bench/bench_dashboard.py --reps 20 --json bench/results/DASHBOARD.json
#
# The benchmark of issue 5 (sealed secrets), ≈15 minutes, its own script:
#   python3 bench/bench_secrets.py --sizes 100 1000 --reps 3
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
plumb=${PLUMB:-$root/build/plumb}
if [[ ! -x $plumb ]]; then
  echo "bench/run.sh: $plumb is missing; run 'make build' first" >&2
  exit 2
fi
if [[ ${1:-} == --process ]]; then
  shift
  mkdir -p "$here/results"
  exec python3 "$here/bench_process.py" --plumb "$plumb" --json "$here/results/PROCESS.json" "$@"
fi
if [[ ${1:-} == --api ]]; then
  shift
  mkdir -p "$here/results"
  exec python3 "$here/bench_api.py" --plumb "$plumb" --json "$here/results/API.json" "$@"
fi
if ! command -v cf-agent >/dev/null 2>&1; then
  echo "bench/run.sh: cf-agent is missing; apt-get install -y cfengine3 (or PLUMB_BENCH_DEPS=1 scripts/install-deps.sh)" >&2
  exit 2
fi
mkdir -p "$here/results"
exec python3 "$here/bench_loop.py" --plumb "$plumb" --json "$here/results/LAST.json" "$@"
