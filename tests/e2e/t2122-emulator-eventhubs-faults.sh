#!/usr/bin/env bash
# twin-emulator's Event Hubs AMQP endpoint follows the fault settings of
# the other services: error_rate refuses links and rejects events with
# com.microsoft:server-busy, drop_rate drops connections; nothing rejected
# or dropped is stored (python3-qpid-proton drives it).
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

if test_require /usr/bin/python3 "python3-qpid-proton runs on Debian's python3" &&
   test_expect_success 'python3-qpid-proton is installed' '/usr/bin/python3 -c "import proton"'; then
	emu_start --amqp-port auto --eventhub hubf:2 || exit 1
	amqp=$(sed -n 2p "$TEST_DIR/emu$emu_n.out")
	test_tap "python" /usr/bin/python3 "$TP_TOP/tests/fidelity/eventhubs_faults.py" "$amqp" "$EMU_URL"
fi
test_done
