#!/usr/bin/env bash
# Microsoft's @azure/cosmos 4.9.x drives twin-emulator's Cosmos DB plane
# (real master-key signatures): create/upsert/read/replace/patch/delete,
# 409/412/413/400, batch, 429-retry, 401 on a wrong key.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

if test_require node "Microsoft's @azure/cosmos runs on node" &&
   test_require npm "the fidelity packages install with npm"; then
	test_expect_success 'install @azure/cosmos 4.9.x into tests/.node' '
		emu_node_install
	'
	emu_start --port 0
	# node prints its own TAP lines; pass them through with our numbering
	test_tap "node client" emu_node "$TP_TOP/tests/fidelity/cosmos.js" "$EMU_URL"
fi
test_done
