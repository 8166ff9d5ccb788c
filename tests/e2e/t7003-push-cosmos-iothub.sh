#!/usr/bin/env bash
# Recorded IoT Hub twin-change and lifecycle events through transform with
# the shipped mapping (pipelines/iothub-to-cosmos.jq) into
# push-cosmos: partial updates merge, a late event applies the leaves no
# newer event changed, replayed events are stale, a deleted device stays
# deleted (tombstone), odd device ids are encoded; with the events'
# operationTimestamp a device deleted and created again starts a new
# generation that the old one's late events do not touch.
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
	cos_doc_is thermo-1 ".status == \"enabled\" and .tags == {site:\"a\"} and ._v == 5 and
		.properties == {desired:{setpoint:20},reported:{temp:99,fw:{version:\"1.1\"}}}" &&
	cos_doc_is "plug%2Fü 2" "._deleted and ._v == 3 and .deviceId == \"plug/ü 2\""
'
test_expect_success 'a device deleted and created again: the new generation wins' '
	transform -f "$TP_TOP/pipelines/iothub-to-cosmos.jq" \
		"$TP_TOP/tests/fixtures/iothub/recreate-events.ndjson" >ops2 &&
	test "$(jq -s "map(select(has(\"\$time\"))) | length" ops2)" = 7 &&
	pcos --tombstones <ops2 >out2 2>err2 &&
	jq -se "[.[] | .stale // false] == [false,false,false,false,false,true,false] and
		all(.[]; .ok)" out2 &&
	cos_doc_is valve-3 "del(._lv) == {id:\"valve-3\",deviceId:\"valve-3\",version:2,
		status:\"enabled\",tags:{gen:2},properties:{desired:{},reported:{pos:55}},
		connectionState:\"Connected\",lastConnectionEvent:\"2026-03-01T11:00:02.0000000Z\",
		_v:2,_gen:\"2026-03-01T10:05:00.000000001Z\"}"
'
test_done
