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
	out=$(emu_node "$TP_TOP/tests/fidelity/cosmos.js" "$EMU_URL" 2>&1); rc=$?
	while IFS= read -r line; do
		case "$line" in
		"ok "*) test_count=$((test_count + 1)); echo "ok $test_count - ${line#* - }" ;;
		"not ok "*) test_count=$((test_count + 1)); test_failed=$((test_failed + 1))
			echo "not ok $test_count - ${line#* - }" ;;
		1..*) ;;
		*) echo "# $line" ;;
		esac
	done <<<"$out"
	test_expect_success 'the node client run exited 0' "test $rc = 0"
fi
test_done
