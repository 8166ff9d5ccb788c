#!/usr/bin/env bash
# pipelines/devicetwins-to-cosmos: recorded IoT Hub events, interleaved and
# partly delivered twice, into twin-emulator's Cosmos DB; every device's document must
# equal the state computed independently by folding its events in version
# order with jq (RFC 7396 merge of the partial twins, deletes final).
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-cosmos.sh"
pcos_start || exit 1
PATH=$TP_TOP/pipelines:$PATH
export COSMOS_CONNECTION_STRING="AccountEndpoint=$EMU_URL/;AccountKey=$EMU_KEY;" \
	COSMOS_DATABASE=db COSMOS_CONTAINER=c COSMOS_OPTIONS="--create-container" WORK=$TEST_DIR/out
unset COSMOS_KEY

# 40 devices, a random mix of lifecycle and partial twin updates with
# growing versions
gen_events() {
	python3 - "$1" <<'PY'
import json, random, sys
r = random.Random(int(sys.argv[1]))
out = []
for d in range(40):
    dev = "dev-%02d" % d
    v = 1
    twin = {"deviceId": dev, "etag": "x", "version": v, "status": "enabled",
            "tags": {"site": r.choice("abc")},
            "properties": {"desired": {"rate": r.randint(1, 9)}, "reported": {}}}
    out.append({"properties": {"hubName": "h", "deviceId": dev, "opType": "createDeviceIdentity"}, "body": twin})
    for k in range(r.randint(2, 10)):
        v += r.randint(1, 3)
        side = r.choice(["desired", "reported"])
        ch = {}
        for _ in range(r.randint(1, 4)):
            key = r.choice(["temp", "fw", "mode", "rate", "loc"])
            ch[key] = r.choice([None, r.randint(0, 99), {"v": r.randint(0, 9), "n": None}, "on", {"deep": {"x": 1}}])
        out.append({"properties": {"hubName": "h", "deviceId": dev, "opType": "updateTwin"},
                    "body": {"version": v, "properties": {side: ch}}})
    if r.random() < 0.2:
        v += 1
        out.append({"properties": {"hubName": "h", "deviceId": dev, "opType": "deleteDeviceIdentity"},
                    "body": {"deviceId": dev, "version": v, "properties": {"desired": {}, "reported": {}}}})
# devices interleave at random, each device's events stay in order (as an
# Event Hubs partition keeps them); a third are delivered again later
# (at-least-once redelivery after a restart)
queues = {}
for e in out:
    queues.setdefault(e["properties"]["deviceId"], []).append(e)
stream = []
while queues:
    dev = r.choice(sorted(queues))
    stream.append(queues[dev].pop(0))
    if not queues[dev]:
        del queues[dev]
for i in sorted(r.sample(range(len(stream)), len(stream) // 3)):
    stream.insert(r.randint(i + 1, len(stream)), stream[i])
for e in stream:
    print(json.dumps(e))
PY
}

# the expected documents: fold each device's events in version order
expect() {
	jq -s -S '
	  def mp($p): if ($p | type) == "object" then
	      reduce ($p | to_entries[]) as $e (if type == "object" then . else {} end;
	        if $e.value == null then del(.[$e.key]) else .[$e.key] |= mp($e.value) end)
	    else $p end;
	  def clean: with_entries(select(.key | startswith("$") | not));
	  group_by(.properties.deviceId)
	  | map(. as $evs | ($evs[0].properties.deviceId) as $dev
	      | ($evs | unique_by(.body.version) | sort_by(.body.version))
	      | reduce .[] as $e (null;
	          ($e.properties.opType) as $op
	          | if $op == "createDeviceIdentity" then
	              {tags: ($e.body.tags // {}), desired: ($e.body.properties.desired | clean),
	               reported: ($e.body.properties.reported | clean)}
	            elif $op == "deleteDeviceIdentity" then "deleted"
	            elif . == "deleted" or . == null then .
	            else .desired |= mp($e.body.properties.desired // {})
	               | .reported |= mp($e.body.properties.reported // {})
	            end)
	      | {key: $dev, value: .})
	  | from_entries'
}

test_expect_success 'interleaved and redelivered events end in the folded state' '
	gen_events 5 >events.ndjson &&
	devicetwins-to-cosmos events.ndjson 2>err &&
	test "$(jq -s "map(select(.ok | not)) | length" out/results.ndjson)" = 0 &&
	expect <events.ndjson >expect.json &&
	cos_docs | jq -s -S "map({key: .deviceId, value: (if ._deleted then \"deleted\" else
		{tags: (.tags // {}), desired: (.properties.desired // {} | with_entries(select(.key | startswith(\"\$\") | not))),
		 reported: (.properties.reported // {} | with_entries(select(.key | startswith(\"\$\") | not)))} end)})
		| from_entries" >got.json &&
	test_cmp expect.json got.json
'

test_expect_success 'running the same events again changes nothing (all stale)' '
	devicetwins-to-cosmos events.ndjson 2>err &&
	n=$(wc -l <events.ndjson) &&
	test "$(jq -s "map(select(.stale)) | length" out/results.ndjson)" = "$n"
'
test_done
