#!/usr/bin/env bash
# twin-emulator routes IoT Hub's twin-change and lifecycle events into the
# hub's built-in Event Hub (named after the IoT Hub): read back over AMQP
# with python3-qpid-proton, they carry IoT Hub's application properties,
# annotations, content type, only the changed part of a twin with its new
# version (whole twin for lifecycle events), partition key = device id.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

V="api-version=2021-04-12"
hub() {	# hub METHOD PATH [BODY]: status on stdout
	emu_curl -o out.json -w "%{http_code}" -X "$1" -H "Content-Type: application/json" \
		${3:+-d "$3"} "$EMU_URL$2"
}

if test_require /usr/bin/python3 "python3-qpid-proton runs on Debian's python3" &&
   test_expect_success 'python3-qpid-proton is installed' '/usr/bin/python3 -c "import proton"'; then
	emu_start --no-auth --amqp-port auto --iothub routehub --eh-partitions 4 --eventhub other:2
	amqp=$(sed -n 2p "$TEST_DIR/emu$emu_n.out")

	test_expect_success 'twin changes and lifecycle operations succeed' '
		test "$(hub PUT "/devices/d1?$V" "{}")" = 200 &&
		test "$(hub PATCH "/twins/d1?$V" "{\"properties\":{\"desired\":{\"a\":1,\"o\":{\"x\":1}}}}")" = 200 &&
		test "$(hub PATCH "/twins/d1?$V" "{\"tags\":{\"site\":\"s1\"},\"properties\":{\"desired\":{\"a\":null,\"o\":{\"y\":2}}}}")" = 200 &&
		test "$(hub PATCH "/_admin/iothub/twins/d1/reported" "{\"fw\":\"1.0\"}")" = 200 &&
		test "$(hub PUT "/twins/d1?$V" "{\"tags\":{\"t\":1},\"properties\":{\"desired\":{\"only\":1}}}")" = 200 &&
		test "$(hub PUT "/devices/d1/modules/m1?$V" "{\"moduleId\":\"m1\"}")" = 200 &&
		test "$(hub PATCH "/twins/d1/modules/m1?$V" "{\"properties\":{\"desired\":{\"k\":true}}}")" = 200 &&
		test "$(hub DELETE "/devices/d1/modules/m1?$V")" = 204 &&
		test "$(hub PUT "/devices/d2?$V" "{}")" = 200 &&
		test "$(hub PATCH "/twins/d2?$V" "{\"tags\":{\"z\":1}}")" = 200 &&
		test "$(hub DELETE "/devices/d2?$V")" = 204
	'
	test_expect_success 'the events arrive over AMQP in the hub named after the IoT Hub' '
		/usr/bin/python3 "$TP_TOP/tests/fidelity/iothub_events.py" "$amqp" routehub 4 11 >ev.ndjson &&
		test_lines 11 ev.ndjson
	'
	test_expect_success 'one device: one partition, partition key = device id, in version order' '
		test "$(jq -r "select(.props.deviceId == \"d1\") | .partition" ev.ndjson | sort -u | wc -l)" = 1 &&
		jq -e -s "map(select(.props.deviceId == \"d1\")) | all(.pkey == \"d1\")" ev.ndjson &&
		jq -r "select(.props.deviceId == \"d1\") | [.props.opType, (.props.moduleId // \"-\")] | join(\" \")" ev.ndjson >ops &&
		printf "%s\n" "createDeviceIdentity -" "updateTwin -" "updateTwin -" "updateTwin -" "replaceTwin -" \
			"createDeviceIdentity m1" "updateTwin m1" "deleteDeviceIdentity m1" >expect &&
		test_cmp expect ops &&
		jq -s -c "map(select(.props.deviceId == \"d1\" and .props.moduleId == null and .props.opType != \"createDeviceIdentity\") | .body.version)" ev.ndjson >versions &&
		echo "[2,3,4,5]" >expect && test_cmp expect versions
	'
	test_expect_success 'application properties, annotations, content type and encoding' '
		jq -e -s "all(.props.hubName == \"routehub\" and .content_type == \"application/json\" and .content_encoding == \"utf-8\" and (.props.operationTimestamp | test(\"^[0-9-]{10}T[0-9:]{8}\\\\.[0-9]+Z$\")) and .annos[\"iothub-connection-device-id\"] == .props.deviceId and (.annos[\"iothub-enqueuedtime\"] | type) == \"number\")" ev.ndjson &&
		jq -e -s "map(select(.props.opType | test(\"Twin$\"))) | length == 6 and all(.props[\"iothub-message-schema\"] == \"twinChangeNotification\" and .annos[\"iothub-message-source\"] == \"twinChangeEvents\")" ev.ndjson &&
		jq -e -s "map(select(.props.opType | test(\"Identity$\"))) | length == 5 and all(.props[\"iothub-message-schema\"] == \"deviceLifecycleNotification\" and .annos[\"iothub-message-source\"] == \"deviceLifecycleEvents\")" ev.ndjson &&
		jq -e -s "map(select(.props.moduleId == \"m1\")) | length == 3 and all(.annos[\"iothub-connection-module-id\"] == \"m1\")" ev.ndjson &&
		jq -e -s "map(select(.props.moduleId == null)) | all(.annos | has(\"iothub-connection-module-id\") | not)" ev.ndjson
	'
	test_expect_success 'twin change bodies carry only what changed, with $version and $metadata' '
		jq -s ".[] | select(.props.deviceId == \"d1\" and .props.moduleId == null and .props.opType == \"updateTwin\") | .body" ev.ndjson >upd.json &&
		jq -e -s ".[0] | .version == 2 and (has(\"tags\") | not) and (.properties | keys) == [\"desired\"] and .properties.desired.a == 1 and .properties.desired.o == {\"x\":1} and .properties.desired[\"\$version\"] == 2 and .properties.desired[\"\$metadata\"].a[\"\$lastUpdatedVersion\"] == 2" upd.json &&
		jq -e -s ".[1] | .version == 3 and .tags == {\"site\":\"s1\"} and (.properties.desired | has(\"a\")) and .properties.desired.a == null and .properties.desired.o == {\"y\":2} and .properties.desired[\"\$version\"] == 3" upd.json &&
		jq -e -s ".[2] | .version == 4 and (.properties | keys) == [\"reported\"] and .properties.reported.fw == \"1.0\" and .properties.reported[\"\$version\"] == 2" upd.json &&
		jq -e -s "map(select(.props.opType == \"replaceTwin\"))[0].body | .version == 5 and .tags == {\"t\":1} and (.properties.desired | del(.[\"\$metadata\"])) == {\"only\":1,\"\$version\":4}" ev.ndjson
	'
	test_expect_success 'lifecycle bodies are the whole twin' '
		jq -e -s "map(select(.props.deviceId == \"d1\" and .props.moduleId == null and .props.opType == \"createDeviceIdentity\"))[0].body | .deviceId == \"d1\" and .version == 1 and .etag and .status == \"enabled\" and .properties.desired[\"\$version\"] == 1 and .properties.reported[\"\$version\"] == 1" ev.ndjson &&
		jq -e -s "map(select(.props.deviceId == \"d2\" and .props.opType == \"deleteDeviceIdentity\"))[0].body | .deviceId == \"d2\" and .version == 2 and .tags == {\"z\":1}" ev.ndjson &&
		jq -e -s "map(select(.props.opType == \"deleteDeviceIdentity\" and .props.moduleId == \"m1\"))[0].body | .moduleId == \"m1\" and .version == 2 and .properties.desired.k == true" ev.ndjson
	'
fi
test_done
