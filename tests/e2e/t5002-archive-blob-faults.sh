#!/usr/bin/env bash
# archive to Blob Storage with an Entra token, and through faults Azurite
# cannot make: a 503 that is retried, and a Put Blob whose answer is lost
# (the retry gets 409 and the stored blob's SHA-256 decides).
. "$(dirname "$0")/../lib.sh"
test_require python3 "the fake Blob endpoint is a python script" || { test_done; exit 1; }
export XDG_STATE_HOME=$TEST_DIR/state

# fake_start NAME FAULT...: a server logging to NAME.log, its URL in NAME.url
# (started outside test bodies so that the exit trap stops it)
fake_start() {
	local n=$1; shift
	test_bg python3 "$TP_TOP/tests/tools/fake-blob.py" "$TEST_DIR/$n.log" "$@" \
		>"$TEST_DIR/$n.url" 2>"$TEST_DIR/$n.err"
}
# fake_url NAME: wait for and print the server's port
fake_port() {
	local i u
	for i in $(seq 1 50); do
		u=$(head -n 1 "$TEST_DIR/$1.url" 2>/dev/null)
		[ -n "$u" ] && { echo "${u##*:}"; return 0; }
		sleep 0.1
	done
	cat "$TEST_DIR/$1.err" >&2; return 1
}
fake_start entra
fake_start busy 503-first
fake_start lost lose-first
python3 "$TP_TOP/bench/gen-lob.py" 500 >in.ndjson

test_expect_success 'Entra: a bearer token for the storage scope from the credential chain' '
	port=$(fake_port entra) &&
	AZURE_TENANT_ID=t1 AZURE_CLIENT_ID=c1 AZURE_CLIENT_SECRET=s3cret \
	AZURE_AUTHORITY_HOST=http://127.0.0.1:$port archive --auth entra --no-pass \
		--blob "http://127.0.0.1:$port/acct1/cont" <in.ndjson 2>err &&
	jq -e -s "map(select(.method==\"POST\")) | length >= 1 and
		all(.scope == \"https://storage.azure.com/.default\")" entra.log &&
	jq -e -s "map(select(.method==\"PUT\")) | length == 3 and all(.auth == \"Bearer tok-123\")" entra.log &&
	! grep -q s3cret err
'

test_expect_success 'a 503 is retried with backoff' '
	port=$(fake_port busy) &&
	AZURE_STORAGE_KEY=$(printf k | base64) archive --no-pass \
		--blob "http://127.0.0.1:$port/acct1/cont" <in.ndjson 2>err &&
	test_grep "retried=1" err && test_grep "uploaded=1" err
'

test_expect_success 'a lost answer: the retry gets 409, the same SHA-256 makes it done' '
	port=$(fake_port lost) &&
	AZURE_STORAGE_KEY=$(printf k | base64) archive --no-pass -v \
		--blob "http://127.0.0.1:$port/acct1/cont" <in.ndjson 2>err &&
	test_grep "already archived with the same SHA-256" err &&
	test_grep "uploaded=1" err &&
	jq -e -s "map(select(.method==\"HEAD\")) | length == 1" lost.log
'
test_done
