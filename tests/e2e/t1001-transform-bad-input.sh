#!/usr/bin/env bash
# transform: bad lines are per-record errors, dead-lettered; nothing else lost.
. "$(dirname "$0")/../lib.sh"

{
	echo '{"id":1}'
	echo '{"id":2,}'
	echo '[1,2]'
	echo '"a string"'
	echo ''
	echo '   '
	echo '{"id":NaN}'
	echo '{"id":01}'
	echo '{"id":3} trailing'
	printf '{"id":"\xff\xfe"}\n'
	printf '{"id":"\xc0\xaf"}\n'
	echo '{"id":"\ud800"}'
	echo '{"id":4,"x":"will fail"}'
	echo '{"id":5}'
	printf '{"id":6}'
} >in.ndjson

prog='if .x then error("bad x: \(.x)") else {id} end'

test_expect_success 'good records come through, bad ones are dead-lettered, exit 1' '
	test_expect_code 1 transform --dead-letter dl.ndjson "$prog" in.ndjson >out 2>err &&
	printf "{\"id\":1}\n{\"id\":5}\n{\"id\":6}\n" >expect &&
	test_cmp expect out &&
	test_lines 10 dl.ndjson
'

test_expect_success 'every failure names the line and the reason on stderr' '
	test_grep "in.ndjson:2: invalid JSON at column 9" err &&
	test_grep "in.ndjson:3: record is an array, not a JSON object" err &&
	test_grep "in.ndjson:4: record is a string" err &&
	test_grep "in.ndjson:7: invalid JSON" err &&
	test_grep "in.ndjson:8: invalid JSON .*leading zero" err &&
	test_grep "in.ndjson:9: invalid JSON .*trailing" err &&
	test_grep "in.ndjson:10: invalid JSON .*UTF-8" err &&
	test_grep "in.ndjson:11: invalid JSON .*UTF-8" err &&
	test_grep "in.ndjson:12: invalid JSON .*surrogate" err &&
	test_grep "in.ndjson:13: program error: bad x: will fail" err &&
	test_grep "summary: in=15 out=3 failed=10 skipped=2" err
'

test_expect_success 'dead letters carry the record (JSON) or the raw line' '
	jq -c "[.error.line, .error.code]" dl.ndjson >codes &&
	test_grep "\[3,\"not_an_object\"\]" codes &&
	test_grep "\[13,\"program_error\"\]" codes &&
	jq -c "select(.error.line == 3) | .record" dl.ndjson >got &&
	echo "[1,2]" >expect && test_cmp expect got &&
	jq -r "select(.error.line == 13) | .record.x" dl.ndjson >got &&
	echo "will fail" >expect && test_cmp expect got &&
	jq -r "select(.error.line == 2) | .raw" dl.ndjson >got &&
	echo "{\"id\":2,}" >expect && test_cmp expect got &&
	jq -r "select(.error.line == 10) | .raw_base64" dl.ndjson >got &&
	echo "eyJpZCI6Iv/+In0=" >expect && test_cmp expect got
'

test_expect_success 're-driving the dead letters: jq -c .record' '
	jq -c "select(.record) | .record" dl.ndjson >redrive &&
	test_lines 3 redrive
'

test_expect_success 'over-long lines are cut, reported and skipped; the next line is read' '
	{ echo "{\"id\":1}"; printf "{\"id\":\"%0200d\"}\n" 0; echo "{\"id\":2}"; } >long.ndjson &&
	test_expect_code 1 transform --max-line 100 --dead-letter dl2.ndjson . long.ndjson >out 2>err &&
	printf "{\"id\":1}\n{\"id\":2}\n" >expect && test_cmp expect out &&
	test_grep "long.ndjson:2: line longer than --max-line" err &&
	jq -e ".error.truncated == true and .error.code == \"line_too_long\"" dl2.ndjson
'

test_expect_success 'a record with several outputs is all or nothing' '
	echo "{\"a\":[1,2,\"x\",4]}" | test_expect_code 1 transform ".a[] | if type == \"string\" then error(\"no\") else {v: .} end" >out 2>err &&
	test_lines 0 out
'

test_expect_success '--max-errors stops early with exit 3' '
	test_expect_code 3 transform --max-errors 2 "$prog" in.ndjson >out 2>err &&
	test_grep "max-errors" err && test_lines 1 out
'

test_expect_success 'the dead-letter file cannot be opened: usage error' '
	test_expect_code 2 transform --dead-letter /nonexistent/dir/dl . in.ndjson 2>err &&
	test_grep "dead-letter" err
'
test_done
