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
echo "fate2: install/cache $((t1 - t0)) s, start $((t2 - t1)) s, suite $((t3 - t2)) s, total $((t3 - t0)) s" >&2
exit $status
