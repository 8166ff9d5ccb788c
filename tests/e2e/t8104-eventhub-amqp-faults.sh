#!/usr/bin/env bash
# ingest-eventhub's AMQP transport under faults of twin-emulator's Event
# Hubs endpoint, while it reads: detached links (POST /_admin/eventhubs/
# HUB/detach), dropped connections (.../drop), com.microsoft:server-busy
# on attach (error_rate 1, retried with backoff), SAS tokens of 2 s renewed
# before they expire (the emulator detaches the links of an expired
# token), a body that is not JSON (a dead letter, reading goes on); every
# event sent is output. Then --namespace: Entra ID tokens of 4 s from the
# emulator's token endpoint, over amqps, renewed too.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

test_require /usr/bin/python3 "python3-qpid-proton sends the events" || exit 1
test_require node "@azure/event-hubs sends full batches" || exit 1
test_expect_success 'install @azure/event-hubs 6.x' 'emu_node_install'
test_expect_success 'python3-qpid-proton is installed' '/usr/bin/python3 -c "import proton"'
send() { /usr/bin/python3 "$TP_TOP/tests/fidelity/eh-send.py" "$amqp" hubf 3 "$@"; }
admin() { emu_curl -fsS -o /dev/null -X POST "$EMU_URL/_admin/$1" ${2:+-H "Content-Type: application/json" -d "$2"}; }
# distinct (partition, sequence number) and event numbers in file $1
seen() { jq -r '._meta.src | "\(.partition) \(.sequenceNumber)"' "$1" | sort -u | wc -l; }
nums() { jq -r '.body.n // empty' "$1" | sort -un | wc -l; }

emu_start --amqp-port auto --eventhub hubf:3 --eventhub hubx:1 || exit 1
amqp=$(sed -n 2p "$TEST_DIR/emu$emu_n.out")
EMU_ERR=$TEST_DIR/emu$emu_n.err
export EVENTHUB_CONNECTION_STRING="Endpoint=sb://localhost:${amqp##*:}/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;EntityPath=hubf;UseDevelopmentEmulator=true"

test_expect_success 'the fault endpoints: 404 for no such hub, 400 for a bad condition' '
	test "$(emu_curl -o /dev/null -w "%{http_code}" -X POST "$EMU_URL/_admin/eventhubs/nohub/drop")" = 404 &&
	test "$(emu_curl -o /dev/null -w "%{http_code}" -X POST "$EMU_URL/_admin/eventhubs/hubf/detach?condition=")" = 400
'
test_expect_success 'the emulator detaches a receiver whose token expired' '
	/usr/bin/python3 "$TP_TOP/tests/fidelity/eh-expire.py" "$amqp" hubx >expire.out 2>&1 ||
		{ cat expire.out >&2; false; }
'
test_expect_success 'reading: 30 events' '
	test_bg ingest-eventhub -vv --sas-lifetime 2s --dead-letter dl \
		--checkpoint-dir ck --commit-interval 100ms --exec "tee -a out" \
		--max-events 1000000 >/dev/null 2>err </dev/null &&
	echo $! >pid && send 0 30 >/dev/null &&
	test_wait_for 60 "test \$(seen out) -ge 30"
'
test_expect_success 'detached links are reopened: 30 more' '
	admin eventhubs/hubf/detach &&
	test_wait_for 60 "grep -q \"detached: amqp:link:detach-forced\" err" &&
	send 30 30 >/dev/null && test_wait_for 60 "test \$(seen out) -ge 60"
'
test_expect_success 'a dropped connection is reconnected: 30 more' '
	admin eventhubs/hubf/drop &&
	test_wait_for 60 "grep -q \"connection lost\" err" &&
	send 60 30 >/dev/null && test_wait_for 60 "test \$(seen out) -ge 90"
'
test_expect_success 'server-busy on attach: retried with backoff, then 30 more' '
	admin faults "{\"error_rate\":1}" &&
	admin "eventhubs/hubf/detach?condition=com.microsoft:server-busy" &&
	test_wait_for 60 "test \$(grep -c \"detached: com.microsoft:server-busy fault\" err) -ge 6" &&
	grep "reopened in" err | grep -q "reopened in [1-9]" &&
	admin faults "{\"error_rate\":0}" &&
	send 90 30 >/dev/null && test_wait_for 60 "test \$(seen out) -ge 120"
