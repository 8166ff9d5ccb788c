#!/usr/bin/env bash
# twin-emulator: options, start/stop, persistence, token endpoints,
# authorization (Cosmos signatures, bearer tokens) and bad requests.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

test_expect_success '--help names every option, --version works' '
	twin-emulator --help >help &&
	for o in cert client-secret-file cosmos-key-file db drop-rate error-rate \
	    federated-issuer federated-key federated-subject header-timeout host idle-timeout jitter key latency \
	    max-connections max-connections-per-ip no-auth page-size partition-ru pid-file port rate seed threads tls \
	    token-lifetime twin-rate; do
		grep -q -e "--$o" help || { echo "--$o missing"; exit 1; }
	done &&
	test_grep "^Usage: twin-emulator \[--port N\]" help &&
	twin-emulator --version >version && test_grep twin-emulator version
'

test_expect_success 'usage errors exit 2 before anything starts' '
	test_expect_code 2 twin-emulator --bogus 2>err &&
	test_grep "Try" err &&
	test_expect_code 2 twin-emulator --port 70000 2>/dev/null &&
	test_expect_code 2 twin-emulator extra-operand 2>/dev/null &&
	test_expect_code 2 twin-emulator --error-rate 2 2>/dev/null &&
	test_expect_code 2 twin-emulator --cert c.pem 2>/dev/null &&
	TWIN_EMULATOR_COSMOS_KEY="not base64!" test_expect_code 2 twin-emulator 2>/dev/null
'

emu_start --port 0 --pid-file "$TEST_DIR/emu.pid" --token-lifetime 2s
# a token of its own for each test: they live 2s, and a busy machine
# can take that long between two tests
adt_token() {
	emu_curl -d "grant_type=client_credentials&client_id=app&client_secret=s&scope=https%3A%2F%2Fdigitaltwins.azure.net%2F.default" \
		"$EMU_URL/tenant1/oauth2/v2.0/token" | jq -r .access_token
}
models_code() { # TOKEN: the status of GET /models with it (body in e.json)
	emu_curl -o e.json -w "%{http_code}" -H "Authorization: Bearer $1" "$EMU_URL/models?api-version=2023-10-31"
}
test_expect_success 'prints its URL; port 0 picks a free port; pid file' '
	case "$EMU_URL" in http://127.0.0.1:[1-9]*) ;; *) false ;; esac &&
	test "$(cat "$TEST_DIR/emu.pid")" = "$EMU_PID" &&
	emu_curl "$EMU_URL/_admin/health" | jq -e ".status == \"ok\""
'

test_expect_success 'client credentials token works for ADT; wrong flows refused' '
	emu_curl -d "grant_type=client_credentials&client_id=app&client_secret=s&scope=https%3A%2F%2Fdigitaltwins.azure.net%2F.default" \
		"$EMU_URL/tenant1/oauth2/v2.0/token" >tok.json &&
	jq -e ".token_type == \"Bearer\" and .expires_in == 2" tok.json &&
	tok=$(jq -r .access_token tok.json) &&
	code=$(emu_curl -o models.json -w "%{http_code}" -H "Authorization: Bearer $tok" \
		"$EMU_URL/models?api-version=2023-10-31") && test "$code" = 200 &&
	jq -e ".value == []" models.json &&
	emu_curl -d "grant_type=password&client_id=a&scope=s" "$EMU_URL/t/oauth2/v2.0/token" >e.json &&
	jq -e ".error == \"unsupported_grant_type\" and (.error_codes|length) == 1 and .trace_id" e.json &&
	emu_curl -d "grant_type=client_credentials&client_id=a&scope=s" "$EMU_URL/t/oauth2/v2.0/token" >e.json &&
	jq -e ".error == \"invalid_client\"" e.json
'

test_expect_success 'federated token, IMDS and App Service managed identity' '
	emu_curl -d "grant_type=client_credentials&client_id=a&scope=s%2F.default&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJ.x.y" \
		"$EMU_URL/t/oauth2/v2.0/token" | jq -e ".access_token" &&
	code=$(emu_curl -o e.json -w "%{http_code}" "$EMU_URL/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://digitaltwins.azure.net") &&
	test "$code" = 400 &&
	emu_curl -H "Metadata: true" "$EMU_URL/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://digitaltwins.azure.net" >mi.json &&
	jq -e "(.expires_on|type) == \"string\" and .resource == \"https://digitaltwins.azure.net\" and .token_type == \"Bearer\"" mi.json &&
	emu_curl -H "X-IDENTITY-HEADER: abc" "$EMU_URL/msi/token?api-version=2019-08-01&resource=r" | jq -e .access_token &&
	code=$(emu_curl -o /dev/null -w "%{http_code}" "$EMU_URL/msi/token?api-version=2019-08-01&resource=r") &&
	test "$code" = 401
'

