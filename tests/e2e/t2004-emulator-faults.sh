#!/usr/bin/env bash
# twin-emulator fault injection: 5xx share, rate limits (429 with
# Retry-After / x-ms-retry-after-ms), per-twin limit, latency, dropped
# connections, seeded determinism, the admin endpoints and the counters.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

codes() {	# codes N URL: the status codes of N GETs, one a line
	local i
	for i in $(seq 1 "$1"); do
		curl -s -o /dev/null -w "%{http_code}\n" "$2" || true
	done
}

emu_start --no-auth --error-rate 1 --seed 7
test_expect_success '--error-rate 1: every data-plane answer is 500 or 503' '
	codes 10 "$EMU_URL/dbs" >c && ! grep -v -e "^500$" -e "^503$" c &&
	test "$(sort -u c | wc -l)" = 2 &&
	curl -s "$EMU_URL/digitaltwins/x?api-version=2023-10-31" | jq -e ".error.code | test(\"InternalServerError|ServiceUnavailable\")"
'
test_expect_success 'the admin endpoint changes faults at run time' '
	curl -s -d "{\"error_rate\":0}" "$EMU_URL/_admin/faults" | jq -e ".error_rate == 0" &&
	codes 3 "$EMU_URL/dbs" >c && test "$(sort -u c)" = 200 &&
	code=$(curl -s -o e.json -w "%{http_code}" -d "{\"error_rate\":\"x\"}" "$EMU_URL/_admin/faults") &&
	test "$code" = 400 &&
	code=$(curl -s -o e.json -w "%{http_code}" -d "{\"nope\":1}" "$EMU_URL/_admin/faults") &&
	test "$code" = 400 && test_grep nope e.json &&
	code=$(curl -s -o e.json -w "%{http_code}" -d "[" "$EMU_URL/_admin/faults") && test "$code" = 400
'
test_expect_success 'counters: requests by method, kind and status; DELETE resets' '
	curl -s "$EMU_URL/_admin/stats" >s.json &&
	jq -e ".by_request[\"GET cosmos.db 500\"] + .by_request[\"GET cosmos.db 503\"] == 10" s.json &&
	jq -e ".by_request[\"GET cosmos.db 200\"] == 3 and .by_kind[\"adt.twin\"] == 1" s.json &&
	curl -s -X DELETE "$EMU_URL/_admin/stats" &&
	curl -s "$EMU_URL/_admin/stats" | jq -e ".total == 0"
'
test_expect_success 'request-rate limit: Cosmos 429 with x-ms-retry-after-ms' '
	curl -s -d "{\"rate\":0.2}" "$EMU_URL/_admin/faults" >/dev/null &&
	t0=$(date +%s.%N) &&
	for i in $(seq 1 10); do curl -s -D h$i -o b$i "$EMU_URL/dbs"; done &&
	t1=$(date +%s.%N) &&
	# at most the burst (1) and 0.2/s of the time taken get through, however
	# slowly a busy machine sent them (all ten would take 45s)
	nok=$(grep -L "^HTTP/1.1 429" h* | wc -l) && n429=$((10 - nok)) &&
	echo "$nok of 10 through in $(echo "$t1 - $t0" | bc)s" &&
	test "$(echo "$nok <= 1 + 0.2 * ($t1 - $t0) + 1" | bc)" = 1 && test "$nok" -ge 1 && test "$n429" -ge 1 &&
	f=$(grep -l "^HTTP/1.1 429" h* | head -n 1) &&
	grep -qi "^x-ms-retry-after-ms: [1-9]" "$f" && grep -qi "^x-ms-substatus: 3200" "$f"
'
test_expect_success 'request-rate limit: ADT 429 with Retry-After' '
	for i in $(seq 1 10); do curl -s -D a$i -o /dev/null "$EMU_URL/models?api-version=2023-10-31"; done &&
	f=$(grep -l "^HTTP/1.1 429" a* | head -n 1) && test -n "$f" &&
	grep -qi "^Retry-After: [1-9]" "$f" &&
	curl -s -d "{\"rate\":0}" "$EMU_URL/_admin/faults" >/dev/null
