#!/usr/bin/env bash
# ingest-eventhub holds a bounded amount of memory when its output is
# slower than the hub: --max-buffer (default 32M) bounds librdkafka's
# prefetch. 300,000 events wait in 32 partitions of the mock cluster while
# the output is blocked; the peak RSS stays far below what holding them
# all takes (about 180 MB), and once the output is read every event
# arrives, once.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-eventhub.sh"
eh_start 32 1500 199 || exit 1
N=$(awk '/^produced/ {print $2}' produce.out)
# the bound: the release build's own size plus the budget; ASan's shadow
# memory and quarantine roughly double what a process holds
if [ "${SAN:-}" = 1 ]; then bound=220000; else bound=100000; fi

# hwm_settled PID: wait until the peak RSS of PID has not grown for 5s
# (its output is blocked, so it stops once prefetch is full), print it
hwm_settled() {
	local prev=-1 same=0 h i
	for i in $(seq 1500); do	# at most 300s
		h=$(awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
		[ -n "$h" ] || return 1
		if [ "$h" = "$prev" ]; then same=$((same + 1)); else same=0; fi
		prev=$h
		[ $same -ge 25 ] && { echo "$h"; return 0; }
		sleep 0.2
	done
	return 1
}

test_expect_success "the producer wrote $N events" '
	test "$N" -ge 300000
'

test_expect_success 'output blocked: peak RSS bounded by --max-buffer; then every event arrives once' '
	mkfifo out.fifo &&
	{ timeout 600 ingest-eventhub -b $BS -t iot --assign --max-events $N --stats none \
		-q >out.fifo 2>err & p=$!; } &&
	exec 7<out.fifo &&
	test_wait_for 60 "pgrep -P $p >/dev/null" && c=$(pgrep -P $p) &&
	h=$(hwm_settled $c) && echo "peak RSS ${h} kB with the output blocked (bound $bound kB)" &&
	test "$h" -lt "$bound" &&
	cat <&7 >out && exec 7<&- && { wait $p || test $? = 1; } &&
	test "$(wc -l <out)" = $((N - 2)) &&
	jq -r "._meta.src | \"\(.partition)/\(.offset)\"" out | sort -u | wc -l >uniq &&
	test "$(cat uniq)" = $((N - 2))
'

test_expect_success '--max-buffer below 1M is a usage error' '
	test_expect_code 2 ingest-eventhub -b $BS -t iot --assign --max-buffer 100k </dev/null 2>err &&
	test_grep "max-buffer" err
'
test_done
