#!/usr/bin/env bash
# bench/streaming/run.sh - the full streaming pipeline, IoT Hub events in
# librdkafka's mock cluster (tests/tools/eh-produce.c: per device a
# createDeviceIdentity, then ROUNDS updateTwin events; AMQP-encoded headers,
# keyed by device) into twin-emulator's Cosmos DB side:
#
#   ingest-eventhub --exec 'transform -f pipelines/iothub-to-cosmos.jq |
#       push-cosmos ... --concurrency C'
#
# against the reference design's Functions logic with Microsoft's
# @azure/cosmos 4.9 (read, overwrite properties.reported/desired, upsert;
# create / delete on lifecycle events: sdk-functions.js) on the same events,
# and the correct merge through the SDK (bench/push-cosmos/sdk-merge.js
# merge, on the pipeline's transform output). node has no Kafka client
# here: the SDK runs get the events from an NDJSON dump made once by
# ingest-eventhub (not timed), so they do not pay for reading Event Hubs.
#
# Wall and CPU (user+sys) come from /usr/bin/time on the top process, which
# includes the children it waited for (transform, push-cosmos and their
# sh). Each run starts a fresh in-memory emulator; its CPU (and, for the
# pipeline, the mock cluster's) is shown apart. The documents are checked
# after every run (bench/streaming/check-docs.js).
#
#   bench/streaming/run.sh [DEVICES [ROUNDS [PARTITIONS [CONCURRENCY [RUNS]]]]]
#                          default 10000 9 16 64 1 (100,001 events; about
#                          3 min a run on 2 CPUs; bench/run uses the defaults)
#
# BENCH_LOCK=FILE: hold flock(1) on FILE during the set-up and each run (the
# machine is shared with other benchmarks). NO_SDK_MERGE=1: skip the third
# line.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
dev=${1:-10000} rounds=${2:-9} parts=${3:-16} conc=${4:-64} runs=${5:-1}
w=$top/bench/.work/streaming
rm -rf "$w" && mkdir -p "$w"
ppid_= epid=
trap '[ -n "$epid" ] && kill "$epid" 2>/dev/null; [ -n "$ppid_" ] && kill "$ppid_" 2>/dev/null; wait 2>/dev/null' EXIT
if [ -n "${BENCH_LOCK:-}" ]; then
	exec 9>>"$BENCH_LOCK"
	lock() { flock 9; }
	unlock() { flock -u 9; }
else
	lock() { :; }
	unlock() { :; }
fi
export PATH=$top/bin:$PATH
export TP_NODE_MODULES=$top/tests/.node/node_modules
[ -d "$TP_NODE_MODULES/@azure/cosmos" ] || "$top/tests/fidelity/install.sh"
export COSMOS_KEY='C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=='
unset COSMOS_CONNECTION_STRING COSMOS_ENDPOINT COSMOS_DATABASE COSMOS_CONTAINER \
	COSMOS_PARTITION_KEY_PATH COSMOS_TOKEN_FILE 2>/dev/null || true
