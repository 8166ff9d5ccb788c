#!/usr/bin/env bash
# bench/push-cosmos/run.sh - N merge events (IoT twin partial updates with
# versions) over D devices against twin-emulator's Cosmos DB side:
# push-cosmos side by side with Microsoft's @azure/cosmos 4.9 (node) doing
# the same atomic merges, and the reference Functions' read-then-upsert;
# then push-cosmos against a throttled emulator (RU/s budget per partition),
# and against an instance-wide request limit (emulator --rate).
#
#   bench/push-cosmos/run.sh [EVENTS [DEVICES [CONCURRENCY]]]
#
# ONLY=throttled runs the throttled part alone (EVENTS and DEVICES then do
# not matter); PARTITION_RU (200) and HOT_EVENTS (3000) size it, BUDGETS
# ("0 4000": the --max-ru values, 4000 standing for the whole budget) picks
# its runs; PUSH_ARGS adds arguments to those push-cosmos runs (e.g.
# "--log-level debug") and LOGDIR keeps their standard error there.
# INSTANCE_RATE (400) and INSTANCE_EVENTS (4000, over 400 devices) size the
# instance-wide part; PUSH_BINS lists the push-cosmos binaries it compares
# (default bin/push-cosmos), e.g. an older build's.
#
# Needs bin/push-cosmos, bin/twin-emulator, node and the SDK in tests/.node
# (installed by tests/fidelity/install.sh, as the emulator tests do).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-100000} devs=${2:-10000} conc=${3:-64}
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
export TP_NODE_MODULES=$top/tests/.node/node_modules
[ "${ONLY:-}" = throttled ] || [ -d "$TP_NODE_MODULES/@azure/cosmos" ] ||
	"$top/tests/fidelity/install.sh"
export COSMOS_KEY='C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=='

start_emu() {
	[ -n "$pid" ] && { kill "$pid"; wait "$pid" 2>/dev/null || true; }
	rm -f "$work/url"
	"$top/bin/twin-emulator" "$@" >"$work/url" 2>"$work/emu.err" & pid=$!
	for _ in $(seq 1 50); do [ -s "$work/url" ] && break; sleep 0.1; done
	url=$(cat "$work/url")
	"$top/bin/push-cosmos" -e "$url" -d bench --container c -p /deviceId \
		--create-container </dev/null 2>/dev/null
}
# timed LABEL OPS CMD...: wall, CPU (user+sys), ops/s, CPU s per 1000 ops
timed() {
	local label=$1 ops=$2; shift 2
	/usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >"$work/out" 2>"$work/err" ||
		echo "# $label: exit $? ($(tail -n 1 "$work/err"))" >&2
	tail -n 1 "$work/time" >"$work/time.last" && mv "$work/time.last" "$work/time"
	read -r wall usr sys <"$work/time"
	awk -v l="$label" -v w="$wall" -v u="$usr" -v s="$sys" -v n="$ops" 'BEGIN {
		printf "| %s | %.2f s | %.2f s | %.0f | %.3f |\n", l, w, u + s, n / w, (u + s) * 1000 / n }'
}
if [ "${ONLY:-}" != throttled ]; then
# event k: device k % D, version k / D + 1 (versions grow per device)
awk -v n="$n" -v d="$devs" 'BEGIN {
	for (k = 0; k < n; k++) {
		i = k % d; v = int(k / d) + 1
		printf "{\"$op\":\"merge\",\"id\":\"dev-%d\",\"deviceId\":\"dev-%d\",\"$version\":%d,\"properties\":{\"reported\":{\"temp\":%d.5,\"k%d\":%d,\"fw\":{\"v\":\"1.%d\",\"old\":%s}}}}\n",
			i, i, v, v % 40, v % 7, v, v, (v % 3 ? "null" : "1")
	}
}' >"$work/events.ndjson"

echo "# $n merge events over $devs devices, concurrency $conc, $(nproc) CPUs, push-cosmos $(git -C "$top" rev-parse --short HEAD), node $(node --version)"
echo "| run | wall | CPU (user+sys) | ops/s | CPU s / 1000 ops |"
echo "|---|---:|---:|---:|---:|"
start_emu
timed "push-cosmos merge (read + PUT If-Match / POST create)" "$n" \
	"$top/bin/push-cosmos" -e "$url" -d bench --container c -p /deviceId \
	--concurrency "$conc" "$work/events.ndjson"
grep -o "summary:.*" "$work/err" >&2
start_emu
timed "@azure/cosmos 4.9 merge (read + replace IfMatch / create)" "$n" \
	node "$top/bench/push-cosmos/sdk-merge.js" "$url" "$work/events.ndjson" "$conc" merge
