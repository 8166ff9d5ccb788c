#!/usr/bin/env bash
# twin-emulator's ADT plane at the REST level, for what the SDK test does
# not reach: query forms, model rules, relationship rules, $metadata.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

emu_start --no-auth
V="api-version=2023-10-31"
q() {	# q QUERY [TOKEN]: POST /query, body in out.json
	jq -n --arg q "$1" --arg t "${2:-}" '{query:$q} + (if $t == "" then {} else {continuationToken:$t} end)' |
		curl -s -o out.json -w "%{http_code}" -H "max-items-per-page: ${PAGE:-100}" -d @- "$EMU_URL/query?$V"
}
put() { curl -s -o out.json -w "%{http_code}" -X PUT -d "$2" "$EMU_URL$1?$V"; }

test_expect_success 'models: extends must exist, batch upload, decommission' '
	code=$(curl -s -o out.json -w "%{http_code}" -d "[{\"@id\":\"dtmi:t:B;1\",\"@type\":\"Interface\",\"extends\":\"dtmi:t:Nope;1\"}]" "$EMU_URL/models?$V") &&
	test "$code" = 400 && jq -e ".error.code == \"DTDLParserError\"" out.json &&
	code=$(curl -s -o out.json -w "%{http_code}" -d "[{\"@id\":\"x\",\"@type\":\"Interface\"}]" "$EMU_URL/models?$V") &&
	test "$code" = 400 &&
	curl -s -d "[{\"@id\":\"dtmi:t:S;1\",\"@type\":\"Interface\",\"contents\":[{\"@type\":[\"Property\",\"Temperature\"],\"name\":\"t\",\"schema\":\"double\"},{\"@type\":\"Property\",\"name\":\"n\",\"schema\":\"integer\"},{\"@type\":\"Telemetry\",\"name\":\"tele\",\"schema\":\"double\"},{\"@type\":\"Relationship\",\"name\":\"feeds\"}]},{\"@id\":\"dtmi:t:D;1\",\"@type\":\"Interface\",\"extends\":[\"dtmi:t:S;1\"],\"contents\":[{\"@type\":\"Property\",\"name\":\"d\",\"schema\":\"string\"}]},{\"@id\":\"dtmi:t:Old;1\",\"@type\":\"Interface\"}]" \
		"$EMU_URL/models?$V" | jq -e "length == 3" &&
	code=$(curl -s -o /dev/null -w "%{http_code}" -X PATCH -d "[{\"op\":\"replace\",\"path\":\"/decommissioned\",\"value\":true}]" "$EMU_URL/models/dtmi:t:Old;1?$V") &&
	test "$code" = 204 &&
	test "$(put /digitaltwins/o "{\"\$metadata\":{\"\$model\":\"dtmi:t:Old;1\"}}")" = 400 &&
	test_grep decommissioned out.json &&
	test "$(put /digitaltwins/m "{\"\$metadata\":{\"\$model\":\"dtmi:t:Missing;1\"}}")" = 400 &&
	jq -e ".error.code == \"ValidationFailed\"" out.json
'
test_expect_success 'twins: schema types, telemetry is not a property, inherited properties' '
	test "$(put /digitaltwins/s1 "{\"\$metadata\":{\"\$model\":\"dtmi:t:S;1\"},\"t\":1.5,\"n\":2}")" = 200 &&
	test "$(put /digitaltwins/bad "{\"\$metadata\":{\"\$model\":\"dtmi:t:S;1\"},\"n\":2.5}")" = 400 &&
	test "$(put /digitaltwins/bad "{\"\$metadata\":{\"\$model\":\"dtmi:t:S;1\"},\"tele\":1}")" = 400 &&
	test "$(put /digitaltwins/d1 "{\"\$metadata\":{\"\$model\":\"dtmi:t:D;1\"},\"t\":20,\"d\":\"x\",\"\$dtId\":\"ignored\"}")" = 200 &&
	jq -e ".\"\$dtId\" == \"d1\" and .\"\$metadata\".t.lastUpdateTime" out.json &&
	jq -e ".\"\$metadata\".\"\$lastUpdateTime\" | test(\"^[0-9-]{10}T[0-9:]{8}\\\\.[0-9]{7}Z$\")" out.json