test_expect_success 'ADT needs a valid bearer token and a known api-version' '
	code=$(emu_curl -o e.json -w "%{http_code}" "$EMU_URL/models?api-version=2023-10-31") &&
	test "$code" = 401 && jq -e ".error.code == \"Unauthorized\"" e.json &&
	code=$(emu_curl -o e.json -w "%{http_code}" -H "Authorization: Bearer a.b.c" "$EMU_URL/models?api-version=2023-10-31") &&
	test "$code" = 401 &&
	tok=$(adt_token) &&
	code=$(emu_curl -o e.json -w "%{http_code}" -H "Authorization: Bearer $tok" "$EMU_URL/models") &&
	test "$code" = 400 && jq -e ".error.code == \"MissingApiVersionParameter\"" e.json &&
	code=$(emu_curl -o e.json -w "%{http_code}" -H "Authorization: Bearer $tok" "$EMU_URL/models?api-version=1999-01-01") &&
	test "$code" = 400 && jq -e ".error.code == \"InvalidApiVersionParameter\"" e.json
'

# exp is whole seconds (as in a JWT): a 2s token expires 1 to 2s after issue
test_expect_success 'tokens expire (--token-lifetime)' '
	t0=$(date +%s.%N) && tok=$(adt_token) &&
	test_wait_for 60 "test \$(models_code $tok) = 401" &&
	t1=$(date +%s.%N) && echo "expired after $(echo "$t1 - $t0" | bc)s" && test "$(echo "$t1 - $t0 >= 1" | bc)" = 1 &&
	test_grep expired e.json
'

test_expect_success 'Cosmos: master-key signature checked (200/401), date skew 403' '
	EMU_DATE=$(emu_date) &&
	auth=$(emu_sign get "" "" "$EMU_DATE") &&
	code=$(emu_curl -o acct.json -w "%{http_code}" -H "Authorization: $auth" -H "x-ms-date: $EMU_DATE" "$EMU_URL/") &&
	test "$code" = 200 && jq -e ".writableLocations[0].databaseAccountEndpoint" acct.json &&
	auth=$(emu_sign get dbs dbs/nope "$EMU_DATE") &&
	code=$(emu_curl -o e.json -w "%{http_code}" -H "Authorization: $auth" -H "x-ms-date: $EMU_DATE" "$EMU_URL/dbs/nope") &&
	test "$code" = 404 &&
	auth=$(emu_sign get dbs dbs/other "$EMU_DATE") &&
	code=$(emu_curl -o e.json -w "%{http_code}" -H "Authorization: $auth" -H "x-ms-date: $EMU_DATE" "$EMU_URL/dbs/nope") &&
	test "$code" = 401 && test_grep "payload to sign" e.json &&
	old=$(emu_date "-20 min") &&
	auth=$(emu_sign get dbs dbs/nope "$old") &&
	code=$(emu_curl -o e.json -w "%{http_code}" -H "Authorization: $auth" -H "x-ms-date: $old" "$EMU_URL/dbs/nope") &&
	test "$code" = 403 &&
	code=$(emu_curl -o e.json -w "%{http_code}" "$EMU_URL/dbs") && test "$code" = 401 &&
	jq -e ".code == \"Unauthorized\"" e.json
'

test_expect_success 'Cosmos: type=aad tokens from the token endpoint are accepted' '
	tok=$(emu_curl -d "grant_type=client_credentials&client_id=a&client_secret=b&scope=https%3A%2F%2F127.0.0.1%2F.default" "$EMU_URL/t/oauth2/v2.0/token" | jq -r .access_token) &&
	d=$(emu_date) &&
	code=$(emu_curl -o dbs.json -w "%{http_code}" -H "Authorization: type%3Daad%26ver%3D1.0%26sig%3D$tok" -H "x-ms-date: $d" "$EMU_URL/dbs") &&
	test "$code" = 200 && jq -e "._count == 0" dbs.json &&
	code=$(emu_curl -o e.json -w "%{http_code}" -H "Authorization: type%3Daad%26ver%3D1.0%26sig%3Dx.y.z" -H "x-ms-date: $d" "$EMU_URL/dbs") &&
	test "$code" = 401
'

