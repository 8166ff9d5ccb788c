#!/usr/bin/env bash
# twin-emulator's ADT Import Jobs (/jobs/imports), against Azurite: a job
# that loads twins and relationships, per-entity errors in the output log
# (lineNumber, ids, code), job_fail_after, cancel, delete, JobLimitReached
# with --import-rate, list paging, a missing input blob, no Storage
# account configured, and --create-rate on the REST path.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-azurite.sh"

test_require python3 "the log checks" || { test_done; exit 1; }
test_require jq "the job bodies" || { test_done; exit 1; }
az_begin || { test_done; exit 1; }
export TMPDIR=$TEST_DIR XDG_STATE_HOME=$TEST_DIR/state
V="api-version=2023-10-31"
C=imp

# logsum FILE: one line per log line: "I [section] status" or
# "E section lineNumber dtId relId code"; checks the common fields.
cat >logsum.py <<'EOF'
import json, re, sys
for raw in open(sys.argv[1]):
    o = json.loads(raw)
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$", o["timestamp"]), raw
    assert o["jobType"] == "Import" and o["jobId"] == sys.argv[2], raw
    d = o["details"]
    if o["logType"] == "Info":
        print("I", d.get("section", "-"), d["status"])
    else:
        assert o["logType"] == "Error" and d["message"], raw
        print("E", d["section"], d["lineNumber"], d.get("$dtId", "-"),
              d.get("$relationshipId", "-"), d["code"])
EOF
sas=$(az_sas $C racwdl)
up() {	# up NAME FILE: upload a block blob
	curl -sf -X PUT -H "x-ms-blob-type: BlockBlob" --data-binary @"$2" "$AZ_URL/$C/$1?$sas" >/dev/null
}
get() { curl -sf "$AZ_URL/$C/$1?$sas"; }
jput() {	# jput ID IN OUT: PUT the job; body in job.json, prints the status
	jq -nc --arg i "$AZ_URL/$C/$2" --arg o "$AZ_URL/$C/$3" '{inputBlobUri:$i,outputBlobUri:$o}' |
		curl -s -o job.json -w "%{http_code}" -X PUT -d @- "$EMU_URL/jobs/imports/$1?$V"
}
jstatus() { curl -s "$EMU_URL/jobs/imports/$1?$V" | jq -r .status; }
jwait() {	# jwait ID STATUS: poll until the job has STATUS (60 s)
	test_wait_for 60 "test \"\$(jstatus $1)\" = $2"
}
model='[{"@id":"dtmi:t:R;1","@type":"Interface","contents":[{"@type":"Property","name":"n","schema":"integer"},{"@type":"Relationship","name":"has"}]}]'
twins() {	# twins FROM TO: twin lines tFROM..tTO
	local i
	for i in $(seq "$1" "$2"); do
		printf '{"$dtId": "t%s", "$metadata": {"$model": "dtmi:t:R;1"}, "n": %s}\n' "$i" "$i"
	done
}

# the container, made by archive (curl with a container SAS cannot)
printf '{"a":1}\n' | AZURE_STORAGE_CONNECTION_STRING=$AZ_CS archive --blob $C/seed --no-pass 2>archive.err >/dev/null
TWIN_EMULATOR_STORAGE_CONNECTION_STRING=$AZ_CS emu_start --no-auth --page-size 2

