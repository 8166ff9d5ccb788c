#!/usr/bin/env bash
# archive's error path: a 403 with Azure's XML error body is reported as
# one clean line (code, first line of the message, a hint), nothing read
# past it (the same under VALGRIND=1), and the segment stays in the spool.
. "$(dirname "$0")/../lib.sh"
test_require python3 "the fake Blob endpoint is a python script" || { test_done; exit 1; }
test_require valgrind "the error path is checked under valgrind" || { test_done; exit 1; }
export XDG_STATE_HOME=$TEST_DIR/state
test_bg python3 "$TP_TOP/tests/tools/fake-blob.py" "$TEST_DIR/f.log" 403-xml \
	>"$TEST_DIR/f.url" 2>"$TEST_DIR/f.err"
# the server's port, once it listens (at most 5 s)
fake_port() {
	local i u
	for i in $(seq 1 50); do
		u=$(head -n 1 "$TEST_DIR/f.url" 2>/dev/null)
		[ -n "$u" ] && { echo "${u##*:}"; return 0; }
		sleep 0.1
	done
	cat "$TEST_DIR/f.err" >&2; return 1
}
python3 "$TP_TOP/bench/gen-lob.py" 200 >in.ndjson

test_expect_success '403 with an XML body: one clean error line, exit 3, the segment kept' '
	port=$(fake_port) &&
	AZURE_STORAGE_KEY=$(printf k | base64) test_expect_code 3 archive --no-pass \
		--blob "http://127.0.0.1:$port/acct1/cont" <in.ndjson 2>err &&
	grep "blob upload of" err >line && test_lines 1 line &&
	sp=$XDG_STATE_HOME/twinpipe/archive/acct1-cont &&
	want="failed: Put Blob: HTTP 403 AuthenticationFailed: Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature. (check the account key, SAS token or role assignment) (the segment stays in the spool .*. for the next run)\$" &&
	test_grep "$want" line &&
	! LC_ALL=C grep -q "[^[:print:]]" line &&
	! grep -q RequestId err &&
	test "$(find "$sp" -name "*.ndjson.zst" | wc -l)" = 1
'

# valgrind cannot run an ASan binary: with SAN=1, ASan is the check
if [ "${SAN:-}" = 1 ]; then vg=; else vg="valgrind -q --error-exitcode=99 --leak-check=no"; fi
test_expect_success 'the same under valgrind (ASan with SAN=1): no invalid or uninitialised read' '
	port=$(fake_port) &&
	AZURE_STORAGE_KEY=$(printf k | base64) test_expect_code 3 \
		$vg "$TP_BIN/archive" --no-pass \
		--spool vg --blob "http://127.0.0.1:$port/acct1/cont" <in.ndjson 2>err &&
	test_grep "failed: Put Blob: HTTP 403 AuthenticationFailed" err &&
	! grep -q "==[0-9]*==" err && ! grep -q AddressSanitizer err
'
test_done