'
test_expect_success 'PATCH touches only the patched properties'"'"' lastUpdateTime' '
	curl -s "$EMU_URL/digitaltwins/d1?$V" >before.json &&
	sleep 0.01 &&
	code=$(curl -s -o /dev/null -w "%{http_code}" -X PATCH -H "Content-Type: application/json-patch+json" -d "[{\"op\":\"replace\",\"path\":\"/t\",\"value\":21}]" "$EMU_URL/digitaltwins/d1?$V") &&
	test "$code" = 204 &&
	curl -s "$EMU_URL/digitaltwins/d1?$V" >after.json &&
	test "$(jq -r ".\"\$metadata\".d.lastUpdateTime" before.json)" = "$(jq -r ".\"\$metadata\".d.lastUpdateTime" after.json)" &&
	test "$(jq -r ".\"\$metadata\".t.lastUpdateTime" before.json)" != "$(jq -r ".\"\$metadata\".t.lastUpdateTime" after.json)" &&
	code=$(curl -s -o out.json -w "%{http_code}" -X PATCH -d "[{\"op\":\"add\",\"path\":\"/zz\",\"value\":1}]" "$EMU_URL/digitaltwins/d1?$V") &&
	test "$code" = 400 && jq -e ".error.code == \"ValidationFailed\"" out.json
'
test_expect_success 'relationships: declared name, same source and target, If-None-Match' '
	test "$(put /digitaltwins/s1/relationships/r1 "{\"\$targetId\":\"d1\",\"\$relationshipName\":\"feeds\"}")" = 200 &&
	jq -e ".\"\$sourceId\" == \"s1\" and .\"\$relationshipId\" == \"r1\"" out.json &&
	test "$(put /digitaltwins/s1/relationships/r2 "{\"\$targetId\":\"d1\",\"\$relationshipName\":\"owns\"}")" = 400 &&
	test "$(put /digitaltwins/s1/relationships/r2 "{\"\$targetId\":\"d1\",\"\$relationshipName\":\"feeds\",\"w\":1}")" = 400 &&
	test_grep "not defined on relationship" out.json &&
	test "$(put /digitaltwins/s1/relationships/r3 "{\"\$targetId\":\"s1\",\"\$relationshipName\":\"feeds\"}")" = 400 &&
	jq -e ".error.code == \"OperationNotAllowed\"" out.json &&
	test "$(put /digitaltwins/ghost/relationships/r4 "{\"\$targetId\":\"s1\",\"\$relationshipName\":\"feeds\"}")" = 404 &&
	jq -e ".error.code == \"DigitalTwinNotFound\"" out.json &&
	code=$(curl -s -o out.json -w "%{http_code}" -X PUT -H "If-None-Match: *" -d "{\"\$targetId\":\"d1\",\"\$relationshipName\":\"feeds\"}" "$EMU_URL/digitaltwins/s1/relationships/r1?$V") &&
	test "$code" = 412 &&
	curl -s "$EMU_URL/digitaltwins/d1/incomingrelationships?$V" |
		jq -e ".value[0].\"\$relationshipLink\" == \"/digitaltwins/s1/relationships/r1\"" &&
	curl -s "$EMU_URL/digitaltwins/s1/relationships?$V&relationshipName=nope" | jq -e ".value == []" &&
	code=$(curl -s -o out.json -w "%{http_code}" "$EMU_URL/digitaltwins/s1/relationships/nope?$V") &&
	test "$code" = 404 && jq -e ".error.code == \"RelationshipNotFound\"" out.json &&
	code=$(curl -s -o out.json -w "%{http_code}" -X DELETE "$EMU_URL/digitaltwins/d1?$V") &&
	test "$code" = 400 && jq -e ".error.code == \"RelationshipsNotDeleted\"" out.json
