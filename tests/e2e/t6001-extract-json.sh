#!/usr/bin/env bash
# extract-lob json: and ndjson: - streamed arrays at a path, bad elements,
# broken documents, a 1M-element array in bounded memory.
. "$(dirname "$0")/../lib.sh"

x() { extract-lob --run-id r1 "$@"; }
strip() { sed 's/,"_meta":{"src":{[^}]*}}}$/}/' "$@"; }

cat >d.json <<'JSON'
{"d":{"skip":[{"x":"]"}],"results":[{"id":1,"n":12345678901234567890},
  {"id":2, "s":"a\"]}"}]},"after":{}}
JSON
cat >d.expect <<'JSON'
{"id":1,"n":12345678901234567890}
{"id":2,"s":"a\"]}"}
{"_meta":{"control":"snapshot-complete","source":"json:d.json","run":"r1","records":2}}
JSON
cat >b.json <<'JSON'
[{"a":1}, 5, {"a":NaN}, {"a":"\x"}, {"a":4}]
JSON
cat >gen.py <<'PY'
import sys
w = sys.stdout.write
w('{"odata.count":1000000,"value":[')
for i in range(1000000):
    w((',' if i else '') + '{"id":%d,"name":"org %d","tags":["a","b"]}' % (i, i))
w(']}')
PY

test_expect_success 'elements of a nested array (--items .d.results[]); big numbers keep their digits' '
	x --items .d.results[] json:d.json >out &&
	strip out >got && test_cmp d.expect got &&
	head -n 1 out | jq -e "._meta.src == {source:\"json:d.json\",file:\"d.json\",run:\"r1\",row:1}"
'

test_expect_success 'a top-level array by default; a top-level object is one record' '
	echo "[{\"a\":1},{\"a\":2}]" | x json:- | test_lines 3 /dev/stdin &&
	echo "{\"a\":1}" | x json:- >out && test_lines 2 out
'

test_expect_success 'an element with its own _meta keeps it and gains src' '
	echo "[{\"a\":1,\"_meta\":{\"k\":\"v\"}}]" | x json:- | head -n 1 |
		jq -e "._meta.k == \"v\" and ._meta.src.row == 1"
'

test_expect_success 'bad elements are dead-lettered, the stream goes on, no snapshot' '
	test_expect_code 1 x --dead-letter dlq json:b.json >out 2>err &&
	jq -c .a out >got && printf "1\n4\n" >expect && test_cmp expect got &&
	jq -r .error.code dlq >codes && printf "not_an_object\ninvalid_json\ninvalid_json\n" >expect &&
	test_cmp expect codes
'

test_expect_success 'a broken document is fatal (exit 3), no control line' '
	printf "[{\"a\":1},{\"a\":\"unterminated" | test_expect_code 3 x json:- >out 2>err &&
	test_lines 1 out && ! grep -q control out && test_grep "inside a string" err &&
	printf "[{\"a\":1}] x" | test_expect_code 3 x json:- >out 2>err && test_grep "trailing data" err &&
	printf "{\"value\":{}}" | test_expect_code 3 x --items .value json:- 2>err && test_grep "not an array" err &&
	printf "{\"other\":[]}" | test_expect_code 3 x --items .value json:- 2>err && test_grep "no member" err &&
	printf "[{\"a\":1}}" | test_expect_code 3 x json:- >/dev/null 2>err
'

test_expect_success 'bad --items is a usage error' '
	test_expect_code 2 x --items "value" json:b.json 2>err && test_grep "starts with" err
'

test_expect_success 'ndjson: bad lines dead-lettered with their line number' '
	printf "{\"a\":1}\n\nnot json\n[1]\n{\"b\":2}\n" >n.ndjson &&
	test_expect_code 1 x --dead-letter dlq2 ndjson:n.ndjson >out 2>err &&
	jq -c "._meta.src.line" out >got && printf "1\n5\n" >expect && test_cmp expect got &&
	jq -c ".error.line" dlq2 >got && printf "3\n4\n" >expect && test_cmp expect got &&
	test_grep "n.ndjson:3: invalid JSON" err
'

test_expect_success 'ndjson: a clean file ends with the snapshot record' '
	printf "{\"a\":1}\n{\"b\":2}\n" | x ndjson:- | tail -n 1 | jq -e "._meta.control == \"snapshot-complete\" and ._meta.records == 2"
'

test_expect_success 'a 1M-element array streams in bounded memory' '
	python3 gen.py >big.json &&
	/usr/bin/time -f %M -o rss extract-lob --items .value json:big.json 2>/dev/null | tail -n 2 >tail &&
	test_grep "\"records\":1000000" tail &&
	head -n 1 tail | jq -e ".id == 999999" &&
	rss=$(tail -n 1 rss) && echo "peak RSS ${rss} KiB" &&
	{ [ "${SAN:-}" = 1 ] || test "$rss" -lt 20000; }
'

test_expect_success 'SIGTERM: stop reading, flush whole lines, exit 3, no control line' '
	# the input is a FIFO that stays open after its first megabytes:
	# the signal comes mid-stream, once they were read, whatever the timing
	mkfifo jf && rm -f go written &&
	{ { head -c 4000000 big.json; : >written; test_wait_for 120 "test -e go"; } >jf 2>/dev/null & } &&
	{ extract-lob --items .value json:jf >sig.out 2>sig.err & p=$!; } &&
	test_wait_for 120 "test -e written" && kill -TERM $p && { wait $p; echo $? >rc; } && touch go &&
	test "$(cat rc)" = 3 && test_grep interrupted sig.err &&
	! grep -q control sig.out && jq -c .id sig.out >/dev/null
'

test_expect_success 'SIGTERM on a CSV read: the same' '
	python3 -c "print(\"id,name\"); [print(\"%d,n%d\" % (i, i)) for i in range(2000000)]" >big.csv &&
	mkfifo cf && rm -f go written &&
	{ { head -c 4000000 big.csv; : >written; test_wait_for 120 "test -e go"; } >cf 2>/dev/null & } &&
	{ extract-lob csv:cf >sig.out 2>sig.err & p=$!; } &&
	test_wait_for 120 "test -e written" && kill -TERM $p && { wait $p; echo $? >rc; } && touch go &&
	test "$(cat rc)" = 3 && test_grep interrupted sig.err &&
	! grep -q control sig.out && jq -c .id sig.out >/dev/null
'
test_done
