#!/usr/bin/env bash
# archive to a local directory: pass-through and round trip byte for byte,
# rotation by records, size and age, atomic publication, SIGTERM, a temp
# file left by a crash, --list/--cat, usage errors.
. "$(dirname "$0")/../lib.sh"
test_require zstd "zstdcat reads archives" || { test_done; exit 1; }

python3 "$TP_TOP/bench/gen-lob.py" 3000 >in.ndjson
# records with _meta.src for the manifest
awk '{ sub(/}$/, ",\"_meta\":{\"src\":{\"line\":" NR "}}}"); print }' in.ndjson >src.ndjson

test_expect_success 'pass-through equals the input; the archive decompresses to it' '
	archive --dir a <in.ndjson >out 2>err &&
	cmp in.ndjson out &&
	zstdcat a/*/*/*/*.ndjson.zst | cmp - in.ndjson &&
	archive --cat --dir a | cmp - in.ndjson
'

test_expect_success '--no-pass is a sink; blank lines and odd bytes survive' '
	{ printf "{\"a\":1}\n\n  \n"; printf "not json \\001\n"; cat in.ndjson; } >odd &&
	archive --no-pass --dir b <odd >out &&
	test ! -s out &&
	archive --cat --dir b | cmp - odd
'

test_expect_success 'rotation by --segment-records; names sort in input order' '
	archive --dir r --segment-records 1000 --no-pass <src.ndjson &&
	ls r/*/*/*/*.ndjson.zst >names && test_lines 3 names &&
	sort names | cmp - names &&
	test "$(ls r/*/*/*/*.manifest.json | wc -l)" = 3 &&
	archive --list --dir r >list && test_lines 3 list &&
	jq -e -s "map(.records) == [1000,1000,1000]" list &&
	jq -e -s ".[0].first_src == {\"line\":1} and .[0].last_src == {\"line\":1000} and .[2].last_src == {\"line\":3000}" list &&
	for f in $(jq -r .segment list); do
		test "$(sha256sum <r/$f | cut -d" " -f1)" = "$(jq -r "select(.segment==\"$f\").sha256" list)" || exit 1
	done &&
	zstdcat $(cat names) | cmp - src.ndjson
'

test_expect_success 'rotation by --segment-size (input bytes)' '
	archive --dir s --segment-size 100k --no-pass <in.ndjson &&
	n=$(ls s/*/*/*/*.ndjson.zst | wc -l) && test "$n" -ge 6 &&
	archive --list --dir s | jq -e -s "all(.bytes_in <= 102400 + 1000)" &&
	archive --cat --dir s | cmp - in.ndjson
'

test_expect_success 'rotation by --segment-age while the input is idle; atomic rename' '
	mkfifo fifo &&
	{ archive --dir g --segment-age 1s <fifo >gout 2>gerr & } &&
	exec 7>fifo &&
	t0=$(date +%s.%N) &&
	head -n 10 in.ndjson >&7 &&
	test_wait_for 120 "ls g/*/*/*/*.ndjson.zst >n1 2>/dev/null" &&
	t1=$(date +%s.%N) &&
	# published while the input is idle, and not before the segment was 1s old
	test "$(echo "$t1 - $t0 >= 1" | bc)" = 1 && test_lines 1 n1 &&
	test "$(ls g/.tmp | wc -l)" = 0 &&
	sed -n 11,20p in.ndjson >&7 &&
	exec 7>&- && wait &&
	ls g/*/*/*/*.ndjson.zst >n2 && test_lines 2 n2 &&
	head -n 20 in.ndjson | cmp - gout &&
	archive --cat --dir g | cmp - gout
'

test_expect_success 'SIGTERM: the open segment is flushed, closed and published' '
	mkfifo f2 &&
	{ archive --dir t --segment-age 0 <f2 >tout 2>terr & pid=$!; } &&
	exec 8>f2 &&
	head -n 25 in.ndjson >&8 &&
	test_wait_for 120 "test \$(wc -l <tout) = 25" &&
	kill -TERM $pid &&
	rc=0; wait $pid || rc=$? &&
	exec 8>&- &&
	test "$rc" = 3 && test_grep "interrupted" terr &&
	head -n 25 in.ndjson | cmp - tout &&
	archive --cat --dir t | cmp - tout &&
	test "$(ls t/.tmp | wc -l)" = 0
'

test_expect_success 'a crash leaves only a temp file, which the next run reports' '
	mkfifo f3 &&
	{ archive --dir k --segment-age 0 <f3 >/dev/null 2>kerr & pid=$!; } &&
	exec 9>f3 &&
	head -n 5 in.ndjson >&9 &&
	test_wait_for 120 "test \$(ls k/.tmp 2>/dev/null | wc -l) = 1" &&
	kill -KILL $pid && { wait $pid || true; } &&
	exec 9>&- &&
	test -z "$(ls k/*/*/*/*.zst 2>/dev/null)" &&
	test "$(ls k/.tmp | wc -l)" = 1 &&
	head -n 3 in.ndjson | archive --dir k >/dev/null 2>k2err &&
	test_grep "was left by an interrupted run" k2err &&
	archive --cat --dir k >c && head -n 3 in.ndjson | cmp - c
'

test_expect_success '--level and --threads give the same records' '
	archive --dir l --level 19 --threads 2 --no-pass <in.ndjson &&
	archive --cat --dir l | cmp - in.ndjson &&
	archive --list --dir l | jq -e ".level == 19"
'

test_expect_success 'a line over --max-line: reported, dead-lettered, exit 1; the rest kept' '
	{ head -n 2 in.ndjson; printf "{\"long\":\"%0300d\"}\n" 0; sed -n 3,4p in.ndjson; } >long &&
	test_expect_code 1 archive --dir m --max-line 280 --dead-letter dl <long >out 2>err &&
	test_grep "line_too_long\|longer than --max-line" err &&
	jq -e ".error.code == \"line_too_long\"" dl &&
	head -n 4 in.ndjson >want && cmp want out &&
	archive --cat --dir m | cmp - want
'

test_expect_success 'a closed standard output: exit 3, what was read is still archived' '
	{ archive --dir p <in.ndjson 2>err | head -c 10 >/dev/null; test "${PIPESTATUS[0]}" = 3; } &&
	test_grep "write error on standard output" err &&
	test "$(grep -c "write error" err)" = 1 &&
	test "$(archive --list --dir p | wc -l)" -ge 1
'

test_expect_success 'usage errors exit 2 before any side effect' '
	test_expect_code 2 archive <in.ndjson &&
	test_expect_code 2 archive --dir x --blob http://127.0.0.1:1/a/cont <in.ndjson &&
	test_expect_code 2 archive --dir x --level 99 <in.ndjson &&
	test_expect_code 2 archive --dir x --run-id "a/b" <in.ndjson &&
	test_expect_code 2 archive --dir x operand <in.ndjson &&
	test ! -e x
'

test_expect_success 'an unwritable directory is fatal (exit 3), loudly' '
	echo not-a-dir >ro &&
	test_expect_code 3 archive --dir ro <in.ndjson >/dev/null 2>err &&
	test_grep "cannot create" err
'
test_done
