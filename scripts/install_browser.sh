#!/bin/sh
# Debian's Chromium and its driver, for the deployment test's browser check (scripts/browser_check.py).
# Only Debian's packages: nothing is downloaded from anywhere else. A no-op when both are installed.
set -e
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium chromium-driver
