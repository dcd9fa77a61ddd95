#!/usr/bin/env bash
# Starts a real daemon on a temp data directory, registers an app, and runs
# framegen attack against it for a bounded time; fails unless the final probe
# passes and the daemon's memory ends under the bound. Usage: attack-smoke.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-20s}
work=$(mktemp -d)
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/launcher" ./cmd/launcher
go build -o "$work/framegen" ./cmd/framegen
# --passphrase-stdin creates the account (timing Argon2id takes a few
# seconds) and starts unlocked.
"$work/launcher" serve --data "$work/data" --listen 127.0.0.1:0 --gateway off --passphrase-stdin \
  <<<"attack smoke passphrase" >"$work/out" 2>"$work/log" &
pid=$!
for _ in $(seq 600); do grep -q '^listening on' "$work/out" && break; sleep 0.1; done
grep -q '^listening on' "$work/out" || { cat "$work/log"; exit 1; }
"$work/launcher" app add fuzzed --exec "$work/framegen" --data "$work/data" >/dev/null
"$work/framegen" attack -token-cmd "$work/launcher app token fuzzed --data $work/data" \
  -duration "$duration" -conns 32 -seed "${SEED:-1}" -pid "$pid" -max-rss-mb 512
if grep -q 'level=ERROR.*panic' "$work/log"; then echo "daemon logged a panic:"; grep panic "$work/log"; exit 1; fi
kill -TERM "$pid"; wait "$pid"; pid=
echo "attack smoke: daemon survived and exited cleanly"
