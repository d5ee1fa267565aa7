#!/usr/bin/env bash
# compare.sh: hello throughput of this tree against another git revision,
# side by side in one run (tests.BenchmarkHelloVsBuild), both also against
# raw net/http. Prints the benchmark line: x-base is this tree's req/s over
# the revision's (median of rotating rounds).
#
#   scripts/compare.sh c0dbab6              # 400,000 requests per server
#   COMPARE_REQUESTS=1000000 COMPARE_COUNT=3 scripts/compare.sh HEAD~5
set -euo pipefail

rev=${1:?usage: scripts/compare.sh REVISION}
requests=${COMPARE_REQUESTS:-400000}
count=${COMPARE_COUNT:-1}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hwebserver-compare.XXXXXX")
cleanup() {
	git worktree remove --force "$tmp/tree" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

git worktree add --detach --quiet "$tmp/tree" "$rev"
(cd "$tmp/tree" && go build -o "$tmp/hwebserver-base" .)
HWEBSERVER_BASELINE_BIN="$tmp/hwebserver-base" \
	go test -run '^$' -bench '^BenchmarkHelloVsBuild$' -benchtime "${requests}x" -count "$count" ./tests/