'
test_expect_success 'per-twin limit (ADT): the 3rd write in a second to one twin is 429' '
	curl -s -d "[{\"@id\":\"dtmi:t:A;1\",\"@type\":\"Interface\",\"contents\":[]}]" "$EMU_URL/models?api-version=2023-10-31" >/dev/null &&
	curl -s -d "{\"twin_rate\":2}" "$EMU_URL/_admin/faults" >/dev/null &&
	for i in 1 2 3; do
		curl -s -o /dev/null -w "%{http_code}\n" -X PUT -d "{\"\$metadata\":{\"\$model\":\"dtmi:t:A;1\"}}" "$EMU_URL/digitaltwins/t1?api-version=2023-10-31"
	done >c &&
	curl -s -o /dev/null -w "%{http_code}\n" -X PUT -d "{\"\$metadata\":{\"\$model\":\"dtmi:t:A;1\"}}" "$EMU_URL/digitaltwins/t2?api-version=2023-10-31" >>c &&
	printf "200\n200\n429\n200\n" >expect && test_cmp expect c &&
	curl -s -d "{\"twin_rate\":0}" "$EMU_URL/_admin/faults" >/dev/null
'
test_expect_success 'Cosmos RU budget per logical partition: 429 once it is spent' '
	curl -s -d "{\"id\":\"db\"}" "$EMU_URL/dbs" >/dev/null &&
	curl -s -d "{\"id\":\"c\",\"partitionKey\":{\"paths\":[\"/pk\"]}}" "$EMU_URL/dbs/db/colls" >/dev/null &&
	curl -s -d "{\"partition_ru\":12}" "$EMU_URL/_admin/faults" | jq -e ".partition_ru == 12" &&
	for i in 1 2 3 4; do
		curl -s -o /dev/null -w "%{http_code}\n" -H "x-ms-documentdb-partitionkey: [\"hot\"]" \
			-H "x-ms-documentdb-is-upsert: true" -d "{\"id\":\"d$i\",\"pk\":\"hot\"}" "$EMU_URL/dbs/db/colls/c/docs"
	done >c &&
	curl -s -o /dev/null -w "%{http_code}\n" -H "x-ms-documentdb-partitionkey: [\"cold\"]" \
		-d "{\"id\":\"d1\",\"pk\":\"cold\"}" "$EMU_URL/dbs/db/colls/c/docs" >>c &&
	printf "201\n201\n201\n429\n201\n" >expect && test_cmp expect c &&
	curl -s -d "{\"partition_ru\":0}" "$EMU_URL/_admin/faults" >/dev/null
'
test_expect_success 'latency is added (fixed + jitter)' '
	curl -s -d "{\"latency_ms\":300,\"jitter_ms\":100}" "$EMU_URL/_admin/faults" >/dev/null &&
	t=$(curl -s -o /dev/null -w "%{time_total}" "$EMU_URL/dbs") &&
	awk -v t="$t" "BEGIN { exit !(t >= 0.3 && t < 2) }" &&
	curl -s -d "{\"latency_ms\":0,\"jitter_ms\":0}" "$EMU_URL/_admin/faults" >/dev/null
'
test_expect_success 'dropped connections: the client sees no answer' '
	curl -s -d "{\"drop_rate\":1}" "$EMU_URL/_admin/faults" >/dev/null &&
	test_expect_code 52 curl -s "$EMU_URL/dbs" &&
	curl -s -d "{\"drop_rate\":0}" "$EMU_URL/_admin/faults" >/dev/null &&
	curl -s "$EMU_URL/_admin/stats" | jq -e ".by_status[\"0\"] == 1"
'
kill "$EMU_PID"; wait "$EMU_PID" 2>/dev/null

emu_start --no-auth --error-rate 0.5 --seed 42
url1=$EMU_URL
emu_start --no-auth --error-rate 0.5 --seed 42
test_expect_success '--seed makes the random faults repeatable' '
	codes 20 "$url1/dbs" >s1 && codes 20 "$EMU_URL/dbs" >s2 &&
	test_cmp s1 s2 && grep -q 200 s1 && grep -q "^50" s1
'
test_done
