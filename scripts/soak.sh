#!/usr/bin/env bash
# soak.sh: a mixed-load soak of the real binary (issue 13, acceptance 4):
# hello, /api, static files, uploads and WebSockets at once, at full speed,
# for 60 s; prints req/s and latency per kind, errors, and the server's RSS
# at 10 s and at the end. Exits non-zero on any error or when RSS at the
# end is more than 1.2 times RSS at 10 s.
#
#   scripts/soak.sh                          # 60 s, 16 workers per CPU
#   SOAK_DURATION=20s scripts/soak.sh
#   scripts/soak.sh -workers 64 -server-args "--max-num-threads 8"
#
# Environment: SOAK_DURATION (default 60s), SOAK_WORKERS (default: the
# program's, 16 per CPU). Other arguments go to scripts/soak as they are
# (go run ./scripts/soak -h lists them). Linux only: it reads /proc.
set -euo pipefail

cd "$(dirname "$0")/.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hwebserver-soak-bin.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "building hwebserver and scripts/soak"
go build -o "$tmp/hwebserver" .
go build -o "$tmp/soak" ./scripts/soak

args=(-bin "$tmp/hwebserver" -duration "${SOAK_DURATION:-60s}")
[[ -n "${SOAK_WORKERS:-}" ]] && args+=(-workers "$SOAK_WORKERS")
echo "git $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (with local changes)'), $(nproc) cores"
# Not exec: the trap removes the binaries once the soak is done.
"$tmp/soak" "${args[@]}" "$@"
