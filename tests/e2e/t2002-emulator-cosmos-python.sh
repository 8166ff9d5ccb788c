#!/usr/bin/env bash
# Debian's python3-azure-cosmos 3.1.1 drives twin-emulator's Cosmos DB
# plane: databases, containers, create/upsert/read/replace/delete,
# 409/412/404, feed, 429-retry, 401 on a wrong key.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

if /usr/bin/python3 -c 'import azure.cosmos.cosmos_client' 2>/dev/null; then
	emu_start --port 0
	test_tap "python client" /usr/bin/python3 "$TP_TOP/tests/fidelity/cosmos_py.py" "$EMU_URL"
else
	test_count=$((test_count + 1)); test_failed=$((test_failed + 1))
	echo "not ok $test_count - python3-azure-cosmos is missing (apt-get install python3-azure-cosmos); run 'make deps'"
fi
test_done
