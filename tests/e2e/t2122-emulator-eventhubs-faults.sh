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
	pyout=$(/usr/bin/python3 "$TP_TOP/tests/fidelity/eventhubs_faults.py" "$amqp" "$EMU_URL" 2>&1); rc=$?
	while IFS= read -r line; do
		case "$line" in
		"ok "*) test_count=$((test_count + 1)); echo "ok $test_count - ${line#* - }" ;;
		"not ok "*) test_count=$((test_count + 1)); test_failed=$((test_failed + 1))
			echo "not ok $test_count - ${line#* - }" ;;
		1..*) ;;
		*) echo "# $line" ;;
		esac
	done <<<"$pyout"
	test_expect_success "the python run exited 0 with 7 checks" "test $rc = 0 && test \$(grep -c '^ok ' <<<\"\$pyout\") = 7"
fi
test_done
