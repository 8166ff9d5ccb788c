#!/usr/bin/env bash
# ingest-eventhub: the Event Hubs connection string (topic from EntityPath,
# the key never printed), --start at a time, two instances in one group.
. "$(dirname "$0")/../lib.sh"

. "$TP_TOP/tests/e2e/lib-eventhub.sh"
eh_start 4 5 3 || exit 1
K="--idle-exit 2s $EH_GROUP_OPTS"

test_expect_success 'a connection string: EntityPath is the topic, the key is never printed' '
	EVENTHUB_CONNECTION_STRING="Endpoint=sb://ns1.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=s3cr3tKEY=;EntityPath=iot" \
	timeout 30 ingest-eventhub $K -g cs -vv -X bootstrap.servers=$BS \
		-X security.protocol=plaintext >out 2>err || test $? = 1
	test_lines 21 out && ! grep -q s3cr3tKEY err &&
	jq -e -s "all(.[]; ._meta.src.topic == \"iot\")" out
'

test_expect_success 'a connection string from a file; a broken one is a usage error' '
	printf "Endpoint=sb://ns1.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKey=b;EntityPath=iot\n" >cs.txt &&
	timeout 30 ingest-eventhub $K -g csf --connection-string-file cs.txt \
		-X bootstrap.servers=$BS -X security.protocol=plaintext >out2 2>err2 || test $? = 1
	test_lines 21 out2 &&
	EVENTHUB_CONNECTION_STRING="SharedAccessKey=x" test_expect_code 2 ingest-eventhub 2>err3 &&
	test_grep "Endpoint=sb://" err3 &&
	test_expect_code 2 ingest-eventhub --connection-string-file /nonexistent 2>err4
'

# The mock cluster answers every ListOffsets-by-time with -1 (the end), so
# only "nothing after a future time" can be checked here.
test_expect_success '--start latest and --start TIME in the future read nothing; earliest all' '
	timeout 30 ingest-eventhub -b $BS -t iot $K -g st1 --start latest >s1 2>/dev/null &&
	test_lines 0 s1 &&
	timeout 30 ingest-eventhub -b $BS -t iot $K -g st3 -vv --start 2999-01-01T00:00:00.5Z >s3 2>e3 &&
	test_lines 0 s3 && test_grep "starts at offset" e3 &&
	{ timeout 30 ingest-eventhub -b $BS -t iot $K -g st2 --start earliest >s2 2>/dev/null || test $? = 1; } &&
	test_lines 21 s2
'

test_expect_success 'two instances in one group share the partitions and lose nothing' '
	S="transform \"{ok: true, _meta}\" | tee -a acks"
	{ timeout 60 ingest-eventhub -b $BS -t iot --idle-exit 4s -X session.timeout.ms=6000 \
		-X heartbeat.interval.ms=500 -g pair --exec "$S" >/dev/null 2>p1 </dev/null & } &&
	{ timeout 60 ingest-eventhub -b $BS -t iot --idle-exit 4s -X session.timeout.ms=6000 \
		-X heartbeat.interval.ms=500 -g pair --exec "$S" >/dev/null 2>p2 </dev/null & } &&
	wait &&
	jq -r "select(._meta.src) | ._meta.src | \"\(.partition)/\(.offset)\"" acks | sort -u >seen &&
	test_lines 21 seen &&
	cat p1 p2 | grep "ingest-eventhub: summary" >sums && test_lines 2 sums
'

# held LOG: the partitions an instance holds now, from its -v log
held() {
	grep -o "\(assigned\|revoked\) iot\[[0-9]*\]" "$1" 2>/dev/null |
		awk '{ p = $2; if ($1 == "assigned") h[p] = 1; else delete h[p] }
		END { for (p in h) print p }' | sort
}

test_expect_success 'two instances split the partitions; one killed with SIGKILL, the other takes over and loses nothing' '
	S="while read -r l; do sleep 0.25; printf \"%s\\n\" \"\$l\" | tee -a kacks; done"
	ingest-eventhub -b $BS -t iot -v --idle-exit 25s $EH_GROUP_OPTS -g kill \
		--commit-interval 0.2s --exec "$S" >/dev/null 2>k1 </dev/null & a=$!
	ingest-eventhub -b $BS -t iot -v --idle-exit 25s $EH_GROUP_OPTS -g kill \
		--commit-interval 0.2s --exec "$S" >/dev/null 2>k2 </dev/null & b=$!
	# the split is read from what each holds now (assigned minus revoked):
	# the first may hold all four until the second joins
	test_wait_for 120 "held k1 >pa && held k2 >pb && test -s pa && test -s pb &&
		test -z \"\$(comm -12 pa pb)\" && test \$(cat pa pb | wc -l) = 4" &&
	echo "A: $(tr "\n" " " <pa) B: $(tr "\n" " " <pb)" &&
	kill -KILL $a && rc=0 && wait $b || rc=$?
	grep "summary" k2 &&
	test $rc -le 1 &&
	grep -o "assigned iot\[[0-9]*\]" k2 | sort -u >pb2 && test_lines 4 pb2 &&
	jq -r "select(._meta.src) | ._meta.src | \"\(.partition)/\(.offset)\"" kacks | sort -u >kseen &&
	test_lines 21 kseen
'

test_done
