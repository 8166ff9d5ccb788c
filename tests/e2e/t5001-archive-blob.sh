#!/usr/bin/env bash
# archive to Azure Blob Storage, against Azurite: SharedKey and SAS
# uploads, block lists for large segments, a retried upload that never
# overwrites, a bad key, an unreachable endpoint, the spool after a failure.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-azurite.sh"
test_require jq "for manifests" || { test_done; exit 1; }
az_begin || { test_done; exit 1; }
export TMPDIR=$TEST_DIR XDG_STATE_HOME=$TEST_DIR/state

python3 "$TP_TOP/bench/gen-lob.py" 3000 >in.ndjson

test_expect_success 'SharedKey (connection string): pass-through and round trip' '
	AZURE_STORAGE_CONNECTION_STRING=$AZ_CS archive --blob arch/p1 \
		--segment-records 1000 <in.ndjson >out 2>err &&
	cmp in.ndjson out &&
	AZURE_STORAGE_CONNECTION_STRING=$AZ_CS archive --list --blob arch/p1 >list &&
	test_lines 3 list &&
	AZURE_STORAGE_CONNECTION_STRING=$AZ_CS archive --cat --blob arch/p1 | cmp - in.ndjson &&
	test_grep "uploaded=3" err
'

test_expect_success 'the blobs are plain zstd: a plain GET and zstd -d read them' '
	name=$(jq -r .segment list | head -n 1) &&
	sas=$(az_sas arch rl) &&
	curl -sf "$AZ_URL/arch/p1/$name?$sas" | zstd -dc | cmp - <(head -n 1000 in.ndjson)
'

test_expect_success 'SAS token from a file, account key from the environment' '
	az_sas arch racwl >sas &&
	archive --blob "$AZ_URL/arch/sas" --sas-file sas --no-pass <in.ndjson &&
	AZURE_STORAGE_KEY=$AZ_KEY archive --blob "$AZ_URL/arch/sas" --cat | cmp - in.ndjson &&
	AZURE_STORAGE_KEY=$AZ_KEY archive --blob "$AZ_URL/arch/key" --no-pass <in.ndjson &&
	archive --blob "$AZ_URL/arch/key" --sas-file sas --cat | cmp - in.ndjson
'

test_expect_success 'large segments go up as blocks (Put Block List)' '
	AZURE_STORAGE_CONNECTION_STRING=$AZ_CS archive --blob arch/big -v \
		--block-size 64k --level 1 --no-pass <in.ndjson 2>err &&
	test_grep "blocks)" err &&
	name=$(AZURE_STORAGE_CONNECTION_STRING=$AZ_CS archive --list --blob arch/big | jq -r .segment) &&
	sas=$(az_sas arch rl) &&
	curl -sf "$AZ_URL/arch/big/$name?comp=blocklist&$sas" >bl &&
	n=$(grep -o "<Block>" bl | wc -l) && test "$n" -ge 2 &&
	AZURE_STORAGE_CONNECTION_STRING=$AZ_CS archive --cat --blob arch/big | cmp - in.ndjson
'

