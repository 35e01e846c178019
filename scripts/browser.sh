#!/usr/bin/env bash
# The browser the tests drive: Debian's Chromium and its matching ChromeDriver, from the
# distribution's packages (no test tool may download a browser build on this machine).
# Installs them when either is missing; needs root (apt-get), as CI runs.
set -euo pipefail

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
  echo "browser: $(/usr/bin/chromium --version 2>/dev/null | head -n1) is installed"
  exit 0
fi
echo "browser: installing Debian's chromium and chromium-driver"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null || echo "browser: apt-get update failed; trying the cached lists" >&2
apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null
echo "browser: $(/usr/bin/chromium --version 2>/dev/null | head -n1) installed"
