#!/usr/bin/env bash
# cdc-filter: kill -9 anywhere in the pipeline never loses a change. The
# sink is a file (appended by tee, then acknowledged); the twin state it
# holds is folded from it with jq and compared with the last snapshot.
. "$(dirname "$0")/../lib.sh"

ack='if ._meta.cdc then {ok:true,op:"upsert",id:.["$dtId"],status:200,attempts:1,_meta} else . end'
snap() { # snap N SEED: N twins, values depending on SEED, then the control record
	awk -v n="$1" -v s="$2" 'BEGIN { srand(s); for (i = 1; i <= n; i++)
		printf "{\"$dtId\":\"t%d\",\"v\":%d,\"w\":\"%s\"}\n", i, (rand() < 0.3 ? s : 0), (i % 3 ? "x" : "y");
		printf "{\"_meta\":{\"control\":\"snapshot-complete\",\"records\":%d}}\n", n }' | grep -v "\"t7\"" | sed "s/records\":$1/records\":$(( $1 - 1 ))/"
}
# the file sink: a line is acknowledged (passed on) only once it is in the
# file, each written whole (a kill -9 never leaves a torn line)
sinkw() { awk '{ print >> "sink"; fflush("sink"); print; fflush() }'; }
export -f sinkw
# the twins the sink holds: upserts replace, deletes remove
fold() { jq -n -S -c 'reduce (inputs | select(._meta.control | not)) as $r ({};
	if $r["$op"] == "delete" then del(.[$r["$dtId"]]) else .[$r["$dtId"]] = ($r | del(._meta)) end)
	| [.[]] | sort_by(.["$dtId"])[]' sink; }
want() { grep -v control "$1" | jq -S -c . | jq -s -S -c 'sort_by(.["$dtId"])[]'; }
# how many changes a snapshot of $1 still finds against the state
changes_left() { cdc-filter --state s.db --snapshot "$1" | grep -c '"cdc"'; }
pipeline() { # the batch pipeline, file sink in the middle
	cdc-filter --state s.db --snapshot "$1" | sinkw |
		transform -c "$ack" | cdc-filter --state s.db --commit --batch 50 >/dev/null
}

test_expect_success 'setup: a first full run' '
	snap 3000 1 >s1 && : >sink && pipeline s1 &&
	fold >got && want s1 >expect && test_cmp expect got
'

test_expect_success 'crash before the commit stage ran: the rerun sends the changes again' '
	snap 3000 2 >s2 &&
	cdc-filter --state s.db --snapshot s2 >>sink &&
	n=$(cdc-filter --state s.db --snapshot s2 | grep -c cdc) && test "$n" -gt 100 &&
	pipeline s2 && fold >got && want s2 >expect && test_cmp expect got &&
	cdc-filter --state s.db --snapshot s2 >out && ! grep -q cdc out
'

test_expect_success 'kill -9 of the commit stage in mid-stream, then rerun' '
	snap 3000 3 >s3 &&
	cdc-filter --state s.db --snapshot s3 | sinkw | transform -c "$ack" >res &&
	total=$(grep -c cdc res) && test "$total" -gt 100 &&
	# the commit stage gets 400 results and then nothing more (the input
	# stays open): killed once some of its batches are in the state
	{ { head -n 400 res; test_wait_for 120 "test -e go"; } | cdc-filter --state s.db --commit --batch 50 >/dev/null 2>&1 & } &&
	test_wait_for 120 "test \$(changes_left s3) -lt $total" &&
	pid=$(pgrep -n -f "cdc-filter --state s.db --commit --batch 50") &&
	kill -9 "$pid" && touch go && wait &&
	left=$(cdc-filter --state s.db --snapshot s3 | grep -c "\"cdc\"") &&
	test "$left" -gt 0 && test "$left" -lt "$total" &&
	pipeline s3 && fold >got && want s3 >expect && test_cmp expect got &&
	cdc-filter --state s.db --snapshot s3 >out && ! grep -q cdc out
'

export ack
test_expect_success 'kill -9 of the whole pipeline at random moments, then rerun, never loses a change' '
	for round in 4 5 6 7; do
		snap 3000 $round >s &&
		rc=0 && setsid -w timeout -s KILL 0.$((round * 2)) bash -c "cdc-filter --state s.db --snapshot s 2>/dev/null | sinkw |
			transform -c \"\$ack\" 2>/dev/null | cdc-filter --state s.db --commit --batch 7 >/dev/null 2>&1" || rc=$? &&
		echo "round $round: exit $rc" &&
		pipeline s && fold >got && want s >expect && test_cmp expect got || exit 1
	done
'

test_done
