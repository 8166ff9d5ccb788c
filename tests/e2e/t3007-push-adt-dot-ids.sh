#!/usr/bin/env bash
# push-adt with ids "." and ".." (dot segments), empty ids and ids with
# NUL: each is refused per record (bad_id, dead-lettered), none reaches
# ADT as a request on another resource (libcurl would resolve
# /digitaltwins/victim/relationships/.. to /digitaltwins/victim/), and the
# good records of the same input are applied.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-adt.sh"

padt_start || exit 1
M='"$metadata":{"$model":"dtmi:t:Room;1"}'
R='"$relationshipName":"contains"'

test_expect_success 'set up: twin victim with a relationship to t2' '
	printf "%s\n" "{\"\$dtId\":\"victim\",$M,\"name\":\"V\"}" \
		"{\"\$dtId\":\"t2\",$M}" \
		"{\"\$dtId\":\"victim\",\"\$relationshipId\":\"r1\",\"\$targetId\":\"t2\",$R}" |
		padt >out &&
	test "$(jq -s "map(select(.ok)) | length" out)" = 3 &&
	adt GET /digitaltwins/victim/relationships/r1 | jq -e ".\"\$targetId\" == \"t2\""
'

test_expect_success 'dot-segment ids are bad_id records; the good ones are applied' '
	{
		echo "{\"\$dtId\":\"victim\",\"\$relationshipId\":\"..\",\"\$op\":\"delete\"}"
		echo "{\"\$dtId\":\"victim\",\"\$relationshipId\":\".\",\"\$op\":\"delete\"}"
		echo "{\"\$dtId\":\"..\",\"\$op\":\"delete\"}"
		echo "{\"\$dtId\":\".\",\"\$op\":\"delete\"}"
		echo "{\"\$dtId\":\"..\",$M,\"name\":\"root\"}"
		echo "{\"\$dtId\":\".\",\"\$op\":\"replace\",$M}"
		echo "{\"\$dtId\":\"victim\",\"\$relationshipId\":\"..\",\"\$targetId\":\"t2\",$R}"
		echo "{\"\$dtId\":\"victim\",\"\$relationshipId\":\"r9\",\"\$targetId\":\"..\",$R}"
		echo "{\"\$dtId\":\"victim\",\"\$relationshipId\":\"r8\",\"\$targetId\":\".\",$R}"
		echo "{\"\$dtId\":\"victim\",\"\$relationshipId\":\"\",\"\$op\":\"delete\"}"
		echo "{\"\$dtId\":\"victim\",\"\$relationshipId\":\"r1\",\"\$targetId\":\"\",$R}"
		echo "{\"\$dtId\":\"..\",\"\$op\":\"patch\",\"\$patch\":[{\"op\":\"add\",\"path\":\"/n\",\"value\":1}]}"
		echo "{\"\$dtId\":\"victim\\u0000x\",\"\$op\":\"delete\"}"
		echo "{\"\$dtId\":\"good1\",$M}"
		echo "{\"\$dtId\":\"...\",$M}"
		echo "{\"\$dtId\":\"%2E%2E\",$M}"
		echo "{\"\$dtId\":\"a.b\",$M}"
		echo "{\"\$dtId\":\"victim\",\"\$relationshipId\":\"r3\",\"\$targetId\":\"t2\",$R}"
	} >in &&
	test_expect_code 1 padt --dead-letter dlq <in >out 2>err &&
	test_lines 18 out && test_lines 13 dlq &&
	test "$(jq -s "map(select(.ok | not) | .error.code) | unique" -c out)" = "[\"bad_id\"]" &&
	test "$(jq -s "map(select(.ok | not)) | length" out)" = 13 &&
	test "$(jq -s "map(select(.error.code == \"bad_id\")) | length" dlq)" = 13 &&
	jq -se "map(select(.ok) | .id) | sort == [\"%2E%2E\",\"...\",\"a.b\",\"good1\",\"r3\"]" out &&
	jq -se ".[0].record[\"\$relationshipId\"] == \"..\" and (.[0].error.message | test(\"relationshipId\"))" dlq &&
	jq -se "map(select(.error.message | test(\"NUL\"))) | length == 1" dlq &&
	test_grep "dot segment" err &&
	test_grep "summary: in=18 ok=5 failed=13" err
'

test_expect_success 'victim and its relationship still exist, nothing else changed' '
	adt_twin victim | jq -e ".\"\$dtId\" == \"victim\" and .name == \"V\"" &&
	adt GET /digitaltwins/victim/relationships/r1 | jq -e ".\"\$targetId\" == \"t2\"" &&
	adt GET /digitaltwins/victim/relationships/r3 | jq -e ".\"\$targetId\" == \"t2\"" &&
	adt_twin t2 | jq -e ".\"\$dtId\" == \"t2\"" &&
	test "$(adt_count)" = 6
'

test_expect_success 'ids with dots that are not dot segments reach ADT as they are' '
	adt_twin "..." | jq -e ".\"\$dtId\" == \"...\"" &&
	adt_twin "%2E%2E" | jq -e ".\"\$dtId\" == \"%2E%2E\"" &&
	adt_twin "a.b" | jq -e ".\"\$dtId\" == \"a.b\""
'

test_expect_success 'the dry run refuses them too: no request shown, the reason on stderr' '
	echo "{\"\$dtId\":\"victim\",\"\$relationshipId\":\"..\",\"\$op\":\"delete\"}" >in2 &&
	test_expect_code 1 padt --dry-run <in2 >out2 2>err2 &&
	test_lines 0 out2 &&
	test_grep "relationshipId .\.\.. is a dot segment" err2 &&
	test_grep "invalid.bad_id=1" err2
'
test_done
