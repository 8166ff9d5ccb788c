#!/usr/bin/env bash
# --metrics-file: the counters of transform, cdc-filter and push-adt (against
# twin-emulator) in the Prometheus text format, parsed by the official
# parser (python3-prometheus-client), equal what the summary line says;
# the file is replaced atomically, written every --metrics-interval while
# running, carries the exit code and the last success.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-adt.sh"

PROM="/usr/bin/python3 $TP_TOP/tests/e2e/prom.py"
test_expect_success 'python3-prometheus-client parses pages' '
	/usr/bin/python3 -c "from prometheus_client.parser import text_string_to_metric_families"
'
# summary COUNTER FILE: the value of COUNTER in the text summary line in FILE
summary() { sed -n "s/.*: summary: .*\<$1=\([0-9]*\).*/\1/p" "$2"; }
# sample LINE FILE: the parsed page FILE has exactly the sample LINE
sample() { grep -Fx -- "$1" "$2" || { echo "no sample: $1"; cat "$2"; false; }; }
# matches RE FILE: some sample of FILE matches the regular expression RE
matches() { grep -q -- "$1" "$2" || { echo "no sample matches: $1"; cat "$2"; false; }; }

test_expect_success 'transform: in, out, failed, skipped as in the summary; exit code 1' '
	printf "%s\n" "{\"a\":1}" "{\"a\":2}" "not json" "" "{\"a\":3}" >in &&
	test_expect_code 1 transform --metrics-file t.prom -c .a <in >out 2>err &&
	$PROM t.prom >s &&
	test "$(summary in err)" = 5 && test "$(summary failed err)" = 1 &&
	sample "twinpipe_records_in_total{program=\"transform\"} $(summary in err)" s &&
	sample "twinpipe_records_out_total{program=\"transform\"} $(summary out err)" s &&
	sample "twinpipe_records_total{outcome=\"failed\",program=\"transform\"} 1" s &&
	sample "twinpipe_records_total{outcome=\"skipped\",program=\"transform\"} $(summary skipped err)" s &&
	sample "twinpipe_exit_code{program=\"transform\"} 1" s &&
	sample "twinpipe_up{program=\"transform\"} 0" s &&
	! grep -q "^twinpipe_last_success_timestamp_seconds" s &&
	grep -q "^twinpipe_run_seconds{program=\"transform\"} " s &&
	test "$(ls | grep -c "^t\.prom")" = 1
'
test_expect_success 'a run that exits 0 sets the last success; a failed one keeps it' '
	before=$(date +%s) &&
	echo "{\"a\":1}" | transform --metrics-file t.prom .a >/dev/null &&
	$PROM t.prom >s1 &&
	sample "twinpipe_exit_code{program=\"transform\"} 0" s1 &&
	ok=$(sed -n "s/^twinpipe_last_success_timestamp_seconds{program=\"transform\"} //p" s1) &&
	awk -v t="$ok" -v b="$before" "BEGIN { exit !(t >= b && t < b + 600) }" &&
	echo "bad" | test_expect_code 1 transform --metrics-file t.prom .a >/dev/null 2>&1 &&
	$PROM t.prom >s2 &&
	sample "twinpipe_exit_code{program=\"transform\"} 1" s2 &&
	sample "twinpipe_last_success_timestamp_seconds{program=\"transform\"} $ok" s2
'
test_expect_success 'cdc-filter: inserted, unchanged, updated as in the summary' '
	printf "%s\n" "{\"id\":1,\"v\":1}" "{\"id\":2,\"v\":1}" >a &&
	cdc-filter --state st.db --key .id <a 2>/dev/null | jq -c "{ok: true, _meta}" |
		cdc-filter --state st.db --commit >/dev/null 2>&1 &&
	printf "%s\n" "{\"id\":1,\"v\":1}" "{\"id\":2,\"v\":2}" "{\"id\":3,\"v\":1}" >b &&
	cdc-filter --state st.db --key .id --metrics-file c.prom <b >/dev/null 2>err &&
	$PROM c.prom >s &&
	sample "twinpipe_records_in_total{program=\"cdc-filter\"} 3" s &&
	for k in unchanged inserted updated failed; do
		sample "twinpipe_records_total{outcome=\"$k\",program=\"cdc-filter\"} $(summary $k err)" s || exit 1
	done &&
	test "$(summary inserted err)" = 1 && test "$(summary updated err)" = 1 &&
	sample "twinpipe_exit_code{program=\"cdc-filter\"} 0" s
'
test_expect_success 'usage: --metrics-interval needs --metrics-file and a duration' '
	test_expect_code 2 transform --metrics-interval 1s . </dev/null 2>err &&
	test_grep "needs --metrics-file" err &&
	test_expect_code 2 transform --metrics-file m.prom --metrics-interval soon . </dev/null 2>err &&
	test_grep "not a duration" err && test ! -e m.prom
'
test_expect_success 'an unwritable metrics file is a warning, not an exit status' '
	echo "{\"a\":1}" | transform --metrics-file /nonexistent/m.prom .a >out 2>err &&
	test_grep "metrics: cannot create" err && test_grep "^1$" out
