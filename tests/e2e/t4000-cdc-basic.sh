#!/usr/bin/env bash
# cdc-filter: only changes pass; the first stage never writes the state;
# bad input is dead-lettered; keys, shards and excluded fields.
. "$(dirname "$0")/../lib.sh"

# results as a sink would write them: ok for every record
ack='if ._meta.cdc then {ok:true,op:"upsert",id:(.["$dtId"] // .id),status:200,attempts:1,_meta} else . end'

gen() { # gen N [CHANGED...]: N twins; the listed indexes get another value
	local n=$1; shift
	awk -v n="$n" -v chg=" $* " 'BEGIN { for (i = 1; i <= n; i++) {
		v = index(chg, " " i " ") ? "changed" : "v";
		printf "{\"$dtId\":\"t%d\",\"$metadata\":{\"$model\":\"dtmi:x:T;1\"},\"n\":%d,\"s\":\"%s\",\"o\":{\"a\":[1,2],\"b\":null}}\n", i, i, v } }'
}

test_expect_success 'first run emits every record with _meta.cdc' '
	gen 50 >in1 &&
	cdc-filter --state s.db in1 >out1 2>err &&
	test_lines 50 out1 &&
	jq -e "._meta.cdc | (.change == \"insert\") and (.hash | test(\"^[0-9a-f]{64}$\")) and (.key | startswith(\"t\"))" out1 >/dev/null &&
	jq -c "del(._meta)" out1 >got && test_cmp in1 got &&
	test_grep "summary: in=50 unchanged=0 inserted=50 updated=0" err
'

test_expect_success 'the first stage never writes the state' '
	test "$(sqlite3 s.db "SELECT count(*) FROM cdc_state")" = 0 &&
	cdc-filter --state s.db in1 >again && test_lines 50 again
'

test_expect_success '--commit records the acknowledged records and passes results on' '
	transform -c "$ack" out1 >res1 &&
	cdc-filter --state s.db --commit res1 >pass 2>err &&
	test_cmp res1 pass &&
	test "$(sqlite3 s.db "SELECT count(*) FROM cdc_state")" = 50 &&
	test_grep "committed=50" err
'

test_expect_success 'a second identical run emits nothing' '
	cdc-filter --state s.db in1 >out2 2>err &&
	test_lines 0 out2 &&
	test_grep "unchanged=50 inserted=0 updated=0" err
'

test_expect_success 'k changed rows emit exactly k updates' '
	gen 50 3 17 42 >in3 &&
	cdc-filter --state s.db in3 >out3 &&
	test_lines 3 out3 &&
	jq -r "._meta.cdc.key + \" \" + ._meta.cdc.change" out3 >got &&
	printf "t3 update\nt17 update\nt42 update\n" >expect && test_cmp expect got
'

test_expect_success 'key order, whitespace and _meta do not count as changes' '
	jq -c "{o: .o, s: .s, n: .n, \"\$metadata\": .[\"\$metadata\"], \"\$dtId\": .[\"\$dtId\"], _meta: {src: {line: 1}}}" in1 >reordered &&
	sed "s/,/ , /g" reordered >spaced &&
	cdc-filter --state s.db reordered spaced >out &&
	test_lines 0 out
'

test_expect_success 'number literals are compared as written' '
	gen 1 | sed "s/\"n\":1/\"n\":1.0/" >lit &&
	cdc-filter --state s.db lit >out && test_lines 1 out &&
	jq -r "._meta.cdc.change" out >got && echo update >expect && test_cmp expect got
'

test_expect_success '--exclude leaves volatile fields out (names and JSON Pointers)' '
	jq -c ".seen = \"2026-01-01\" | .o.ts = 5" in1 >vol &&
	cdc-filter --state s.db vol >out && test_lines 50 out &&
	cdc-filter --state s.db --exclude seen --exclude /o/ts vol >out && test_lines 0 out
'

test_expect_success 'control records pass through untouched' '
	echo "{\"_meta\":{\"control\":\"flush\",\"n\":1}}" >ctl &&
	cdc-filter --state s.db ctl >out && test_cmp ctl out