test_expect_success 'a job loads twins and relationships' '
	curl -sf -d "$model" "$EMU_URL/models?$V" >/dev/null &&
	{ echo "{\"Section\": \"Header\"}" &&
	  echo "{\"fileVersion\": \"1.0.0\", \"author\": \"t\", \"organization\": \"o\"}" &&
	  echo "{\"Section\": \"Twins\"}" && twins 1 3 &&
	  echo "{\"Section\": \"Relationships\"}" &&
	  echo "{\"\$dtId\": \"t1\", \"\$relationshipId\": \"r1\", \"\$targetId\": \"t2\", \"\$relationshipName\": \"has\"}" &&
	  echo "{\"\$dtId\": \"t2\", \"\$relationshipId\": \"r2\", \"\$targetId\": \"t3\", \"\$relationshipName\": \"has\"}"; } >in1 &&
	up in1.ndjson in1 &&
	test "$(jput j1 in1.ndjson out1.ndjson)" = 201 &&
	jq -e ".id == \"j1\" and .status == \"notstarted\" and (.createdDateTime | test(\"^[0-9-]{10}T[0-9:]{8}\\\\.[0-9]{7}\\\\+00:00$\")) and .purgeDateTime and .lastActionDateTime" job.json &&
	jwait j1 succeeded &&
	curl -s "$EMU_URL/jobs/imports/j1?$V" | jq -e ".finishedDateTime and (.error == null)" &&
	curl -sf "$EMU_URL/digitaltwins/t3?$V" | jq -e ".n == 3 and .\"\$metadata\".\"\$model\" == \"dtmi:t:R;1\" and .\"\$etag\"" &&
	curl -sf "$EMU_URL/digitaltwins/t1/relationships/r1?$V" | jq -e ".\"\$targetId\" == \"t2\"" &&
	curl -sf "$EMU_URL/digitaltwins/t3/incomingrelationships?$V" | jq -e ".value[0].\"\$sourceId\" == \"t2\"" &&
	get out1.ndjson >log1 && python3 logsum.py log1 j1 >sum &&
	printf "%s\n" "I - Started" "I Twins Started" "I Twins Succeeded" \
		"I Relationships Started" "I Relationships Succeeded" "I - Succeeded" >expect &&
	test_cmp expect sum
'

test_expect_success 'partial failures: one error line each, the rest loaded, the job succeeds' '
	curl -sf -X PUT -d "{\"\$metadata\":{\"\$model\":\"dtmi:t:R;1\"},\"n\":100}" "$EMU_URL/digitaltwins/t10?$V" >/dev/null &&
	{ echo "{\"Section\": \"Header\"}" &&
	  echo "{\"fileVersion\": \"1.0.0\", \"author\": \"t\", \"organization\": \"o\"}" &&
	  echo "{\"Section\": \"Twins\"}" &&
	  twins 10 11 &&
	  echo "{\"\$dtId\": \"t12\", \"\$metadata\": {\"\$model\": \"dtmi:t:Nope;1\"}}" &&
	  echo "this is not JSON" &&
	  echo "{\"\$dtId\": \"t13\", \"\$metadata\": {\"\$model\": \"dtmi:t:R;1\"}, \"n\": \"x\"}" &&
	  twins 14 14 &&
	  echo "{\"Section\": \"Relationships\"}" &&
	  echo "{\"\$dtId\": \"t11\", \"\$relationshipId\": \"r1\", \"\$targetId\": \"ghost\", \"\$relationshipName\": \"has\"}" &&
	  echo "{\"\$dtId\": \"t11\", \"\$relationshipId\": \"r2\", \"\$targetId\": \"t14\", \"\$relationshipName\": \"has\"}" &&
	  echo "{\"\$dtId\": \"t1\", \"\$relationshipId\": \"r1\", \"\$targetId\": \"t2\", \"\$relationshipName\": \"has\"}" &&
	  echo "{\"\$dtId\": \"t11\", \"\$targetId\": \"t14\"}"; } >in2 &&
	up in2.ndjson in2 &&
	test "$(jput j2 in2.ndjson out2.ndjson)" = 201 &&
	jwait j2 succeeded &&
	get out2.ndjson >log2 && python3 logsum.py log2 j2 >sum &&
	printf "%s\n" "I - Started" "I Twins Started" \
		"E Twins 4 t10 - TwinAlreadyExists" \
		"E Twins 6 t12 - ModelNotFound" \
		"E Twins 7 - - InvalidArgument" \
		"E Twins 8 t13 - ValidationFailed" \
		"I Twins Succeeded" "I Relationships Started" \
		"E Relationships 11 t11 r1 DigitalTwinNotFound" \
		"E Relationships 13 t1 r1 RelationshipAlreadyExists" \
		"E Relationships 14 t11 - InvalidArgument" \
		"I Relationships Succeeded" "I - Succeeded" >expect &&
	test_cmp expect sum &&
	curl -sfI "$AZ_URL/$C/out2.ndjson?$sas" >head2 &&
	grep -qi "^x-ms-blob-type: AppendBlob" head2 &&
	blocks=$(sed -n "s/^x-ms-blob-committed-block-count: *\([0-9]*\).*/\1/ip" head2) &&
	test "$blocks" -ge 1 && test "$blocks" -le 5 &&
	curl -sf "$EMU_URL/digitaltwins/t10?$V" | jq -e ".n == 100" &&
	curl -sf "$EMU_URL/digitaltwins/t14?$V" | jq -e ".n == 14" &&
	curl -sf "$EMU_URL/digitaltwins/t11/relationships/r2?$V" | jq -e ".\"\$targetId\" == \"t14\"" &&
	test "$(curl -s -o /dev/null -w "%{http_code}" "$EMU_URL/digitaltwins/t12?$V")" = 404 &&
	test "$(curl -s -o /dev/null -w "%{http_code}" "$EMU_URL/digitaltwins/t11/relationships/r1?$V")" = 404
