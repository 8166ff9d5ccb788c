#!/usr/bin/env bash
# push-cosmos: Entra ID tokens (type=aad) from the credential chain and from
# a file; SIGTERM while requests are in flight: every record read gets a
# result (applied, or "interrupted" and dead-lettered), exit 3.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-cosmos.sh"

pcos_start || exit 1
pcos --create-container </dev/null 2>/dev/null

test_expect_success 'Entra ID client secret from the environment, scope of the account' '
	echo "{\"id\":\"aad1\",\"deviceId\":\"aad1\",\"a\":1}" |
		env -u COSMOS_KEY AZURE_AUTHORITY_HOST=$EMU_URL AZURE_TENANT_ID=t1 \
		AZURE_CLIENT_ID=c1 AZURE_CLIENT_SECRET=s1 TWINPIPE_CREDENTIAL=environment \
		push-cosmos --endpoint "$EMU_URL" -d db --container c -p /deviceId -v >out 2>err &&
	jq -e ".ok and .status == 201" out && test_grep "credential: environment" err &&
	cos_doc_is aad1 ".a == 1"
'
test_expect_success '--token-file sends that token; no key and no credential is exit 2' '
	curl -sS -d "grant_type=client_credentials&client_id=c1&client_secret=s1&scope=https://127.0.0.1/.default" \
		"$EMU_URL/t1/oauth2/v2.0/token" | jq -r .access_token >tok &&
	echo "{\"id\":\"aad2\",\"deviceId\":\"aad2\",\"a\":2}" |
		env -u COSMOS_KEY push-cosmos --endpoint "$EMU_URL" -d db --container c -p /deviceId --token-file tok >out &&
	jq -e ".ok" out && cos_doc_is aad2 ".a == 2" &&
	echo "{\"id\":\"aad3\",\"deviceId\":\"aad3\"}" |
		test_expect_code 2 env -u COSMOS_KEY AZURE_AUTHORITY_HOST=http://127.0.0.1:9 TWINPIPE_CREDENTIAL=environment \
		push-cosmos --endpoint "$EMU_URL" -d db --container c -p /deviceId >out 2>err &&
	test ! -s out && test_grep "no account key" err
'
test_expect_success 'SIGTERM: stops reading, every record read has a result, exit 3' '
	faults "{\"latency_ms\":200}" && mkfifo fifo
	( for i in $(seq 1 40); do echo "{\"\$op\":\"merge\",\"id\":\"s$((i % 8))\",\"deviceId\":\"s$((i % 8))\",\"\$version\":$i,\"n\":$i}"; done
	  test_wait_for 120 "test -e go" ) >fifo 2>/dev/null &
	feeder=$!
	push-cosmos --endpoint "$EMU_URL" -d db --container c -p /deviceId --dead-letter dlq <fifo >out 2>err &
	pid=$!
	# signalled once its first write landed: it has read records by then
	test_wait_for 120 "test -n \"\$(cos_doc s1)\"" && kill -TERM $pid && rc=0 && { wait $pid || rc=$?; } &&
	touch go; wait $feeder 2>/dev/null; faults "{\"latency_ms\":0}" &&
	test "$rc" = 3 &&
	n=$(sed -n "s/.* in=\([0-9]*\).*/\1/p" err) && test "$n" -gt 0 &&
	test_lines "$n" out &&
	jq -se "all(.[]; .ok or .error.code == \"interrupted\")" out >/dev/null &&
	test "$(jq -s "map(select(.ok | not)) | length" out)" = "$(grep -c . dlq || true)" &&
	test_grep "interrupted" err
'
test_done
