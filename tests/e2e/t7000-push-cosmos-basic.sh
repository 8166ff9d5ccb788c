#!/usr/bin/env bash
# push-cosmos against twin-emulator: usage errors, merge semantics on nested
# reported/desired properties with nulls, out-of-order and replayed events,
# deletes with and without tombstones, more than 10 changed leaves, guarded
# patches, special-character and non-ASCII ids, connection strings, input
# errors dead-lettered.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-cosmos.sh"

pcos_start || exit 1

test_expect_success 'usage errors exit 2 before any request' '
	test_expect_code 2 push-cosmos -d db --container c </dev/null 2>err &&
	test_grep "endpoint" err &&
	test_expect_code 2 push-cosmos --endpoint "$EMU_URL" </dev/null 2>err &&
	test_grep "database" err &&
	test_expect_code 2 pcos --concurrency 0 </dev/null 2>err &&
	test_expect_code 2 pcos --partition-key-path deviceId </dev/null 2>err &&
	test_expect_code 2 pcos --nope </dev/null 2>err && test_grep "push-cosmos --help" err &&
	test_expect_code 2 pcos --dead-letter /nonexistent/d.ndjson </dev/null 2>err
'
test_expect_success '--create-container creates database and container; again is fine' '
	pcos --create-container </dev/null 2>err && pcos --create-container </dev/null 2>err &&
	test_grep "summary: in=0" err
'
test_expect_success 'merge: nested reported/desired, null removes, siblings kept, _meta carried' '
	cat >in <<-\EOT &&
	{"$op":"merge","id":"d1","deviceId":"d1","$version":1,"properties":{"reported":{"a":1,"b":{"c":2,"e":5},"f":[1,2]},"desired":{"t":20}}}
	{"$op":"merge","id":"d1","deviceId":"d1","$version":2,"properties":{"reported":{"a":null,"b":{"c":null,"d":4},"f":[3]}},"_meta":{"src":{"p":0,"o":9}}}
	{"$op":"merge","id":"d1","deviceId":"d1","$version":3,"properties":{"desired":{"t":null,"u":{"x":1}}}}
	EOT
	pcos <in >out &&
	test_lines 3 out &&
	jq -se "all(.[]; .ok and .op == \"merge\" and .id == \"d1\") and .[1]._meta.src.o == 9 and .[0].status == 201" out &&
	cos_doc d1 >doc &&
	jq -e "del(._lv) == {\"id\":\"d1\",\"deviceId\":\"d1\",\"properties\":{\"reported\":{\"b\":{\"e\":5,\"d\":4},\"f\":[3]},\"desired\":{\"u\":{\"x\":1}}},\"_v\":3}" doc
'
test_expect_success 'out-of-order and replayed events (1,3,2,3) end as 1,2,3 would' '
	for v in 1 3 2 3 2; do
		echo "{\"\$op\":\"merge\",\"id\":\"o1\",\"deviceId\":\"o1\",\"\$version\":$v,\"properties\":{\"reported\":{\"v$v\":$v,\"last\":$v}}}"
	done >in &&
	pcos <in >out 2>err &&
	jq -se "[.[] | .stale // false] == [false,false,false,true,true] and all(.[]; .ok)" out &&
	test_grep "stale=2" err &&
	cos_doc o1 >doc &&
	jq -e ".properties.reported == {\"v1\":1,\"last\":3,\"v3\":3,\"v2\":2} and ._v == 3" doc &&
	jq -e "._lv == {\"/properties/reported/v1\":1,\"/properties/reported/v2\":2,\"/properties/reported/v3\":3,\"/properties/reported/last\":3}" doc
'
test_expect_success 'upsert replaces the whole document, guarded by $version' '
	printf "%s\n" "{\"id\":\"u1\",\"deviceId\":\"u1\",\"\$version\":5,\"a\":1,\"b\":2}" \
		"{\"\$op\":\"upsert\",\"id\":\"u1\",\"deviceId\":\"u1\",\"\$version\":6,\"a\":3}" \
		"{\"\$op\":\"upsert\",\"id\":\"u1\",\"deviceId\":\"u1\",\"\$version\":4,\"a\":9}" \
		"{\"id\":\"u2\",\"deviceId\":\"u2\",\"z\":1}" | pcos >out &&
	jq -se "[.[] | select(.id == \"u1\") | .stale // false] == [false,false,true] and all(.[]; .ok)" out &&
	cos_doc_is u1 ". == {\"id\":\"u1\",\"deviceId\":\"u1\",\"a\":3,\"_v\":6}" &&
	cos_doc_is u2 ". == {\"id\":\"u2\",\"deviceId\":\"u2\",\"z\":1}"
