#!/usr/bin/env bash
# Installs the two servers `make test-deploy-distributed` starts (PostgreSQL and Redis) from Debian's
# packages, only when they are missing. It only installs them: scripts/deploy_distributed.py starts its own
# instances in temporary directories on free ports and never uses the system services. Needs root or sudo.
set -euo pipefail

have_postgres() {
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1
}
have_redis() { command -v redis-server >/dev/null 2>&1; }

missing=()
have_postgres || missing+=(postgresql)
have_redis || missing+=(redis-server)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install_services.sh: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
    SUDO="sudo"
fi
echo "installing ${missing[*]} (Debian packages)"
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d exit 101: the packages must not start their system-wide services (we start our own on free ports).
policy=/usr/sbin/policy-rc.d
created_policy=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
    created_policy=1
fi
trap '[ -n "$created_policy" ] && $SUDO rm -f "$policy"' EXIT
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
have_postgres && have_redis
