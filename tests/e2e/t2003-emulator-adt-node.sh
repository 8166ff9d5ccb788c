#!/usr/bin/env bash
# Microsoft's @azure/digital-twins-core 1.1.0 drives twin-emulator's ADT
# plane over TLS with tokens from the emulator's token endpoint: models,
# twins, relationships, query with continuation, 412/404/400, 429-retry.
# Pages hold 2 items, so the client follows nextLink and continuation tokens.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

if test_require node "Microsoft's @azure/digital-twins-core runs on node" &&
   test_require npm "the fidelity packages install with npm"; then
	test_expect_success 'install @azure/digital-twins-core 1.1.0 into tests/.node' '
		emu_node_install
	'
	emu_start --tls --cert "$TEST_DIR/cert.pem" --key "$TEST_DIR/key.pem" --page-size 2
	test_expect_success 'TLS mode prints an https URL and writes the certificate' '
		case "$EMU_URL" in https://127.0.0.1:*) ;; *) false ;; esac &&
		openssl x509 -in "$TEST_DIR/cert.pem" -noout -text >cert.txt &&
		test_grep "IP Address:127.0.0.1" cert.txt
	'
	NODE_EXTRA_CA_CERTS=$TEST_DIR/cert.pem test_tap "node client" emu_node "$TP_TOP/tests/fidelity/adt.js" "$EMU_URL"
fi
test_done
