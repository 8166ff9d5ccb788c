#!/usr/bin/env bash
# push-cosmos with document ids that no URL path can carry: "." and ".."
# (libcurl would send DELETE /dbs/db/colls/c/docs/.. as
# DELETE /dbs/db/colls/c/, the container), "", ids with '/', '\', '?', '#'
# (Cosmos DB forbids them) and with NUL. Each is a bad_id record, dead-
# lettered, with an Entra token and with the master key; the container and
# its documents are still there and the good records are applied.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-cosmos.sh"

pcos_start || exit 1

# bad IDS...: one record per id and operation, partition key deviceId=victim
bad_input() {
	local id
	for id in '..' '.' 'a/b' '' 'a\\b' 'a?b' 'a#b' 'victim\u0000x'; do
		printf '{"id":"%s","deviceId":"victim","$op":"delete"}\n' "$id"
		printf '{"id":"%s","deviceId":"victim","$op":"merge","$version":9,"x":1}\n' "$id"
	done
}
# check_run TAG: the results and dead letters of one run of in.$TAG
check_run() {
	local t=$1
	test_lines 19 out.$t && test_lines 16 dlq.$t &&
	test "$(jq -s "map(select(.ok | not) | .error.code) | unique" -c out.$t)" = "[\"bad_id\"]" &&
	test "$(jq -s "map(select(.ok | not)) | length" out.$t)" = 16 &&
	test "$(jq -s "map(select(.error.code == \"bad_id\")) | length" dlq.$t)" = 16 &&
	jq -se "map(select(.ok) | .id) | sort == [\"...\",\"ok-$t\",\"victim\"]" out.$t &&
	jq -se ".[0].record.id == \"..\" and (.[0].error.message | test(\"dot segment\"))" dlq.$t &&
	jq -se "map(select(.error.message | test(\"NUL\"))) | length == 2" dlq.$t &&
	test_grep "summary: in=19 ok=3 failed=16" err.$t
}
# doc_is ID EXPR: document ID exists (exactly one) and EXPR holds for it
# (jq -e alone would pass on empty input)
doc_is() { cos_doc "$1" | jq -se "length == 1 and (.[0] | $2)" >/dev/null; }
# the container, its documents and their values are as expected
check_state() {
	cos_docs >docs &&
	jq -se "map(.id) | any(. == \"victim\") and any(. == \"keep\")" docs >/dev/null &&
	doc_is victim ".v == 1" &&
	doc_is keep ".v == 2"
}

test_expect_success 'set up: container c with documents victim and keep' '
	printf "%s\n" "{\"id\":\"victim\",\"deviceId\":\"victim\",\"v\":1}" \
		"{\"id\":\"keep\",\"deviceId\":\"keep\",\"v\":2}" |
		pcos --create-container >out &&
	test "$(jq -s "map(select(.ok)) | length" out)" = 2 &&
	check_state
'

test_expect_success 'Entra token: dot-segment and forbidden ids are bad_id, the rest applied' '
	{ bad_input; printf "%s\n" "{\"id\":\"...\",\"deviceId\":\"d3\",\"v\":3}" \
		"{\"id\":\"ok-entra\",\"deviceId\":\"d4\",\"v\":4}" \
		"{\"id\":\"victim\",\"deviceId\":\"victim\",\"\$op\":\"merge\",\"w\":5}"; } >in.entra &&
	(unset COSMOS_KEY &&
	 export AZURE_AUTHORITY_HOST=$EMU_URL AZURE_TENANT_ID=t1 AZURE_CLIENT_ID=c1 \
		AZURE_CLIENT_SECRET=s1 &&
	 test_expect_code 1 pcos --credential environment --dead-letter dlq.entra \
		<in.entra >out.entra 2>err.entra) &&
	check_run entra
'
test_expect_success 'after the Entra run the container and its documents are there' '
	check_state &&
	doc_is victim ".w == 5" &&
	doc_is ... ".v == 3" &&
	doc_is ok-entra ".v == 4"
'

test_expect_success 'master key: the same records are refused the same way' '
	sed "s/ok-entra/ok-key/" in.entra >in.key &&
	test_expect_code 1 pcos --dead-letter dlq.key <in.key >out.key 2>err.key &&
	check_run key &&
	check_state && doc_is ok-key ".v == 4"
'

test_expect_success '--encode-ids does not make dot segments or NUL acceptable' '
	printf "%s\n" "{\"id\":\"..\",\"deviceId\":\"victim\",\"\$op\":\"delete\"}" \
		"{\"id\":\"a\\u0000b\",\"deviceId\":\"victim\"}" \
		"{\"id\":\"a/b\",\"deviceId\":\"d5\",\"v\":5}" >in.enc &&
	test_expect_code 1 pcos --encode-ids <in.enc >out.enc 2>err.enc &&
	jq -se "[.[0].error.code, .[1].error.code, .[2].ok] == [\"bad_id\",\"bad_id\",true]" out.enc &&
	doc_is a%2Fb ".v == 5" && check_state
'

test_expect_success 'a database or container named . or .. is a usage error' '
	test_expect_code 2 push-cosmos --endpoint "$EMU_URL" -d .. --container c \
		--partition-key-path /deviceId </dev/null 2>err &&
	test_grep "dot segment" err &&
	test_expect_code 2 push-cosmos --endpoint "$EMU_URL" -d db --container . \
		--partition-key-path /deviceId </dev/null 2>err &&
	test_grep "dot segment" err && check_state
'
test_done