'

test_expect_success 'a Models section is uploaded through the models code' '
	{ echo "{\"Section\": \"Header\"}" &&
	  echo "{\"fileVersion\": \"1.0.0\", \"author\": \"t\", \"organization\": \"o\"}" &&
	  echo "{\"Section\": \"Models\"}" &&
	  echo "{\"@id\": \"dtmi:t:M;1\", \"@type\": \"Interface\", \"contents\": [{\"@type\": \"Property\", \"name\": \"m\", \"schema\": \"string\"}]}" &&
	  echo "{\"Section\": \"Twins\"}" &&
	  echo "{\"\$dtId\": \"m1\", \"\$metadata\": {\"\$model\": \"dtmi:t:M;1\"}, \"m\": \"x\"}"; } >in3 &&
	up in3.ndjson in3 &&
	test "$(jput j3 in3.ndjson out3.ndjson)" = 201 &&
	jwait j3 succeeded &&
	curl -sf "$EMU_URL/models/dtmi:t:M;1?$V" | jq -e ".id == \"dtmi:t:M;1\"" &&
	curl -sf "$EMU_URL/digitaltwins/m1?$V" | jq -e ".m == \"x\"" &&
	get out3.ndjson >log3 && python3 logsum.py log3 j3 >sum &&
	printf "%s\n" "I - Started" "I Models Started" "I Models Succeeded" \
		"I Twins Started" "I Twins Succeeded" "I - Succeeded" >expect &&
	test_cmp expect sum
'

test_expect_success 'job_fail_after: the job fails, the cut section never succeeds' '
	curl -sf -d "{\"job_fail_after\":3}" "$EMU_URL/_admin/faults" | jq -e ".job_fail_after == 3" &&
	{ echo "{\"Section\": \"Header\"}" && echo "{\"fileVersion\": \"1.0.0\"}" &&
	  echo "{\"Section\": \"Twins\"}" && twins 20 29; } >in4 &&
	up in4.ndjson in4 &&
	test "$(jput j4 in4.ndjson out4.ndjson)" = 201 &&
	jwait j4 failed &&
	curl -s "$EMU_URL/jobs/imports/j4?$V" >j4.json &&
	jq -e ".error.code == \"InternalServerError\" and (.error.message | length > 0) and .finishedDateTime" j4.json &&
	get out4.ndjson >log4 && python3 logsum.py log4 j4 >sum &&
	printf "%s\n" "I - Started" "I Twins Started" "I - Failed" >expect &&
	test_cmp expect sum &&
	curl -sf "$EMU_URL/digitaltwins/t22?$V" >/dev/null &&
	test "$(curl -s -o /dev/null -w "%{http_code}" "$EMU_URL/digitaltwins/t23?$V")" = 404 &&
	curl -sf -d "{\"job_fail_after\":0}" "$EMU_URL/_admin/faults" | jq -e ".job_fail_after == 0"
'

