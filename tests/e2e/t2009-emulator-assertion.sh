#!/usr/bin/env bash
# twin-emulator's token endpoint and federated client assertions: with a
# client secret required, an assertion is accepted only when it verifies
# against --federated-key (RS256 public key or HS256 secret) with the
# right aud, iss, sub and time range; otherwise 401 invalid_client with
# an AADSTS code. Without --federated-key, a secret-protected endpoint
# refuses every assertion.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

T=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer
ISS=https://oidc.twinpipe.test/ SUB=system:serviceaccount:ns:sa
# grant ASSERTION: status of the token request, body in g.json
grant() {
	curl -sS -o g.json -w "%{http_code}" --data-urlencode "client_assertion=$1" \
		-d "grant_type=client_credentials&client_id=c1&client_assertion_type=$T&scope=https%3A%2F%2Fdigitaltwins.azure.net%2F.default" \
		"$EMU_URL/t1/oauth2/v2.0/token"
}
# refused CODE ASSERTION: 401 invalid_client with AADSTS<CODE>
refused() {
	test "$(grant "$2")" = 401 &&
	jq -e --arg c "AADSTS$1:" ".error == \"invalid_client\" and (.error_description | startswith(\$c)) and .error_codes == [$1]" g.json
}
emu_fed_keys || exit 1
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other.key 2>/dev/null || exit 1
echo "client-secret-1" >secret

emu_start --client-secret-file secret || exit 1
test_expect_success 'a secret is required and no key configured: every assertion is refused' '
	refused 700211 a.b.c && test_grep "federated-key" g.json &&
	refused 700211 "$(emu_assertion fed.key)" &&
	test "$(curl -sS -o /dev/null -w "%{http_code}" -d "grant_type=client_credentials&client_id=c1&client_secret=client-secret-1&scope=x%2F.default" "$EMU_URL/t1/oauth2/v2.0/token")" = 200
'
kill "$EMU_PID"

emu_start --client-secret-file secret --federated-key fed.pub --federated-issuer "$ISS" --federated-subject "$SUB" || exit 1
test_expect_success 'RS256: a correctly signed assertion gets a token that ADT accepts' '
	test "$(grant "$(emu_assertion fed.key)")" = 200 &&
	tok=$(jq -r .access_token g.json) &&
	test "$(curl -sS -o /dev/null -w "%{http_code}" -H "Authorization: Bearer $tok" "$EMU_URL/models?api-version=2023-10-31")" = 200
'
test_expect_success 'RS256: garbage, alg none, another key and alg confusion are refused' '
	refused 50027 a.b.c &&
	refused 50027 "not-a-jwt" &&
	h=$(printf "{\"alg\":\"none\"}" | emu_b64url) && p=$(emu_assertion fed.key | cut -d. -f2) &&
	refused 700027 "$h.$p." &&
	refused 700027 "$(emu_assertion other.key)" &&
	refused 700027 "$(emu_assertion fed.pub . HS256)" &&
	good=$(emu_assertion fed.key) && n=$((${#good} - 20)) &&
	c=${good:$n:1} && [ "$c" = A ] && r=B || r=A &&
	refused 700027 "${good:0:$n}$r${good:$((n + 1))}" &&
	l=$(printf %s "${good: -1}" | tr AQgw BRhx) && test "$l" != "${good: -1}" &&
	refused 50027 "${good%?}$l"
'
test_expect_success 'RS256: aud, iss, sub, exp and nbf are checked' '
	refused 700212 "$(emu_assertion fed.key ".aud = \"https://digitaltwins.azure.net\"")" &&
	refused 700212 "$(emu_assertion fed.key "del(.aud)")" &&
	refused 700211 "$(emu_assertion fed.key ".iss = \"https://evil.test/\"")" &&
	refused 700213 "$(emu_assertion fed.key ".sub = \"system:serviceaccount:ns:other\"")" &&
	refused 700024 "$(emu_assertion fed.key ".exp = (.iat - 3600)")" &&
	refused 700024 "$(emu_assertion fed.key "del(.exp)")" &&
	refused 700024 "$(emu_assertion fed.key ".nbf = (.iat + 3600)")" &&
	! grep -q "BEGIN" g.json
'
kill "$EMU_PID"

printf "hs256-shared-secret-0123456789\n" >hs.secret
emu_start --client-secret-file secret --federated-key hs.secret || exit 1
test_expect_success 'HS256 secret: its assertions are accepted (any iss and sub), RS256 ones are not' '
	test "$(grant "$(emu_assertion hs.secret ".iss = \"https://other/\" | .sub = \"x\"" HS256)")" = 200 &&
	jq -e ".access_token" g.json &&
	refused 700027 "$(emu_assertion fed.key)" &&
	printf "wrong" >wrong.secret && refused 700027 "$(emu_assertion wrong.secret . HS256)"
'
test_expect_success 'option errors: exit 2' '
	test_expect_code 2 twin-emulator --federated-issuer x 2>err && test_grep "need --federated-key" err &&
	test_expect_code 2 twin-emulator --federated-key fed.key 2>err && test_grep "not an RSA public key" err &&
	test_expect_code 2 twin-emulator --federated-key /nonexistent 2>err &&
	: >empty && test_expect_code 2 twin-emulator --federated-key empty 2>err
'
test_done
