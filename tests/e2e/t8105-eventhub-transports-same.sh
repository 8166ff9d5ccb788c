#!/usr/bin/env bash
# The same events read over Kafka (librdkafka's mock cluster, headers
# AMQP-encoded as Event Hubs' Kafka endpoint gives them, every AMQP type)
# and over AMQP (twin-emulator) give the same NDJSON records and the same
# dead letters, modulo the transport's positions (_meta.src offset,
# timestamp, sequenceNumber, amqpOffset; system x-opt-*). The mock cluster
# takes no AMQP, so the AMQP events are rebuilt from what the Kafka
# transport read (tests/fidelity/eh-resend.py: same partition and order,
# body bytes, properties typed from their JSON types, message-id,
# content-type, annotations); the check is of the two record mappings.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-eventhub.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

test_require /usr/bin/python3 "python3-qpid-proton sends the events" || exit 1
eh_start 3 4 3 || exit 1
emu_start --amqp-port auto --eventhub iot:3 || exit 1
amqp=$(sed -n 2p "$TEST_DIR/emu$emu_n.out")
F=$TP_TOP/tests/fidelity

test_expect_success 'Kafka: 17 records and 2 dead letters' '
	test_expect_code 1 timeout 60 ingest-eventhub -b "$BS" -t iot -g same \
		--idle-exit 2s $EH_GROUP_OPTS --dead-letter kdl >k.ndjson 2>k.err &&
	test_lines 17 k.ndjson && test_lines 2 kdl
'
test_expect_success 'the same events sent over AMQP' '
	/usr/bin/python3 "$F/eh-resend.py" "$amqp" iot k.ndjson kdl >sent &&
	grep -qx "sent 19" sent
'
test_expect_success 'AMQP: 17 records and 2 dead letters' '
	test_expect_code 1 env EVENTHUB_CONNECTION_STRING="Endpoint=sb://localhost:${amqp##*:}/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;EntityPath=iot;UseDevelopmentEmulator=true" \
		ingest-eventhub --idle-exit 1s --dead-letter adl >a.ndjson 2>a.err &&
	test_lines 17 a.ndjson && test_lines 2 adl
'
test_expect_success 'the same records (numbers compared as written)' '
	/usr/bin/python3 "$F/eh-same.py" k.ndjson a.ndjson
'
test_expect_success 'the same dead letters' '
	/usr/bin/python3 "$F/eh-same.py" kdl adl
'
test_expect_success 'both _meta.src name topic, partition, offset, timestamp' '
	jq -se "all(.[]; ._meta.src | has(\"topic\") and has(\"partition\") and
		has(\"offset\") and has(\"timestamp\"))" k.ndjson a.ndjson >/dev/null &&
	jq -se "all(.[]; ._meta.src | has(\"sequenceNumber\") and has(\"amqpOffset\"))" a.ndjson
'
test_expect_success 'the comparison fails on a changed property type' '
	sed "0,/\"deviceId\":\"dev-0\"/s//\"deviceId\":\"dev-0\",\"extra\":1/" a.ndjson >a2 &&
	! /usr/bin/python3 "$F/eh-same.py" k.ndjson a2 >/dev/null
'
test_done
