#!/usr/bin/env bash
# twin-emulator's Cosmos DB plane at the REST level, for what the SDK tests
# do not reach: batch rollback (207/424), patch edge cases, partition key
# checks, If-None-Match, upsert with If-Match on a missing item.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

emu_start --no-auth
D=$EMU_URL/dbs/db/colls/c/docs
pk() { printf 'x-ms-documentdb-partitionkey: ["%s"]' "$1"; }
req() {	# req METHOD URL PK [BODY [HEADER...]]: prints status, body in out.json
	local m=$1 u=$2 p=$3 b=${4:-}; shift 4 2>/dev/null || shift $#
	curl -s -o out.json -w "%{http_code}" -X "$m" -H "$(pk "$p")" \
		${b:+--data-binary "$b"} "$@" "$u"
}

test_expect_success 'database and container with a nested partition key path' '
	curl -s -d "{\"id\":\"db\"}" "$EMU_URL/dbs" | jq -e ".id == \"db\" and ._rid" &&
	curl -s -d "{\"id\":\"c\",\"partitionKey\":{\"paths\":[\"/dev/id\"]}}" "$EMU_URL/dbs/db/colls" |
		jq -e ".partitionKey.kind == \"Hash\"" &&
	code=$(curl -s -o e.json -w "%{http_code}" -d "{\"id\":\"c2\",\"partitionKey\":{\"paths\":[\"\"]}}" "$EMU_URL/dbs/db/colls") &&
	test "$code" = 400
'
test_expect_success 'partition key must match the document; non-ASCII keys' '
	test "$(req POST "$D" a "{\"id\":\"1\",\"dev\":{\"id\":\"b\"}}")" = 400 &&
	test_grep "PartitionKey extracted" out.json &&
	test "$(req POST "$D" a "{\"id\":\"1\",\"dev\":{\"id\":\"a\"}}")" = 201 &&
	test "$(req POST "$D" "\u00e9t\u00e9" "{\"id\":\"u\",\"dev\":{\"id\":\"été\"}}")" = 201 &&
	test "$(req GET "$D/u" "\u00e9t\u00e9")" = 200 &&
	test "$(req GET "$D/u" "ete")" = 404 &&
	test "$(curl -s -o /dev/null -w "%{http_code}" "$D/u")" = 400
'
test_expect_success 'bad ids and bodies are 400, never stored' '
	test "$(req POST "$D" a "{\"id\":\"x/y\",\"dev\":{\"id\":\"a\"}}")" = 400 &&
	test "$(req POST "$D" a "[1,2]")" = 400 &&
	test "$(req POST "$D" a "{\"dev\":{\"id\":\"a\"}}")" = 400 &&
	test_grep "required properties" out.json &&
	test "$(req POST "$D" a "{\"id\":1,\"dev\":{\"id\":\"a\"}}")" = 400
'
test_expect_success 'If-None-Match with the current etag: 304' '
	test "$(req GET "$D/1" a)" = 200 && e=$(jq -r ._etag out.json) &&
	test "$(req GET "$D/1" a "" -H "If-None-Match: $e")" = 304
'
test_expect_success 'upsert with If-Match on a missing item creates it' '
	test "$(req POST "$D" a "{\"id\":\"new\",\"dev\":{\"id\":\"a\"}}" -H "x-ms-documentdb-is-upsert: True" -H "If-Match: \"stale\"")" = 201 &&
	test "$(req POST "$D" a "{\"id\":\"new\",\"dev\":{\"id\":\"a\"}}" -H "x-ms-documentdb-is-upsert: true" -H "If-Match: \"stale\"")" = 412
