#!/usr/bin/env bash
# ingest-eventhub over AMQP, killed with SIGKILL while its --exec sink is
# working: the next run resumes from the local checkpoints (written
# atomically, only up to what the sink acknowledged), nothing is lost and
# only what was in flight is delivered twice.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

test_require node "@azure/event-hubs produces the events" || exit 1
test_expect_success 'install @azure/event-hubs 6.x' 'emu_node_install'
emu_start --amqp-port auto --eventhub hub1:3 || exit 1
amqp=$(sed -n 2p "$TEST_DIR/emu$emu_n.out")
export EVENTHUB_CONNECTION_STRING="Endpoint=sb://localhost:${amqp##*:}/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;EntityPath=hub1;UseDevelopmentEmulator=true"

test_expect_success 'the SDK sends 6 devices x 25 twin changes' '
	emu_node "$TP_TOP/tests/fidelity/eh-produce.js" "$EVENTHUB_CONNECTION_STRING" 6 25 >sent &&
	grep -q "^sent 150$" sent
'
# a slow sink: acknowledges each event after recording it
cat >sink.sh <<'SH'
while IFS= read -r l; do printf '%s\n' "$l" >>seen; printf '%s\n' "$l"; sleep 0.02; done
SH
test_expect_success 'SIGKILL while the sink is busy, after a checkpoint' '
	ingest-eventhub --commit-interval 100ms --checkpoint-dir ck \
		--exec "sh sink.sh" >/dev/null 2>run1.err &
	pid=$!
	for i in $(seq 300); do
		n=$(cat seen 2>/dev/null | wc -l)
		test "$n" -ge 40 && ls ck/localhost/hub1/twinpipe/checkpoint/[0-9] >/dev/null 2>&1 && break
		sleep 0.1
	done
	kill -9 $pid && { wait $pid || :; } && test "$(wc -l <seen)" -lt 150
'
test_expect_success 'the checkpoints are whole JSON objects' '
	for f in ck/localhost/hub1/twinpipe/checkpoint/[0-9]; do
		jq -e "(.sequencenumber|type) == \"number\" and (.offset|type) == \"string\"" "$f" || return 1
	done
'
test_expect_success 'the second run resumes from the checkpoints' '
	: >seen1 && cp seen seen1 &&
	ingest-eventhub --checkpoint-dir ck --idle-exit 1s --exec "tee -a seen" >/dev/null 2>run2.err &&
	test "$(($(wc -l <seen) - $(wc -l <seen1)))" -lt 150
'
test_expect_success 'nothing lost: every event of every partition was seen' '
	jq -r "._meta.src | \"\(.partition) \(.sequenceNumber)\"" seen | sort -u >got &&
	test "$(wc -l <got)" = 150
'
test_expect_success 'a third run reads nothing more' '
	ingest-eventhub --checkpoint-dir ck --idle-exit 1s --exec cat >third 2>err &&
	test_lines 0 third
'
test_done
