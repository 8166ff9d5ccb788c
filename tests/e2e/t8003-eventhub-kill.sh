#!/usr/bin/env bash
# Crash safety: the streaming pipeline into twin-emulator's Cosmos side,
# ingest-eventhub killed with SIGKILL at random moments and restarted, then
# drained: the final documents equal the state folded from the events
# (nothing lost, replays dropped by version).
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-cosmos.sh"

. "$TP_TOP/tests/e2e/lib-eventhub.sh"
eh_start 8 200 50 || exit 1
K="-b $BS -t iot $EH_GROUP_OPTS --commit-interval 0.2s"
pcos_start || exit 1
JQ=$TP_TOP/pipelines/iothub-to-cosmos.jq
SINK="transform -f $JQ | push-cosmos --endpoint $EMU_URL -d db --container c --partition-key-path /deviceId --create-container"
RANDOM=8003

test_expect_success 'five runs killed with SIGKILL at random moments' '
	for r in 1 2 3 4 5; do
		ingest-eventhub $K -v -g crash --idle-exit 20s --exec "$SINK" >/dev/null 2>run$r.err </dev/null &
		pid=$!
		for i in $(seq 600); do grep -q "assigned" run$r.err && break; sleep 0.1; done
		sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
		kill -KILL $pid; wait $pid 2>/dev/null || true
		sleep 0.3
	done
'

test_expect_success 'a last run drains what is left; the documents equal the fold' '
	{ timeout 60 ingest-eventhub $K -g crash --idle-exit 3s --exec "$SINK" >/dev/null 2>last.err || test $? = 1; } &&
	{ timeout 30 ingest-eventhub $K -g fold --idle-exit 2s >events 2>/dev/null || test $? = 1; } &&
	jq -c -f "$JQ" events | jq -s -c "
		group_by(.id) | map(sort_by(.\"\$version\") | reduce .[] as \$e ({};
			. * (\$e | del(.\"\$op\", .\"\$version\")))) |
		map({id, version, temp: .properties.reported.temp}) | sort_by(.id) | .[]" >want &&
	cos_docs | jq -c "{id, version, temp: .properties.reported.temp}" >got &&
	test_lines 201 got && test_cmp want got &&
	n=$(grep "ingest-eventhub: summary" last.err | grep -o " in=[0-9]*" | cut -d= -f2) &&
	echo "the last run read $n of 10203 events" && test "$n" -lt 10203
'

test_expect_success 'after the drain, nothing is left to read' '
	timeout 60 ingest-eventhub $K -g crash --idle-exit 2s --exec "$SINK" >/dev/null 2>after.err &&
	test_grep "ingest-eventhub: summary: in=0 " after.err
'

test_done