'
test_expect_success 'delete then a late update: the default recreates, --tombstones does not' '
	printf "%s\n" "{\"\$op\":\"merge\",\"id\":\"x1\",\"deviceId\":\"x1\",\"\$version\":1,\"a\":1}" \
		"{\"\$op\":\"delete\",\"id\":\"x1\",\"deviceId\":\"x1\",\"\$version\":5}" >del &&
	echo "{\"\$op\":\"merge\",\"id\":\"x1\",\"deviceId\":\"x1\",\"\$version\":4,\"a\":4}" >late &&
	pcos <del >out && test -z "$(cos_doc x1)" &&
	pcos <late >out && cos_doc_is x1 ".a == 4" &&
	sed "s/x1/x2/g" del | pcos --tombstones >out &&
	cos_doc_is x2 ". == {\"id\":\"x2\",\"deviceId\":\"x2\",\"_v\":5,\"_deleted\":true}" &&
	sed "s/x1/x2/g" late | pcos --tombstones >out &&
	jq -e ".ok and .stale" out &&
	cos_doc_is x2 "._deleted and ._v == 5" &&
	echo "{\"\$op\":\"merge\",\"id\":\"x2\",\"deviceId\":\"x2\",\"\$version\":6,\"b\":6}" | pcos --tombstones >out &&
	cos_doc_is x2 ". == {\"id\":\"x2\",\"deviceId\":\"x2\",\"b\":6,\"_v\":6,\"_lv\":{\"\":5,\"/b\":6}}" &&
	echo "{\"\$op\":\"delete\",\"id\":\"nobody\",\"deviceId\":\"nobody\"}" | pcos >out &&
	jq -e ".ok and .status == 404" out
'
test_expect_success 'an event with more than 10 changed leaves is applied atomically' '
	jq -nc "{\"\$op\":\"merge\",id:\"big\",deviceId:\"big\",\"\$version\":1,properties:{reported:([range(0;25)|{key:\"k\(.)\",value:.}]|from_entries)}}" >in &&
	jq -nc "{\"\$op\":\"merge\",id:\"big\",deviceId:\"big\",\"\$version\":2,properties:{reported:([range(0;25)|{key:\"k\(.)\",value:(if . % 2 == 0 then null else {n:.} end)}]|from_entries)}}" >>in &&
	pcos <in >out &&
	cos_doc_is big ".properties.reported | (keys | length) == 12 and .k1 == {n:1} and (has(\"k0\") | not)"
'
test_expect_success 'patch: explicit Cosmos operations guarded by $version; bad patches are record errors' '
	printf "%s\n" "{\"\$op\":\"patch\",\"id\":\"u1\",\"deviceId\":\"u1\",\"\$version\":7,\"\$patch\":[{\"op\":\"incr\",\"path\":\"/a\",\"value\":2},{\"op\":\"add\",\"path\":\"/tags\",\"value\":[\"x\"]}]}" \
		"{\"\$op\":\"patch\",\"id\":\"u1\",\"deviceId\":\"u1\",\"\$version\":7,\"\$patch\":[{\"op\":\"incr\",\"path\":\"/a\",\"value\":100}]}" \
		"{\"\$op\":\"patch\",\"id\":\"u1\",\"deviceId\":\"u1\",\"\$patch\":[]}" \
		"{\"\$op\":\"patch\",\"id\":\"nope\",\"deviceId\":\"nope\",\"\$patch\":[{\"op\":\"set\",\"path\":\"/a\",\"value\":1}]}" |
		test_expect_code 1 pcos --dead-letter dlq >out 2>err &&
	jq -se "(map(select(.ok)) | length) == 2 and (map(select(.stale)) | length) == 1 and any(.[]; .error.code == \"bad_patch\") and any(.[]; .id == \"nope\" and .status == 404)" out &&
	test_lines 2 dlq && jq -se "map(.record.id) == [\"u1\",\"nope\"]" dlq &&
	cos_doc_is u1 ".a == 5 and .tags == [\"x\"] and ._v == 7"
