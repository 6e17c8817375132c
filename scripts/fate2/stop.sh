#!/usr/bin/env bash
# Stop the FATE Flow started by start.sh ROOT: TERM to its process group (the server and the executors it
# spawned), then KILL whatever is left after 20 s; returns once the whole group is gone.
ROOT=${1:?usage: stop.sh ROOT}
PID=$(cat "$ROOT/fate_flow.pid" 2>/dev/null) || exit 0
kill -TERM -- "-$PID" 2>/dev/null || kill -TERM "$PID" 2>/dev/null
for _ in $(seq 1 40); do kill -0 -- "-$PID" 2>/dev/null || break; sleep 0.5; done
if kill -0 -- "-$PID" 2>/dev/null; then kill -KILL -- "-$PID" 2>/dev/null; sleep 0.5; fi
rm -f "$ROOT/fate_flow.pid"
echo "fate2: stopped pid $PID (and its process group)" >&2
