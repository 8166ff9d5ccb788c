#!/usr/bin/env bash
# push-adt on SIGTERM: stops reading, every record read gets a result (the
# ones not applied are dead-lettered as "interrupted"), exit 3; --insecure;
# a file operand; a broken stdout is fatal.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-adt.sh"

padt_start || exit 1
M='"$metadata":{"$model":"dtmi:t:Room;1"}'

test_expect_success 'SIGTERM: stop reading, a result for every record read, exit 3' '
	mkfifo in.fifo
	{ for i in $(seq 1 30); do echo "{\"\$dtId\":\"sig\",$M,\"n\":$i}"; done
	  test_wait_for 120 "test -e go"; } >in.fifo 2>/dev/null &
	writer=$!
	push-adt --endpoint "$EMU_URL" --cacert "$TEST_DIR/cert.pem" --twin-rate 5 --dead-letter dlq \
		<in.fifo >out 2>err &
	p=$! && test_wait_for 120 "adt_twin sig | jq -e .n >/dev/null" && kill -TERM $p && rc=0 && { wait $p || rc=$?; }
	touch go; wait $writer 2>/dev/null; test "$rc" = 3 &&
	test_lines 30 out &&
	ok=$(jq -s "map(select(.ok)) | length" out) && test "$ok" -ge 1 && test "$ok" -lt 30 &&
	test "$(jq -s "map(select(.error.code == \"interrupted\")) | length" out)" = $((30 - ok)) &&
	test_lines $((30 - ok)) dlq && test_grep "interrupted" err &&
	test "$(adt_twin sig | jq .n)" = "$ok"
'
test_expect_success 'TLS is verified unless --insecure' '
	echo "{\"\$dtId\":\"insecure\",$M}" >in &&
	test_expect_code 2 push-adt --endpoint "$EMU_URL" <in >out 2>err &&
	test_grep "certificate" err && test_lines 0 out &&
	adt_token >tok &&
	test_expect_code 1 push-adt --endpoint "$EMU_URL" --token-file tok --max-attempts 1 <in >out 2>err &&
	jq -e ".status == 0 and (.error.message | test(\"certificate\"))" out &&
	push-adt --endpoint "$EMU_URL" --insecure <in >out 2>err &&
	jq -e ".ok" out
'
test_expect_success 'a file operand; a missing file is a usage error' '
	echo "{\"\$dtId\":\"fromfile\",$M}" >f.ndjson &&
	padt f.ndjson >out && jq -e ".ok" out &&
	test_expect_code 2 padt nope.ndjson </dev/null 2>err && test_grep "nope.ndjson" err
'
test_expect_success 'a write error on standard output is fatal (exit 3)' '
	echo "{\"\$dtId\":\"full\",$M}" >in &&
	if [ -w /dev/full ]; then test_expect_code 3 padt <in >/dev/full 2>err; fi
'
test_done
