#!/usr/bin/env bash
# archive --blob with a prefix that has an empty, "." or ".." segment
# (also percent-encoded, in the URL form) is a usage error (exit 2) before
# any request: Blob Storage and libcurl would resolve the dot segments and
# the segments would land outside the prefix. Good prefixes reach Blob
# Storage exactly as given, segment by segment percent-encoded.
. "$(dirname "$0")/../lib.sh"
test_require python3 "the fake Blob endpoint is a python script" || { test_done; exit 1; }
export XDG_STATE_HOME=$TEST_DIR/state
test_bg python3 "$TP_TOP/tests/tools/fake-blob.py" "$TEST_DIR/f.log" \
	>"$TEST_DIR/f.url" 2>"$TEST_DIR/f.err"
fake_port() {	# the server's port, once it listens (at most 5 s)
	local i u
	for i in $(seq 1 50); do
		u=$(head -n 1 "$TEST_DIR/f.url" 2>/dev/null)
		[ -n "$u" ] && { echo "${u##*:}"; return 0; }
		sleep 0.1
	done
	cat "$TEST_DIR/f.err" >&2; return 1
}
python3 "$TP_TOP/bench/gen-lob.py" 20 >in.ndjson
export AZURE_STORAGE_KEY=$(printf k | base64)
port=$(fake_port)
B=http://127.0.0.1:$port/acct1/cont

test_expect_success 'the fake Blob endpoint listens' '
	test -n "$port"
'
test_expect_success 'dot-segment and empty-segment prefixes: exit 2, no request' '
	: >f.log.before && touch "$TEST_DIR/f.log" &&
	for p in .. . a/.. ../x a/./b a/../../b "a//b" %2E%2E/x a/%2e "x/%2E%2E"; do
		test_expect_code 2 archive --no-pass --blob "$B/$p" <in.ndjson 2>err || return 1
		test_grep "prefix" err || return 1
		test_grep "segment" err || return 1
	done &&
	test_lines 0 "$TEST_DIR/f.log"
'
test_expect_success 'the CONTAINER/PREFIX form of the connection string is checked too' '
	export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=acct1;AccountKey=$AZURE_STORAGE_KEY;BlobEndpoint=http://127.0.0.1:$port/acct1" &&
	for p in cont/.. cont/../other cont/a/./b "cont/a//b"; do
		test_expect_code 2 archive --no-pass --blob "$p" <in.ndjson 2>err || return 1
		test_grep "prefix" err || return 1
	done &&
	test_lines 0 "$TEST_DIR/f.log"
'
test_expect_success 'a good prefix: blobs under it, the name as given' '
	unset AZURE_STORAGE_CONNECTION_STRING &&
	archive --no-pass --blob "$B/p/ok" <in.ndjson 2>err &&
	jq -r "select(.method == \"PUT\") | .path" "$TEST_DIR/f.log" >paths &&
	test -s paths &&
	grep -v "^/acct1/cont" paths >other || true &&
	test_lines 0 other &&
	test_grep "^/acct1/cont/p/ok/" paths &&
	archive --no-pass --blob "$B/my%20dir/..x" <in.ndjson 2>err &&
	jq -r "select(.method == \"PUT\") | .path" "$TEST_DIR/f.log" >paths &&
	test_grep "^/acct1/cont/my%20dir/\.\.x/" paths
'
test_done