'
test_expect_success 'a body that is not JSON is a dead letter; reading goes on' '
	send 120 1 "not json {" >/dev/null && send 121 29 >/dev/null &&
	test_wait_for 60 "test \$(nums out) -ge 149" &&
	test_wait_for 30 "test -s dl" && grep -q "not JSON" dl &&
	kill -0 $(cat pid)
'
test_expect_success 'tokens were renewed past several expiries, none let expire' '
	test_wait_for 60 "test \$(grep -c \"token accepted\" err) -ge 5" &&
	! grep -q "token of a receiver expired" "$EMU_ERR" &&
	kill $(cat pid) && { wait $(cat pid) 2>/dev/null || :; }
'
test_expect_success 'nothing lost: every event number 0..149 but the bad one' '
	jq -r ".body.n // empty" out | sort -un >ns &&
	seq 0 149 | grep -vx 120 >want && test_cmp want ns
'
test_expect_success 'the checkpoints hold every acknowledged event: a restart reads none' '
	ingest-eventhub --checkpoint-dir ck --idle-exit 1s --exec cat >again 2>err2 &&
	test_lines 0 again
'
test_expect_success 'full SDK batches (hundreds of events each) are taken and read' '
	emu_node "$TP_TOP/tests/fidelity/eh-produce-batch.js" \
		"${EVENTHUB_CONNECTION_STRING/EntityPath=hubf/EntityPath=hubx}" 3000 >sent &&
	grep -qx "sent 3000" sent &&
	ingest-eventhub -t hubx --idle-exit 1s >batch 2>err3 &&
	test_lines 3001 batch
'
kill "$EMU_PID"

printf 'eh-secret-42\n' >secret
emu_start --tls --cert "$TEST_DIR/cert.pem" --key "$TEST_DIR/key.pem" \
	--client-secret-file secret --token-lifetime 4s --amqp-port auto \
	--eventhub hubf:3 || exit 1
amqp=$(sed -n 2p "$TEST_DIR/emu$emu_n.out")
amqp=amqps://localhost:${amqp##*:}	# the certificate's name
EMU_ERR=$TEST_DIR/emu$emu_n.err
test_expect_success 'Entra over amqps: --namespace HOST:PORT, tokens renewed' '
	EH_CA=$TEST_DIR/cert.pem send 0 12 >/dev/null &&
	# only the reader in the background, killed at exit whatever happens
	# (a "&" after an "&&" list put the whole list in a subshell: $! was
	# not the reader, and the reader outlived the test)
	test_bg env -u EVENTHUB_CONNECTION_STRING AZURE_AUTHORITY_HOST=$EMU_URL \
		AZURE_TENANT_ID=tenant1 AZURE_CLIENT_ID=client1 \
		AZURE_CLIENT_SECRET=eh-secret-42 TWINPIPE_CREDENTIAL=environment \
		ingest-eventhub -vv -T amqp --namespace "localhost:${amqp##*:}" \
		-t hubf --cacert "$TEST_DIR/cert.pem" --max-events 1000000 \
		>entra 2>entra.err </dev/null &&
	pid=$! &&
	test_wait_for 60 "test \$(seen entra) -ge 12" &&
	test_wait_for 60 "test \$(grep -c \"put-token (jwt)\" entra.err) -ge 4" &&
	EH_CA=$TEST_DIR/cert.pem send 12 12 >/dev/null &&
	test_wait_for 60 "test \$(seen entra) -ge 24" &&
	kill $pid && { wait $pid 2>/dev/null || :; } &&
	! grep -q "token of a receiver expired" "$EMU_ERR" &&
	! grep -q eh-secret-42 entra.err
'
test_expect_success 'Entra: a wrong secret is refused' '
	test_expect_code 3 env -u EVENTHUB_CONNECTION_STRING AZURE_AUTHORITY_HOST=$EMU_URL \
		AZURE_TENANT_ID=tenant1 AZURE_CLIENT_ID=client1 \
		AZURE_CLIENT_SECRET=wrong TWINPIPE_CREDENTIAL=environment \
		ingest-eventhub -T amqp --namespace "localhost:${amqp##*:}" \
		-t hubf --cacert "$TEST_DIR/cert.pem" --idle-exit 2s >bad 2>bad.err &&
	test_lines 0 bad
'
test_done
