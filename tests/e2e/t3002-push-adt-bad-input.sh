#!/usr/bin/env bash
# push-adt on bad input: every line gets one result, bad ones go whole to
# the dead-letter file with a reason, good ones are applied, exit 1.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-adt.sh"

padt_start || exit 1
M='"$metadata":{"$model":"dtmi:t:Room;1"}'

test_expect_success 'bad lines are dead-lettered with their reason, good ones applied' '
	{
		echo "{\"\$dtId\":\"good1\",$M}"
		echo "[1,2]"
		echo "\"a string\""
		echo "{\"\$dtId\": tru"
		echo "{\"name\":\"no id\"}"
		echo "{\"\$dtId\":\"r\",\"\$relationshipId\":\"x\",\"\$relationshipName\":\"contains\"}"
		echo "{\"\$dtId\":\"r\",\"\$targetId\":\"good1\",\"\$relationshipName\":\"contains\"}"
		echo "{\"\$dtId\":\"r\",\"\$relationshipId\":\"x\",\"\$targetId\":\"good1\"}"
		echo "{\"\$dtId\":\"good1\",\"\$op\":\"merge\"}"
		echo "{\"\$dtId\":\"good1\",\"\$op\":7}"
		echo "{\"\$dtId\":\"good1\",\"\$op\":\"patch\"}"
		echo "{\"\$dtId\":\"good1\",\"\$op\":\"patch\",\"\$patch\":{}}"
		echo
		echo "{\"\$dtId\":\"good2\",$M,\"_meta\":{\"z\":1}}"
	} >in &&
	test_expect_code 1 padt --dead-letter dlq <in >out 2>err &&
	test_lines 13 out && test_lines 11 dlq &&
	jq -r ".error.code // \"ok\"" out | sort >codes &&
	printf "%s\n" bad_patch bad_patch invalid_json missing_id missing_id \
		missing_relationship_name missing_target not_an_object not_an_object \
		unknown_op unknown_op | sort >expect0 &&
	grep -v "^ok$" codes >got && sort expect0 >expect && test_cmp expect got &&
	jq -se "map(select(.ok)) | map(.id) | sort == [\"good1\",\"good2\"]" out &&
	jq -se ".[] | select(.error.code == \"invalid_json\") | .record == null and .raw == \"{\\\"\$dtId\\\": tru\"" dlq &&
	jq -se ".[] | select(.error.code == \"not_an_object\") | .record" -c dlq >recs && test_grep "1,2" recs &&
	jq -se ".[] | select(.error.code == \"unknown_op\" and .record[\"\$op\"] == \"merge\") | .error.line == 9" dlq &&
	test_grep "<stdin>:2: record is not a JSON object" err &&
	test_grep "summary: in=13 ok=2 failed=11" err &&
	adt_twin good2 | jq -e ".\"\$dtId\" == \"good2\""
'
test_expect_success 'the dead letters re-drive as they are' '
	jq -c "select(.record != null) | .record" dlq >redrive &&
	test_expect_code 1 padt <redrive >out2 2>/dev/null &&
	test "$(wc -l <out2)" = "$(wc -l <redrive)"
'
test_expect_success 'over-long lines are cut and dead-lettered' '
	{ echo "{\"\$dtId\":\"long\",$M,\"name\":\"$(head -c 3000 /dev/zero | tr "\0" x)\"}"; echo "{\"\$dtId\":\"short\",$M}"; } >in &&
	test_expect_code 1 padt --max-line 1k --dead-letter dlq3 <in >out 2>err &&
	jq -se ".[0].error.code == \"line_too_long\" and .[1].ok" out &&
	jq -se ".[0].error.truncated == true" dlq3
'
test_expect_success 'a body over 32 KB is a record error' '
	echo "{\"\$dtId\":\"big\",$M,\"name\":\"$(head -c 40000 /dev/zero | tr "\0" x)\"}" >in &&
	test_expect_code 1 padt <in >out 2>err &&
	jq -e ".error.code == \"too_large\"" out
'
test_expect_success 'no input: no output, exit 0' '
	padt </dev/null >out 2>err && test_lines 0 out && test_grep "in=0" err
'
test_done
