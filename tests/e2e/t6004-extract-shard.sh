#!/usr/bin/env bash
# extract-lob --shard: n shards together are the whole source, without
# overlap, and agree with cdc-filter --shard.
. "$(dirname "$0")/../lib.sh"

{ echo "id,name"; seq 1 3000 | awk '{print "org" $1 ",n" $1}'; } >orgs.csv

test_expect_success 'three shards partition the source' '
	for i in 0 1 2; do
		extract-lob --run-id r --key .id --shard $i/3 csv:orgs.csv >s$i 2>err$i || exit 1
		test_grep "other_shard=" err$i || exit 1
	done &&
	cat s0 s1 s2 | jq -r "select(.id) | .id" | sort >all &&
	sort -u all >uniq && test_cmp all uniq &&
	test_lines 3000 all &&
	tail -n +2 orgs.csv | cut -d, -f1 | sort >expect && test_cmp expect all
'

test_expect_success 'no shard is empty or holds everything; each announces its own count' '
	for i in 0 1 2; do
		n=$(grep -c "\"id\"" s$i) &&
		test "$n" -gt 500 && test "$n" -lt 1500 &&
		tail -n 1 s$i | jq -e "._meta.records == $n and ._meta.shard == \"$i/3\"" || exit 1
	done
'

test_expect_success 'the same keys land in the same shard as cdc-filter --shard' '
	test -x "$TP_BIN/cdc-filter" || { echo "cdc-filter not built: skipped"; exit 0; }
	extract-lob --run-id r --no-snapshot csv:orgs.csv >whole &&
	cdc-filter --state c.db --key .id --shard 1/3 whole 2>/dev/null | jq -r .id | sort >cdc1 &&
	jq -r "select(.id) | .id" s1 | sort >x1 && test_cmp x1 cdc1
'

test_expect_success 'a record without the key is a record error under --shard' '
	printf "[{\"id\":\"a\"},{\"other\":1}]" | test_expect_code 1 extract-lob --key .id --shard 0/2 --dead-letter dlq json:- >out 2>err &&
	test_grep missing_key dlq
'

test_expect_success '--shard needs --key and a valid I/N' '
	test_expect_code 2 extract-lob --shard 0/2 csv:orgs.csv 2>err && test_grep "needs --key" err &&
	test_expect_code 2 extract-lob --key .id --shard 3/3 csv:orgs.csv 2>err &&
	test_expect_code 2 extract-lob --key "foo(" --shard 0/3 csv:orgs.csv 2>err
'
test_done
