#!/usr/bin/env bash
# Microsoft's npm azure-iothub (the IoT Hub service SDK) drives
# twin-emulator's IoT Hub API as it would a hub at
# https://myhub.azure-devices.net, with its own SAS tokens: registry,
# twins (update with and without etags), query paging, modules, errors.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

if test_require node "Microsoft's azure-iothub runs on node" &&
   test_require npm "the fidelity packages install with npm"; then
	test_expect_success 'install azure-iothub into tests/.node' '
		emu_node_install
	'
	KEY=$(head -c 32 /dev/urandom | base64)
	TWIN_EMULATOR_IOTHUB_KEY=$KEY emu_start --tls --cert "$TEST_DIR/cert.pem" \
		--key "$TEST_DIR/key.pem" --iothub myhub
	node_out=$(NODE_EXTRA_CA_CERTS=$TEST_DIR/cert.pem emu_node "$TP_TOP/tests/fidelity/iothub.js" \
		"${EMU_URL##*:}" myhub "$KEY" 2>&1); rc=$?
	while IFS= read -r line; do
		case "$line" in
		"ok "*) test_count=$((test_count + 1)); echo "ok $test_count - ${line#* - }" ;;
		"not ok "*) test_count=$((test_count + 1)); test_failed=$((test_failed + 1))
			echo "not ok $test_count - ${line#* - }" ;;
		1..*) ;;
		*) echo "# $line" ;;
		esac
	done <<<"$node_out"
	test_expect_success 'the node client run exited 0 and ran every check' "
		test $rc = 0 && test \"\$(printf '%s\n' \"\$node_out\" | grep -c '^ok ')\" = 12
	"
fi
test_done