'
test_expect_success 'special-character and non-ASCII ids and partition keys' '
	printf "%s\n" "{\"id\":\"dév ☃ 1\",\"deviceId\":\"dév ☃ 1\",\"\$op\":\"merge\",\"\$version\":1,\"a\":1}" \
		"{\"id\":\"a+b%c&d=e\",\"deviceId\":\"ü\",\"\$op\":\"merge\",\"\$version\":1,\"a\":2}" \
		"{\"id\":\"a/b?c#d\\\\e\",\"deviceId\":\"s\",\"a\":3}" |
		test_expect_code 1 pcos --dead-letter dlq2 >out 2>err &&
	jq -se "(map(select(.ok)) | length) == 2 and any(.[]; .error.code == \"bad_id\" and (.ok | not))" out &&
	cos_doc_is "dév ☃ 1" ".a == 1" && cos_doc_is "a+b%c&d=e" ".a == 2 and .deviceId == \"ü\"" &&
	jq -c .record dlq2 | pcos --encode-ids >out &&
	jq -e ".ok and .id == \"a/b?c#d\\\\e\"" out &&
	cos_doc_is "a%2Fb%3Fc%23d%5Ce" ".a == 3"
'
test_expect_success 'input errors: one result each, dead-lettered whole, exit 1' '
	printf "%s\n" "not json" "[1]" "{\"deviceId\":\"n\"}" "{\"id\":\"n\"}" \
		"{\"id\":\"n\",\"deviceId\":\"n\",\"\$op\":\"frob\"}" \
		"{\"id\":\"n\",\"deviceId\":\"n\",\"\$version\":\"1\"}" \
		"{\"id\":\"ok1\",\"deviceId\":\"ok1\",\"_meta\":{\"k\":1}}" |
		test_expect_code 1 pcos --dead-letter dlq3 >out 2>err &&
	test_lines 7 out && test_lines 6 dlq3 &&
	jq -se "map(.error.code) == [\"invalid_json\",\"not_an_object\",\"no_id\",\"no_partition_key\",\"bad_op\",\"bad_version\",null]" out &&
	test_grep "<stdin>:4:" err
'
test_expect_success 'connection string from the environment or a file; a wrong key fails' '
	echo "{\"id\":\"cs\",\"deviceId\":\"cs\",\"a\":1}" >in &&
	COSMOS_KEY= COSMOS_CONNECTION_STRING="AccountEndpoint=$EMU_URL/;AccountKey=$EMU_KEY;" \
		push-cosmos -d db --container c -p /deviceId <in >out &&
	jq -e .ok out &&
	printf "AccountEndpoint=%s;AccountKey=%s;\n" "$EMU_URL" "$EMU_KEY" >cs.txt &&
	env -u COSMOS_KEY push-cosmos -d db --container c -p /deviceId --connection-string-file cs.txt <in >out &&
	jq -e .ok out &&
	echo "dGhpcyBpcyBub3QgdGhlIGtleQ==" >bad.key &&
	test_expect_code 1 pcos --key-file bad.key --max-attempts 1 <in >out 2>err &&
	jq -e ".status == 401" out && test_must_fail grep -q "$EMU_KEY" err
'
test_expect_success 'control records pass through untouched, after the results before them' '
	{ for i in 1 2 3; do echo "{\"\$op\":\"upsert\",\"id\":\"ctl$i\",\"deviceId\":\"ctl$i\",\"n\":$i}"; done
	  echo "{\"_meta\":{\"control\":\"snapshot-complete\",\"records\":3}}"; } >in &&
	pcos --create-container <in >out 2>err &&
	test_lines 4 out && tail -1 out >got && tail -1 in >expect && test_cmp expect got &&
	test "$(head -3 out | jq -s "map(select(.ok)) | length")" = 3 &&
	test_grep "control=1" err
'
test_done
