#!/usr/bin/env bash
# extract-lob csv: RFC 4180 edge cases, types, ragged rows, dead letters,
# the snapshot control record, exit codes.
. "$(dirname "$0")/../lib.sh"

x() { extract-lob --run-id r1 "$@"; }
meta() { printf ',"_meta":{"src":{"source":"csv:%s","file":"%s","run":"r1","row":%s}}}' "$1" "$1" "$2"; }

test_expect_success 'quotes, doubled quotes, embedded newlines, CRLF, BOM' '
	printf "\357\273\277id,name\r\n1,\"Acme, Inc.\"\r\n2,\"say \"\"hi\"\"\"\r\n3,\"two\r\nlines\"\r\n" >a.csv &&
	x csv:a.csv >out &&
	{ printf "{\"id\":\"1\",\"name\":\"Acme, Inc.\"" && meta a.csv 1 && echo &&
	  printf "{\"id\":\"2\",\"name\":\"say \\\\\"hi\\\\\"\"" && meta a.csv 2 && echo &&
	  printf "{\"id\":\"3\",\"name\":\"two\\\\r\\\\nlines\"" && meta a.csv 3 && echo &&
	  echo "{\"_meta\":{\"control\":\"snapshot-complete\",\"source\":\"csv:a.csv\",\"run\":\"r1\",\"records\":3}}"; } >expect &&
	test_cmp expect out
'

test_expect_success 'every line is valid JSON (jq agrees)' '
	jq -c . out >/dev/null
'

test_expect_success 'empty vs missing fields; --empty-null' '
	printf "a,b,c\n1,,\"\"\n2\n" >e.csv &&
	x --no-snapshot csv:e.csv | jq -c "del(._meta)" >out &&
	printf "%s\n" "{\"a\":\"1\",\"b\":\"\",\"c\":\"\"}" "{\"a\":\"2\"}" >expect &&
	test_cmp expect out &&
	x --no-snapshot --empty-null csv:e.csv | jq -c "del(._meta)" >out &&
	printf "%s\n" "{\"a\":\"1\",\"b\":null,\"c\":\"\"}" "{\"a\":\"2\"}" >expect &&
	test_cmp expect out
'

test_expect_success '--types: int, number, bool, datetime (to UTC), json' '
	printf "id,p,ok,at,j\n007x,1.50,yes,2024-01-02T03:04:05+02:00,\"{\"\"a\"\": [1, 2]}\"\n12345678901234567890,-0.5e3,0,2024-03-01,\n" >t.csv &&
	test_expect_code 1 x --no-snapshot --dead-letter dlq -t id=int,p=number,ok=bool,at=datetime,j=json csv:t.csv >out 2>err &&
	sed "s/,\"_meta\".*//" out >got &&
	echo "{\"id\":12345678901234567890,\"p\":-0.5e3,\"ok\":false,\"at\":\"2024-03-01\",\"j\":null" >expect &&
	test_cmp expect got &&
	printf "id,j\n1,\"{\"\"a\"\": [1, 2]}\"\n" | x -t j=json,id=int csv:- | head -n 1 | sed "s/,\"_meta\".*//" >got &&
	echo "{\"id\":1,\"j\":{\"a\":[1,2]}" >expect && test_cmp expect got &&
	test_grep "column .id.: .007x. is not an int" err &&
	jq -e ".error.code == \"bad_value\" and .error.line == 2" dlq
'

test_expect_success 'datetime keeps the fraction and converts the zone' '
	printf "at\n2024-12-31 23:30:00.125-01:00\n" >d.csv &&
	x -t at=datetime csv:d.csv | head -n 1 | jq -r .at >got &&
	echo 2025-01-01T00:30:00.125Z >expect && test_cmp expect got
'

test_expect_success 'ragged and malformed rows are dead-lettered, the rest goes on, no snapshot' '
	printf "id,name\n1,a\n2,b,extra\n3,c\"d\n4,\"ok\"\n" >r.csv &&
	test_expect_code 1 x --dead-letter dlq2 csv:r.csv >out 2>err &&
	jq -r .id out >ids && printf "1\n4\n" >expect && test_cmp expect ids &&
	! grep -q control out &&
	test_grep "no complete snapshot" err &&
	jq -r .error.code dlq2 >codes && printf "too_many_fields\nbad_quote\n" >expect && test_cmp expect codes &&
	jq -r .raw dlq2 | head -n 1 >raw && echo "2,b,extra" >expect && test_cmp expect raw
'

test_expect_success 'an unterminated quote does not swallow the file: bounded by --max-record' '
	{ echo "id,name"; echo "1,\"open"; seq 1 3000 | sed "s/^/x/"; } >u.csv &&
	test_expect_code 1 x --max-record 1k --dead-letter dlq3 csv:u.csv >out 2>err &&
	test_grep record_too_long dlq3
'

test_expect_success 'TSV and --delimiter; --no-header' '
	printf "a\tb\n1\t2\n" | x --no-snapshot tsv:- | jq -c "del(._meta)" >got &&
	echo "{\"a\":\"1\",\"b\":\"2\"}" >expect && test_cmp expect got &&
	printf "1;2\n" | x --no-snapshot --no-header -d ";" csv:- | jq -c "del(._meta)" >got &&
	echo "{\"c1\":\"1\",\"c2\":\"2\"}" >expect && test_cmp expect got
'

test_expect_success 'invalid UTF-8 is a record error, not broken JSON' '
	printf "a\n\377x\nok\n" >bad.csv &&
	test_expect_code 1 x --dead-letter dlq4 csv:bad.csv >out 2>err &&
	test_lines 1 out && jq -e ".raw_base64" dlq4 >/dev/null
'

test_expect_success 'a header row only: zero records and a snapshot' '
	printf "a,b\n" >h.csv && x csv:h.csv >out &&
	test_grep "\"records\":0" out && test_lines 1 out
'

test_expect_success 'a missing file is exit 3 with no control line; bad options exit 2' '
	test_expect_code 3 x csv:nope.csv >out 2>err && test ! -s out &&
	test_grep "cannot open" err &&
	test_expect_code 2 x --types id=float csv:a.csv 2>err && test_grep "unknown type" err &&
	test_expect_code 2 x -t nope=int csv:a.csv >out 2>err || true &&
	test_expect_code 2 x bogus:a 2>err && test_grep "unknown source" err &&
	test_expect_code 2 x --shard 2/2 --key .id csv:a.csv 2>err
'

test_expect_success 'a --types column missing from the header is fatal (exit 3)' '
	test_expect_code 3 x -t nope=int csv:a.csv >out 2>err &&
	test_grep "no column" err && ! grep -q control out
'

test_expect_success 'a header naming a column twice is fatal' '
	printf "a,b,a\n1,2,3\n" >dup.csv &&
	test_expect_code 3 x csv:dup.csv >out 2>err && test ! -s out &&
	test_grep "appears twice" err
'

test_expect_success 'a closed stdout is exit 3' '
	seq 1 200000 | sed "1i n" >big.csv &&
	{ x csv:big.csv 2>err; echo $? >rc; } | head -n 1 >/dev/null &&
	test "$(cat rc)" = 3
'
test_done
