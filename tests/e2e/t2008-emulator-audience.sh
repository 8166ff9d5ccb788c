#!/usr/bin/env bash
# twin-emulator checks the audience (aud) of every bearer token against the
# service it reaches, as Entra-protected services do: an ADT token is
# refused by Cosmos DB and a Cosmos DB token by ADT (401, each service's
# error body), whichever endpoint issued it.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

emu_start || exit 1
V="api-version=2023-10-31"
tok() {	# tok SCOPE: a client-credentials token
	curl -sS --data-urlencode "scope=$1" -d "grant_type=client_credentials&client_id=c1&client_secret=s1" \
		"$EMU_URL/t1/oauth2/v2.0/token" | jq -r .access_token
}
mi_tok() {	# mi_tok RESOURCE: an IMDS managed-identity token
	curl -sS -H "Metadata: true" -G --data-urlencode "resource=$1" -d api-version=2018-02-01 \
		"$EMU_URL/metadata/identity/oauth2/token" | jq -r .access_token
}
adt_get() {	# adt_get TOKEN: status of GET /models, body in adt.json
	curl -sS -o adt.json -w "%{http_code}" -H "Authorization: Bearer $1" "$EMU_URL/models?$V"
}
cos_get() {	# cos_get TOKEN: status of GET /dbs with type=aad, body in cos.json
	curl -sS -o cos.json -w "%{http_code}" -H "x-ms-date: $(emu_date)" -H "x-ms-version: 2020-07-15" \
		-H "Authorization: type%3Daad%26ver%3D1.0%26sig%3D$1" "$EMU_URL/dbs"
}

test_expect_success 'each service accepts the tokens of its own audiences' '
	test "$(adt_get "$(tok https://digitaltwins.azure.net/.default)")" = 200 &&
	test "$(adt_get "$(tok 0b07f429-9f4b-4714-9392-cc5e8e80c8b0/.default)")" = 200 &&
	test "$(adt_get "$(mi_tok https://digitaltwins.azure.net/)")" = 200 &&
	test "$(cos_get "$(tok https://127.0.0.1/.default)")" = 200 &&
	test "$(cos_get "$(tok https://cosmos.azure.com/.default)")" = 200 &&
	test "$(cos_get "$(mi_tok https://127.0.0.1)")" = 200
'
test_expect_success 'an ADT token on Cosmos DB: 401 Unauthorized naming the audience' '
	t=$(tok https://digitaltwins.azure.net/.default) &&
	test "$(cos_get "$t")" = 401 &&
	jq -e ".code == \"Unauthorized\" and (.message | test(\"audience .https://digitaltwins.azure.net.\"))" cos.json &&
	! grep -qF "$t" cos.json &&
	test "$(adt_get "$t")" = 200 && test "$(cos_get "$t")" = 401
'
test_expect_success 'a Cosmos DB token on ADT: 401 with ADT'"'"'s error body' '
	for t in "$(tok https://127.0.0.1/.default)" "$(tok https://cosmos.azure.com/.default)" "$(mi_tok https://127.0.0.1)"; do
		test "$(adt_get "$t")" = 401 &&
		jq -e ".error.code == \"Unauthorized\" and (.error.message | test(\"audience\"))" adt.json || return 1
	done
'
test_expect_success 'other audiences are refused by both' '
	for s in https://storage.azure.com/.default https://eventhubs.azure.net/.default https://digitaltwins.azure.net.evil/.default https://localhost/.default; do
		t=$(tok "$s") &&
		test "$(adt_get "$t")" = 401 && test "$(cos_get "$t")" = 401 || return 1
	done
'
test_expect_success 'Cosmos DB: the audience follows the host the client addressed' '
	t=$(tok https://localhost/.default) &&
	code=$(curl -sS -o cos.json -w "%{http_code}" -H "x-ms-date: $(emu_date)" -H "x-ms-version: 2020-07-15" \
		-H "Authorization: type%3Daad%26ver%3D1.0%26sig%3D$t" "http://localhost:${EMU_URL##*:}/dbs") &&
	test "$code" = 200 && test "$(cos_get "$t")" = 401
'
test_done
