#!/usr/bin/env bash
# cdc-filter: deletes from complete snapshots only; failed pushes retried;
# duplicate keys; relationships.
. "$(dirname "$0")/../lib.sh"

ack='if ._meta.cdc then {ok:true,op:"x",id:(.["$dtId"] // .id),status:200,attempts:1,_meta} else . end'
done_ctl() { echo "{\"_meta\":{\"control\":\"snapshot-complete\",\"source\":\"csv:x.csv\",\"records\":$1}}"; }
twin() { echo "{\"\$dtId\":\"$1\",\"v\":\"$2\"}"; }
rel() { echo "{\"\$dtId\":\"$1\",\"\$relationshipId\":\"$2\",\"\$targetId\":\"$3\",\"\$relationshipName\":\"contains\"}"; }
relkey='if .["$relationshipId"] then .["$dtId"] + "/" + .["$relationshipId"] else .["$dtId"] end'
# one run of the pipeline with an all-ok sink
cycle() { cdc-filter --state s.db --snapshot --key "$relkey" "$@" >out &&
	transform -c "$ack" out | cdc-filter --state s.db --commit >/dev/null; }

test_expect_success 'setup: three twins and a relationship acknowledged' '
	{ twin a 1; twin b 1; twin c 1; rel a r1 b; done_ctl 4; } >snap1 &&
	cycle snap1 && test_lines 5 out &&
	test "$(sqlite3 s.db "SELECT count(*) FROM cdc_state")" = 4
'

test_expect_success 'a row missing from a complete snapshot gives one delete' '
	{ twin a 1; twin c 1; rel a r1 b; done_ctl 3; } >snap2 &&
	cdc-filter --state s.db --snapshot --key "$relkey" snap2 >out 2>err &&
	grep -v control out >got &&
	echo "{\"\$dtId\":\"b\",\"\$op\":\"delete\",\"_meta\":{\"cdc\":{\"key\":\"b\",\"change\":\"delete\"}}}" >expect &&
	test_cmp expect got && test_grep "deleted=1" err
'

test_expect_success 'a relationship (stored with $relationshipId) is deleted as one' '
	{ twin a 1; twin b 1; twin c 1; done_ctl 3; } >snap3 &&
	cdc-filter --state s.db --snapshot --key "$relkey" snap3 >out &&
	grep -v control out | jq -c "del(._meta)" >got &&
	echo "{\"\$dtId\":\"a\",\"\$relationshipId\":\"r1\",\"\$op\":\"delete\"}" >expect &&
	test_cmp expect got
'

test_expect_success 'no deletes without the snapshot-complete control record' '
	{ twin a 1; } >partial &&
	cdc-filter --state s.db --snapshot --key "$relkey" partial >out 2>err &&
	test_lines 0 out && test_grep "no deletes inferred" err
'

test_expect_success 'no deletes when a record failed or the count does not match' '
	{ twin a 1; echo "{bad"; done_ctl 2; } >failed &&
	test_expect_code 1 cdc-filter --state s.db --snapshot --key "$relkey" failed >out 2>err &&
	! grep -q delete out && test_grep "records failed: no deletes" err &&
	{ twin a 1; done_ctl 3; } >short &&
	cdc-filter --state s.db --snapshot --key "$relkey" short >out 2>err &&
	! grep -q delete out && test_grep "announced 3 records but 1 arrived" err
'

test_expect_success 'no deletes when the input was cut by a signal' '
	mkfifo fifo &&
	# the control record is written only after the signal (the writer
	# waits for the go file), so the input is cut whatever the timing
	{ twin a 1; : >written; test_wait_for 120 "test -e go"; done_ctl 1; } >fifo &
	cdc-filter --state s.db --snapshot --key "$relkey" fifo >out 2>err &
	pid=$! && test_wait_for 120 "test -e written" && kill -TERM $pid &&
	rc=0 && { wait $pid || rc=$?; }
	touch go; wait %1 2>/dev/null || true
	test "$rc" = 3 && ! grep -q delete out && test_grep "interrupted" err
'

test_expect_success 'an acknowledged delete removes the key from the state' '
	cycle snap2 &&
	test "$(sqlite3 s.db "SELECT group_concat(key) FROM (SELECT key FROM cdc_state ORDER BY key)")" = "a,a/r1,c" &&
	cdc-filter --state s.db --snapshot --key "$relkey" snap2 >out &&
	test_lines 1 out