jqf=$top/pipelines/iothub-to-cosmos.jq
hz=$(getconf CLK_TCK)
# cpu PID: user+sys seconds of a running process
cpu() { awk -v hz="$hz" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"; }

lock
cc -O2 -o "$w/eh-produce" "$top/tests/tools/eh-produce.c" -lrdkafka
"$w/eh-produce" stream "$parts" "$dev" "$rounds" >"$w/produce.out" 2>"$w/produce.err" </dev/null &
ppid_=$!
until grep -q '^produced' "$w/produce.out" 2>/dev/null; do
	kill -0 "$ppid_" 2>/dev/null || { cat "$w/produce.err"; exit 1; }
	sleep 0.5
done
bs=$(head -n 1 "$w/produce.out")
n=$(awk '/^produced/ {print $2}' "$w/produce.out")
K=(-b "$bs" -t stream -X session.timeout.ms=6000 -X heartbeat.interval.ms=500)
# the dump for the SDK runs (ingest-eventhub drops the 2 malformed events:
# a non-JSON body, an event without a device id)
ingest-eventhub "${K[@]}" -g "dump$RANDOM" --idle-exit 2s --no-commit -q >"$w/events.ndjson" 2>"$w/dump.err" || [ $? = 1 ]
m=$(wc -l <"$w/events.ndjson")
transform -f "$jqf" "$w/events.ndjson" >"$w/ops.ndjson" 2>/dev/null
unlock

start_emu() {
	[ -n "$epid" ] && { kill "$epid"; wait "$epid" 2>/dev/null || true; }
	rm -f "$w/url"
	twin-emulator >"$w/url" 2>"$w/emu.err" & epid=$!
	for _ in $(seq 1 100); do [ -s "$w/url" ] && break; sleep 0.1; done
	url=$(head -n 1 "$w/url")
	[ -n "$url" ] || { cat "$w/emu.err"; exit 1; }
}
create_container() {
	push-cosmos -e "$url" -d bench --container c -p /deviceId --create-container </dev/null 2>/dev/null
}
# row RUN LABEL: append "label wall usr sys emu_cpu other_cpu join" to $w/rows
row() {
	read -r wall usr sys <"$w/time"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$2" "$wall" "$usr" "$sys" "$emucpu" "${othcpu:-0}" "${join:-0}" >>"$w/rows"
	awk -v r="$1" -v l="$2" -v w="$wall" -v u="$usr" -v s="$sys" -v e="$emucpu" -v n="$m" 'BEGIN {
		printf "run %d: %s: %.2f s wall, %.0f events/s, %.2f s CPU, %.3f ms CPU/event, emulator %.2f s CPU\n",
			r, l, w, n / w, u + s, (u + s) * 1000 / n, e }' >&2
}
# check the documents (not timed)
check() {
	node "$top/bench/streaming/check-docs.js" "$url" "$dev" "$rounds" "$@" >"$w/check" 2>"$w/check.err" ||
		{ echo "# documents wrong: $(cat "$w/check") $(head -c 600 "$w/check.err")" >&2; fail=1; }
}
fail=0
LP="twinpipe ingest-eventhub → transform → push-cosmos"
LR="@azure/cosmos 4.9 reference Functions (read, overwrite, upsert)"
LM="@azure/cosmos 4.9 correct merge (sdk-merge.js merge)"
echo "# $n events produced ($m valid) over $dev devices ($rounds updateTwin rounds), $parts partitions, concurrency $conc, $runs runs, $(nproc) CPUs, twinpipe $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo ?), node $(node --version)"
for r in $(seq 1 "$runs"); do
	lock
	# 1. the pipeline; it stops after the N events (--max-events, then it
	# drains: no idle time in its wall); --idle-exit 60s is only a guard
	start_emu
	e0=$(cpu "$epid") p0=$(cpu "$ppid_")
	/usr/bin/time -f "%e %U %S" -o "$w/time" ingest-eventhub "${K[@]}" -g "run$r$RANDOM" -v \
		--max-events "$n" --idle-exit 60s --drain-timeout 600s --exec "transform -f '$jqf' | push-cosmos --endpoint '$url' -d bench --container c --partition-key-path /deviceId --create-container --concurrency $conc" \
		>"$w/pipe.out" 2>"$w/pipe.err" </dev/null & tp=$!
	t0=$(date +%s.%N) t1=
	while kill -0 "$tp" 2>/dev/null; do
		grep -q 'info: assigned' "$w/pipe.err" && { t1=$(date +%s.%N); break; }
		sleep 0.05
	done
	rc=0; wait "$tp" || rc=$?
	emucpu=$(awk -v a="$e0" -v b="$(cpu "$epid")" 'BEGIN { print b - a }')
	othcpu=$(awk -v a="$p0" -v b="$(cpu "$ppid_")" 'BEGIN { print b - a }')
	join=$(awk -v a="$t0" -v b="${t1:-$t0}" 'BEGIN { print b - a }')
	tail -n 1 "$w/time" >"$w/time.l" && mv "$w/time.l" "$w/time"
	s=$(grep 'ingest-eventhub: summary' "$w/pipe.err" || true)
	# exit 1: the 2 malformed events were dead-lettered (and acknowledged)
	if [ "$rc" -gt 1 ] || ! grep -q "acked=$n sink_failed=0" <<<"$s"; then
		echo "# pipeline: exit $rc, $s" >&2; grep -v 'info:' "$w/pipe.err" | tail -n 5 >&2; fail=1
	fi
	row "$r" "$LP"
	echo "#   $s; $(grep -o 'push-cosmos: summary.*' "$w/pipe.err" || true); group join ${join}s" >&2
	check versioned
	echo "#   documents: $(cat "$w/check")" >&2
	othcpu=0 join=0

	# 2. the reference Functions through the SDK
	start_emu; create_container
	e0=$(cpu "$epid")
	/usr/bin/time -f "%e %U %S" -o "$w/time" node "$top/bench/streaming/sdk-functions.js" \
		"$url" "$w/events.ndjson" "$conc" >"$w/sdk.out" 2>"$w/sdk.err" || { echo "# sdk-functions: $(tail -n 3 "$w/sdk.err")" >&2; fail=1; }
	emucpu=$(awk -v a="$e0" -v b="$(cpu "$epid")" 'BEGIN { print b - a }')
	tail -n 1 "$w/time" >"$w/time.l" && mv "$w/time.l" "$w/time"
	row "$r" "$LR"
	echo "#   $(cat "$w/sdk.out")" >&2
	grep -q '"failed":0' "$w/sdk.out" || fail=1
	check
	echo "#   documents: $(cat "$w/check")" >&2

	# 3. the correct merge through the SDK
	if [ -z "${NO_SDK_MERGE:-}" ]; then
		start_emu; create_container
		e0=$(cpu "$epid")
		/usr/bin/time -f "%e %U %S" -o "$w/time" node "$top/bench/push-cosmos/sdk-merge.js" \
			"$url" "$w/ops.ndjson" "$conc" merge >"$w/sdk.out" 2>"$w/sdk.err" || { echo "# sdk-merge: $(tail -n 3 "$w/sdk.err")" >&2; fail=1; }
		emucpu=$(awk -v a="$e0" -v b="$(cpu "$epid")" 'BEGIN { print b - a }')
		tail -n 1 "$w/time" >"$w/time.l" && mv "$w/time.l" "$w/time"
		row "$r" "$LM"
		echo "#   $(cat "$w/sdk.out")" >&2
		grep -q '"failed":0' "$w/sdk.out" || fail=1
		check versioned
		echo "#   documents: $(cat "$w/check")" >&2
	fi
	kill "$epid"; wait "$epid" 2>/dev/null || true; epid=
	unlock
