#!/usr/bin/env bash
# Debian's python3-qpid-proton drives twin-emulator's Event Hubs AMQP
# endpoint: CBS with a jwt from the token endpoint, selector filters
# (offset, sequence number, enqueued time; > and >=; @latest; both
# descriptors), epochs, and SQLite persistence across a restart.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

py_tap() {
	test_tap "python ($3)" /usr/bin/python3 "$TP_TOP/tests/fidelity/eventhubs_py.py" "$@"
}

if test_require /usr/bin/python3 "python3-qpid-proton runs on Debian's python3" &&
   test_expect_success 'python3-qpid-proton is installed' '/usr/bin/python3 -c "import proton"'; then
	emu_start --db "$TEST_DIR/emu.db" --amqp-port auto --eventhub hub1:2
	amqp=$(sed -n 2p "$TEST_DIR/emu$emu_n.out")
	tok=$(emu_curl -d "grant_type=client_credentials&client_id=app&client_secret=s&scope=https%3A%2F%2Feventhubs.azure.net%2F.default" \
		"$EMU_URL/tenant1/oauth2/v2.0/token" | jq -r .access_token)
	py_tap "$amqp" "$tok" first
	kill "$EMU_PID"
	wait "$EMU_PID" 2>/dev/null
	emu_start --db "$TEST_DIR/emu.db" --amqp-port auto --eventhub hub1:2
	amqp=$(sed -n 2p "$TEST_DIR/emu$emu_n.out")
	tok=$(emu_curl -d "grant_type=client_credentials&client_id=app&client_secret=s&scope=https%3A%2F%2Feventhubs.azure.net%2F.default" \
		"$EMU_URL/tenant1/oauth2/v2.0/token" | jq -r .access_token)
	py_tap "$amqp" "$tok" again
fi
test_done