'
test_expect_success 'patch: documented content type, condition, stale If-Match, system properties' '
	J="Content-Type: application/json_patch+json" &&
	test "$(req PATCH "$D/1" a "{\"operations\":[{\"op\":\"incr\",\"path\":\"/n\",\"value\":5}],\"condition\":\"from c where NOT IS_DEFINED(c.n)\"}" -H "$J")" = 200 &&
	jq -e ".n == 5" out.json && e=$(jq -r ._etag out.json) &&
	test "$(req PATCH "$D/1" a "{\"operations\":[{\"op\":\"incr\",\"path\":\"/n\",\"value\":5}],\"condition\":\"from c where NOT IS_DEFINED(c.n)\"}" -H "$J")" = 412 &&
	test "$(req PATCH "$D/1" a "[{\"op\":\"set\",\"path\":\"/n\",\"value\":1}]" -H "If-Match: \"old\"")" = 412 &&
	test "$(req PATCH "$D/1" a "[{\"op\":\"set\",\"path\":\"/n\",\"value\":1}]" -H "If-Match: $e")" = 200 &&
	test "$(req PATCH "$D/1" a "[{\"op\":\"set\",\"path\":\"/_etag\",\"value\":1}]")" = 400 &&
	test "$(req PATCH "$D/1" a "[{\"op\":\"set\",\"path\":\"/dev/id\",\"value\":\"z\"}]")" = 400 &&
	test "$(req PATCH "$D/1" a "[{\"op\":\"frob\",\"path\":\"/n\"}]")" = 400 &&
	test "$(req PATCH "$D/1" a "{\"operations\":[],\"condition\":\"from c\"}")" = 400 &&
	test "$(req PATCH "$D/1" a "{\"operations\":[{\"op\":\"set\",\"path\":\"/n\",\"value\":1}],\"condition\":\"from c where (\"}")" = 400 &&
	test "$(req PATCH "$D/1" a "{\"operations\":[{\"op\":\"set\",\"path\":\"/n\",\"value\":1}],\"condition\":7}")" = 400 &&
	test "$(req GET "$D/1" a)" = 200 && jq -e ".n == 1" out.json
'
test_expect_success 'patch is atomic: a failing operation changes nothing' '
	test "$(req PATCH "$D/1" a "[{\"op\":\"set\",\"path\":\"/n\",\"value\":99},{\"op\":\"remove\",\"path\":\"/nope\"}]")" = 400 &&
	test "$(req GET "$D/1" a)" = 200 && jq -e ".n == 1" out.json
'
test_expect_success 'batch: all or nothing (207 with 424 for the others)' '
	B="x-ms-cosmos-is-batch-request: True" &&
	test "$(req POST "$D" b "[{\"operationType\":\"Create\",\"resourceBody\":{\"id\":\"b1\",\"dev\":{\"id\":\"b\"}}},{\"operationType\":\"Replace\",\"id\":\"missing\",\"resourceBody\":{\"id\":\"missing\",\"dev\":{\"id\":\"b\"}}}]" -H "$B")" = 207 &&
	jq -e "[.[].statusCode] == [424,404]" out.json &&
	test "$(req GET "$D/b1" b)" = 404 &&
	test "$(req POST "$D" b "[{\"operationType\":\"Create\",\"resourceBody\":{\"id\":\"b1\",\"dev\":{\"id\":\"b\"}}},{\"operationType\":\"Patch\",\"id\":\"b1\",\"resourceBody\":{\"operations\":[{\"op\":\"add\",\"path\":\"/k\",\"value\":1}]}},{\"operationType\":\"Read\",\"id\":\"b1\"}]" -H "$B")" = 200 &&
	jq -e "[.[].statusCode] == [201,200,200] and .[2].resourceBody.k == 1" out.json
'
test_expect_success 'delete with a stale If-Match 412, then 204, feed lists the rest' '
	test "$(req DELETE "$D/1" a "" -H "If-Match: \"old\"")" = 412 &&
	test "$(req DELETE "$D/1" a)" = 204 &&
	curl -s "$D" >feed.json && jq -e "._count == 3 and (.Documents|map(.id)|sort) == [\"b1\",\"new\",\"u\"]" feed.json
'
test_expect_success 'deleting the database removes its containers and documents' '
	test "$(curl -s -o /dev/null -w "%{http_code}" -X DELETE "$EMU_URL/dbs/db")" = 204 &&
	test "$(curl -s -o /dev/null -w "%{http_code}" "$EMU_URL/dbs/db/colls/c")" = 404 &&
	curl -s -d "{\"id\":\"db\"}" "$EMU_URL/dbs" >/dev/null &&
	curl -s -d "{\"id\":\"c\",\"partitionKey\":{\"paths\":[\"/dev/id\"]}}" "$EMU_URL/dbs/db/colls" >/dev/null &&
	test "$(req GET "$D/new" a)" = 404
'
test_done
