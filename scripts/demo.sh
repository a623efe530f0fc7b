#!/usr/bin/env bash
# make demo: an example config repository, and the operator reconciling it onto this
# host — writing only under ./demo/host. Stop it with Ctrl-C; run again to start over.
set -euo pipefail
cd "$(dirname "$0")/.."
PLUMB="${PLUMB_BIN:-$PWD/build/plumb}"
DEMO="$PWD/demo"
LISTEN="${PLUMB_DEMO_LISTEN:-127.0.0.1:7420}"

# Replicas of a previous run outlive their operator: stop them before starting over.
pkill -f "plumb shim $DEMO/state" 2>/dev/null || true
rm -rf "$DEMO"
mkdir -p "$DEMO/host"
"$PLUMB" init "$DEMO/config" >/dev/null
# So the commits suggested below work on a machine with no git identity configured.
git -C "$DEMO/config" config user.name "plumbline demo"
git -C "$DEMO/config" config user.email "demo@localhost"
cat <<MSG
== plumbline demo ==========================================================
Config repository: $DEMO/config.git  (edit in the clone $DEMO/config, then push)
Host directory:    $DEMO/host         (the only place this demo writes)
State directory:   $DEMO/state        (engine.db, local.db, the API token)
API:               http://$LISTEN     (token in $DEMO/state/token)
Dashboard:         http://$LISTEN/    (log in with the token: cat $DEMO/state/token)

In another terminal, try:
  build/plumb status --state-dir demo/state
  cat demo/host/motd.txt
  echo 'edited by hand' > demo/host/motd.txt     # drift: healed within a second
  build/plumb events root --state-dir demo/state
  cd demo/config && sed -i 's/Welcome./Hello from a commit./' apps/motd/motd.yaml \\
     && git commit -qam 'new motd' && git push -q origin staging && cd ../..
  build/plumb history motd --state-dir demo/state
  build/plumb diff motd --state-dir demo/state
  build/plumb rollback motd <ID from history> --state-dir demo/state
  build/plumb status web --state-dir demo/state   # 3 replicas of a web service, probed
  build/plumb logs web web --state-dir demo/state
  pkill -9 -f 'plumb demo-server' -n              # a replica dies: it is restarted
  build/plumb local stop web/web --state-dir demo/state   # drift: self-heal? see events
  cd demo/config && sed -i 's/greeting: hello from git/greeting: hello again/' \
     apps/web/config.yaml && git commit -qam 'new greeting' && git push -q origin staging \
     && cd ../..                                    # a rolling update, one replica at a time
Replicas run detached and outlive the operator (it adopts them when it starts again);
stop them with: pkill -f "plumb shim $DEMO/state"
============================================================================
MSG
exec "$PLUMB" run --repo "$DEMO/config.git" --branch staging --path root \
  --state-dir "$DEMO/state" --allow-path "$DEMO/host" --listen "$LISTEN" --interval 30s
