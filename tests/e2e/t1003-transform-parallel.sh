#!/usr/bin/env bash
# transform -j: same output in the same order, dead letters, streaming
# (outputs flushed while the input is idle), SIGTERM drains and exits 3.
. "$(dirname "$0")/../lib.sh"
test_require python3 "the seeded generator" || { test_done; exit 1; }

python3 "$TP_TOP/bench/gen-lob.py" 30000 5 >rows.ndjson
# sprinkle bad lines and records the program rejects
awk 'NR % 997 == 0 { print "{broken" } NR % 1499 == 0 { print "{\"Capacity\":\"x\"}" } { print }' rows.ndjson >in.ndjson
prog="$TP_TOP/pipelines/examples/lob-to-twin.jq"

test_expect_success '-j 1, -j 2, -j 3 and --no-fast-path give the same lines in order' '
	test_expect_code 1 transform -f "$prog" --dead-letter d1 in.ndjson >o1 2>e1 &&
	test_expect_code 1 transform -j 2 -f "$prog" --dead-letter d2 in.ndjson >o2 2>e2 &&
	test_expect_code 1 transform -j 3 -f "$prog" --dead-letter d3 in.ndjson >o3 2>e3 &&
	test_expect_code 1 transform --no-fast-path -f "$prog" in.ndjson >o4 2>/dev/null &&
	test_lines 30000 o1 && test_cmp o1 o2 && test_cmp o1 o3 && test_cmp o1 o4 &&
	test_cmp d1 d2 && test_cmp d1 d3 &&
	n=$(wc -l <d1) && test "$n" = $((30 + 20)) &&
	tail -1 e1 >s1 && tail -1 e2 >s2 && test_cmp s1 s2
'

test_expect_success '-j keeps _meta, control records and line numbers' '
	{ echo "{\"a\":1,\"_meta\":{\"k\":1}}"; echo "{\"_meta\":{\"control\":\"snapshot-complete\"}}"; echo "[]"; } >m.ndjson &&
	test_expect_code 1 transform -j 2 "{a}" m.ndjson >out 2>err &&
	printf "%s\n" "{\"a\":1,\"_meta\":{\"k\":1}}" "{\"_meta\":{\"control\":\"snapshot-complete\"}}" >expect &&
	test_cmp expect out && test_grep "m.ndjson:3: record is an array" err
'

test_expect_success 'outputs are flushed while the input is idle (streaming)' '
	mkfifo fifo &&
	for j in 1 2; do
		# the second line is written only once the first is out: a
		# transform that held it back until EOF would never end this wait
		( exec 3>fifo; echo "{\"a\":1}" >&3
		  test_wait_for 120 "test -s out.$j" || echo "{\"stuck\":1}" >&3
		  echo "{\"a\":2}" >&3 ) >/dev/null 2>&1 &
		transform -j $j "{a}" <fifo >out.$j 2>/dev/null &
		pid=$! &&
		wait $pid && printf "{\"a\":1}\n{\"a\":2}\n" >want.$j && test_cmp want.$j out.$j || exit 1
	done
'

test_expect_success 'SIGTERM: stop reading, write what was read, exit 3' '
	for j in 1 2; do
		rm -f fifo2 && mkfifo fifo2 || return 1
		rm -f go.$j
		( exec 3>fifo2; for i in 1 2 3; do echo "{\"a\":$i}" >&3; done
		  test_wait_for 120 "test -e go.$j" ) >/dev/null 2>&1 &
		writer=$! &&
		rc=0 &&
		{ transform -j $j "{a}" <fifo2 >out.t$j 2>err.t$j & } &&
		pid=$! &&
		test_wait_for 120 "test \$(wc -l <out.t$j) = 3" && kill -TERM $pid &&
		{ wait $pid || rc=$?; }
		touch go.$j; wait $writer
		test $rc = 3 && test_lines 3 out.t$j && test_grep "interrupted" err.t$j || exit 1
	done
'
test_expect_success 'a closed stdout (| head) ends every -j quickly with exit 3' '
	for j in 1 2 3; do
		rc=0
		timeout 30 bash -c "transform -j $j -f \"$prog\" in.ndjson 2>err.$j | head -1 >/dev/null; exit \${PIPESTATUS[0]}" || rc=$?
		test $rc = 3 || { echo "-j $j: exit $rc"; cat err.$j; exit 1; }
		test_grep "write error on standard output" err.$j || exit 1
	done
'
test_done
