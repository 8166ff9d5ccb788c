# tests/e2e/lib-push-adt.sh - push-adt against twin-emulator over TLS
# (sourced after lib.sh and lib-emulator.sh, outside test bodies):
#
#   padt_start [EMULATOR-OPTION]...  start the emulator with --tls and
#                        --federated-key fed.pub (emu_fed_keys), upload the
#                        test models, point the credential chain (client
#                        secret) at its token endpoint
#   padt ARGS...         push-adt --endpoint $EMU_URL --cacert cert.pem ARGS
#   adt METHOD PATH [BODY]  a REST call with a fresh token; body on stdout
#   adt_twin ID          GET the twin (ID raw, percent-encoded here)
#   adt_count QUERY-WHERE  number of twins matching (SELECT COUNT())
#   adt_graph            the whole twin graph, normalised like
#                        tests/tools/warehouse-gen.py's expectation (one page:
#                        fails when the emulator pages, raise --page-size)
V="api-version=2023-10-31"
PADT_SECRET=emulator-client-secret-0123
padt_start() {
	printf '%s\n' "$PADT_SECRET" >"$TEST_DIR/client.secret"
	emu_fed_keys || return 1
	emu_start --client-secret-file "$TEST_DIR/client.secret" \
		--federated-key "$TEST_DIR/fed.pub" --tls --cert "$TEST_DIR/cert.pem" --key "$TEST_DIR/key.pem" "$@" || return 1
	export AZURE_AUTHORITY_HOST=$EMU_URL AZURE_TENANT_ID=tenant1 \
		AZURE_CLIENT_ID=client1 AZURE_CLIENT_SECRET=$PADT_SECRET
	unset ADT_ENDPOINT ADT_TOKEN_FILE IDENTITY_ENDPOINT IDENTITY_HEADER \
		AZURE_FEDERATED_TOKEN_FILE 2>/dev/null || true
	adt POST /models '[{"@id":"dtmi:t:Room;1","@type":"Interface","contents":[
		{"@type":"Property","name":"temp","schema":"double"},
		{"@type":"Property","name":"name","schema":"string"},
		{"@type":"Property","name":"other","schema":"string"},
		{"@type":"Property","name":"n","schema":"integer"},
		{"@type":"Relationship","name":"contains","properties":[
			{"@type":"Property","name":"w","schema":"integer"}]}]}]' >/dev/null
}
padt() { push-adt --endpoint "$EMU_URL" --cacert "$TEST_DIR/cert.pem" "$@"; }
adt_token() {
	curl -sS --cacert "$TEST_DIR/cert.pem" \
		-d "grant_type=client_credentials&client_id=client1&client_secret=$PADT_SECRET&scope=https://digitaltwins.azure.net/.default" \
		"$EMU_URL/tenant1/oauth2/v2.0/token" | jq -r .access_token
}
adt() {
	local m=$1 p=$2 sep='?'
	case "$p" in *\?*) sep='&' ;; esac
	curl -sS --cacert "$TEST_DIR/cert.pem" -X "$m" -H "Authorization: Bearer $(adt_token)" \
		-H "Content-Type: application/json" ${3:+-d "$3"} "$EMU_URL$p$sep$V"
}
adt_enc() { jq -rn --arg s "$1" '$s|@uri'; }
adt_twin() { adt GET "/digitaltwins/$(adt_enc "$1")"; }
adt_count() {
	adt POST /query "$(jq -nc --arg q "SELECT COUNT() FROM DIGITALTWINS ${1:-}" '{query:$q}')" |
		jq -r '.value[0]["$count"] // .value[0].COUNT // .value[0]'
}
adt_graph() {
	local tok twins rels
	tok=$(adt_token)
	q() { curl -sS --cacert "$TEST_DIR/cert.pem" -H "Authorization: Bearer $tok" \
		-H "Content-Type: application/json" -d "{\"query\":\"$1\"}" "$EMU_URL/query?$V"; }
	twins=$(q "SELECT * FROM DIGITALTWINS")
	rels=$(q "SELECT * FROM RELATIONSHIPS")
	test "$(jq -r .continuationToken <<<"$twins")" = null &&
	test "$(jq -r .continuationToken <<<"$rels")" = null || { echo "paged: raise --page-size" >&2; return 1; }
	jq -Sn --argjson t "$twins" --argjson r "$rels" '{
		twins: ($t.value | map({key: .["$dtId"], value: del(.["$dtId"], .["$etag"], .["$metadata"])}) | from_entries),
		rels: ($r.value | map([.["$sourceId"], .["$relationshipId"], .["$targetId"], .["$relationshipName"]]) | sort)}'
}
