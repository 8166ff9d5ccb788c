#!/usr/bin/env bash
# push-adt's credentials against twin-emulator's token endpoint: each
# source of the shared chain (client secret, workload identity, managed
# identity via IMDS and App Service, Azure CLI), a static token file,
# no credential at all, and short-lived tokens refreshed during a run.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-adt.sh"

padt_start --token-lifetime 4s || exit 1
M='"$metadata":{"$model":"dtmi:t:Room;1"}'
# run push-adt with none of the credential variables set, plus "$@" env
bare() {
	env -u AZURE_CLIENT_SECRET -u AZURE_TENANT_ID -u AZURE_CLIENT_ID \
		-u AZURE_AUTHORITY_HOST -u AZURE_FEDERATED_TOKEN_FILE \
		-u IDENTITY_ENDPOINT -u IDENTITY_HEADER TWINPIPE_IMDS_ENDPOINT=http://127.0.0.1:9 \
		PATH="$TEST_DIR/nobin:$PATH" "$@"
}
mkdir -p nobin && printf '#!/bin/sh\necho "az: not logged in" >&2\nexit 1\n' >nobin/az && chmod +x nobin/az

test_expect_success 'environment: client secret' '
	echo "{\"\$dtId\":\"env\",$M}" | padt -v >out 2>err &&
	jq -e ".ok" out && test_grep "environment" err
'
test_expect_success 'workload identity: federated token file (RS256 assertion)' '
	emu_assertion fed.key >fed.jwt &&
	echo "{\"\$dtId\":\"wi\",$M}" |
		bare env AZURE_TENANT_ID=tenant1 AZURE_CLIENT_ID=client1 AZURE_AUTHORITY_HOST="$EMU_URL" \
		AZURE_FEDERATED_TOKEN_FILE="$TEST_DIR/fed.jwt" \
		push-adt --endpoint "$EMU_URL" --cacert "$TEST_DIR/cert.pem" -v >out 2>err &&
	jq -e ".ok" out && test_grep "workload-identity" err
'
test_expect_success 'workload identity: an assertion that does not verify stops the chain' '
	echo "a.b.c" >bad.jwt && emu_assertion fed.key ".sub = \"other\" | .aud = \"x\"" >aud.jwt &&
	for f in bad.jwt aud.jwt; do
		echo "{\"\$dtId\":\"wi-bad\",$M}" |
			test_expect_code 2 bare env AZURE_TENANT_ID=tenant1 AZURE_CLIENT_ID=client1 AZURE_AUTHORITY_HOST="$EMU_URL" \
			AZURE_FEDERATED_TOKEN_FILE="$TEST_DIR/$f" \
			push-adt --credential workload-identity --endpoint "$EMU_URL" --cacert "$TEST_DIR/cert.pem" >out 2>err &&
		test_lines 0 out && test_grep "workload-identity" err || return 1
	done
'
test_expect_success 'managed identity: IMDS' '
	echo "{\"\$dtId\":\"imds\",$M}" |
		bare env TWINPIPE_IMDS_ENDPOINT="$EMU_URL" \
		push-adt --endpoint "$EMU_URL" --cacert "$TEST_DIR/cert.pem" -v >out 2>err &&
	jq -e ".ok" out && test_grep "managed-identity" err
'
test_expect_success 'managed identity: App Service endpoint' '
	echo "{\"\$dtId\":\"appsvc\",$M}" |
		bare env IDENTITY_ENDPOINT="$EMU_URL/msi/token" IDENTITY_HEADER=hdr-secret-1 \
		push-adt --endpoint "$EMU_URL" --cacert "$TEST_DIR/cert.pem" -v >out 2>err &&
	jq -e ".ok" out && test_grep "managed-identity" err && ! grep -q hdr-secret-1 err
'
test_expect_success 'Azure CLI' '
	mkdir -p azbin && tok=$(adt_token) &&
	printf "#!/bin/sh\necho \"{\\\\\"accessToken\\\\\":\\\\\"%s\\\\\",\\\\\"expires_on\\\\\":%s}\"\n" "$tok" "$(( $(date +%s) + 3 ))" >azbin/az &&
	chmod +x azbin/az && azbin/az | jq -e .accessToken >/dev/null &&
	echo "{\"\$dtId\":\"cli\",$M}" |
		bare env PATH="$TEST_DIR/azbin:$PATH" push-adt --endpoint "$EMU_URL" --cacert "$TEST_DIR/cert.pem" -v >out 2>err &&
	jq -e ".ok" out && test_grep "azure-cli" err && ! grep -q "$tok" err
'
test_expect_success '--token-file / ADT_TOKEN_FILE: a static token' '
	adt_token >tok && chmod 600 tok &&
	echo "{\"\$dtId\":\"static\",$M}" |
		bare push-adt --endpoint "$EMU_URL" --cacert "$TEST_DIR/cert.pem" --token-file tok >out &&
	jq -e ".ok" out &&
	echo "{\"\$dtId\":\"static2\",$M}" |
		bare env ADT_TOKEN_FILE="$TEST_DIR/tok" ADT_ENDPOINT="$EMU_URL" push-adt --cacert "$TEST_DIR/cert.pem" >out &&
	jq -e ".ok" out
'
test_expect_success 'a rejected token (401) is dead-lettered, never printed' '
	echo "not-a-valid-token-abc" >bad &&
	echo "{\"\$dtId\":\"rej\",$M}" |
		test_expect_code 1 bare push-adt --endpoint "$EMU_URL" --cacert "$TEST_DIR/cert.pem" --token-file bad >out 2>err &&
	jq -e "(.ok | not) and .status == 401" out && ! grep -q not-a-valid-token-abc err out
'
test_expect_success 'no credential: exit 2 naming every source, nothing sent' '
	echo "{\"\$dtId\":\"none\",$M}" |
		test_expect_code 2 bare push-adt --endpoint "$EMU_URL" --cacert "$TEST_DIR/cert.pem" >out 2>err &&
	test_lines 0 out && test_grep "environment" err && test_grep "azure-cli" err
'
test_expect_success 'a wrong client secret stops the chain: exit 2' '
	echo "{\"\$dtId\":\"wrong\",$M}" |
		test_expect_code 2 env AZURE_CLIENT_SECRET=wrong-secret-value push-adt --credential environment \
		--endpoint "$EMU_URL" --cacert "$TEST_DIR/cert.pem" >out 2>err &&
	test_lines 0 out && test_grep "environment" err && ! grep -q wrong-secret-value err
'
test_expect_success 'tokens that expire during a run are refreshed (lifetime 4s)' '
	{ echo "{\"\$dtId\":\"ref1\",$M}"; sleep 5; echo "{\"\$dtId\":\"ref2\",$M}"; sleep 5; echo "{\"\$dtId\":\"ref3\",$M}"; } |
		padt -v >out 2>err &&
	test "$(jq -s "map(select(.ok and .attempts == 1)) | length" out)" = 3 &&
	test_grep "token requests: [2-9]" err
'
test_done
