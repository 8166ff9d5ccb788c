#!/usr/bin/env bash
# extract-lob with cdc-filter: a complete snapshot lets cdc-filter infer
# deletes; a read with a bad row or a failed read never does.
. "$(dirname "$0")/../lib.sh"
test -x "$TP_BIN/cdc-filter" || { echo "# cdc-filter not built"; test_done; exit 0; }

ack='if ._meta.cdc then {ok:true,op:"x",id:.id,status:200,attempts:1,_meta} else . end'
cycle() {	# one pipeline run with an all-ok sink
	extract-lob --run-id r csv:"$1" 2>/dev/null | cdc-filter --state s.db --snapshot --key .id >out 2>err
	transform -c "$ack" out | cdc-filter --state s.db --commit >/dev/null 2>&1
}

test_expect_success 'first snapshot: three inserts' '
	printf "id,name\na,1\nb,1\nc,1\n" >v1.csv && cycle v1.csv &&
	test "$(jq -r "select(._meta.cdc) | .id" out | sort | tr -d "\n")" = abc
'

test_expect_success 'a row gone from a complete CSV snapshot becomes a delete' '
	printf "id,name\na,1\nc,2\n" >v2.csv && cycle v2.csv &&
	jq -c "select(._meta.cdc.change == \"delete\") | ._meta.cdc.key" out >del &&
	echo "\"b\"" >expect && test_cmp expect del &&
	jq -c "select(._meta.cdc.change == \"update\") | .id" out >upd &&
	echo "\"c\"" >expect && test_cmp expect upd
'

test_expect_success 'a snapshot with a malformed row announces nothing: no deletes' '
	printf "id,name\na,1\nbroken,\"x\"y\n" >v3.csv &&
	{ extract-lob csv:v3.csv 2>/dev/null || true; } | cdc-filter --state s.db --snapshot --key .id >out 2>err &&
	! grep -q "\"delete\"" out && test_grep "no deletes\|no .snapshot-complete." err
'

test_expect_success 'a failed read (broken JSON) announces nothing: no deletes' '
	printf "[{\"id\":\"a\",\"name\":\"1\"}, {\"id\":" >v4.json &&
	{ extract-lob json:v4.json 2>/dev/null || true; } | cdc-filter --state s.db --snapshot --key .id >out 2>err &&
	! grep -q "\"delete\"" out
'

test_expect_success 'shards: each shard with its own state deletes only its own keys' '
	printf "id,name\n" >s.csv && seq 1 50 | sed "s/.*/k&,1/" >>s.csv &&
	for i in 0 1; do
		extract-lob --key .id --shard $i/2 csv:s.csv 2>/dev/null |
			cdc-filter --state sh$i.db --snapshot --key .id --shard $i/2 >o$i 2>/dev/null &&
		transform -c "$ack" o$i | cdc-filter --state sh$i.db --commit >/dev/null 2>&1 || exit 1
	done &&
	grep -v "^k7," s.csv >s2.csv &&
	for i in 0 1; do
		extract-lob --key .id --shard $i/2 csv:s2.csv 2>/dev/null |
			cdc-filter --state sh$i.db --snapshot --key .id --shard $i/2 >o$i 2>/dev/null || exit 1
	done &&
	cat o0 o1 | jq -c "select(._meta.cdc.change == \"delete\") | ._meta.cdc.key" >del &&
	echo "\"k7\"" >expect && test_cmp expect del
'
test_done