cat "$work/out" >&2
start_emu
timed "@azure/cosmos 4.9 reference read-then-upsert (not correct)" "$n" \
	node "$top/bench/push-cosmos/sdk-merge.js" "$url" "$work/events.ndjson" "$conc" reference
cat "$work/out" >&2
fi

ru=${PARTITION_RU:-200} hot=20 m=${HOT_EVENTS:-3000}
echo
echo "# throttled: emulator --partition-ru $ru on each of $hot devices (budget $((ru * hot)) RU/s), $m merge events, concurrency $conc, push-cosmos $(git -C "$top" rev-parse --short HEAD)"
echo "| run | wall | goodput (events/s) | requests | 429s | % 429 | failed | RU/s consumed | % of budget |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
awk -v n="$m" -v d="$hot" 'BEGIN {
	for (k = 0; k < n; k++)
		printf "{\"$op\":\"merge\",\"id\":\"hot-%d\",\"deviceId\":\"hot-%d\",\"$version\":%d,\"properties\":{\"reported\":{\"temp\":%d,\"k%d\":%d}}}\n",
			k % d, k % d, int(k / d) + 1, k % 40, k % 7, k
}' >"$work/hot.ndjson"
for budget in ${BUDGETS:-0 $((ru * hot))}; do
	start_emu --partition-ru "$ru"
	/usr/bin/time -f "%e" -o "$work/time" "$top/bin/push-cosmos" -e "$url" -d bench \
		--container c -p /deviceId --concurrency "$conc" --max-ru "$budget" \
		--stats json ${PUSH_ARGS:-} "$work/hot.ndjson" >"$work/out" 2>"$work/err" || true
	[ -z "${LOGDIR:-}" ] || cp "$work/err" "$LOGDIR/throttled-$budget.err"
	wall=$(tail -n 1 "$work/time")
	s=$(grep '^{"prog"' "$work/err" | jq -c .summary)
	awk -v l="push-cosmos --max-ru $budget" -v w="$wall" -v ok="$(jq .ok <<<"$s")" \
		-v req="$(jq .requests <<<"$s")" -v t="$(jq .throttled <<<"$s")" -v f="$(jq .failed <<<"$s")" \
		-v ru="$(jq .ru <<<"$s")" -v b="$((ru * hot))" 'BEGIN {
		printf "| %s | %.2f s | %.0f | %d | %d | %.1f%% | %d | %.0f | %.0f%% |\n", l, w, ok / w, req, t, 100 * t / req, f, ru / w, 100 * ru / w / b }'
done

r=${INSTANCE_RATE:-400} m=${INSTANCE_EVENTS:-4000}
echo
echo "# instance-wide limit: emulator --rate $r (requests/s, a burst of $r), $m merge events over 400 devices (a read and a write each), concurrency $conc"
echo "| run | wall | goodput (events/s) | requests | 429s | % 429 | failed | answered (not 429) / s | % of the limit |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
awk -v n="$m" 'BEGIN {
	for (k = 0; k < n; k++)
		printf "{\"$op\":\"merge\",\"id\":\"d-%d\",\"deviceId\":\"d-%d\",\"$version\":%d,\"properties\":{\"reported\":{\"temp\":%d}}}\n",
			k % 400, k % 400, int(k / 400) + 1, k % 40
}' >"$work/inst.ndjson"
for bin in ${PUSH_BINS:-$top/bin/push-cosmos}; do
	start_emu --rate "$r"
	/usr/bin/time -f "%e" -o "$work/time" "$bin" -e "$url" -d bench \
		--container c -p /deviceId --concurrency "$conc" --max-attempts 1000 \
		--stats json ${PUSH_ARGS:-} "$work/inst.ndjson" >"$work/out" 2>"$work/err" || true
	wall=$(tail -n 1 "$work/time")
	s=$(grep '^{"prog"' "$work/err" | jq -c .summary)
	awk -v l="$(basename "$(dirname "$(dirname "$bin")")")/bin/push-cosmos" -v w="$wall" -v ok="$(jq .ok <<<"$s")" \
		-v req="$(jq .requests <<<"$s")" -v t="$(jq .throttled <<<"$s")" -v f="$(jq .failed <<<"$s")" \
		-v lim="$r" 'BEGIN {
		a = (req - t) / w
		printf "| %s | %.2f s | %.0f | %d | %d | %.1f%% | %d | %.0f | %.0f%% |\n", l, w, ok / w, req, t, 100 * t / req, f, a, 100 * a / lim }'
done
