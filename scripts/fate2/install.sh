#!/usr/bin/env bash
# Install a standalone FATE Flow 2.2.0 (pyfate, fate-client, fate-flow; CPU torch) into a cached venv.
# Prints the venv path on its last line. The cache key is a hash of requirements.txt, constraints.txt and
# this script, so an edit to any of them installs afresh; a venv without its .complete stamp (an interrupted
# install) is removed and installed again. Concurrent callers are serialised by flock.
#   FATE2_CACHE  cache root (default ~/.cache/airflow-provider-fateflow)
#   FATE2_PYTHON interpreter for the venv (default python3.11, else python3)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE_ROOT=${FATE2_CACHE:-$HOME/.cache/airflow-provider-fateflow}
PY=${FATE2_PYTHON:-$(command -v python3.11 || command -v python3)}
KEY=$(cat "$HERE/requirements.txt" "$HERE/constraints.txt" "$HERE/install.sh" | sha256sum | cut -c1-16)
VENV="$CACHE_ROOT/fate2-$KEY"
mkdir -p "$CACHE_ROOT"
exec 9>"$VENV.lock"
flock 9
if [ ! -f "$VENV/.complete" ]; then
  rm -rf "$VENV"
  t0=$(date +%s)
  echo "fate2: installing FATE Flow 2.2.0 into $VENV (about 2-3 min, 1.6 GB)" >&2
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --progress-bar off -U pip wheel >&2
  # torch==2.13.0 is pinned in requirements.txt: pip takes the CPU wheel (find-links) instead of a CUDA build
  "$VENV/bin/pip" install -q --progress-bar off -r "$HERE/requirements.txt" -c "$HERE/constraints.txt" >&2
  # fate-flow pins typing-extensions==4.8.0, which torch 2.13 refuses: its own deps are in requirements.txt
  "$VENV/bin/pip" install -q --progress-bar off --no-deps fate-flow==2.2.0 >&2
  "$VENV/bin/python" -c 'import fate_flow, fate, fate_client' >&2
  touch "$VENV/.complete"
  echo "fate2: installed in $(( $(date +%s) - t0 )) s" >&2
fi
echo "$VENV"
