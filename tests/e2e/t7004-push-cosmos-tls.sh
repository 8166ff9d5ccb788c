#!/usr/bin/env bash
# push-cosmos over TLS: --cacert trusts the emulator's certificate,
# verification is on by default, --insecure turns it off.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-cosmos.sh"

pcos_start --tls --cert "$TEST_DIR/cert.pem" --key "$TEST_DIR/key.pem" || exit 1

test_expect_success '--cacert: created over https' '
	echo "{\"id\":\"t1\",\"deviceId\":\"t1\",\"\$op\":\"merge\",\"\$version\":1,\"a\":1}" >in &&
	pcos --cacert "$TEST_DIR/cert.pem" --create-container <in >out &&
	jq -e ".ok and .status == 201" out && cos_doc_is t1 ".a == 1"
'
test_expect_success 'an untrusted certificate fails the records (exit 1); --insecure works' '
	test_expect_code 1 pcos --max-attempts 1 <in >out 2>err &&
	jq -e "(.ok | not) and .status == 0" out &&
	test_expect_code 3 pcos --create-container </dev/null 2>err &&
	test_grep "cannot create the database" err &&
	echo "{\"id\":\"t2\",\"deviceId\":\"t2\",\"a\":2}" | pcos --insecure >out &&
	jq -e .ok out && cos_doc_is t2 ".a == 2"
'
test_done
