#!/usr/bin/env bash
# extract-lob sends its credentials (bearer token, basic auth, --auth-header)
# only to the origin of SOURCE: a next link to another origin (here another
# port) is refused, or with --follow-foreign-links read without credentials;
# an HTTP redirect is not followed at all.
. "$(dirname "$0")/../lib.sh"
test_require python3 "the test API is a python3 http.server" || { test_done; exit 1; }

mkdir a b
test_bg python3 "$TP_TOP/tests/tools/lob-http.py" "$TEST_DIR/a/port" 25 >/dev/null 2>&1
test_bg python3 "$TP_TOP/tests/tools/lob-http.py" "$TEST_DIR/b/port" 25 >/dev/null 2>&1
test_wait_for 60 "test -s \"$TEST_DIR/a/port\" && test -s \"$TEST_DIR/b/port\""
A=http://127.0.0.1:$(cat a/port)
PB=$(cat b/port)
echo T0kenSecret >tokf
creds() { EXTRACT_PASSWORD=Pa55word EXTRACT_AUTH_HEADER=HdrSecret "$@"; }
nocred() { ! grep -i "authorization\|x-api-key\|T0kenSecret\|Pa55word\|HdrSecret" "$@"; }

test_expect_success 'default: a next link to another origin is refused (exit 3, clear error)' '
	creds test_expect_code 3 extract-lob --token-file tokf --next ".[\"@odata.nextLink\"]" \
		"$A/foreign?to=$PB" >out 2>err &&
	test_lines 1 out && ! grep -q control out &&
	test_grep "another origin" err && test_grep "follow-foreign-links" err &&
	test_grep "Authorization: Bearer T0kenSecret" a/port.hdr &&
	test ! -e b/port.hdr &&
	creds test_expect_code 3 extract-lob --user u --auth-header X-Api-Key \
		--next ".[\"@odata.nextLink\"]" "$A/foreign?to=$PB" >out 2>err &&
	test ! -e b/port.hdr && test_grep "X-Api-Key: HdrSecret" a/port.hdr &&
	test_grep "Authorization: Basic" a/port.hdr && nocred err
'

test_expect_success '--follow-foreign-links: the other origin gets no credential at all' '
	creds extract-lob --follow-foreign-links --token-file tokf \
		--auth-header X-Api-Key --next ".[\"@odata.nextLink\"]" \
		"$A/foreign?to=$PB" >out 2>err &&
	jq -r "select(.id) | .id" out >got && printf "1\n21\n22\n23\n24\n25\n" >expect &&
	test_cmp expect got && test_grep snapshot-complete out &&
	test_grep "GET /odata?page=2" b/port.hdr && nocred b/port.hdr &&
	creds extract-lob --follow-foreign-links --user u --next ".[\"@odata.nextLink\"]" \
		"$A/foreign?to=$PB" >out 2>err &&
	test_lines 7 out && nocred b/port.hdr
'

test_expect_success 'an HTTP redirect is not followed (libcurl does not carry them anywhere)' '
	creds test_expect_code 3 extract-lob --max-attempts 1 --token-file tokf --user u \
		--auth-header X-Api-Key "$A/redirect?to=$PB" >out 2>err &&
	test ! -s out && test_grep "HTTP 302" err && nocred b/port.hdr &&
	! grep -qx "GET /odata" b/port.hdr
'

test_expect_success 'the same origin (root-relative links) still gets the credentials' '
	: >a/port.hdr &&
	creds extract-lob --token-file tokf --next ".[\"@odata.nextLink\"]" \
		"$A/odata" >out && test_lines 26 out &&
	test "$(grep -c "Authorization: Bearer T0kenSecret" a/port.hdr)" = 3
'
test_done
