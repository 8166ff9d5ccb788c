#!/usr/bin/env bash
# The streaming pipeline on librdkafka's mock cluster into twin-emulator's
# Cosmos side: ingest-eventhub --exec 'transform -f iothub-to-cosmos.jq |
# push-cosmos', final documents equal to the state folded independently from
# the events; SIGTERM drains and commits, a restart loses nothing.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-cosmos.sh"

. "$TP_TOP/tests/e2e/lib-eventhub.sh"
eh_start 4 20 10 || exit 1
K="-b $BS -t iot --idle-exit 2s $EH_GROUP_OPTS"
pcos_start || exit 1
JQ=$TP_TOP/pipelines/iothub-to-cosmos.jq
SINK="transform -f $JQ --dead-letter xdlq | push-cosmos --endpoint $EMU_URL -d db --container c --partition-key-path /deviceId --create-container --dead-letter pdlq"

test_expect_success 'the producer wrote 223 events' '
	test_grep "^produced 223" produce.out
'

test_expect_success 'the pipeline applies every event; all acknowledged and committed' '
	test_expect_code 1 timeout 60 ingest-eventhub $K -g cosmos --dead-letter idlq \
		--exec "$SINK" >o1 2>e1 &&
	test_grep "in=223 out=221 failed=2 acked=223 sink_failed=0" e1 &&
	test_lines 2 idlq || { cat e1; false; }
'

test_expect_success 'final documents equal the state folded from the events' '
	timeout 30 ingest-eventhub $K -g fold >events 2>/dev/null || test $? = 1
	jq -c -f "$JQ" events | jq -s -c "
		group_by(.id) | map(sort_by(.\"\$version\") | reduce .[] as \$e ({};
			. * (\$e | del(.\"\$op\", .\"\$version\")))) |
		map({id, version, temp: .properties.reported.temp}) | sort_by(.id) | .[]" >want &&
	cos_docs | jq -c "{id, version, temp: .properties.reported.temp}" >got &&
	test_lines 21 got && test_cmp want got
'

test_expect_success 'a restart reads nothing' '
	timeout 60 ingest-eventhub $K -g cosmos --exec "$SINK" >o2 2>e2 &&
	test_grep "in=0 out=0" e2
'

test_expect_success 'SIGTERM drains (bounded): acknowledged events are committed, the rest redelivered' '
	ingest-eventhub $K -v -g term --idle-exit 30s --drain-timeout 1s \
		--exec "while read -r l; do sleep 0.05; printf \"%s\\n\" \"\$l\" | tee -a tacks; done" \
		>o3 2>e3 </dev/null & pid=$!
	# signalled once the slow stage has answered a few events (it needs
	# over 11s for all 223): some are acknowledged, most are not
	test_wait_for 120 "test \$(cat tacks 2>/dev/null | wc -l) -ge 5" &&
	kill -TERM $pid; rc=0; wait $pid || rc=$?
	test $rc = 3 && test_grep "events past the committed offsets" e3 &&
	n1=$(grep "ingest-eventhub: summary" e3 | grep -o "acked=[0-9]*" | cut -d= -f2) &&
	test "$n1" -gt 0 && test "$n1" -lt 223 &&
	test_expect_code 1 timeout 60 ingest-eventhub $K -g term \
		--exec "transform \"{ok: true, _meta}\"" >o4 2>e4 &&
	n2=$(grep "ingest-eventhub: summary" e4 | grep -o " in=[0-9]*" | cut -d= -f2) &&
	echo "first run acked $n1, second read $n2" &&
	test "$n2" -lt 223 && test "$n2" -ge $((223 - n1)) &&
	test_grep "ingest-eventhub: summary: in=$n2 .* acked=$n2 " e4
'

test_done
