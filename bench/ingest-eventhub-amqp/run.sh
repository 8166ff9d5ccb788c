#!/usr/bin/env bash
# bench/ingest-eventhub-amqp: ingest-eventhub's AMQP transport against
# Microsoft's @azure/event-hubs 6 EventHubConsumerClient, side by side, on
# the same events from the same twin-emulator (plain AMQP, loopback, 4
# partitions). The hub is filled by the SDK's producer (batches) to each
# backlog size in turn; at each size every reader reads the whole backlog
# from the earliest event to NDJSON (3 runs, medians): wall time, events/s,
# CPU seconds (user+sys) per event, events per CPU second and max RSS.
# The emulator's CPU is not counted for either.
#   bench/ingest-eventhub-amqp/run.sh [SIZES...]   default 100000 300000 1000000
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
w=$top/bench/.work/ingest-eventhub-amqp
rm -rf "$w" && mkdir -p "$w"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 300000 1000000)
export TP_NODE_MODULES=$top/tests/.node/node_modules
[ -d "$TP_NODE_MODULES/@azure/event-hubs" ] || { echo "run tests/fidelity/install.sh first" >&2; exit 2; }
"$top/bin/twin-emulator" --port 0 --amqp-port auto --eventhub bench:4 --eh-retention 0 \
	--eh-retention-age 0 >"$w/emu.out" 2>"$w/emu.err" &
ep=$!
trap 'kill $ep 2>/dev/null; wait $ep 2>/dev/null' EXIT
for _ in $(seq 300); do [ -n "$(sed -n 2p "$w/emu.out")" ] && break; sleep 0.1; done
amqp=$(sed -n 2p "$w/emu.out")
cs="Endpoint=sb://localhost:${amqp##*:}/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;EntityPath=bench;UseDevelopmentEmulator=true"
export EVENTHUB_CONNECTION_STRING=$cs
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# t FILE CMD...: append "wall cpu maxrss_kb lines" to FILE
t() {
	local f=$1; shift
	/usr/bin/time -o "$w/time" -f "%e %U %S %M" "$@" >"$w/out" 2>"$w/err" || true
	echo "$(tail -n 1 "$w/time" | awk '{print $1, $2 + $3, $4}') $(wc -l <"$w/out")" >>"$f"
}
have=0
printf '%-10s %-34s %8s %10s %12s %12s %9s %s\n' backlog reader wall events/s "CPU s/event" "events/CPU s" "max RSS" lines
for n in "${sizes[@]}"; do
	node "$top/tests/fidelity/eh-produce-batch.js" "$cs" $((n - have)) "$have" >"$w/produce.out"
	have=$n
	for i in 1 2 3; do
		t "$w/ie.$n" "$top/bin/ingest-eventhub" -T amqp --checkpoint-dir "$w/ck$i$RANDOM" \
			--no-commit --max-events "$n" --idle-exit 30s -q
		t "$w/sdk.$n" node "$here/consume.js" "$cs" "$n"
	done
	for r in ie sdk; do
		wall=$(awk '{print $1}' "$w/$r.$n" | median)
		cpu=$(awk '{print $2}' "$w/$r.$n" | median)
		rss=$(awk '{print $3}' "$w/$r.$n" | median)
		lines=$(awk '{print $4}' "$w/$r.$n" | sort -u | tr '\n' ' ')
		echo "$cpu" >"$w/cpu.$r.$n"
		awk -v b="$n" -v l="$([ $r = ie ] && echo "ingest-eventhub -T amqp" || echo "@azure/event-hubs consumer")" \
			-v wl="$wall" -v c="$cpu" -v m="$rss" -v ln="$lines" 'BEGIN {
			printf "%-10d %-34s %7.2fs %10.0f %12.2e %12.0f %7.0fMB %s\n", b, l, wl, b / wl, c / b, b / c, m / 1024, ln }'
	done
	awk -v a="$(cat "$w/cpu.ie.$n")" -v b="$(cat "$w/cpu.sdk.$n")" -v n="$n" 'BEGIN {
		printf "%-10d ratio: ingest-eventhub reads %.1fx the events per CPU second of the SDK\n", n, b / a }'
done
