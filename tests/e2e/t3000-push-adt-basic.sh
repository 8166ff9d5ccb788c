#!/usr/bin/env bash
# push-adt against twin-emulator over TLS: every operation on twins and
# relationships, upserts that keep other writers' properties, reserved
# keys, _meta carried, special-character ids, dry run, usage errors.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-adt.sh"

padt_start || exit 1

test_expect_success 'usage errors exit 2 before any request' '
	test_expect_code 2 push-adt </dev/null 2>err && test_grep "endpoint" err &&
	test_expect_code 2 padt --concurrency 0 </dev/null 2>err &&
	test_expect_code 2 padt --nope </dev/null 2>err && test_grep "push-adt --help" err &&
	test_expect_code 2 padt --dead-letter /nonexistent/d.ndjson </dev/null 2>err
'
test_expect_success 'upsert creates a twin (PUT If-None-Match) and carries _meta' '
	echo "{\"\$dtId\":\"a\",\"\$metadata\":{\"\$model\":\"dtmi:t:Room;1\"},\"temp\":20,\"name\":\"A\",\"_meta\":{\"src\":7},\"\$op\":\"upsert\",\"\$version\":3}" >in &&
	padt <in >out &&
	jq -se ".[] | select(.ok and .op == \"upsert\" and .id == \"a\" and .status == 200 and .attempts == 1 and ._meta.src == 7)" out &&
	adt_twin a >t.json &&
	jq -e ".temp == 20 and .name == \"A\" and (has(\"\$op\") or has(\"\$version\") or has(\"_meta\") | not)" t.json
'
test_expect_success 'upsert of an existing twin patches only what it carries' '
	adt PATCH /digitaltwins/a "[{\"op\":\"add\",\"path\":\"/other\",\"value\":\"by-someone-else\"}]" &&
	echo "{\"\$dtId\":\"a\",\"\$metadata\":{\"\$model\":\"dtmi:t:Room;1\"},\"temp\":21}" | padt >out &&
	jq -se ".[] | select(.ok and .status == 204 and .attempts == 2)" out &&
	adt_twin a >t.json &&
	jq -e ".temp == 21 and .name == \"A\" and .other == \"by-someone-else\"" t.json
'
test_expect_success 'upsert without $model patches an existing twin, fails on a missing one' '
	printf "%s\n" "{\"\$dtId\":\"a\",\"n\":5}" "{\"\$dtId\":\"nobody\",\"n\":5}" |
		test_expect_code 1 padt --dead-letter dlq >out 2>err &&
	jq -se ".[] | select(.id == \"a\") | .ok" out &&
	jq -se ".[] | select(.id == \"nobody\") | (.ok | not) and .status == 404 and .error.code == \"DigitalTwinNotFound\"" out &&
	jq -e ".record[\"\$dtId\"] == \"nobody\" and (.error.message | test(\"model\"))" dlq &&
	test "$(adt_twin a | jq .n)" = 5
'
test_expect_success 'replace PUTs the whole twin (other properties go)' '
	echo "{\"\$dtId\":\"a\",\"\$op\":\"replace\",\"\$metadata\":{\"\$model\":\"dtmi:t:Room;1\"},\"temp\":1}" | padt >out &&
	jq -se ".[] | select(.ok and .op == \"replace\" and .status == 200)" out &&
	adt_twin a | jq -e ".temp == 1 and (has(\"name\") | not) and (has(\"other\") | not)"
'
test_expect_success 'patch applies $patch; a bad patch is a record error' '
	printf "%s\n" "{\"\$dtId\":\"a\",\"\$op\":\"patch\",\"\$patch\":[{\"op\":\"add\",\"path\":\"/name\",\"value\":\"P\"}]}" \
		"{\"\$dtId\":\"a\",\"\$op\":\"patch\",\"\$patch\":[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/b\"}]}" \
		"{\"\$dtId\":\"a\",\"\$op\":\"patch\",\"\$patch\":[{\"op\":\"replace\",\"path\":\"/other\",\"value\":\"x\"}]}" \
		"{\"\$dtId\":\"a\",\"\$op\":\"patch\",\"\$patch\":[{\"op\":\"add\",\"path\":\"/undeclared\",\"value\":1}]}" |
		test_expect_code 1 padt --dead-letter dlq2 >out 2>err &&
	test_lines 4 out &&
	test "$(jq -s "map(select(.ok)) | length" out)" = 2 &&
	jq -se ".[] | select(.error.code == \"bad_patch\")" out &&
	jq -se ".[] | select(.ok == false and .status == 400 and .id == \"a\" and .error.code != \"bad_patch\")" out &&
	adt_twin a | jq -e ".other == \"x\"" &&
	test_lines 2 dlq2 && adt_twin a | jq -e ".name == \"P\""
