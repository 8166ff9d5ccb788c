#!/usr/bin/env bash
# push-adt keeps operations on one twin in input order under concurrency,
# merges waiting patches, spaces writes to one twin (ADT: 10/s), makes
# relationships wait for their twins created in the same run and retries
# a relationship whose twin comes later in the input.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-adt.sh"

padt_start || exit 1
M='"$metadata":{"$model":"dtmi:t:Room;1"}'

test_expect_success 'operations on one twin apply in input order (concurrency 16)' '
	for i in $(seq 1 60); do
		echo "{\"\$dtId\":\"o1\",$M,\"n\":$i,\"_meta\":{\"i\":$i}}"
		echo "{\"\$dtId\":\"o2\",$M,\"n\":$i,\"_meta\":{\"i\":$i}}"
		echo "{\"\$dtId\":\"x$i\",$M,\"n\":$i}"
	done >in &&
	padt --twin-rate 0 --concurrency 16 <in >out &&
	test_lines 180 out &&
	test "$(jq -s "map(select(.ok)) | length" out)" = 180 &&
	jq -s -e "[.[] | select(.id == \"o1\") | ._meta.i] == [range(1;61)]" out &&
	jq -s -e "[.[] | select(.id == \"o2\") | ._meta.i] == [range(1;61)]" out &&
	test "$(adt_twin o1 | jq .n)" = 60 && test "$(adt_twin o2 | jq .n)" = 60
'
test_expect_success 'waiting patches to one twin are merged into one request' '
	echo "{\"\$dtId\":\"p\",$M,\"n\":0}" >in &&
	for i in $(seq 1 40); do
		echo "{\"\$dtId\":\"p\",\"\$op\":\"patch\",\"\$patch\":[{\"op\":\"add\",\"path\":\"/n\",\"value\":$i}],\"_meta\":{\"i\":$i}}"
	done >>in &&
	emu_curl -X DELETE "$EMU_URL/_admin/stats" &&
	padt --twin-rate 0 <in >out 2>err &&
	test_lines 41 out && test "$(jq -s "map(select(.ok)) | length" out)" = 41 &&
	test "$(adt_twin p | jq .n)" = 40 &&
	merged=$(sed -n "s/.* merged=\([0-9]*\).*/\1/p" err) && test "$merged" -ge 30 &&
	emu_curl "$EMU_URL/_admin/stats" | jq -e "[.by_request | to_entries[] | select(.key | startswith(\"PATCH adt.twin\")) | .value] | add <= 10"
'
test_expect_success 'a bad patch among merged ones fails alone' '
	echo "{\"\$dtId\":\"q\",$M,\"n\":0}" >in &&
	for i in 1 2 3 4 5 6; do
		if [ $i = 4 ]; then op="{\"op\":\"add\",\"path\":\"/undeclared\",\"value\":\"x\"}"
		else op="{\"op\":\"add\",\"path\":\"/n\",\"value\":$i}"; fi
		echo "{\"\$dtId\":\"q\",\"\$op\":\"patch\",\"\$patch\":[$op],\"_meta\":{\"i\":$i}}"
	done >>in &&
	# 100 ms a request: the patches are read while the upsert is in
	# flight (under ASan they were not always, and none were merged)
	emu_curl -d "{\"latency_ms\":100}" "$EMU_URL/_admin/faults" >/dev/null &&
	rc=0; padt --twin-rate 0 --dead-letter dlq-m <in >out 2>err || rc=$?
	emu_curl -d "{\"latency_ms\":0}" "$EMU_URL/_admin/faults" >/dev/null &&
	test $rc = 1 &&
	test_grep "merged=[1-9]" err &&
	jq -se "map(select(.ok | not) | ._meta.i) == [4]" out &&
	test_lines 1 dlq-m && jq -e ".error.status == 400 and .record._meta.i == 4" dlq-m &&
	jq -se "[.[] | select(._meta.i) | ._meta.i] == [1,2,3,4,5,6]" out &&
	test "$(adt_twin q | jq .n)" = 6
'
test_expect_success 'writes to one twin are spaced (--twin-rate 10 against an emulator limit of 10/s)' '
	emu_curl -d "{\"twin_rate\":10}" "$EMU_URL/_admin/faults" >/dev/null &&
	for i in $(seq 1 25); do echo "{\"\$dtId\":\"hot\",$M,\"n\":$i}"; done >in &&
	start=$(date +%s%N) && padt --twin-rate 10 <in >out 2>err && end=$(date +%s%N) &&
	emu_curl -d "{\"twin_rate\":0}" "$EMU_URL/_admin/faults" >/dev/null &&
	test "$(jq -s "map(select(.ok)) | length" out)" = 25 &&
	test_grep "throttled=0 " err &&
	test $(( (end - start) / 1000000 )) -ge 2000 &&
	test "$(adt_twin hot | jq .n)" = 25