done

# medians per label
echo "| run (medians of $runs) | wall | events/s | CPU s (user+sys) | CPU ms / event | emulator CPU s |"
echo "|---|---:|---:|---:|---:|---:|"
awk -F '\t' -v n="$m" -v lp="$LP" '
function med(s,   a, k, i, j, t) {
	k = split(s, a, " ")
	for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	return a[int((k + 1) / 2)]
}
!($1 in seen) { seen[$1] = 1; order[++nl] = $1 }
{ W[$1] = W[$1] " " $2; C[$1] = C[$1] " " ($3 + $4); E[$1] = E[$1] " " ($5 + $6); J[$1] = J[$1] " " $7; A[$1] = A[$1] " " ($2 - $7) }
END {
	for (i = 1; i <= nl; i++) {
		l = order[i]; w = med(W[l]); c = med(C[l]); e = med(E[l])
		wl[l] = w; cl[l] = c
		ex = l == lp ? sprintf("%.2f (+ mock cluster)", e) : sprintf("%.2f", e)
		printf "| %s | %.2f s | %.0f | %.2f | %.3f | %s |\n", l, w, n / w, c, c * 1000 / n, ex
		if (l == lp) {
			j = med(J[l]); a = med(A[l])
			printf "| — the same after the group join (%.1f s) | %.2f s | %.0f | | | |\n", j, a, n / a
		}
	}
	printf "\n"
	for (i = 1; i <= nl; i++) {
		l = order[i]; if (l == lp) continue
		printf "%s / twinpipe: wall %.1fx, CPU per event %.1fx\n", l, wl[l] / wl[lp], cl[l] / cl[lp]
	}
}' "$w/rows"
exit $fail