test_expect_success 'a retried upload never overwrites (If-None-Match: *, SHA-256 check)' '
	export AZURE_STORAGE_CONNECTION_STRING=$AZ_CS TWINPIPE_ARCHIVE_CLOCK=1700000000 &&
	head -n 100 in.ndjson | archive --blob arch/re --run-id r1 --no-pass &&
	head -n 100 in.ndjson | archive --blob arch/re --run-id r1 --no-pass -v 2>same &&
	test_grep "already archived with the same SHA-256" same &&
	head -n 101 in.ndjson | test_expect_code 3 archive --blob arch/re --run-id r1 --no-pass 2>diff &&
	test_grep "BlobAlreadyExists" diff && test_grep "not overwritten" diff &&
	archive --cat --blob arch/re | cmp - <(head -n 100 in.ndjson) &&
	ls "$XDG_STATE_HOME"/twinpipe/archive/devstoreaccount1-arch-re/2023/11/14/*.ndjson.zst
'

test_expect_success 'a bad account key: exit 3 with a clear message, before reading' '
	bad=$(printf "%s" "not the key" | base64) &&
	AZURE_STORAGE_KEY=$bad test_expect_code 3 archive --blob "$AZ_URL/arch/bad" \
		<in.ndjson >out 2>err &&
	test_grep "403" err && test_grep "check the account key" err &&
	test ! -s out && ! grep -q "$bad" err
'

test_expect_success 'an unreachable endpoint: exit 3 after retrying' '
	port=$(python3 -c "import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])") &&
	AZURE_STORAGE_KEY=$AZ_KEY test_expect_code 3 archive --retry-time 2s \
		--blob "http://127.0.0.1:$port/devstoreaccount1/arch" <in.ndjson >/dev/null 2>err &&
	test_grep "error: blob container" err
'

test_expect_success 'segments left in the spool are uploaded by the next run' '
	mkdir -p sp/2023/11/14 &&
	archive --dir d --run-id left --no-pass <in.ndjson &&
	cp -r d/2023 d/2024 sp/ 2>/dev/null || cp -r d/[0-9]* sp/ &&
	AZURE_STORAGE_CONNECTION_STRING=$AZ_CS archive --blob arch/sp --spool sp \
		</dev/null 2>err &&
	test_grep "left in the spool" err &&
	test -z "$(find sp -name "*.zst")" &&
	AZURE_STORAGE_CONNECTION_STRING=$AZ_CS archive --cat --blob arch/sp | cmp - in.ndjson
'

test_expect_success 'a full upload queue blocks reading, never drops (--queue 1)' '
	AZURE_STORAGE_CONNECTION_STRING=$AZ_CS archive --blob arch/q --queue 1 \
		--segment-records 200 <in.ndjson >out 2>err &&
	cmp in.ndjson out && test_grep "uploaded=15" err &&
	AZURE_STORAGE_CONNECTION_STRING=$AZ_CS archive --cat --blob arch/q | cmp - in.ndjson
'

test_expect_success 'SIGTERM: the open segment is closed and uploaded before exit' '
	mkfifo ft &&
	{ AZURE_STORAGE_CONNECTION_STRING=$AZ_CS archive --blob arch/term --segment-age 0 \
		<ft >tout 2>terr & pid=$!; } &&
	exec 7>ft && head -n 40 in.ndjson >&7 &&
	test_wait_for 120 "test \$(wc -l <tout) = 40" &&
	kill -TERM $pid && rc=0 && { wait $pid || rc=$?; } && exec 7>&- &&
	test "$rc" = 3 && test_grep "uploaded=1" terr &&
	head -n 40 in.ndjson | cmp - tout &&
	AZURE_STORAGE_CONNECTION_STRING=$AZ_CS archive --cat --blob arch/term | cmp - tout
'

test_expect_success 'a bad container name is a usage error' '
	AZURE_STORAGE_CONNECTION_STRING=$AZ_CS test_expect_code 2 archive --blob Bad_Name </dev/null 2>err &&
	test_grep "container name" err
'

test_expect_success 'one process per spool' '
	# the first holds its spool while its input stays open; it is
	# running (past the lock) once it passed its first record on
	{ { head -n 1 in.ndjson; test_wait_for 120 "test -e go"; } |
		AZURE_STORAGE_CONNECTION_STRING=$AZ_CS archive --blob arch/lk --spool lk >lkout 2>&1 & } &&
	test_wait_for 120 "test -s lkout" &&
	AZURE_STORAGE_CONNECTION_STRING=$AZ_CS test_expect_code 2 archive --blob arch/lk --spool lk </dev/null 2>err &&
	touch go && test_grep "in use" err && wait
'
test_done