'

test_expect_success 'bad input: per-record errors, dead letters, exit 1' '
	{
		echo "{\"\$dtId\":\"t1\",\"x\":1"
		echo "[1]"
		echo "{\"x\":1}"
		echo "{\"\$dtId\":{\"a\":1}}"
		echo "{\"\$dtId\":true}"
		echo "{\"\$dtId\":\"new1\"}"
	} >bad &&
	test_expect_code 1 cdc-filter --state s.db --dead-letter dl bad >out 2>err &&
	test_lines 1 out && test_lines 5 dl &&
	test_grep "bad:1: invalid JSON" err &&
	test_grep "bad:2: record is an array, not a JSON object" err &&
	test_grep "bad:3: no key" err &&
	test_grep "bad:4: key .* is an object, not a string or a number" err &&
	test_grep "bad:5: key .* is a boolean" err &&
	jq -r ".error.code" dl | sort | uniq -c | tr -s " " >got &&
	printf " 2 bad_key\n 1 invalid_json\n 1 missing_key\n 1 not_an_object\n" >expect &&
	test_cmp expect got
'

test_expect_success '--key: simple paths and general jq expressions' '
	echo "{\"dev\":{\"id\":\"d1\"},\"v\":1}" >k &&
	cdc-filter --state k.db --key .dev.id k >out &&
	jq -r ._meta.cdc.key out >got && echo d1 >expect && test_cmp expect got &&
	cdc-filter --state k.db --key "\"\(.dev.id)-x\"" k >out &&
	jq -r ._meta.cdc.key out >got && echo d1-x >expect && test_cmp expect got &&
	echo "{\"id\":12345678901234567890}" >n &&
	cdc-filter --state k.db n >out &&
	jq -r ._meta.cdc.key out >got && echo 12345678901234567890 >expect && test_cmp expect got
'

test_expect_success '--shard i/n: the shards partition the keys' '
	gen 200 >in200 &&
	cdc-filter --state sh0.db --shard 0/3 in200 >o0 &&
	cdc-filter --state sh1.db --shard 1/3 in200 >o1 &&
	cdc-filter --state sh2.db --shard 2/3 in200 >o2 2>err &&
	test_grep "other_shard=" err &&
	cat o0 o1 o2 | jq -r "._meta.cdc.key" | sort >got &&
	jq -r ".[\"\$dtId\"]" in200 | sort >expect && test_cmp expect got &&
	test "$(wc -l <o0)" -gt 30 && test "$(wc -l <o1)" -gt 30
'

test_expect_success 'usage errors exit 2 before any side effect' '
	test_expect_code 2 cdc-filter in1 2>err && test_grep "state FILE is required" err &&
	test_expect_code 2 cdc-filter --state u.db --shard 3/3 in1 &&
	test_expect_code 2 cdc-filter --state u.db --commit --diff in1 &&
	test_expect_code 2 cdc-filter --state u.db --key ".[" in1 &&
	test_expect_code 2 cdc-filter --state u.db --exclude "/a~2" in1 &&
	test_expect_code 2 cdc-filter --state u.db no-such-file &&
	test_expect_code 2 cdc-filter --nope &&
	! test -e u.db
'

test_expect_success 'the state schema is versioned and inspectable' '
	sqlite3 s.db "SELECT version FROM schema_version WHERE component = \"cdc\"" >got &&
	echo 1 >expect && test_cmp expect got &&
	sqlite3 s.db "PRAGMA journal_mode" >got && echo wal >expect && test_cmp expect got &&
	sqlite3 s.db "SELECT key, length(hash), ident FROM cdc_state WHERE key = \"t1\"" >got &&
	echo "t1|32|{\"\$dtId\":\"t1\"}" >expect && test_cmp expect got
'

test_expect_success 'a write error on stdout is fatal (exit 3)' '
	test_expect_code 3 cdc-filter --state s.db in200 >/dev/full 2>err &&
	test_grep "write error" err
'

test_done
