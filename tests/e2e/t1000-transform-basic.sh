#!/usr/bin/env bash
# transform: jq semantics, _meta carry, control records, options, exit codes.
. "$(dirname "$0")/../lib.sh"
test_require jq "jq 1.6 is the reference transform is compared with" || { test_done; exit 1; }

cat >in.ndjson <<'IN'
{"id":"a","n":"1","tags":["x","y"],"_meta":{"src":{"file":"f.csv","row":1}}}
{"id":"b","n":"2","nested":{"k":[1,2,{"z":null}]}}
{"id":"c","n":"3","big":12345678901234567890,"f":1.50,"s":"tab\tquote\" é \u00e9 \u007f"}
IN

test_expect_success 'output equals jq -c for a mapping program' '
	prog="{\"\$dtId\": .id, n: (.n|tonumber), t: (.tags // []), k: .nested.k[0]}"
	transform "$prog" in.ndjson >out 2>err &&
	jq -c "$prog" in.ndjson | jq -c "if .\"\$dtId\" == \"a\" then . + {_meta: {src: {file: \"f.csv\", row: 1}}} else . end" >expect &&
	test_cmp expect out
'

test_expect_success 'identity keeps records byte for byte, big numbers too' '
	transform . in.ndjson >out &&
	grep -q "\"big\":12345678901234567890" out &&
	grep -q "\"f\":1.50" out &&
	test_lines 3 out
'

test_expect_success '_meta of the input is carried onto every output' '
	transform "{id}, {id2: .id}" in.ndjson >out 2>err &&
	test_lines 6 out &&
	test "$(head -2 out | jq -c ._meta | sort -u)" = "{\"src\":{\"file\":\"f.csv\",\"row\":1}}"
'

test_expect_success 'a _meta the program sets is merged over the input one' '
	echo "{\"a\":1,\"_meta\":{\"src\":1,\"x\":1}}" |
	transform "{a, _meta: {x: 2, y: 3}}" >out &&
	echo "{\"a\":1,\"_meta\":{\"src\":1,\"x\":2,\"y\":3}}" >expect &&
	test_cmp expect out
'

test_expect_success 'control records pass through untouched' '
	printf "%s\n" "{\"_meta\":{\"control\":\"snapshot-complete\",\"records\":2}}" >ctl &&
	cat in.ndjson ctl | transform "{id}" >out &&
	tail -1 out >got && test_cmp ctl got
'

test_expect_success 'zero and many outputs per record' '
	transform "select(.id != \"b\") | .tags[]?" in.ndjson >out &&
	printf "\"x\"\n\"y\"\n" >expect && test_cmp expect out
'

test_expect_success '--arg and --argjson bind variables' '
	transform --arg model dtmi:x\;1 --argjson n "{\"k\":2}" "{id, m: \$model, k: \$n.k}" in.ndjson >out &&
	head -1 out >got &&
	echo "{\"id\":\"a\",\"m\":\"dtmi:x;1\",\"k\":2,\"_meta\":{\"src\":{\"file\":\"f.csv\",\"row\":1}}}" >expect &&
	test_cmp expect got
'

test_expect_success '-f reads the program from a file; files and - as inputs' '
	echo "{id}" >p.jq &&
	transform -f p.jq in.ndjson - <in.ndjson >out &&
	test_lines 6 out
'

test_expect_success 'exit 0 and a summary line when all records succeed' '
	transform . in.ndjson >out 2>err &&
	test_grep "transform: summary: in=3 out=3 failed=0" err
'

test_expect_success '--stats json gives a machine-readable summary' '
	transform --stats json . in.ndjson >out 2>err &&
	jq -e ".summary.in == 3 and .summary.out == 3" err
'

test_expect_success 'a program that does not compile is a usage error (exit 2)' '
	test_expect_code 2 transform "{" in.ndjson 2>err &&
	test_grep "does not compile" err
'

test_expect_success 'usage errors: unknown option, missing program, bad --jobs' '
	test_expect_code 2 transform --bogus . 2>err && test_grep "Try .transform --help." err &&
	test_expect_code 2 transform </dev/null 2>err && test_grep "no jq program" err &&
	test_expect_code 2 transform -j 0 . </dev/null 2>err
'

test_expect_success 'a missing input file is a usage error before any output' '
	test_expect_code 2 transform . in.ndjson nope.ndjson >out 2>err &&
	test_grep "nope.ndjson" err && test_lines 0 out
'

test_expect_success 'write error on stdout (full disk) exits 3' '
	test_expect_code 3 transform . in.ndjson >/dev/full 2>err &&
	test_grep "write error" err
'

test_expect_success 'empty input gives empty output and exit 0' '
	transform . </dev/null >out 2>err && test_lines 0 out
'

test_expect_success '--log-format json makes stderr JSON' '
	printf "{x\n" >bad && test_expect_code 1 transform --log-format json . bad >out 2>err &&
	head -1 err | jq -e ".level == \"error\" and .line == 1 and .prog == \"transform\""
'

test_expect_success 'a progress line on stderr when it is a terminal, none otherwise' '
	test_require script "util-linux script gives a terminal" &&
	for i in $(seq 1 70000); do echo "{\"i\":$i}"; done >many.ndjson &&
	script -qec "transform . many.ndjson >/dev/null" /dev/null >tty.out &&
	grep -q "transform: in=65536" tty.out &&
	transform . many.ndjson >/dev/null 2>notty.err &&
	! grep -q "in=65536" notty.err
'

test_expect_success '--version names the libraries' '
	transform --version >out &&
	test_grep "libjq" out && test_grep "libcurl" out && test_grep "zstd" out &&
	test_grep "SQLite" out && test_grep "OpenSSL" out
'
test_done
