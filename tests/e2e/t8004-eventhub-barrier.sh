#!/usr/bin/env bash
# ingest-eventhub --exec barriers: events that a stage drops without a
# result line (a jq filter that emits nothing, a transform dead letter, a
# record push-cosmos never sees) are acknowledged once a barrier control
# record written after them comes back, so commits advance and a restart
# reads nothing; a stage that does not pass barriers on keeps the events
# unacknowledged (nothing lost).
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-cosmos.sh"

. "$TP_TOP/tests/e2e/lib-eventhub.sh"
eh_start 4 20 10 || exit 1
K="-b $BS -t iot --idle-exit 2s $EH_GROUP_OPTS"
pcos_start || exit 1
JQ=$TP_TOP/pipelines/iothub-to-cosmos.jq
# dev-3's 11 events are dead-lettered by transform, the 19 other creates
# filtered out: 30 events without a result line
DROP='if .properties.deviceId == "dev-3" then error("unknown device dev-3") else . end | select(.properties.opType != "createDeviceIdentity")'
summary() { grep "ingest-eventhub: summary" "$1"; }

test_expect_success 'the producer wrote 223 events' '
	test_grep "^produced 223" produce.out
'

test_expect_success 'dropped and dead-lettered events are acknowledged by barriers' '
	test_expect_code 1 timeout 60 ingest-eventhub $K -g drop \
		--exec "transform --dead-letter xdlq '\''$DROP | {ok: true, _meta}'\''" >o1 2>e1 &&
	test_grep "in=223 out=221 failed=2 acked=223 sink_failed=0 commits=[1-9][0-9]* no_result=30" e1 &&
	test_lines 11 xdlq && ! grep -q "past the committed" e1 || { cat e1; false; }
'

test_expect_success 'a restart reads nothing' '
	timeout 60 ingest-eventhub $K -g drop --exec "transform \"{ok: true, _meta}\"" >o2 2>e2 &&
	test_grep "summary: in=0 out=0" e2 || { cat e2; false; }
'

test_expect_success 'barriers pass transform and push-cosmos: commits advance, a restart reads nothing' '
	SINK="transform \"select(.properties.deviceId != \\\"dev-5\\\")\" | transform -f $JQ | push-cosmos --endpoint $EMU_URL -d db --container c --partition-key-path /deviceId --create-container" &&
	test_expect_code 1 timeout 60 ingest-eventhub $K -g cosmos --exec "$SINK" >o3 2>e3 &&
	test_grep "in=223 out=221 failed=2 acked=223 sink_failed=0 commits=[1-9][0-9]* no_result=11" e3 &&
	test_grep "push-cosmos: summary: .*control=[1-9]" e3 &&
	cos_docs >docs && test_lines 20 docs && test -z "$(cos_doc dev-5)" &&
	timeout 60 ingest-eventhub $K -g cosmos --exec "$SINK" >o4 2>e4 &&
	test_grep "summary: in=0 out=0" e4 || { cat e3 e4; false; }
'

test_expect_success 'with --max-in-flight, a stage that drops everything does not stall reading' '
	test_expect_code 1 timeout 60 ingest-eventhub $K -g stall --max-in-flight 10 \
		--exec "transform \"select(false)\"" >o5 2>e5 &&
	test_grep "in=223 out=221 failed=2 acked=223 .* no_result=221" e5 || { cat e5; false; }
'

test_expect_success 'a stage that does not pass barriers on: the dropped events come again' '
	timeout 60 ingest-eventhub $K -g nopass --drain-timeout 5s \
		--exec "transform '\''select(.properties.deviceId != \"dev-5\") | {ok: true, _meta}'\'' | grep --line-buffered src" \
		>o6 2>e6 || test $? = 1 &&
	summary e6 | grep -q "no_result=0" &&
	test_grep "events past the committed offsets" e6 &&
	{ timeout 60 ingest-eventhub $K -g nopass \
		--exec "tee seen | transform \"{ok: true, _meta}\"" >o7 2>e7 || test $? = 1; } &&
	test "$(jq -c "select(.properties.deviceId == \"dev-5\")" seen | wc -l)" = 11 || { cat e6 e7; false; }
'

# A second instance joins: the first is revoked while dev-1's events (and
# those behind them in their partition) are in flight with no barrier due
# for 60s; it sends one at once and waits for it before the commit. The
# mock cluster then refuses that commit ("Group rebalance in progress":
# it takes no OffsetCommit while the group is joining, where Apache Kafka
# accepts one from the current generation), so the partitions are read
# again by whoever gets them, as often as the group rebalances (how often
# depends on timing): here only the barrier and the wait are checked,
# that each instance acknowledges all it read, and that nothing is lost.
test_expect_success 'on revocation a barrier settles the dropped events before the commit' '
	ingest-eventhub $K -g rev -v --idle-exit 20s --barrier-interval 60s \
		--exec "tee rseen | transform '\''select(.properties.deviceId != \"dev-1\") | {ok: true, _meta}'\''" \
		>r1 2>re1 </dev/null & a=$!
	# the second instance joins once the first has handed every event to
	# its stage (dev-1s then wait in flight for a barrier): waited for, not slept
	test_wait_for 120 "test \$(cat rseen 2>/dev/null | grep -c src) -ge 221" &&
	{ timeout 60 ingest-eventhub $K -g rev --idle-exit 3s --exec "transform \"{ok: true, _meta}\"" \
		>r2 2>re2 </dev/null || test $? = 1; } &&
	{ wait $a || test $? = 1; } &&
	test_grep "revoked: waiting for [1-9][0-9]* events in flight" re1 &&
	n=$(summary re1 | sed "s/.* in=\([0-9]*\).*/\1/") && test "$n" -ge 223 &&
	summary re1 | grep -q "acked=$n .* no_result=[1-9][0-9]*" &&
	n=$(summary re2 | sed "s/.* in=\([0-9]*\).*/\1/") &&
	summary re2 | grep -q "acked=$n " &&
	timeout 60 ingest-eventhub $K -g rev --exec "transform \"{ok: true, _meta}\"" >r3 2>re3 &&
	test_grep "summary: in=0 " re3 || { cat re1 re2 re3; false; }
'

test_expect_success '--barrier-interval 0 writes no barrier' '
	timeout 60 ingest-eventhub $K -g nobarrier --barrier-interval 0 --drain-timeout 3s \
		--exec "tee seen0 | transform \"select(false)\"" >o8 2>e8 || test $? = 1 &&
	test_lines 221 seen0 && ! grep -q control seen0 &&
	test_grep "acked=2 .* no_result=0" e8 || { cat e8; false; }
'

test_done