'
test_expect_success 'creates and deletes share the instance budget (--create-rate 20; the emulator allows 60 requests/s)' '
	emu_curl -d "{\"rate\":60}" "$EMU_URL/_admin/faults" >/dev/null &&
	for i in $(seq 1 30); do echo "{\"\$dtId\":\"cr$i\",$M,\"n\":$i}"; done >in &&
	for i in $(seq 1 10); do echo "{\"\$dtId\":\"cr$i\",\"\$op\":\"delete\"}"; done >>in &&
	start=$(date +%s%N) && padt --twin-rate 0 --rate 0 --create-rate 20 <in >out 2>err && end=$(date +%s%N) &&
	emu_curl -d "{\"rate\":0}" "$EMU_URL/_admin/faults" >/dev/null &&
	test "$(jq -s "map(select(.ok)) | length" out)" = 40 &&
	test_grep "throttled=0 " err &&
	test $(( (end - start) / 1000000 )) -ge 1500
'
test_expect_success 'relationships wait for twins created earlier in the run' '
	for i in $(seq 0 40); do echo "{\"\$dtId\":\"c$i\",$M}"; done >in &&
	for i in $(seq 1 40); do
		echo "{\"\$dtId\":\"c$((i - 1))\",\"\$relationshipId\":\"n$i\",\"\$targetId\":\"c$i\",\"\$relationshipName\":\"contains\"}"
	done >>in &&
	padt --twin-rate 0 --concurrency 32 <in >out &&
	test "$(jq -s "map(select(.ok)) | length" out)" = 81 &&
	jq -s -e "[.[] | select(.source) | .attempts] | all(. == 1)"  out
'
test_expect_success 'a relationship before its twins in the input is retried after them' '
	printf "%s\n" "{\"\$dtId\":\"late-a\",\"\$relationshipId\":\"early\",\"\$targetId\":\"late-b\",\"\$relationshipName\":\"contains\",\"w\":3}" \
		"{\"\$dtId\":\"late-a\",$M}" "{\"\$dtId\":\"late-b\",$M}" >in &&
	padt <in >out &&
	jq -se ".[] | select(.id == \"early\") | .ok and .status == 200 and .attempts == 2" out &&
	adt GET /digitaltwins/late-a/relationships/early | jq -e ".w == 3"
'
test_expect_success 'a relationship to a twin that never comes is reported after the retry' '
	printf "%s\n" "{\"\$dtId\":\"late-a\",\"\$relationshipId\":\"ghostly\",\"\$targetId\":\"ghost\",\"\$relationshipName\":\"contains\"}" \
		"{\"\$dtId\":\"ghost-src\",\"\$relationshipId\":\"g2\",\"\$targetId\":\"late-a\",\"\$relationshipName\":\"contains\"}" >in &&
	test_expect_code 1 padt --dead-letter dlq <in >out 2>err &&
	jq -se ".[] | select(.id == \"ghostly\") | (.ok | not) and .status == 404 and .attempts == 2 and .error.code == \"TargetDigitalTwinNotFound\"" out &&
	jq -se ".[] | select(.id == \"g2\") | .error.code == \"DigitalTwinNotFound\"" out &&
	test_lines 2 dlq && jq -se "map(.record[\"\$relationshipId\"]) | sort == [\"g2\",\"ghostly\"]" dlq
'
test_expect_success 'a stream that pauses retries put-aside relationships then' '
	{ echo "{\"\$dtId\":\"late-a\",\"\$relationshipId\":\"paused\",\"\$targetId\":\"not-yet\",\"\$relationshipName\":\"contains\"}"
	  sleep 4; echo "{\"\$dtId\":\"not-yet\",$M}"; } |
		test_expect_code 1 padt >out 2>err &&
	jq -se ".[0].id == \"paused\" and .[0].status == 404 and .[0].attempts == 2 and .[1].ok" out
'
test_expect_success 'a delete waits for relationship operations on the twin read before it' '
	printf "%s\n" "{\"\$dtId\":\"d1\",$M}" "{\"\$dtId\":\"d2\",$M}" \
		"{\"\$dtId\":\"d1\",\"\$relationshipId\":\"d1d2\",\"\$targetId\":\"d2\",\"\$relationshipName\":\"contains\"}" \
		"{\"\$dtId\":\"d2\",\"\$op\":\"delete\"}" >in &&
	padt --twin-rate 0 <in >out &&
	test "$(jq -s "map(select(.ok)) | length" out)" = 4 &&
	adt_twin d2 | jq -e ".error.code == \"DigitalTwinNotFound\"" &&
	adt GET /digitaltwins/d1/relationships | jq -e ".value == []"
'
test_done
