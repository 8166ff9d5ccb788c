#!/usr/bin/env bash
# extract-lob iothub: against twin-emulator's IoT Hub: every device twin
# (and module twin) through the twin query, paged with x-ms-continuation,
# SAS from a key file, the environment or a connection string, Entra ID
# tokens for https://iothubs.azure.net, 429s waited out, --rate, --where,
# snapshot-complete with the read's start, and (from a fake hub) bad twins
# to the dead letters and a page that is not JSON.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
test_require python3 "the fake hub is a python3 http.server" || { test_done; exit 1; }

KEY=$(head -c 32 /dev/urandom | base64)
printf '%s\n' "$KEY" >"$TEST_DIR/iothub.key"
HUB=myhub.azure-devices.net
V="api-version=2021-04-12"
sas() {	# sas SR EXPIRY: a SharedAccessSignature for resource SR
	local sr se=$2 hex sig
	sr=$(jq -rn --arg s "$1" '$s|@uri')
	hex=$(printf '%s' "$KEY" | base64 -d | od -An -v -tx1 | tr -d ' \n')
	sig=$(printf '%s\n%s' "$sr" "$se" |
		openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hex" -binary | base64)
	printf 'SharedAccessSignature sr=%s&sig=%s&se=%s&skn=iothubowner' "$sr" \
		"$(jq -rn --arg s "$sig" '$s|@uri')" "$se"
}
AUTH=$(sas "$HUB" $(($(date +%s) + 3600)))
hub() {	# hub METHOD PATH [BODY]: status on stdout
	emu_curl -o out.json -w "%{http_code}" -X "$1" -H "Authorization: $AUTH" \
		-H "Content-Type: application/json" ${3:+-d "$3"} "$EMU_URL$2"
}
unset IOTHUB_KEY IOTHUB_CONNECTION_STRING IOTHUB_POLICY AZURE_TENANT_ID \
	AZURE_CLIENT_ID AZURE_CLIENT_SECRET 2>/dev/null || true
emu_start --iothub myhub --iothub-key-file "$TEST_DIR/iothub.key" || exit 1
x() { extract-lob --run-id r1 --iothub-key-file "$TEST_DIR/iothub.key" "$@"; }
twins() { jq -r 'select(.deviceId) | [.deviceId, (.moduleId // "-"), .version] | join(" ")' "$@"; }

test_expect_success 'a hub of 7 devices, 2 modules and a few twin changes' '
	for i in 1 2 3 4 5 6 7; do test "$(hub PUT "/devices/dev$i?$V" "{}")" = 200; done &&
	test "$(hub PUT "/devices/dev1/modules/m1?$V" "{\"moduleId\":\"m1\"}")" = 200 &&
	test "$(hub PUT "/devices/dev2/modules/m2?$V" "{\"moduleId\":\"m2\"}")" = 200 &&
	test "$(hub PATCH "/twins/dev3?$V" "{\"tags\":{\"site\":\"oslo\"}}")" = 200 &&
	test "$(hub PATCH "/twins/dev3?$V" "{\"properties\":{\"desired\":{\"t\":21}}}")" = 200 &&
	test "$(hub PATCH "/twins/dev5?$V" "{\"tags\":{\"site\":\"bergen\"}}")" = 200
'

test_expect_success 'SAS from a key file: every twin, 2 a page, snapshot-complete last' '
	x --page-size 2 iothub:"$EMU_URL" >out 2>err &&
	twins out >got &&
	printf "%s\n" "dev1 - 1" "dev2 - 1" "dev3 - 3" "dev4 - 1" "dev5 - 2" "dev6 - 1" "dev7 - 1" >want &&
	test_cmp want got &&
	test_grep "requests=4 " err && test_grep "in=7 out=7 failed=0" err &&
	jq -s -e ".[6]._meta.src | .page == 4 and .twin == 7 and .run == \"r1\" and (.read | test(\"^[0-9-]{10}T[0-9:]{8}\\\\.0000000Z$\"))" out &&
	tail -n 1 out | jq -e "._meta.control == \"snapshot-complete\" and ._meta.records == 7 and (._meta.started | test(\"Z$\"))" &&
	jq -s -e ".[0] | .etag and .properties.desired[\"\$version\"] == 1 and .status == \"enabled\"" out &&
	jq -s -e "map(select(.deviceId == \"dev3\"))[0] | .tags.site == \"oslo\" and .properties.desired.t == 21" out
'

test_expect_success 'the read start is not later than the first page: the hub'"'"'s time less 1 s' '
	jq -r "select(._meta.control) | ._meta.started" out >started &&
	jq -r "select(.deviceId) | ._meta.src.read" out | sort | head -n 1 >first &&
	test_cmp started first &&
	s=$(date -u -d "$(cut -c1-19 started)Z" +%s) && now=$(date +%s) &&
	[ "$s" -le "$now" ] && [ "$s" -ge $((now - 120)) ]
'

test_expect_success '--modules: the module twins after the device twins; --where' '
	x --modules --page-size 3 iothub:"$EMU_URL" >out &&
	twins out | tail -n 2 >got && printf "%s\n" "dev1 m1 1" "dev2 m2 1" >want && test_cmp want got &&
	tail -n 1 out | jq -e "._meta.records == 9" &&
	x --where "tags.site = '"'"'oslo'"'"'" iothub:"$EMU_URL" >out &&
	twins out >got && echo "dev3 - 3" >want && test_cmp want got
'

test_expect_success 'SAS from IOTHUB_KEY and from a connection string (file and environment)' '
	IOTHUB_KEY=$KEY extract-lob iothub:"$EMU_URL" >out && test "$(twins out | wc -l)" = 7 &&
	echo "HostName=$HUB;SharedAccessKeyName=iothubowner;SharedAccessKey=$KEY" >cs &&
	extract-lob --connection-string-file cs iothub:"$EMU_URL" >out 2>err && test "$(twins out | wc -l)" = 7 &&
	IOTHUB_CONNECTION_STRING=$(cat cs) extract-lob -v iothub:"$EMU_URL" >out 2>err &&
	test "$(twins out | wc -l)" = 7 && ! grep -F "$KEY" err
'

test_expect_success 'a wrong key or policy: exit 3, authentication failed, no secret logged' '
	other=$(head -c 32 /dev/urandom | base64) &&
	test_expect_code 3 env IOTHUB_KEY=$other extract-lob -v iothub:"$EMU_URL" >out 2>err &&
	test_grep "authentication failed" err && test_lines 0 out && ! grep -F "$other" err &&
	test_expect_code 3 env IOTHUB_KEY=$KEY extract-lob --policy service iothub:"$EMU_URL" >out 2>err &&
	test_grep "no shared access policy" err &&
	test_expect_code 3 env IOTHUB_KEY="not base64!" extract-lob iothub:"$EMU_URL" 2>err &&
	test_grep "not base64" err
'

test_expect_success 'Entra ID: a token for https://iothubs.azure.net from the chain' '
	AZURE_TENANT_ID=t1 AZURE_CLIENT_ID=app AZURE_CLIENT_SECRET=s AZURE_AUTHORITY_HOST=$EMU_URL \
		extract-lob iothub:"$EMU_URL" >out 2>err &&
	test "$(twins out | wc -l)" = 7 &&
	test_expect_code 3 env AZURE_AUTHORITY_HOST=http://127.0.0.1:1 TWINPIPE_IMDS_ENDPOINT=http://127.0.0.1:1 \
		PATH=/nonexistent:$PATH extract-lob iothub:"$EMU_URL" >out 2>err &&
	test_grep "no token" err && test_lines 0 out
'

test_expect_success 'throttled (429 with Retry-After): waited out, the read stays complete' '
	emu_curl -d "{\"rate\":2}" "$EMU_URL/_admin/faults" >/dev/null &&
	x --page-size 1 iothub:"$EMU_URL" >out 2>err; rc=$?
	emu_curl -d "{\"rate\":0}" "$EMU_URL/_admin/faults" >/dev/null &&
	test $rc = 0 && test "$(twins out | wc -l)" = 7 &&
	grep -o "throttled=[0-9]*" err | cut -d= -f2 >n && [ "$(cat n)" -ge 1 ] &&
	tail -n 1 out | jq -e "._meta.control == \"snapshot-complete\""
'

test_expect_success '--rate spaces the pages; --max-pages: no snapshot announced' '
	t0=$(date +%s%N) && x --rate 4 --page-size 1 iothub:"$EMU_URL" >out && t1=$(date +%s%N) &&
	[ $(( (t1 - t0) / 1000000 )) -ge 1400 ] &&
	x --page-size 2 --max-pages 2 iothub:"$EMU_URL" >out 2>err &&
	test "$(twins out | wc -l)" = 4 && ! grep -q snapshot-complete out && test_grep "max-pages" err
'

test_expect_success 'usage: a source without a host and no connection string' '
	test_expect_code 3 x iothub: 2>err && test_grep "needs a host name" err
'

test_bg python3 "$TP_TOP/tests/tools/iothub-fake.py" "$TEST_DIR/port" >/dev/null 2>&1
test_expect_success 'the fake hub is up' 'test_wait_for 60 "test -s $TEST_DIR/port"'
F=http://127.0.0.1:$(cat "$TEST_DIR/port" 2>/dev/null)

test_expect_success 'bad twins go to the dead letters (exit 1), no snapshot' '
	test_expect_code 1 env IOTHUB_KEY=$KEY extract-lob --dead-letter dlq --where "bad" iothub:"$F" >out 2>err &&
	jq -r .deviceId out >got && printf "%s\n" a b >want && test_cmp want got &&
	test_lines 3 dlq && jq -s -e "map(.error.code) == [\"bad_twin\",\"bad_twin\",\"bad_twin\"]" dlq &&
	jq -s -e ".[0].record == 7 and .[1].record == {\"version\":2} and .[2].record.deviceId == \"c\"" dlq &&
	test_grep "twin 5 has no moduleId string" err &&
	test_grep "twin 2 is not a JSON object" err && test_grep "twin 3 has no deviceId" err &&
	test_grep "no complete snapshot" err && ! grep -q snapshot-complete out
'

test_expect_success 'a page that is not JSON is fatal (exit 3)' '
	test_expect_code 3 env IOTHUB_KEY=$KEY extract-lob --where garbage iothub:"$F" >out 2>err &&
	test_grep "not JSON" err && test_lines 0 out
'

test_expect_success '--help and the man page name the iothub options' '
	extract-lob --help >h &&
	for o in connection-string-file iothub-key-file modules policy where; do
		grep -q -e "--$o" h && grep -q -e "$o" "$TP_TOP/man/extract-lob.1" || exit 1
	done
'
kill "$EMU_PID"
test_done
