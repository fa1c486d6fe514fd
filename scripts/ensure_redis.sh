#!/usr/bin/env bash
# Makes sure a Redis answers at 127.0.0.1:6379: uses the running one, else starts Debian's redis-server
# (installing it with apt-get when missing).
set -euo pipefail
if (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
    exit 0
fi
if ! command -v redis-server >/dev/null; then
    apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
fi
redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
for _ in $(seq 50); do
    (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && exit 0
    sleep 0.1
done
echo "redis-server did not start" >&2
exit 1
