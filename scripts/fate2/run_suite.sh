#!/usr/bin/env bash
# The FATE Flow 2.2.0 CI stage: install (cached), start on free loopback ports, run tests/v2 against it, stop.
#   run_suite.sh [PYTHON]   PYTHON: the interpreter with the provider installed (default .venv/bin/python)
# FATE2_KEEP=1 keeps the temporary server folder (logs, sqlite) for inspection.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${1:-.venv/bin/python}
t0=$(date +%s)
VENV=$(scripts/fate2/install.sh)
t1=$(date +%s)
ROOT=$(mktemp -d "${TMPDIR:-/tmp}/fate2-ci-XXXXXX")
cleanup() {
  scripts/fate2/stop.sh "$ROOT/auth" 2>/dev/null || true
  scripts/fate2/stop.sh "$ROOT" || true
  if [ "${FATE2_KEEP:-0}" = 1 ]; then echo "fate2: kept $ROOT" >&2; else rm -rf "$ROOT"; fi
}
trap cleanup EXIT
scripts/fate2/start.sh "$VENV" "$ROOT"
set -a; . "$ROOT/env"; set +a
t2=$(date +%s)
status=0
"$PY" -m pytest tests/v2 -q -p no:cacheprovider -rs || status=$?
t3=$(date +%s)
# a second, short server with client authentication on, for the signed-request tests
scripts/fate2/stop.sh "$ROOT"
AUTH_ROOT="$ROOT/auth"
FATE2_CLIENT_AUTH=1 scripts/fate2/start.sh "$VENV" "$AUTH_ROOT"
FATEFLOW_V2_AUTH_URL=$(sed -n 's/^FATEFLOW_V2_URL=//p' "$AUTH_ROOT/env") \
  "$PY" -m pytest tests/v2/test_v2_real_auth.py -q -p no:cacheprovider -rs || status=$?
scripts/fate2/stop.sh "$AUTH_ROOT"
t4=$(date +%s)
echo "fate2: install/cache $((t1 - t0)) s, start $((t2 - t1)) s, suite $((t3 - t2)) s, auth $((t4 - t3)) s," \
     "total $((t4 - t0)) s" >&2
exit $status