'
test_expect_success 'query: COUNT, TOP, IS_DEFINED, comparisons, relationships' '
	for i in 1 2 3 4 5 6 7; do put /digitaltwins/n$i "{\"\$metadata\":{\"\$model\":\"dtmi:t:S;1\"},\"n\":$i}" >/dev/null; done &&
	test "$(q "SELECT COUNT() FROM DIGITALTWINS")" = 200 && jq -e ".value == [{\"COUNT\":9}]" out.json &&
	test "$(q "SELECT TOP(2) * FROM digitaltwins")" = 200 && jq -e "(.value|length) == 2 and .continuationToken == null" out.json &&
	q "SELECT * FROM digitaltwins T WHERE T.n >= 3 AND T.n < 6" && jq -e "[.value[].n] == [3,4,5]" out.json &&
	q "SELECT * FROM digitaltwins WHERE IS_DEFINED(d)" && jq -e "[.value[].\"\$dtId\"] == [\"d1\"]" out.json &&
	q "SELECT * FROM digitaltwins WHERE IS_OF_MODEL('"'"'dtmi:t:S;1'"'"', exact)" && jq -e "(.value|length) == 8" out.json &&
	q "SELECT * FROM digitaltwins WHERE IS_OF_MODEL('"'"'dtmi:t:S;1'"'"')" && jq -e "(.value|length) == 9" out.json &&
	q "SELECT * FROM relationships WHERE \$sourceId = '"'"'s1'"'"'" && jq -e "[.value[].\"\$relationshipId\"] == [\"r1\"]" out.json &&
	test "$(q "SELECT * FROM digitaltwins WHERE")" = 400 && jq -e ".error.code == \"SqlQueryError\"" out.json &&
	test "$(q "DELETE FROM digitaltwins")" = 400
'
test_expect_success 'query pages with continuation tokens' '
	PAGE=4 q "SELECT * FROM digitaltwins" >/dev/null && t=$(jq -r .continuationToken out.json) &&
	jq -e "(.value|length) == 4" out.json &&
	PAGE=4 q "SELECT * FROM digitaltwins" "$t" >/dev/null && t=$(jq -r .continuationToken out.json) &&
	jq -e "(.value|length) == 4" out.json &&
	PAGE=4 q "SELECT * FROM digitaltwins" "$t" >/dev/null &&
	jq -e "(.value|length) == 1 and .continuationToken == null" out.json &&
	test "$(q "SELECT * FROM digitaltwins" "garbage")" = 400
'
test_expect_success 'lists page with nextLink (absolute, keeps the query)' '
	put /digitaltwins/s1/relationships/r5 "{\"\$targetId\":\"n1\",\"\$relationshipName\":\"feeds\"}" >/dev/null &&
	put /digitaltwins/s1/relationships/r6 "{\"\$targetId\":\"n2\",\"\$relationshipName\":\"feeds\"}" >/dev/null &&
	curl -s -H "max-items-per-page: 2" "$EMU_URL/digitaltwins/s1/relationships?$V&relationshipName=feeds" >p1.json &&
	jq -e "(.value|length) == 2" p1.json && next=$(jq -r .nextLink p1.json) &&
	case "$next" in "$EMU_URL/digitaltwins/s1/relationships?"*relationshipName=feeds*) ;; *) false ;; esac &&
	curl -s -H "max-items-per-page: 2" "$next" >p2.json &&
	jq -e "(.value|length) == 1 and .nextLink == null" p2.json &&
	curl -s -H "max-items-per-page: 1" "$EMU_URL/models?$V" | jq -e "(.value|length) == 1 and (.nextLink|test(\"continuationToken=\"))"
'
test_expect_success 'changing the model with PATCH /$metadata/$model revalidates' '
	code=$(curl -s -o out.json -w "%{http_code}" -X PATCH -d "[{\"op\":\"replace\",\"path\":\"/\$metadata/\$model\",\"value\":\"dtmi:t:D;1\"}]" "$EMU_URL/digitaltwins/n1?$V") &&
	test "$code" = 204 &&
	curl -s "$EMU_URL/digitaltwins/n1?$V" | jq -e ".\"\$metadata\".\"\$model\" == \"dtmi:t:D;1\""
'
test_expect_success 'a bad continuationToken is a 400 BadRequest on every list' '
	for u in /models /digitaltwins/s1/relationships /jobs/imports; do
		code=$(curl -s -o out.json -w "%{http_code}" "$EMU_URL$u?$V&continuationToken=nope") &&
		test "$code" = 400 && jq -e ".error.code == \"BadRequest\"" out.json ||
		{ echo "$u: $code $(cat out.json)"; false; } || return 1
	done &&
	curl -s "$EMU_URL/digitaltwins/nobody/relationships?$V" | jq -e ".error.code == \"DigitalTwinNotFound\""
'
test_done
