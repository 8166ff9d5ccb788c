#!/usr/bin/env bash
# twin-emulator's IoT Hub service API over HTTPS: shared access policy SAS
# tokens (good, bad, expired, other hub) and bearer tokens, the device
# registry with etags, modules, twins (IoT Hub's merge rules, versions,
# $metadata), the emulator's reported-properties endpoint, the query
# language with paging, 429 faults, and --db persistence.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

KEY=$(head -c 32 /dev/urandom | base64)
printf '%s\n' "$KEY" >"$TEST_DIR/iothub.key"
HUB=myhub.azure-devices.net
V="api-version=2021-04-12"
# sas SR EXPIRY [KEY [POLICY]]: a SharedAccessSignature for resource SR
sas() {
	local sr se=$2 key=${3:-$KEY} hex sig
	sr=$(jq -rn --arg s "$1" '$s|@uri')
	hex=$(printf '%s' "$key" | base64 -d | od -An -v -tx1 | tr -d ' \n')
	sig=$(printf '%s\n%s' "$sr" "$se" |
		openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hex" -binary | base64)
	printf 'SharedAccessSignature sr=%s&sig=%s&se=%s&skn=%s' "$sr" \
		"$(jq -rn --arg s "$sig" '$s|@uri')" "$se" "${4:-iothubowner}"
}
later=$(($(date +%s) + 3600))
AUTH=$(sas "$HUB" "$later")
# hub METHOD PATH [BODY [CURL-ARGS...]]: status on stdout, body in out.json
hub() {
	local m=$1 p=$2 b=${3:-}
	shift 2; [ $# -gt 0 ] && shift
	emu_curl -o out.json -D hdr.txt -w "%{http_code}" -X "$m" -H "Authorization: $AUTH" \
		-H "Content-Type: application/json" ${b:+-d "$b"} "$@" "$EMU_URL$p"
}
q() {	# q QUERY [PAGE [CONTINUATION]]
	hub POST "/devices/query?$V" "$(jq -cn --arg q "$1" '{query:$q}')" \
		${2:+-H "x-ms-max-item-count: $2"} ${3:+-H "x-ms-continuation: $3"}
}
hdr() { tr -d '\r' <hdr.txt | sed -n "s/^$1: //Ip"; }

test_expect_success 'usage errors: a bad hub name or key' '
	test_expect_code 2 twin-emulator --iothub "a b" 2>err && test_grep "not an IoT Hub name" err &&
	test_expect_code 2 twin-emulator --iothub x 2>/dev/null &&
	TWIN_EMULATOR_IOTHUB_KEY="not base64!" test_expect_code 2 twin-emulator 2>err &&
	test_grep "not base64" err && test_grep "Try" err
'
emu_start --tls --cert "$TEST_DIR/cert.pem" --key "$TEST_DIR/key.pem" \
	--db "$TEST_DIR/emu.db" --iothub myhub --iothub-key-file "$TEST_DIR/iothub.key"

test_expect_success 'SAS: good token; missing, bad, expired, other hub, other policy refused' '
	test "$(hub PUT "/devices/d1?$V" "{\"deviceId\":\"d1\"}")" = 200 &&
	jq -e ".deviceId == \"d1\" and .status == \"enabled\" and .authentication.type == \"sas\" and (.authentication.symmetricKey.primaryKey|length) > 20" out.json &&
	code=$(emu_curl -o out.json -w "%{http_code}" "$EMU_URL/devices/d1?$V") && test "$code" = 401 &&
	jq -e ".Message | startswith(\"ErrorCode:IotHubUnauthorizedAccess;\")" out.json &&
	AUTH=$(sas "$HUB" "$later" "$(head -c 32 /dev/urandom | base64)") &&
	test "$(hub GET "/devices/d1?$V")" = 401 && test_grep "signature is invalid" out.json &&
	test "$(hdr iothub-errorcode)" = IotHubUnauthorizedAccess &&
	AUTH=$(sas "$HUB" $(($(date +%s) - 10))) &&
	test "$(hub GET "/devices/d1?$V")" = 401 && test_grep expired out.json &&
	AUTH=$(sas otherhub.azure-devices.net "$later") &&
	test "$(hub GET "/devices/d1?$V")" = 401 && test_grep "not this hub" out.json &&
	AUTH=$(sas "$HUB" "$later" "$KEY" service) &&
	test "$(hub GET "/devices/d1?$V")" = 401 && test_grep "no shared access policy" out.json &&
	AUTH="SharedAccessSignature sr=x" &&
	test "$(hub GET "/devices/d1?$V")" = 401 &&
	AUTH=$(sas "$HUB/devices/d1" "$later") &&
	test "$(hub GET "/devices/d1?$V")" = 200 &&
	AUTH=$(sas "${EMU_URL#https://}" "$later") &&
	test "$(hub GET "/devices/d1?$V")" = 200
'

test_expect_success 'bearer tokens from the token endpoint; a forged one refused' '
	tok=$(emu_curl -d "grant_type=client_credentials&client_id=app&client_secret=s&scope=https%3A%2F%2Fiothubs.azure.net%2F.default" \
		"$EMU_URL/t1/oauth2/v2.0/token" | jq -r .access_token) &&
	AUTH="Bearer $tok" && test "$(hub GET "/twins/d1?$V")" = 200 &&
	AUTH="Bearer ${tok%?}x" && test "$(hub GET "/twins/d1?$V")" = 401 &&
	AUTH="Basic abc" && test "$(hub GET "/twins/d1?$V")" = 401
'

test_expect_success 'devices: 409 exists, If-Match etags, bad ids, delete' '
	test "$(hub GET "/devices/d1?$V")" = 200 &&
	etag=$(jq -r .etag out.json) && test "$(hdr etag)" = "\"$etag\"" &&
	test "$(hub PUT "/devices/d1?$V" "{\"deviceId\":\"d1\"}")" = 409 &&
	test "$(hdr iothub-errorcode)" = DeviceAlreadyExists &&
	test "$(hub PUT "/devices/d1?$V" "{\"deviceId\":\"d1\",\"status\":\"disabled\"}" -H "If-Match: \"bm9wZQ==\"")" = 412 &&
	test "$(hub PUT "/devices/d1?$V" "{\"deviceId\":\"d1\",\"status\":\"disabled\"}" -H "If-Match: \"$etag\"")" = 200 &&
	jq -e ".status == \"disabled\" and .etag != \"$etag\"" out.json &&
	test "$(hub GET "/twins/d1?$V")" = 200 && jq -e ".status == \"disabled\"" out.json &&
	test "$(hub PUT "/devices/d2?$V" "{\"deviceId\":\"other\"}")" = 400 &&
	test "$(hub PUT "/devices/bad%20id?$V" "{}")" = 400 &&
	test "$(hdr iothub-errorcode)" = ArgumentInvalid &&
	test "$(hub PUT "/devices/d2?$V" "[1]")" = 400 &&
	test "$(hub PUT "/devices/d2?$V" "{\"status\":\"sleepy\"}")" = 400 &&
	test "$(hub PUT "/devices/gone?$V" "{}")" = 200 &&
	test "$(hub DELETE "/devices/gone?$V" "" -H "If-Match: \"bm9wZQ==\"")" = 412 &&
	test "$(hub DELETE "/devices/gone?$V" "" -H "If-Match: *")" = 204 &&
	test "$(hub GET "/devices/gone?$V")" = 404 && test "$(hdr iothub-errorcode)" = DeviceNotFound &&
	test "$(hub DELETE "/devices/gone?$V")" = 404 &&
	test "$(hub GET "/twins/gone?$V")" = 404
'

test_expect_success 'twin PATCH: nested merge, null removes, versions, $metadata, etags' '
	hub GET "/twins/d1?$V" >/dev/null && cp out.json t0.json &&
	jq -e ".version == 1 and .properties.desired[\"\$version\"] == 1 and .properties.reported[\"\$version\"] == 1 and .tags == {}" t0.json &&
	test "$(hub PATCH "/twins/d1?$V" "{\"tags\":{\"loc\":{\"city\":\"Oslo\",\"zone\":1}},\"properties\":{\"desired\":{\"a\":1,\"o\":{\"x\":1,\"y\":2}}}}")" = 200 &&
	cp out.json t1.json &&
	jq -e ".version == 2 and .properties.desired[\"\$version\"] == 2 and .properties.desired.o == {\"x\":1,\"y\":2} and .tags.loc.city == \"Oslo\"" t1.json &&
	jq -e ".properties.desired[\"\$metadata\"].o.x[\"\$lastUpdatedVersion\"] == 2 and (.properties.desired[\"\$metadata\"].a[\"\$lastUpdated\"] | test(\"^[0-9-]{10}T[0-9:]{8}\\\\.[0-9]{7}Z$\"))" t1.json &&
	test "$(jq -r .etag t0.json)" != "$(jq -r .etag t1.json)" &&
	test "$(hub PATCH "/twins/d1?$V" "{\"properties\":{\"desired\":{\"a\":9}}}" -H "If-Match: \"$(jq -r .etag t0.json)\"")" = 412 &&
	test "$(hdr iothub-errorcode)" = PreconditionFailed &&
	test "$(hub PATCH "/twins/d1?$V" "{\"tags\":{\"loc\":{\"zone\":null}},\"properties\":{\"desired\":{\"a\":null,\"o\":{\"x\":null,\"z\":[1,2]}}}}" -H "If-Match: \"$(jq -r .etag t1.json)\"")" = 200 &&
	cp out.json t2.json &&
	jq -e ".version == 3 and .properties.desired[\"\$version\"] == 3 and .tags == {\"loc\":{\"city\":\"Oslo\"}}" t2.json &&
	jq -e ".properties.desired | del(.[\"\$metadata\"], .[\"\$version\"]) == {\"o\":{\"y\":2,\"z\":[1,2]}}" t2.json &&
	jq -e ".properties.desired[\"\$metadata\"] | (has(\"a\") | not) and (.o | has(\"x\") | not) and .o.y[\"\$lastUpdatedVersion\"] == 2 and .o.z[\"\$lastUpdatedVersion\"] == 3" t2.json &&
	test "$(hub PATCH "/twins/d1?$V" "{\"tags\":{\"loc\":\"x\"}}")" = 200 &&
	jq -e ".version == 4 and .tags.loc == \"x\" and .properties.desired[\"\$version\"] == 3" out.json
'

test_expect_success 'twin PATCH refuses reported properties, bad names, deep objects, non-objects' '
	test "$(hub PATCH "/twins/d1?$V" "{\"properties\":{\"reported\":{\"a\":1}}}")" = 400 &&
	test_grep "reported properties cannot be updated" out.json &&
	test "$(hub PATCH "/twins/d1?$V" "{\"properties\":{\"desired\":{\"a.b\":1}}}")" = 400 &&
	test "$(hub PATCH "/twins/d1?$V" "{\"properties\":{\"desired\":{\"\$x\":1}}}")" = 400 &&
	deep=$(jq -cn "reduce range(0;11) as \$i (1; {a:.})") &&
	test "$(hub PATCH "/twins/d1?$V" "{\"properties\":{\"desired\":$deep}}")" = 400 &&
	test_grep "deeper than 10" out.json &&
	test "$(hub PATCH "/twins/d1?$V" "{\"properties\":{\"desired\":[1]}}")" = 400 &&
	test "$(hub PATCH "/twins/d1?$V" "not json")" = 400 &&
	test "$(hub PATCH "/twins/d1?$V" "{\"etag\":\"x\"}")" = 200 && jq -e ".version == 4" out.json &&
	big=$(head -c 40000 /dev/zero | tr "\\0" a) &&
	test "$(hub PATCH "/twins/d1?$V" "{\"tags\":{\"t\":\"${big:0:9000}\"}}")" = 400 &&
	hub GET "/twins/d1?$V" && jq -e ".version == 4" out.json
'

test_expect_success 'reported properties through the emulator endpoint; PUT replaces tags and desired' '
	code=$(emu_curl -o out.json -w "%{http_code}" -X PATCH -d "{\"fw\":\"1.0\",\"t\":{\"c\":20}}" "$EMU_URL/_admin/iothub/twins/d1/reported") &&
	test "$code" = 200 &&
	jq -e ".version == 5 and .properties.reported.fw == \"1.0\" and .properties.reported[\"\$version\"] == 2 and .properties.reported[\"\$metadata\"].t.c[\"\$lastUpdated\"] and (.properties.reported[\"\$metadata\"].fw | has(\"\$lastUpdatedVersion\") | not)" out.json &&
	emu_curl -X PATCH -d "{\"fw\":null}" "$EMU_URL/_admin/iothub/twins/d1/reported" | jq -e ".properties.reported | has(\"fw\") | not" &&
	code=$(emu_curl -o out.json -w "%{http_code}" -X PATCH -d "{}" "$EMU_URL/_admin/iothub/twins/nope/reported") && test "$code" = 404 &&
	test "$(hub PUT "/twins/d1?$V" "{\"tags\":{\"n\":1},\"properties\":{\"desired\":{\"only\":true,\"\$version\":99}}}")" = 200 &&
	jq -e ".version == 7 and .tags == {\"n\":1} and (.properties.desired | del(.[\"\$metadata\"]) == {\"only\":true,\"\$version\":4}) and .properties.reported.t.c == 20" out.json
'

test_expect_success 'modules: need the device, module twins, list, query devices.modules' '
	test "$(hub PUT "/devices/ghost/modules/m1?$V" "{\"moduleId\":\"m1\"}")" = 404 &&
	test "$(hub PUT "/devices/d1/modules/m1?$V" "{\"moduleId\":\"m1\"}")" = 200 &&
	jq -e ".moduleId == \"m1\" and .deviceId == \"d1\"" out.json &&
	test "$(hub PUT "/devices/d1/modules/m2?$V" "{\"moduleId\":\"m2\"}")" = 200 &&
	test "$(hub PUT "/devices/d1/modules/m1?$V" "{\"moduleId\":\"m1\"}")" = 409 &&
	test "$(hub GET "/devices/d1/modules?$V")" = 200 && jq -e "[.[].moduleId] == [\"m1\",\"m2\"]" out.json &&
	test "$(hub PATCH "/twins/d1/modules/m1?$V" "{\"properties\":{\"desired\":{\"k\":1}}}")" = 200 &&
	jq -e ".moduleId == \"m1\" and .version == 2 and .properties.desired.k == 1" out.json &&
	test "$(hub GET "/twins/d1/modules/m9?$V")" = 404 && test "$(hdr iothub-errorcode)" = ModuleNotFound &&
	test "$(q "SELECT * FROM devices.modules WHERE properties.desired.k = 1")" = 200 &&
	jq -e "[.[].moduleId] == [\"m1\"]" out.json &&
	test "$(hub DELETE "/devices/d1/modules/m2?$V")" = 204 &&
	test "$(hub GET "/devices/d1/modules?$V")" = 200 && jq -e "length == 1" out.json
'

test_expect_success 'query: WHERE forms, paging by x-ms-max-item-count and x-ms-continuation' '
	for i in 1 2 3 4 5 6 7; do
		test "$(hub PUT "/devices/p$i?$V" "{}")" = 200 &&
		test "$(hub PATCH "/twins/p$i?$V" "{\"tags\":{\"n\":$i,\"odd\":$((i % 2))}}")" = 200 || exit 1
	done &&
	test "$(q "SELECT * FROM devices")" = 200 && jq -e "length == 8" out.json &&
	test "$(hdr x-ms-item-type)" = twin && test -z "$(hdr x-ms-continuation)" &&
	q "SELECT * FROM devices WHERE tags.n >= 3 AND tags.n < 6" && jq -e "[.[].deviceId] == [\"p3\",\"p4\",\"p5\"]" out.json &&
	q "select * from devices where deviceId IN ['"'"'p1'"'"', '"'"'p7'"'"'] OR tags.odd = 0 AND NOT (tags.n > 4)" &&
	jq -e "[.[].deviceId] == [\"p1\",\"p2\",\"p4\",\"p7\"]" out.json &&
	q "SELECT * FROM devices WHERE IS_DEFINED(properties.reported.t) AND status = '"'"'disabled'"'"'" && jq -e "[.[].deviceId] == [\"d1\"]" out.json &&
	q "SELECT * FROM devices WHERE tags.n NIN [1,2,3,4,5,6]" && jq -e "[.[].deviceId] == [\"p7\"]" out.json &&
	ids= && cont= && pages=0 &&
	while :; do
		test "$(q "SELECT * FROM devices WHERE tags.odd = 1" 1 "$cont")" = 200 &&
		ids="$ids$(jq -r ".[].deviceId" out.json)," && pages=$((pages + 1)) &&
		cont=$(hdr x-ms-continuation) && [ -n "$cont" ] || break
		[ $pages -lt 10 ] || exit 1
	done &&
	test "$ids" = "p1,p3,p5,p7," && test $pages = 4 &&
	test "$(q "SELECT * FROM devices" 3)" = 200 && jq -e "length == 3" out.json && test -n "$(hdr x-ms-continuation)" &&
	test "$(q "SELECT * FROM devices WHERE")" = 400 && test "$(hdr iothub-errorcode)" = BadRequest &&
	test "$(q "SELECT deviceId FROM devices")" = 400 &&
	test "$(q "SELECT * FROM devices WHERE tags.n = '"'"'x")" = 400 &&
	test "$(q "SELECT * FROM devices" 0)" = 400 &&
	test "$(q "SELECT * FROM devices" 2 "bm90IGEgdG9rZW4=")" = 400