test_expect_success 'bad requests get the service error answer, never a crash' '
	EMU_DATE=$(emu_date) &&
	auth=$(emu_sign post dbs "" "$EMU_DATE") &&
	code=$(emu_curl -o e.json -w "%{http_code}" -H "Authorization: $auth" -H "x-ms-date: $EMU_DATE" -d "{\"id\":" "$EMU_URL/dbs") &&
	test "$code" = 400 && jq -e ".code == \"BadRequest\"" e.json &&
	code=$(emu_curl -o e.json -w "%{http_code}" -H "Authorization: $auth" -H "x-ms-date: $EMU_DATE" -d "{\"id\":\"a/b\"}" "$EMU_URL/dbs") &&
	test "$code" = 400 &&
	for p in "/digitaltwins/%2e%2e?api-version=2023-10-31" "/dbs/%2E%2E/colls/x" \
	    "/digitaltwins/a%0d%0aX:%20y?api-version=2023-10-31" "/dbs//x" "/dbs/%zz"; do
		code=$(emu_curl -o e.json -w "%{http_code}" "$EMU_URL$p") &&
		test "$code" = 400 && jq -e . e.json >/dev/null || { echo "path $p: $code"; exit 1; }
	done &&
	head -c 5000000 /dev/zero | tr "\0" a >big &&
	code=$(emu_curl -o e.json -w "%{http_code}" -H "Authorization: $auth" -H "x-ms-date: $EMU_DATE" --data-binary @big "$EMU_URL/dbs") &&
	test "$code" = 413 &&
	code=$(emu_curl -o e.json -w "%{http_code}" -H "Content-Type: application/json" -d "{}" "$EMU_URL/t/oauth2/v2.0/token") &&
	test "$code" = 400 &&
	port=${EMU_URL##*:} &&
	exec 3<>"/dev/tcp/127.0.0.1/$port" &&
	printf "GET /_admin/health HTTP/1.1\r\nHost: x\r\nX-Bad: a\rb\r\n\r\n" >&3 &&
	timeout 5 head -n 1 <&3 >raw && exec 3<&- &&
	test_grep "HTTP/1.1 400" raw &&
	emu_curl "$EMU_URL/_admin/health" | jq -e ".status == \"ok\""
'

test_expect_success 'ADT: PATCH body that is not an array gets problem+json 400' '
	tok=$(emu_curl -d "grant_type=client_credentials&client_id=a&client_secret=b&scope=https%3A%2F%2Fdigitaltwins.azure.net%2F.default" "$EMU_URL/t/oauth2/v2.0/token" | jq -r .access_token) &&
	H="Authorization: Bearer $tok" &&
	emu_curl -H "$H" -H "Content-Type: application/json" -d "[{\"@id\":\"dtmi:t:A;1\",\"@type\":\"Interface\",\"contents\":[{\"@type\":\"Property\",\"name\":\"p\",\"schema\":\"string\"}]}]" \
		"$EMU_URL/models?api-version=2023-10-31" | jq -e ".[0].id == \"dtmi:t:A;1\"" &&
	emu_curl -X PUT -H "$H" -H "Content-Type: application/json" -d "{\"\$metadata\":{\"\$model\":\"dtmi:t:A;1\"},\"p\":\"x\"}" \
		"$EMU_URL/digitaltwins/a%20b?api-version=2023-10-31" | jq -e ".\"\$dtId\" == \"a b\"" &&
	code=$(emu_curl -o e.json -w "%{http_code}" -X PATCH -H "$H" -H "Content-Type: application/json-patch+json" -d "{\"op\":1}" \
		"$EMU_URL/digitaltwins/a%20b?api-version=2023-10-31") &&
	test "$code" = 400 && jq -e ".status == 400" e.json &&
	code=$(emu_curl -o e.json -w "%{http_code}" -X PATCH -H "$H" -d "[{\"op\":\"move\",\"from\":\"/p\",\"path\":\"/q\"}]" \
		"$EMU_URL/digitaltwins/a%20b?api-version=2023-10-31") &&
	test "$code" = 400 && jq -e ".error.code == \"JsonPatchInvalid\"" e.json &&
	code=$(emu_curl -o e.json -w "%{http_code}" -X PUT -H "$H" -d "{\"\$metadata\":{\"\$model\":\"dtmi:t:A;1\"},\"p\":5}" \
		"$EMU_URL/digitaltwins/b?api-version=2023-10-31") &&
	test "$code" = 400 && jq -e ".error.code == \"ValidationFailed\"" e.json
'

kill -TERM "$EMU_PID"; wait "$EMU_PID"; term_rc=$?
test_expect_success 'SIGTERM: exit 0 and the pid file is removed' '
	test "$term_rc" = 0 && ! test -e "$TEST_DIR/emu.pid"
'

emu_start --no-auth --db "$TEST_DIR/data.db"
test_expect_success 'with --db the data is kept in SQLite (WAL)' '
	emu_curl -H "Content-Type: application/json" -d "[{\"@id\":\"dtmi:t:A;1\",\"@type\":\"Interface\",\"contents\":[]}]" \
		"$EMU_URL/models?api-version=2023-10-31" | jq -e "length == 1" &&
	emu_curl -X PUT -d "{\"\$metadata\":{\"\$model\":\"dtmi:t:A;1\"}}" \
		"$EMU_URL/digitaltwins/keep?api-version=2023-10-31" | jq -e ".\"\$etag\"" &&
	test -e "$TEST_DIR/data.db-wal"
'
kill -TERM "$EMU_PID"; wait "$EMU_PID"
emu_start --no-auth --db "$TEST_DIR/data.db"
test_expect_success '... and is still there after a restart' '
	emu_curl "$EMU_URL/digitaltwins/keep?api-version=2023-10-31" | jq -e ".\"\$dtId\" == \"keep\""
'
test_done