'
# the main loop writes the file (at most once a second) while records flow
feed() { echo "{\"i\":1}" >&7; }
live_in() { $PROM live.prom 2>/dev/null | sed -n "s/^twinpipe_records_in_total{program=\"transform\"} //p"; }
test_expect_success '--metrics-interval writes while running (up 1), then the last write (up 0)' '
	mkfifo fifo &&
	{ transform --metrics-file live.prom --metrics-interval 200ms -c . <fifo >live.out 2>live.err & } &&
	exec 7>fifo &&
	test_wait_for 60 "feed; test \"\$(live_in)\" -ge 3 2>/dev/null" &&
	$PROM live.prom >ls &&
	sample "twinpipe_up{program=\"transform\"} 1" ls &&
	! grep -q "^twinpipe_exit_code" ls &&
	exec 7>&- && wait &&
	$PROM live.prom >ls &&
	sample "twinpipe_up{program=\"transform\"} 0" ls &&
	sample "twinpipe_records_in_total{program=\"transform\"} $(wc -l <live.out)" ls &&
	sample "twinpipe_exit_code{program=\"transform\"} 0" ls
'

# idle_in PROG FILE: records_in of PROG in the metrics FILE, or nothing
idle_in() { sed -n "s/^twinpipe_records_in_total{program=\"$1\"} \([0-9]*\)$/\1/p" "$2" 2>/dev/null; }
test_expect_success '--metrics-interval: an idle input does not freeze the file (transform, cdc-filter)' '
	mkfifo idle1 idle2 &&
	{ transform --metrics-file idle1.prom --metrics-interval 200ms -c . <idle1 >/dev/null 2>idle1.err & } &&
	{ cdc-filter --state idle.db --metrics-file idle2.prom --metrics-interval 200ms <idle2 >/dev/null 2>idle2.err & } &&
	exec 7>idle1 8>idle2 &&
	echo "{\"a\":1}" >&7 && echo "{\"id\":\"x\",\"a\":1}" >&8 &&
	# one record each, then nothing: the file says 1 while the input waits
	test_wait_for 60 "test \"\$(idle_in transform idle1.prom)\" = 1" &&
	test_wait_for 60 "test \"\$(idle_in cdc-filter idle2.prom)\" = 1" &&
	exec 7>&- 8>&- && wait
'

padt_start || exit 1
test_expect_success 'push-adt: records, operations, HTTP latency and token requests' '
	printf "%s\n" "{\"\$dtId\":\"m1\",\"\$metadata\":{\"\$model\":\"dtmi:t:Room;1\"},\"temp\":1}" \
		"{\"\$dtId\":\"m2\",\"\$metadata\":{\"\$model\":\"dtmi:t:Room;1\"},\"temp\":2}" \
		"{\"\$dtId\":\"nobody\",\"n\":5}" "{\"no\":\"id\"}" >in &&
	test_expect_code 1 padt --metrics-file p.prom --dead-letter dlq <in >out 2>err &&
	$PROM p.prom >s &&
	for k in ok failed; do
		sample "twinpipe_records_total{outcome=\"$k\",program=\"push-adt\"} $(summary $k err)" s || exit 1
	done &&
	{ test "$(summary ok err)" = 2 && test "$(summary failed err)" = 2 || { cat err; false; }; } &&
	sample "twinpipe_records_in_total{program=\"push-adt\"} 4" s &&
	sample "twinpipe_http_attempts_total{program=\"push-adt\"} $(summary requests err)" s &&
	sample "twinpipe_input_errors_total{code=\"missing_id\",program=\"push-adt\"} 1" s &&
	matches "^twinpipe_adt_operations_total{kind=\"twin\",op=\"upsert\",program=\"push-adt\",status=\"[0-9]*\"} [12]$" s &&
	hist=$(sed -n "s/^twinpipe_http_request_duration_seconds_count{program=\"push-adt\",service=\"adt\",status=\"[0-9]*\"} //p" s | paste -sd+ | bc) &&
	{ test "$hist" = "$(summary requests err)" || { echo "histogram count $hist"; cat err; false; }; } &&
	matches "^twinpipe_http_request_duration_seconds_bucket{le=\"+Inf\",program=\"push-adt\",service=\"adt\",status=\"404\"} 1$" s &&
	sample "twinpipe_token_requests_total{outcome=\"ok\",program=\"push-adt\",source=\"environment\"} 1" s &&
	sample "twinpipe_exit_code{program=\"push-adt\"} 1" s
'
test_expect_success 'push-adt --metrics-listen: /healthz, /readyz and live counters while its input is idle' '
	mkfifo pfifo &&
	{ padt -v --metrics-listen 127.0.0.1:0 <pfifo >pl.out 2>pl.err & } && pid=$! &&
	exec 8>pfifo &&
	test_wait_for 60 "grep -q \"metrics: serving\" pl.err" &&
	U=$(sed -n "s|.*metrics: serving \(http://[^ ]*\)/metrics.*|\1|p" pl.err) &&
	test "$(curl -s -o /dev/null -w "%{http_code}" "$U/healthz")" = 200 &&
	test "$(curl -s -o /dev/null -w "%{http_code}" "$U/readyz")" = 200 &&
	echo "{\"\$dtId\":\"m3\",\"\$metadata\":{\"\$model\":\"dtmi:t:Room;1\"},\"temp\":3}" >&8 &&
	test_wait_for 60 "curl -sf $U/metrics >page && $PROM page >ls && grep -Fqx \"twinpipe_records_total{outcome=\\\"ok\\\",program=\\\"push-adt\\\"} 1\" ls" &&
	grep -q "^twinpipe_http_request_duration_seconds_count{program=\"push-adt\",service=\"adt\",status=\"20[01]\"} 1$" ls &&
	exec 8>&- && wait $pid && test_lines 1 pl.out
'
test_done
