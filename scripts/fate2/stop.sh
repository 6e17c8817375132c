#!/usr/bin/env bash
# Stop the FATE Flow started by start.sh ROOT: TERM to its process group (server and executors), KILL after 20 s.
ROOT=${1:?usage: stop.sh ROOT}
PID=$(cat "$ROOT/fate_flow.pid" 2>/dev/null) || exit 0
kill -TERM -- "-$PID" 2>/dev/null || kill -TERM "$PID" 2>/dev/null
for _ in $(seq 1 40); do kill -0 "$PID" 2>/dev/null || break; sleep 0.5; done
kill -0 "$PID" 2>/dev/null && kill -KILL -- "-$PID" 2>/dev/null
rm -f "$ROOT/fate_flow.pid"
echo "fate2: stopped pid $PID" >&2
