#!/usr/bin/env bash
# Recorded IoT Hub twin-change and lifecycle events through transform with
# the shipped mapping (pipelines/iothub-to-cosmos.jq) into
# push-cosmos: partial updates merge, a late event applies the leaves no
# newer event changed, replayed events are stale, a deleted device stays
# deleted (tombstone), odd device ids are encoded.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-cosmos.sh"

pcos_start || exit 1

test_expect_success 'recorded IoT Hub events end in the twins of their latest versions' '
	transform -f "$TP_TOP/pipelines/iothub-to-cosmos.jq" \
		"$TP_TOP/tests/fixtures/iothub/twin-events.ndjson" >ops &&
	test_lines 9 ops &&
	pcos --create-container --tombstones --encode-ids <ops >out 2>err &&
	test_lines 9 out && jq -se "all(.[]; .ok)" out >/dev/null &&
	test "$(jq -s "map(select(.stale)) | length" out)" = 2 &&
	cos_doc thermo-1 | jq -e ".status == \"enabled\" and .tags == {site:\"a\"} and ._v == 5 and
		.properties == {desired:{setpoint:20},reported:{temp:99,fw:{version:\"1.1\"}}}" &&
	cos_doc "plug%2Fü 2" | jq -e "._deleted and ._v == 3 and .deviceId == \"plug/ü 2\""
'
test_done