'
test_expect_success 'relationships: create, replace, patch, delete' '
	printf "%s\n" "{\"\$dtId\":\"b\",\"\$metadata\":{\"\$model\":\"dtmi:t:Room;1\"}}" \
		"{\"\$dtId\":\"a\",\"\$relationshipId\":\"r1\",\"\$targetId\":\"b\",\"\$relationshipName\":\"contains\",\"w\":1,\"_meta\":{\"k\":1}}" \
		"{\"\$dtId\":\"a\",\"\$relationshipId\":\"r2\",\"\$targetId\":\"b\",\"\$relationshipName\":\"contains\",\"\$op\":\"replace\"}" \
		"{\"\$dtId\":\"a\",\"\$relationshipId\":\"r1\",\"\$op\":\"patch\",\"\$patch\":[{\"op\":\"replace\",\"path\":\"/w\",\"value\":2}]}" \
		"{\"\$dtId\":\"a\",\"\$relationshipId\":\"r2\",\"\$op\":\"delete\"}" |
		padt >out &&
	test "$(jq -s "map(select(.ok)) | length" out)" = 5 &&
	jq -se ".[] | select(.id == \"r1\" and .op == \"upsert\") | .source == \"a\" and ._meta.k == 1" out &&
	adt GET /digitaltwins/a/relationships/r1 | jq -e ".w == 2 and .\"\$targetId\" == \"b\"" &&
	adt GET /digitaltwins/a/relationships/r2 | jq -e ".error.code == \"RelationshipNotFound\""
'
test_expect_success 'delete removes outgoing and incoming relationships first' '
	printf "%s\n" "{\"\$dtId\":\"c\",\"\$metadata\":{\"\$model\":\"dtmi:t:Room;1\"}}" \
		"{\"\$dtId\":\"c\",\"\$relationshipId\":\"c-a\",\"\$targetId\":\"a\",\"\$relationshipName\":\"contains\"}" \
		"{\"\$dtId\":\"b\",\"\$relationshipId\":\"b-a\",\"\$targetId\":\"a\",\"\$relationshipName\":\"contains\"}" |
		padt >out &&
	adt GET /digitaltwins/a/incomingrelationships | jq -e ".value | length == 2" &&
	echo "{\"\$dtId\":\"a\",\"\$op\":\"delete\"}" | padt >out &&
	jq -se ".[] | select(.ok and .op == \"delete\" and .status == 204)" out &&
	adt_twin a | jq -e ".error.code == \"DigitalTwinNotFound\"" &&
	adt GET /digitaltwins/c/relationships | jq -e ".value == []" &&
	adt GET /digitaltwins/b/relationships | jq -e ".value == []" &&
	echo "{\"\$dtId\":\"a\",\"\$op\":\"delete\"}" | padt >out &&
	jq -se ".[] | select(.ok and .status == 404)" out
'
test_expect_success 'special-character ids are percent-encoded' '
	for id in "a/b" "q?x" "h#1" "p%20c" "sp ace" "ünï-数" "x+y&z=1"; do
		jq -nc --arg id "$id" "{\"\$dtId\":\$id,\"\$metadata\":{\"\$model\":\"dtmi:t:Room;1\"},name:\$id}"
	done >in &&
	jq -nc "{\"\$dtId\":\"a/b\",\"\$relationshipId\":\"r/1?#\",\"\$targetId\":\"sp ace\",\"\$relationshipName\":\"contains\"}" >>in &&
	padt <in >out &&
	test "$(jq -s "map(select(.ok)) | length" out)" = 8 &&
	for id in "a/b" "q?x" "h#1" "p%20c" "sp ace" "ünï-数" "x+y&z=1"; do
		adt_twin "$id" | jq -e --arg id "$id" ".\"\$dtId\" == \$id and .name == \$id" >/dev/null || exit 1
	done &&
	adt GET "/digitaltwins/$(adt_enc "a/b")/relationships/$(adt_enc "r/1?#")" | jq -e ".\"\$targetId\" == \"sp ace\""
