#!/usr/bin/env bash
# Start a standalone FATE Flow 2.2.0 on free loopback ports, in a fresh home, in the background.
#   start.sh VENV ROOT   (VENV from install.sh; ROOT: a new or empty directory for home/, logs and the pid)
# Writes ROOT/env (FATEFLOW_V2_URL, FATE2_HTTP_PORT, FATE2_GRPC_PORT, FATE2_PID, FATE2_HOME) and returns once
# GET /v2/server/fateflow answers (or fails with the server's log tail).
# `fate_flow init --home` rewrites fate_flow/settings.py and commands/service.sh INSIDE the venv, and reads the
# previous home's conf/ when it runs again: we keep pristine copies and restore them before every init.
#   FATE2_CLIENT_AUTH=1  turn on client authentication (signed requests; the admin app is admin/fate_flow_admin)
set -euo pipefail
VENV=${1:?usage: start.sh VENV ROOT}
ROOT=${2:?usage: start.sh VENV ROOT}
mkdir -p "$ROOT"
ROOT=$(cd "$ROOT" && pwd)
HOME_DIR="$ROOT/home"
[ -e "$HOME_DIR" ] && { echo "fate2: $HOME_DIR exists: give start.sh a fresh ROOT" >&2; exit 1; }
PY="$VENV/bin/python"
PKG=$("$PY" -c 'import os, importlib.util as u; print(os.path.dirname(u.find_spec("fate_flow").origin))')
read -r HTTP_PORT GRPC_PORT < <("$PY" - <<'PYEOF'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
PYEOF
)
# One server per venv at a time: init rewrites the venv's settings.py, and the server's task executors
# re-read it. The server inherits fd 9, so the lock is held until it exits (a second start waits, 30 min max).
exec 9>"$VENV.run.lock"
flock -w 1800 9 || { echo "fate2: another FATE Flow from $VENV is still running" >&2; exit 1; }
for f in settings.py commands/service.sh; do
  [ -f "$PKG/$f.pristine" ] || cp "$PKG/$f" "$PKG/$f.pristine"
  cp "$PKG/$f.pristine" "$PKG/$f"
done
"$VENV/bin/fate_flow" init --ip 127.0.0.1 --port "$HTTP_PORT" --home "$HOME_DIR" >"$ROOT/init.log" 2>&1 \
  || { cat "$ROOT/init.log" >&2; exit 1; }
"$PY" - "$HOME_DIR/conf/service_conf.yaml" "$GRPC_PORT" <<'PYEOF'
import os, sys, yaml
path, port = sys.argv[1], int(sys.argv[2])
with open(path) as fh:
    conf = yaml.safe_load(fh)
conf["fateflow"]["grpc_port"] = port
if os.environ.get("FATE2_CLIENT_AUTH") == "1":
    conf["authentication"]["client"] = True
with open(path, "w") as fh:
    yaml.safe_dump(conf, fh, default_flow_style=False)
PYEOF
mkdir -p "$HOME_DIR/logs"
# setsid: the server and the executors it spawns get their own process group, so stop.sh can end them all
setsid "$PY" "$PKG/fate_flow_server.py" >"$HOME_DIR/logs/console.log" 2>"$HOME_DIR/logs/error.log" </dev/null &
PID=$!
echo "$PID" >"$ROOT/fate_flow.pid"
URL="http://127.0.0.1:$HTTP_PORT"
t0=$(date +%s)
until "$PY" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=5)" "$URL/v2/server/fateflow" 2>/dev/null; do
  if ! kill -0 "$PID" 2>/dev/null; then
    echo "fate2: the server died" >&2; tail -n 40 "$HOME_DIR/logs/"*.log >&2; exit 1
  fi
  if [ $(( $(date +%s) - t0 )) -gt 120 ]; then
    echo "fate2: no answer after 120 s" >&2; tail -n 40 "$HOME_DIR/logs/"*.log >&2; kill "$PID"; exit 1
  fi
  sleep 0.5
done
cat >"$ROOT/env" <<ENVEOF
FATEFLOW_V2_URL=$URL
FATE2_HTTP_PORT=$HTTP_PORT
FATE2_GRPC_PORT=$GRPC_PORT
FATE2_PID=$PID
FATE2_HOME=$HOME_DIR
ENVEOF
echo "fate2: FATE Flow 2.2.0 up at $URL (grpc $GRPC_PORT, pid $PID) in $(( $(date +%s) - t0 )) s" >&2
