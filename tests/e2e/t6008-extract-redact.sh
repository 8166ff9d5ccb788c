#!/usr/bin/env bash
# extract-lob keeps no URL secret: the userinfo password and the secret
# query parameters (sig, code, ...) of SOURCE are redacted in every record's
# _meta.src.source, the control record, the dead letters and the log lines;
# other parameters stay, unless --redact-param names them.
. "$(dirname "$0")/../lib.sh"
test_require python3 "the test API is a python3 http.server" || { test_done; exit 1; }

test_bg python3 "$TP_TOP/tests/tools/lob-http.py" "$TEST_DIR/port" 25 >/dev/null 2>&1
test_wait_for 60 "test -s \"$TEST_DIR/port\""
P=$(cat "$TEST_DIR/port")
S="http://user:PASSw0rd@127.0.0.1:$P"
Q="sig=SIGs3cret&code=C0DEs3cret&x=1"
nosecret() { ! grep -h "PASSw0rd\|SIGs3cret\|C0DEs3cret" "$@"; }

test_expect_success 'records and the control record: no secret, x=1 kept' '
	extract-lob -vv --run-id r1 "$S/p?$Q" >out 2>err &&
	test_lines 3 out && nosecret out err &&
	jq -e -s "all(.[]; (._meta.src.source // ._meta.source) ==
		\"http://***@127.0.0.1:$P/p?sig=REDACTED&code=REDACTED&x=1\")" out &&
	tail -n 1 out | jq -e "._meta.control == \"snapshot-complete\"" &&
	test_grep "127.0.0.1:$P/p?sig=REDACTED" err &&
	test_grep "GET /p?$Q" port.log
'

test_expect_success 'dead letters and their log lines: no secret' '
	test_expect_code 1 extract-lob --run-id r1 --dead-letter dlq "$S/p?bad=1&$Q" \
		>out 2>err &&
	test_lines 2 out && test_lines 1 dlq && nosecret out err dlq &&
	test_grep "sig=REDACTED" dlq && test_grep "x=1" dlq && test_grep "not_an_object\|not a JSON object" err
'

test_expect_success 'a failing source: the error names the URL without its secrets' '
	test_expect_code 3 extract-lob --max-attempts 1 "$S/down?$Q" >out 2>err &&
	test ! -s out && nosecret err && test_grep "down?sig=REDACTED&code=REDACTED&x=1" err &&
	test_expect_code 3 extract-lob --log-format json --max-attempts 1 \
		"$S/down?$Q" >out 2>err && nosecret err && test_grep REDACTED err
'

test_expect_success '--redact-param hides more parameters (any case), repeatable' '
	extract-lob -vv --redact-param x --redact-param Y "$S/p?$Q&y=2" >out 2>err &&
	nosecret out err && ! grep -q "x=1\|y=2" out && ! grep -q "x=1\|y=2" err &&
	test_grep "x=REDACTED&y=REDACTED" out
'

test_expect_success 'SAS fields that are no secret stay visible; names are matched decoded' '
	extract-lob "http://127.0.0.1:$P/p?sv=2022&se=2030&sp=r&si%67=SIGs3cret&API-KEY=C0DEs3cret" \
		>out 2>err && nosecret out err &&
	test_grep "sv=2022&se=2030&sp=r&si%67=REDACTED&API-KEY=REDACTED" out
'
test_done
