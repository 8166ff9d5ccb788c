#!/usr/bin/env bash
# Microsoft's @azure/event-hubs 6.x drives twin-emulator's Event Hubs AMQP
# endpoint, over amqps (TLS, Endpoint=sb://localhost:PORT) and over plain
# AMQP (UseDevelopmentEmulator=true): hub and partition properties, batches
# by partition key and to a partition, subscribe over all partitions and
# from start positions, epoch takeover, a wrong SAS key refused.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

# run the node script against AMQP-URL; its TAP lines join ours
eh_node() {
	NODE_EXTRA_CA_CERTS=$TEST_DIR/cert.pem test_tap "node client ($1)" \
		emu_node "$TP_TOP/tests/fidelity/eventhubs.js" "$@"
}

if test_require node "Microsoft's @azure/event-hubs runs on node" &&
   test_require npm "the fidelity packages install with npm"; then
	test_expect_success 'install @azure/event-hubs 6.x into tests/.node' '
		emu_node_install
	'
	emu_start --tls --cert "$TEST_DIR/cert.pem" --key "$TEST_DIR/key.pem" \
		--amqp-port auto --eventhub hub1:3
	amqp=$(sed -n 2p "$TEST_DIR/emu$emu_n.out")
	test_expect_success 'TLS mode prints an amqps URL on the second line' '
		case "$amqp" in amqps://127.0.0.1:[1-9]*) ;; *) false ;; esac
	'
	eh_node "$amqp" SAS_KEY_VALUE
	test_expect_success 'admin endpoint lists the events of a partition' '
		emu_curl "$EMU_URL/_admin/eventhubs/hub1/partitions/2/events?from=1&max=5" >ev.json &&
		jq -e "length == 1 and .[0].sequenceNumber == 1 and .[0].body == \"\\\"to-two-b\\\"\" and
			.[0].properties.k == \"b\"" ev.json
	'
	kill "$EMU_PID"
	echo s3cret-eh-key >"$TEST_DIR/ehkey"
	emu_start --amqp-port auto --eventhub hub1:3 --eh-key-file "$TEST_DIR/ehkey"
	amqp=$(sed -n 2p "$TEST_DIR/emu$emu_n.out")
	test_expect_success 'plain mode prints an amqp URL' '
		case "$amqp" in amqp://127.0.0.1:[1-9]*) ;; *) false ;; esac
	'
	eh_node "$amqp" s3cret-eh-key
fi
test_done