'
test_expect_success 'an id ADT cannot take is a record error, not a request' '
	printf "%s\n" "{\"\$dtId\":\"\"}" "{\"\$dtId\":\"tab\\there\"}" "{\"\$dtId\":\" lead\"}" "{\"\$dtId\":5}" |
		test_expect_code 1 padt >out 2>err &&
	test "$(jq -s "map(select(.error.code == \"bad_id\")) | length" out)" = 4
'
test_expect_success 'numbers keep their text; reserved keys never reach the twin' '
	echo "{\"\$dtId\":\"num\",\"\$metadata\":{\"\$model\":\"dtmi:t:Room;1\"},\"n\":12345678901234567,\"\$patch\":[],\"_meta\":{}}" >in &&
	padt --dry-run <in >req && grep -q "\"n\":12345678901234567" req &&
	padt <in >out && adt_twin num >t.json &&
	jq -e "(has(\"\$patch\") or has(\"_meta\")) | not" t.json
'
test_expect_success '--dry-run prints the requests and sends none' '
	emu_curl -X DELETE "$EMU_URL/_admin/stats" &&
	printf "%s\n" "{\"\$dtId\":\"dry 1\",\"\$metadata\":{\"\$model\":\"dtmi:t:Room;1\"},\"temp\":3}" \
		"{\"\$dtId\":\"dry 1\",\"\$op\":\"delete\"}" | padt --dry-run >out &&
	jq -se ".[] | select(.method == \"PUT\") | .headers[\"If-None-Match\"] == \"*\" and (.url | test(\"/digitaltwins/dry%201[?]api-version=2023-10-31\$\"))" out &&
	jq -se ".[] | select(.method == \"PATCH\") | .body == [{\"op\":\"add\",\"path\":\"/temp\",\"value\":3}]" out &&
	test "$(jq -s "map(select(.method == \"DELETE\")) | length" out)" = 3 &&
	emu_curl "$EMU_URL/_admin/stats" | jq -e "[.by_kind | to_entries[] | select(.key | startswith(\"adt\")) | .value] | add == null" &&
	push-adt --dry-run </dev/null
'
test_expect_success 'the summary counts operations, statuses and requests' '
	echo "{\"\$dtId\":\"s1\",\"\$metadata\":{\"\$model\":\"dtmi:t:Room;1\"}}" | padt >out 2>err &&
	test_grep "summary: in=1 ok=1 failed=0" err &&
	test_grep "requests=1 " err && test_grep "twin.upsert.200=1" err
'
test_expect_success 'control records pass through untouched, after the results before them' '
	{ for i in 1 2 3; do echo "{\"\$dtId\":\"ctl$i\",\"\$metadata\":{\"\$model\":\"dtmi:t:Room;1\"},\"n\":$i}"; done
	  echo "{\"_meta\":{\"control\":\"snapshot-complete\",\"records\":3}}"; } >in &&
	padt --twin-rate 0 <in >out 2>err &&
	test_lines 4 out && tail -1 out >got && tail -1 in >expect && test_cmp expect got &&
	test "$(head -3 out | jq -s "map(select(.ok)) | length")" = 3 &&
	test_grep "in=3 ok=3 failed=0 merged=0 control=1" err
'
test_expect_success 'a replayed patch is idempotent (remove already applied, replace of a missing property)' '
	echo "{\"\$dtId\":\"h1\",\"\$metadata\":{\"\$model\":\"dtmi:t:Room;1\"},\"temp\":1,\"name\":\"x\"}" | padt >/dev/null &&
	echo "{\"\$dtId\":\"h1\",\"\$op\":\"patch\",\"\$patch\":[{\"op\":\"remove\",\"path\":\"/name\"},{\"op\":\"replace\",\"path\":\"/temp\",\"value\":2}]}" >p &&
	padt <p >out1 && padt <p >out2 2>err2 &&
	jq -e .ok out1 && jq -e .ok out2 &&
	test "$(adt_twin h1 | jq -c "{temp, name}")" = "{\"temp\":2,\"name\":null}" &&
	echo "{\"\$dtId\":\"h1\",\"\$op\":\"patch\",\"\$patch\":[{\"op\":\"replace\",\"path\":\"/other\",\"value\":\"o\"}]}" | padt >out3 &&
	jq -e .ok out3 && test "$(adt_twin h1 | jq -r .other)" = o &&
	echo "{\"\$dtId\":\"h1\",\"\$op\":\"patch\",\"\$patch\":[{\"op\":\"add\",\"path\":\"/nope\",\"value\":1}]}" |
		test_expect_code 1 padt >out4 2>err4 &&
	jq -e ".ok == false and .status == 400" out4
'
test_done