'

test_expect_success 'throttling faults: 429 with Retry-After in IoT Hub'"'"'s error shape' '
	emu_curl -d "{\"rate\":0.2}" "$EMU_URL/_admin/faults" >/dev/null &&
	n429=0 && for i in 1 2 3 4 5 6; do
		c=$(hub GET "/twins/d1?$V") &&
		if [ "$c" = 429 ]; then n429=$((n429 + 1)); cp out.json t429.json; cp hdr.txt h429.txt; fi
	done &&
	emu_curl -d "{\"rate\":0}" "$EMU_URL/_admin/faults" >/dev/null &&
	[ $n429 -ge 4 ] &&
	jq -e ".Message | startswith(\"ErrorCode:ThrottlingException;\")" t429.json &&
	tr -d "\\r" <h429.txt | grep -qi "^retry-after: [0-9]" &&
	tr -d "\\r" <h429.txt | grep -qi "^iothub-errorcode: ThrottlingException" &&
	emu_curl "$EMU_URL/_admin/stats" | jq -e ".by_kind[\"iothub.twin\"] >= 6" &&
	test "$(hub GET "/twins/d1?$V")" = 200
'

hub GET "/twins/d1?$V" >/dev/null && cp out.json before.json
kill "$EMU_PID" && wait "$EMU_PID" 2>/dev/null
emu_start --tls --cert "$TEST_DIR/cert.pem" --key "$TEST_DIR/key.pem" \
	--db "$TEST_DIR/emu.db" --iothub myhub --iothub-key-file "$TEST_DIR/iothub.key"
test_expect_success '--db keeps devices, twins and versions across a restart' '
	jq -e ".version >= 7" before.json &&
	test "$(hub GET "/twins/d1?$V")" = 200 && test_cmp before.json out.json &&
	test "$(hub PATCH "/twins/d1?$V" "{\"tags\":{\"after\":1}}")" = 200 &&
	jq -e ".version == $(jq .version before.json) + 1 and .etag != \"$(jq -r .etag before.json)\"" out.json
'

test_done