'

test_expect_success 'a failed push result leaves the state: the next run retries it' '
	{ twin a 2; twin c 2; rel a r1 b; done_ctl 3; } >snap4 &&
	cdc-filter --state s.db --snapshot --key "$relkey" snap4 >out &&
	test_lines 3 out &&
	jq -c "if ._meta.cdc.key == \"c\" then {ok:false,op:\"upsert\",id:\"c\",status:429,attempts:5,error:{code:\"throttled\"},_meta} elif ._meta.cdc then {ok:true,op:\"upsert\",id:\"a\",status:200,attempts:1,_meta} else . end" out >res &&
	cdc-filter --state s.db --commit res >/dev/null 2>err &&
	test_grep "committed=1 removed=0 rejected=1" err &&
	cdc-filter --state s.db --snapshot --key "$relkey" snap4 >out2 &&
	grep -v control out2 | jq -r "._meta.cdc.key" >got &&
	echo c >expect && test_cmp expect got
'

test_expect_success 'duplicate key in one snapshot: last wins, with a warning' '
	{ twin a 2; twin a 3; twin a 2; done_ctl 3; } >dup &&
	cdc-filter --state d.db --snapshot dup >out 2>err &&
	test_grep "dup:2: duplicate key .a. in the snapshot: the last record wins" err &&
	test_grep "duplicate=2" err &&
	jq -r ".v" out | grep -v null >got &&
	printf "2\n3\n2\n" >expect && test_cmp expect got &&
	{ twin a 2; twin a 2; done_ctl 2; } >dup2 &&
	cdc-filter --state d.db --snapshot dup2 >out 2>err &&
	grep -c "\"v\"" out >got && echo 1 >expect && test_cmp expect got
'

test_expect_success 'commit: results that did not come through cdc-filter are passed and ignored' '
	echo "{\"ok\":true,\"op\":\"upsert\",\"id\":\"zz\",\"status\":200,\"attempts\":1}" >plain &&
	cdc-filter --state s.db --commit plain >out 2>err &&
	test_cmp plain out && test_grep "ignored=1" err
'

test_expect_success 'commit: a line that is not a result is dead-lettered (exit 1)' '
	{ echo "{\"x\":1}"; echo "nope"; } >junk &&
	test_expect_code 1 cdc-filter --state s.db --commit --dead-letter dl junk >out 2>err &&
	test_lines 2 dl && test_lines 0 out && test_grep "not a push result" err
'

test_expect_success 'commits are batched in transactions' '
	awk "BEGIN { for (i = 0; i < 2500; i++) printf \"{\\\"\$dtId\\\":\\\"b%d\\\"}\n\", i }" >many &&
	cdc-filter --state b.db many | transform -c "$ack" >res &&
	cdc-filter --state b.db --commit --batch 1000 res >/dev/null &&
	test "$(sqlite3 b.db "SELECT count(*) FROM cdc_state")" = 2500
'

test_expect_success 'several records per source row (same _meta.src) still count as one' '
	rm -f s2.db &&
	row() { echo "{\"\$dtId\":\"$1\",\"v\":1,\"_meta\":{\"src\":{\"row\":$2}}}"; }
	relr() { echo "{\"\$dtId\":\"$1\",\"\$relationshipId\":\"$1-$3\",\"\$targetId\":\"$3\",\"\$relationshipName\":\"has\",\"_meta\":{\"src\":{\"row\":$2}}}"; }
	{ row p 1; row q 2; relr p 2 q; row z 3; relr p 3 z; done_ctl 3; } >m1 &&
	cdc-filter --state s2.db --snapshot --key "$relkey" m1 >out &&
	transform -c "$ack" out | cdc-filter --state s2.db --commit >/dev/null &&
	{ row p 1; row q 2; relr p 2 q; done_ctl 2; } >m2 &&
	cdc-filter --state s2.db --snapshot --key "$relkey" m2 >out 2>err &&
	test_grep "deleted=2" err &&
	{ row p 1; done_ctl 2; } >m3 &&
	cdc-filter --state s2.db --snapshot --key "$relkey" m3 >out 2>err &&
	test_grep "no deletes inferred" err && test_grep "deleted=0" err
'
test_done