test_expect_success 'a missing input blob: the job fails naming the blob' '
	test "$(jput j5 nope.ndjson out5.ndjson)" = 201 &&
	jwait j5 failed &&
	curl -s "$EMU_URL/jobs/imports/j5?$V" |
		jq -e ".error.code == \"InputBlobNotFound\" and (.error.message | contains(\"nope.ndjson\"))"
'

test_expect_success 'PUT errors: id taken, bad bodies, a blob outside the account' '
	test "$(jput j1 in1.ndjson x.ndjson)" = 400 &&
	jq -e ".error.code == \"ValidationFailed\"" job.json &&
	code=$(curl -s -o e.json -w "%{http_code}" -X PUT -d "{\"inputBlobUri\":\"\"}" "$EMU_URL/jobs/imports/jx?$V") &&
	test "$code" = 400 && jq -e ".error.code == \"ValidationFailed\"" e.json &&
	code=$(curl -s -o e.json -w "%{http_code}" -X PUT -d "nope" "$EMU_URL/jobs/imports/jx?$V") &&
	test "$code" = 400 && jq -e ".error.code == \"ValidationFailed\"" e.json &&
	code=$(curl -s -o e.json -w "%{http_code}" -X PUT -d "{\"inputBlobUri\":\"https://other.blob.core.windows.net/c/i\",\"outputBlobUri\":\"$AZ_URL/$C/o\"}" "$EMU_URL/jobs/imports/jx?$V") &&
	test "$code" = 400 && jq -e ".error.code == \"ValidationFailed\"" e.json &&
	code=$(curl -s -o e.json -w "%{http_code}" "$EMU_URL/jobs/imports/jx?$V") &&
	test "$code" = 404 && jq -e ".error.code == \"JobNotFound\"" e.json &&
	code=$(curl -s -o e.json -w "%{http_code}" -X PUT -d "{}" "$EMU_URL/jobs/imports/jx") &&
	test "$code" = 400 && jq -e ".error.code == \"MissingApiVersionParameter\"" e.json
'

test_expect_success 'list with paging (max-items-per-page and --page-size), nextLink' '
	curl -sf -H "max-items-per-page: 3" "$EMU_URL/jobs/imports?$V" >p1.json &&
	jq -e "(.value | length) == 3 and (.nextLink | type) == \"string\"" p1.json &&
	curl -sf -H "max-items-per-page: 3" "$(jq -r .nextLink p1.json)" >p2.json &&
	jq -e "(.value | length) == 2 and .nextLink == null" p2.json &&
	jq -s "[.[].value[].id]" p1.json p2.json | jq -e ". == [\"j1\",\"j2\",\"j3\",\"j4\",\"j5\"]" &&
	curl -sf "$EMU_URL/jobs/imports?$V" | jq -e "(.value | length) == 2 and .nextLink"
'

test_expect_success 'DELETE: 204, then 404' '
	test "$(curl -s -o /dev/null -w "%{http_code}" -X DELETE "$EMU_URL/jobs/imports/j5?$V")" = 204 &&
	code=$(curl -s -o e.json -w "%{http_code}" "$EMU_URL/jobs/imports/j5?$V") &&
	test "$code" = 404 && jq -e ".error.code == \"JobNotFound\"" e.json &&
	test "$(curl -s -o /dev/null -w "%{http_code}" -X DELETE "$EMU_URL/jobs/imports/j5?$V")" = 404
'

test_expect_success 'the counters count the job requests' '
	curl -sf "$EMU_URL/_admin/stats" | jq -e ".by_kind.\"adt.job\" >= 10"
'

kill "$EMU_PID" 2>/dev/null; wait "$EMU_PID" 2>/dev/null
TWIN_EMULATOR_STORAGE_CONNECTION_STRING=$AZ_CS emu_start --no-auth --import-rate 10
{ echo '{"Section": "Header"}' && echo '{"fileVersion": "1.0.0"}' &&
  echo '{"Section": "Twins"}' && twins 100 399; } >slow

