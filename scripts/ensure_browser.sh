#!/usr/bin/env bash
# The browser test drives Debian's Chromium (never a browser downloaded by a test tool).
set -euo pipefail
if [[ -x /usr/bin/chromium ]]; then
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
