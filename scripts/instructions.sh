#!/usr/bin/env bash
# instructions.sh: user-space instructions per hello request of the real
# server, counted by valgrind's cachegrind, for this tree and optionally
# another git revision. Unlike req/s on a shared machine, an instruction
# count barely moves between runs (about ±1.5%: the collector's timing),
# so it can show a change of a few hundred instructions in ~48,000.
#
#   scripts/instructions.sh                 # this tree
#   scripts/instructions.sh c0dbab6         # this tree and c0dbab6
#   INSTR_REQUESTS=3000 INSTR_ARGS="--request-timeout 0" scripts/instructions.sh
#
# Each server runs under cachegrind with GOMAXPROCS=1 and serves N, then
# 2N, sequential keep-alive requests from one curl; the figure is the
# difference over N, so start-up cancels out. It counts instructions, not
# time: kernel work, cache misses and waiting are not in it. Without
# valgrind it says so and exits 0 (1 when HWEBSERVER_REQUIRE_VALGRIND=1).
set -euo pipefail

rev=${1:-}
requests=${INSTR_REQUESTS:-3000}
cd "$(dirname "$0")/.."
if ! command -v valgrind >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then
	echo "instructions.sh: valgrind and curl are needed (apt-get install valgrind curl); skipping"
	[[ ${HWEBSERVER_REQUIRE_VALGRIND:-} == 1 ]] && exit 1
	exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hwebserver-instr.XXXXXX")
pid=
cleanup() {
	[[ -n $pid ]] && kill "$pid" 2>/dev/null || true
	[[ -n $rev ]] && git worktree remove --force "$tmp/tree" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/hwebserver" .
if [[ -n $rev ]]; then
	git worktree add --detach --quiet "$tmp/tree" "$rev"
	(cd "$tmp/tree" && go build -o "$tmp/hwebserver-base" .)
fi
mkdir "$tmp/app"
cat >"$tmp/app/app.star" <<'EOF'
@hwebserver.urlHandler("/")
def hello(request):
    return hwebserver.Response("Hello")
EOF
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18399)

# count BIN N: total instructions of BIN serving N requests.
count() {
	local out="$tmp/cg.out"
	rm -f "$out"
	(cd "$tmp/app" && GOMAXPROCS=1 exec valgrind --tool=cachegrind --cache-sim=no \
		--cachegrind-out-file="$out" "$1" run app.star --port "$port" ${INSTR_ARGS:-}) \
		>"$tmp/server.log" 2>&1 &
	pid=$!
	for _ in $(seq 300); do
		curl -sf "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
		sleep 0.2
	done
	for _ in $(seq "$2"); do
		echo "url = \"http://127.0.0.1:$port/\""
		echo "output = /dev/null"
	done >"$tmp/urls"
	curl -sf -K "$tmp/urls" || { echo "instructions.sh: requests failed; server log:" >&2; cat "$tmp/server.log" >&2; exit 1; }
	kill -INT "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
	awk '/^summary:/{print $2}' "$out"
}

# perRequest BIN: instructions per request of BIN.
perRequest() {
	local a b
	a=$(count "$1" "$requests")
	b=$(count "$1" $((2 * requests)))
	echo $(((b - a) / requests))
}

here=$(perRequest "$tmp/hwebserver")
echo "this tree: $here instructions per hello request"
if [[ -n $rev ]]; then
	base=$(perRequest "$tmp/hwebserver-base")
	echo "$rev: $base instructions per hello request"
	awk -v a="$here" -v b="$base" 'BEGIN{printf "this tree / %s: %.3f\n", "'"$rev"'", a/b}'
fi
