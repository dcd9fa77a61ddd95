#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a short time (default 4s each)
# on top of its seed corpus in <pkg>/testdata/fuzz/. Usage: fuzz-smoke.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-4s}
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
  pkg=./$(dirname "${f#./}")
  for name in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "fuzz $pkg $name ($t)"
    go test -run='^$' -fuzz="^${name}\$" -fuzztime="$t" "$pkg" >/tmp/fuzz-$name.log 2>&1 || { cat /tmp/fuzz-$name.log; exit 1; }
  done
done
