#!/usr/bin/env bash
# extract-lob: a directory or a glob of files as one source: name order,
# JSON documents or NDJSON lines, _meta.src.file, skipped files, a bad file
# dead-lettered, --watermark last-modified on file times.
. "$(dirname "$0")/../lib.sh"
test_require jq "to check records" || { test_done; exit 1; }

mkdir d nd empty &&
printf '%s\n' '{"a":1}' >d/b.json &&
printf '%s\n' '[{"a":2},{"a":3}]' >d/a.json &&
printf '%s\n' '{"a":4}' >d/.hidden &&
: >d/zero.json &&
mkdir d/sub && printf '%s\n' '{"a":5}' >d/sub/c.json &&
printf '%s\n' '{"n":1}' '{"n":2}' >nd/x.ndjson &&
printf '%s\n' '{"n":3}' 'oops' >nd/y.ndjson

test_expect_success 'a directory: regular files in name order, arrays streamed, dotfiles, empty files and subdirectories skipped' '
	extract-lob json:d >out 2>err &&
	jq -c "select(.a) | [.a, ._meta.src.file]" out >got &&
	printf "%s\n" "[2,\"d/a.json\"]" "[3,\"d/a.json\"]" "[1,\"d/b.json\"]" >want &&
	test_cmp want got &&
	tail -n 1 out | jq -e "._meta.control == \"snapshot-complete\" and ._meta.records == 3"
'

test_expect_success 'ndjson: over a directory reads every line; a bad line is dead-lettered, no snapshot' '
	test_expect_code 1 extract-lob ndjson:nd --dead-letter dl >out 2>err &&
	jq -c "[.n, ._meta.src.file, ._meta.src.line]" out >got &&
	printf "%s\n" "[1,\"nd/x.ndjson\",1]" "[2,\"nd/x.ndjson\",2]" "[3,\"nd/y.ndjson\",1]" >want &&
	test_cmp want got && test_lines 1 dl &&
	test_grep "no complete snapshot" err
'

test_expect_success 'a file that is not valid JSON is that file'"'"'s failure; the others are read' '
	cp -r d d2 && printf "{\"a\":" >d2/bad.json &&
	test_expect_code 1 extract-lob json:d2 --dead-letter dl2 >out 2>err &&
	test_grep "d2/bad.json" err && test_lines 1 dl2 &&
	jq -e ".error.code == \"invalid_file\"" dl2 &&
	test "$(jq -c "select(.a)" out | wc -l)" = 3 && ! grep -q snapshot-complete out
'

test_expect_success 'a glob; one matching nothing is an error (exit 3); an empty directory is an empty snapshot' '
	extract-lob "json:d/b*" >out && test_lines 2 out &&
	test_expect_code 3 extract-lob "json:d/nothing*" >out 2>err &&
	test_grep "no file matches" err && test_lines 0 out &&
	extract-lob json:empty >out 2>err && test_grep "holds no files" err &&
	jq -e "._meta.records == 0" out
'

test_expect_success '--watermark last-modified: only files modified since the acknowledged watermark' '
	mkdir w &&
	for i in 1 2 3; do echo "{\"i\":$i}" >w/f$i.json; done &&
	touch -d "2026-01-01 00:00:01Z" w/f1.json &&
	touch -d "2026-01-02 00:00:00Z" w/f2.json &&
	touch -d "2026-01-03 00:00:00Z" w/f3.json &&
	extract-lob json:w --watermark last-modified --state s.db --name w >r1 &&
	test_lines 4 r1 &&
	test "$(jq -r "select(.i == 1) | ._meta.src.wm" r1)" = 2026-01-01T00:00:01.000000000Z &&
	jq -c "select(.i and .i < 3) | {ok: true, _meta}" r1 >res && tail -n 1 r1 >>res &&
	extract-lob --ack --state s.db --watermark last-modified --name w res >/dev/null &&
	touch -d "2026-02-01 00:00:00Z" w/f1.json &&
	extract-lob json:w --watermark last-modified --state s.db --name w >r2 &&
	jq -c "select(.i) | .i" r2 >got && printf "%s\n" 1 2 3 >want && test_cmp want got &&
	touch -d "2025-12-01 00:00:00Z" w/f1.json &&
	extract-lob json:w --watermark last-modified --state s.db --name w >r3 &&
	jq -c "select(.i) | .i" r3 >got && printf "%s\n" 2 3 >want && test_cmp want got
'

test_expect_success 'usage errors: --watermark COLUMN on files, a bad --watermark-start' '
	test_expect_code 2 extract-lob json:w --watermark updated --state s.db 2>err &&
	test_grep "must be last-modified" err &&
	test_expect_code 2 extract-lob json:w --watermark last-modified --state n.db --watermark-start 5 2>err &&
	test_grep "watermark-start" err
'
test_done
