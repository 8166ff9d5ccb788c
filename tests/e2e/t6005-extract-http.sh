#!/usr/bin/env bash
# extract-lob http: JSON pages from a local test API: @odata.nextLink,
# Link rel="next", offset/limit, 429/503 retried, auth, fatal errors.
. "$(dirname "$0")/../lib.sh"
test_require python3 "the test API is a python3 http.server" || { test_done; exit 1; }

test_bg python3 "$TP_TOP/tests/tools/lob-http.py" "$TEST_DIR/port" 25 >/dev/null 2>&1
for _ in $(seq 1 1200); do [ -s "$TEST_DIR/port" ] && break; sleep 0.05; done	# up to 60s
U=http://127.0.0.1:$(cat "$TEST_DIR/port")
next='.["@odata.nextLink"]'
x() { extract-lob --run-id r1 "$@"; }
ids() { jq -r "select(.id) | .id" "$@"; }
seq 1 25 >all

test_expect_success '@odata.nextLink pagination (--next), page and row in _meta.src' '
	x --next "$next" "$U/odata" >out &&
	ids out >got && test_cmp all got &&
	jq -s -e ".[24]._meta.src == {source:\"$U/odata\",run:\"r1\",page:3,row:25}" out &&
	tail -n 1 out | jq -e "._meta.control == \"snapshot-complete\" and ._meta.records == 25"
'

test_expect_success 'a page with "value" is found without --items; only one page without --next' '
	x "$U/odata" >out && test_lines 11 out
'

test_expect_success 'Link: rel="next" headers' '
	x "$U/link" >out && ids out >got && test_cmp all got
'

test_expect_success 'offset/limit paging with --items' '
	x --page-size 10 --items .data.rows "$U/offset" >out && ids out >got && test_cmp all got &&
	grep -c "offset=" port.log >n && test "$(cat n)" -ge 3
'

test_expect_success '503 and 429 (Retry-After) are retried by the shared engine' '
	x --next "$next" "$U/flaky" >out 2>err &&
	ids out >got && test_cmp all got &&
	test_grep "throttled=1" err && test_grep "retried=3" err
'

test_expect_success 'bearer token from a file; basic; a header from the environment' '
	echo tok >tokf &&
	x --token-file tokf --next "$next" "$U/auth/odata" >out && ids out >got && test_cmp all got &&
	EXTRACT_PASSWORD=p x --user u "$U/auth/odata" >out && test_lines 11 out &&
	EXTRACT_AUTH_HEADER=k x --auth-header X-Api-Key "$U/auth/odata" >out && test_lines 11 out &&
	! grep -q "tok\|u:p" err
'

test_expect_success 'bearer token from the Entra ID chain (--scope, client secret)' '
	AZURE_AUTHORITY_HOST=$U AZURE_TENANT_ID=t1 AZURE_CLIENT_ID=c1 AZURE_CLIENT_SECRET=sekrit \
		x --scope api://lob/.default "$U/auth/odata" >out 2>err &&
	test_lines 11 out && test_grep "POST /t1/oauth2/v2.0/token api://lob/.default" port.log &&
	! grep -q sekrit err
'

test_expect_success 'auth failure: exit 3, no control line, the secret is not printed' '
	echo wrong >badtok &&
	test_expect_code 3 x --token-file badtok "$U/auth/odata" >out 2>err &&
	test ! -s out && test_grep "authentication failed: HTTP 401" err && ! grep -q wrong err &&
	AZURE_AUTHORITY_HOST=$U AZURE_TENANT_ID=t1 AZURE_CLIENT_ID=c1 AZURE_CLIENT_SECRET=nope \
		test_expect_code 3 x --scope api://lob/.default "$U/auth/odata" >out 2>err &&
	test ! -s out && ! grep -q "nope" err
'

test_expect_success 'a server that stays down, a page that is not JSON, an unreachable host: exit 3' '
	test_expect_code 3 x --max-attempts 2 "$U/down" >out 2>err && test ! -s out &&
	test_grep "gave up after 2 attempts: HTTP 500" err &&
	test_expect_code 3 x "$U/broken" >out 2>err && test_grep "not JSON" err &&
	test_expect_code 3 x --max-attempts 1 http://127.0.0.1:1/x >out 2>err && test ! -s out
'

test_expect_success '--max-pages with pages left announces no snapshot' '
	x --max-pages 2 --next "$next" "$U/odata" >out 2>err &&
	ids out >got && seq 1 20 >expect && test_cmp expect got &&
	! grep -q control out && test_grep "max-pages" err &&
	x --max-pages 3 --next "$next" "$U/odata" >out && test_grep snapshot-complete out
'

test_expect_success '--rate spaces the requests' '
	start=$(date +%s%N) &&
	x --rate 5 --next "$next" "$U/odata" >out &&
	end=$(date +%s%N) && test $(( (end - start) / 1000000 )) -ge 350
'
test_done
