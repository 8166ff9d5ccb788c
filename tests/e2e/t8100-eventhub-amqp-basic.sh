#!/usr/bin/env bash
# ingest-eventhub's AMQP transport against twin-emulator's Event Hubs
# endpoint, events sent by Microsoft's @azure/event-hubs 6: every
# partition, the record contract (typed IoT Hub properties, _meta.src with
# partition, offset and sequence number), start positions, chosen
# partitions, plain AMQP chosen by the connection string and TLS verified
# with --cacert, a wrong key refused (exit 3, the key never logged).
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

cs_for() { # URL KEY [EXTRA]
	local port=${1##*:}
	echo "Endpoint=sb://localhost:$port/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=$2;EntityPath=hub1${3-}"
}

test_require node "@azure/event-hubs produces the events" || exit 1
test_expect_success 'install @azure/event-hubs 6.x' 'emu_node_install'
emu_start --amqp-port auto --eventhub hub1:3 || exit 1
amqp=$(sed -n 2p "$TEST_DIR/emu$emu_n.out")
CS=$(cs_for "$amqp" SAS_KEY_VALUE ";UseDevelopmentEmulator=true")
export EVENTHUB_CONNECTION_STRING=$CS

test_expect_success 'the SDK sends 4 devices x 5 twin changes' '
	emu_node "$TP_TOP/tests/fidelity/eh-produce.js" "$CS" 4 5 >sent &&
	grep -q "^sent 20$" sent
'
test_expect_success 'AMQP chosen by the connection string: all 20 events' '
	ingest-eventhub -v --idle-exit 1s >out 2>err &&
	test_lines 20 out && grep -q "amqp: reading hub1\[2\]" err &&
	jq -se "map(._meta.src.partition) | unique == [0,1,2]" out
'
test_expect_success 'properties keep their AMQP types' '
	jq -se "all(.[]; .properties.round == .body.version and
		.properties.flag == true and .properties.ratio == 0.5 and
		.properties.big == 9007199254740991 and
		.properties.deviceId == .system[\"x-opt-partition-key\"] and
		.properties[\"iothub-message-schema\"] == \"twinChangeNotification\" and
		.system[\"content-type\"] == \"application/json\")" out
'
test_expect_success '_meta.src: partition, offset = sequence number, amqpOffset' '
	jq -se "all(.[]; ._meta.src.topic == \"hub1\" and
		._meta.src.offset == ._meta.src.sequenceNumber and
		._meta.src.sequenceNumber == .system[\"x-opt-sequence-number\"] and
		._meta.src.amqpOffset == .system[\"x-opt-offset\"] and
		(._meta.src.timestamp | test(\"Z$\")))" out
'
test_expect_success 'per device, versions arrive in order' '
	jq -sr "group_by(.properties.deviceId)[] | map(.body.version) | @json" out |
		sort -u >orders && test "$(sort -u orders)" = "[1,2,3,4,5]"
'
test_expect_success '--partitions 1 --start seq:2 reads only there, from 2' '
	ingest-eventhub --idle-exit 1s -p 1 --start seq:2 >p1 2>err &&
	jq -se "length > 0 and all(.[]; ._meta.src.partition == 1 and
		._meta.src.sequenceNumber >= 2) and
		(map(._meta.src.sequenceNumber) | min == 2)" p1
'
test_expect_success '--start latest reads nothing of the backlog' '
	ingest-eventhub --idle-exit 1s --start latest >lat 2>err &&
	test_lines 0 lat
'
test_expect_success '--transport kafka with this string still means Kafka' '
	test_expect_code 2 ingest-eventhub --transport bogus 2>err &&
	grep -q "amqp or kafka" err
'
test_expect_success 'a wrong key is refused: exit 3, the key not in the log' '
	test_expect_code 3 env EVENTHUB_CONNECTION_STRING="$(cs_for "$amqp" n0tTheKey ";UseDevelopmentEmulator=true")" \
		ingest-eventhub --idle-exit 1s >bad 2>err &&
	grep -q "refused" err && ! grep -q n0tTheKey err
'
kill "$EMU_PID"

emu_start --tls --cert "$TEST_DIR/cert.pem" --key "$TEST_DIR/key.pem" \
	--amqp-port auto --eventhub hub1:2 || exit 1
amqp=$(sed -n 2p "$TEST_DIR/emu$emu_n.out")
CS=$(cs_for "$amqp" SAS_KEY_VALUE)
test_expect_success 'TLS: the SDK sends 2 x 3 events' '
	NODE_EXTRA_CA_CERTS=$TEST_DIR/cert.pem emu_node \
		"$TP_TOP/tests/fidelity/eh-produce.js" "$CS" 2 3 >sent &&
	grep -q "^sent 6$" sent
'
test_expect_success 'TLS verified with --cacert: all 6 over amqps' '
	EVENTHUB_CONNECTION_STRING=$CS ingest-eventhub -T amqp \
		--cacert "$TEST_DIR/cert.pem" --idle-exit 1s >tls 2>err &&
	test_lines 6 tls
'
test_expect_success 'TLS without the CA: refused, exit 2 (--tls-timeout)' '
	test_expect_code 2 env EVENTHUB_CONNECTION_STRING=$CS \
		ingest-eventhub -T amqp --idle-exit 1s --tls-timeout 2s >notls 2>err &&
	test_lines 0 notls
'
test_done