test_expect_success 'JobLimitReached while a job runs (--import-rate), then cancel' '
	curl -sf -d "$model" "$EMU_URL/models?$V" >/dev/null &&
	up slow.ndjson slow &&
	test "$(jput s1 slow.ndjson outs1.ndjson)" = 201 &&
	jwait s1 running &&
	test "$(jput s2 slow.ndjson outs2.ndjson)" = 400 &&
	jq -e ".error.code == \"JobLimitReached\"" job.json &&
	test_wait_for 60 "curl -sf \"$EMU_URL/digitaltwins/t101?$V\" >/dev/null" &&
	code=$(curl -s -o c.json -w "%{http_code}" -X POST "$EMU_URL/jobs/imports/s1/cancel?$V") &&
	test "$code" = 200 && jq -e ".status == \"cancelling\" or .status == \"cancelled\"" c.json &&
	jwait s1 cancelled &&
	get outs1.ndjson >logs1 && python3 logsum.py logs1 s1 >sum &&
	printf "%s\n" "I - Started" "I Twins Started" "I - Cancelled" >expect &&
	test_cmp expect sum &&
	test "$(curl -s -o /dev/null -w "%{http_code}" "$EMU_URL/digitaltwins/t399?$V")" = 404
'

test_expect_success 'DELETE of a running job cancels it; a new job may start' '
	test "$(jput s3 slow.ndjson outs3.ndjson)" = 201 &&
	jwait s3 running &&
	test "$(curl -s -o /dev/null -w "%{http_code}" -X DELETE "$EMU_URL/jobs/imports/s3?$V")" = 204 &&
	test "$(curl -s -o /dev/null -w "%{http_code}" "$EMU_URL/jobs/imports/s3?$V")" = 404 &&
	test_wait_for 60 "test \"\$(jput s4 in1.ndjson outs4.ndjson)\" = 201" &&
	jwait s4 succeeded
'

kill "$EMU_PID" 2>/dev/null; wait "$EMU_PID" 2>/dev/null
emu_start --no-auth --create-rate 2

test_expect_success 'no Storage account: PUT answers 400 ValidationFailed saying so' '
	test "$(jput n1 in1.ndjson outn1.ndjson)" = 400 &&
	jq -e ".error.code == \"ValidationFailed\" and (.error.message | contains(\"Storage\"))" job.json
'

test_expect_success '--create-rate: 429 with Retry-After above the rate' '
	curl -sf -d "$model" "$EMU_URL/models?$V" >/dev/null &&
	urls=$(for i in $(seq 1 40); do printf -- "-o /dev/null %s " "$EMU_URL/digitaltwins/c$i?$V"; done) &&
	curl -s -D hdrs -w "%{http_code}\n" -X PUT \
		-d "{\"\$metadata\":{\"\$model\":\"dtmi:t:R;1\"}}" $urls >codes &&
	test_lines 40 codes &&
	grep -q "^200$" codes && grep -q "^429$" codes &&
	grep -qi "^retry-after: *[0-9]" hdrs &&
	curl -sf "$EMU_URL/_admin/faults" | jq -e ".create_rate == 2" &&
	curl -sf -d "{\"create_rate\":0}" "$EMU_URL/_admin/faults" >/dev/null &&
	test "$(curl -s -o /dev/null -w "%{http_code}" -X PUT -d "{\"\$metadata\":{\"\$model\":\"dtmi:t:R;1\"}}" "$EMU_URL/digitaltwins/c99?$V")" = 200
'

kill "$EMU_PID" 2>/dev/null; wait "$EMU_PID" 2>/dev/null
TWIN_EMULATOR_STORAGE_CONNECTION_STRING=$AZ_CS emu_start
test_expect_success 'the job routes need a token like the other ADT routes' '
	code=$(curl -s -o e.json -w "%{http_code}" "$EMU_URL/jobs/imports?$V") &&
	test "$code" = 401 && jq -e ".error.code == \"Unauthorized\"" e.json &&
	test "$(jput a1 in1.ndjson outa1.ndjson)" = 401
'
kill "$EMU_PID" 2>/dev/null; wait "$EMU_PID" 2>/dev/null
test_expect_success 'the emulators stopped cleanly (no sanitizer report)' '
	! grep -l -e "Sanitizer" -e "runtime error" "$TEST_DIR"/emu*.err
'
test_done
