#!/usr/bin/env bash
# ingest-eventhub against librdkafka's mock cluster (tests/tools/eh-produce.c):
# AMQP header decoding of every type, plain mode output and dead letters,
# the --exec acknowledgement loop, commits, restart and redelivery.
. "$(dirname "$0")/../lib.sh"

. "$TP_TOP/tests/e2e/lib-eventhub.sh"
eh_start 4 5 3 || exit 1
K="-b $BS -t iot --idle-exit 2s $EH_GROUP_OPTS"

test_expect_success 'the producer wrote 23 events' '
	test_grep "^produced 23" produce.out
'

test_expect_success 'plain mode: 21 events, 2 dead letters, exit 1' '
	test_expect_code 1 timeout 30 ingest-eventhub $K -g plain \
		--dead-letter dlq.ndjson >out.ndjson 2>err &&
	test_lines 21 out.ndjson && test_lines 2 dlq.ndjson &&
	test_grep "iot\[[0-9]\]@[0-9]*: body is not JSON" err &&
	test_grep "updateTwin event without a deviceId" err &&
	jq -e -s "map(.error.code) | sort == [\"invalid_body\",\"missing_device_id\"]" dlq.ndjson &&
	jq -e -s "[.[] | select(.record.properties.deviceId == \"dev-bad-body\")][0].record.body == \"bm90IGpzb24gew==\"" dlq.ndjson
'

test_expect_success 'every event has the documented shape' '
	jq -e -s "all(.[]; (keys == [\"_meta\",\"body\",\"properties\",\"system\"]) and
		(._meta.src | (.topic == \"iot\") and (.partition|type) == \"number\" and
		(.offset|type) == \"number\" and (.timestamp|test(\"^20[0-9-]+T[0-9:.]+Z$\"))))" out.ndjson &&
	jq -e -s "map(select(.properties.opType == \"createDeviceIdentity\")) | length == 5" out.ndjson &&
	jq -e -s "map(select(.properties.opType == \"updateTwin\")) | length == 16" out.ndjson &&
	jq -e -s "all(.[]; .system[\"content-type\"] == \"application/json\")" out.ndjson
'

test_expect_success 'every AMQP type decodes' '
	jq -c "select(.properties.deviceId == \"types\") | .properties | with_entries(select(.key|startswith(\"t-\")))" out.ndjson >types &&
	cat >expect <<-\EOT &&
	{"t-null":null,"t-true":true,"t-false":false,"t-bool":true,"t-ubyte":255,"t-byte":-2,"t-uint0":0,"t-smalluint":7,"t-uint":4294967295,"t-smallulong":9,"t-ulong0":0,"t-ulong":18446744073709551615,"t-short":-3,"t-int":-4,"t-smallint":-5,"t-long":-9223372036854775808,"t-smalllong":5,"t-float":1.5,"t-double":3.141592653589793,"t-timestamp":"2026-01-01T01:32:10.624Z","t-uuid":"12345678-9abc-def0-1234-56789abcdef0","t-bin8":"AQID","t-bin32":"//4=","t-str32":"abc","t-sym8":"sym","t-sym32":"z","t-badlen":"oQl4","t-str8":"héllo","t-plain":"plain text","t-notutf8":"//4="}
	EOT
	jq -c . expect >want && jq -c . types >got &&
	grep -o "\"t-ulong\":[0-9]*" out.ndjson | grep -q 18446744073709551615 &&
	grep -o "\"x\":[0-9]*" out.ndjson | grep -q 12345678901234567890 &&
	grep "\"types\"" out.ndjson | grep -q "\"t-long\":-9223372036854775808" &&
	test_cmp want got
'

test_expect_success 'a pretty-printed body is written on one line, numbers exact' '
	grep "\"types\"" out.ndjson | grep -q "^{\"body\":{\"version\":5,\"properties\":{\"desired\":{\"x\":12345678901234567890}}},"
'

test_expect_success 'standard properties stay plain ("A" is not AMQP true)' '
	jq -e -s "map(select(.properties.deviceId == \"types\"))[0].system[\"message-id\"] == \"A\"" out.ndjson
'

test_expect_success 'plain mode commits nothing: a second run reads everything again' '
	test_expect_code 1 timeout 30 ingest-eventhub $K -g plain >again 2>/dev/null &&
	test_lines 21 again
'

test_expect_success '--exec: a sink that fails acknowledges nothing: exit 3, nothing committed' '
	test_expect_code 3 timeout 40 ingest-eventhub $K -g acked \
		--exec "cat >sunk; exit 3" >o0 2>e0 &&
	grep -v "\"control\":\"barrier\"" sunk >sunk.events &&
	test_lines 21 sunk.events && test ! -s o0 &&
	test_grep "exited with status 3" e0 &&
	test_grep "23 events past the committed offsets" e0 || { cat e0; false; }
'

test_expect_success '--exec: everything is redelivered, acknowledged and committed' '
	test_expect_code 1 timeout 40 ingest-eventhub $K -g acked --dead-letter dlq2 \
		--exec "transform \"{ok: true, id: .properties.deviceId, _meta}\"" >o1 2>e1 &&
	test_grep "in=23 out=21 failed=2 acked=23 sink_failed=0 commits=[1-9]" e1 || { cat e1; false; }
'

test_expect_success '--exec: a restart reads nothing already acknowledged' '
	timeout 40 ingest-eventhub $K -g acked \
		--exec "transform \"{ok: true, _meta}\"" >o2 2>e2 &&
	test_grep "in=0 out=0" e2 || { cat e2; false; }
'

test_expect_success '--exec: ok:false results acknowledge too (exit 1); --no-commit replays' '
	test_expect_code 1 timeout 40 ingest-eventhub $K -g nocommit --no-commit \
		--exec "transform \"{ok: false, _meta}\"" >o3 2>e3 &&
	test_grep "acked=23 sink_failed=21 commits=0" e3 &&
	test_expect_code 1 timeout 40 ingest-eventhub $K -g nocommit >o4 2>/dev/null &&
	test_lines 21 o4
'

test_expect_success '--max-events stops after N events' '
	timeout 30 ingest-eventhub $K -g maxev --max-events 3 >o5 2>/dev/null &&
	test_lines 3 o5
'

test_expect_success '--assign: every partition without a group, committed offsets ignored' '
	{ timeout 30 ingest-eventhub -b $BS -t iot -g acked -v --assign --idle-exit 1s \
		>as1 2>ase1 || test $? = 1; } &&
	sort out.ndjson >want.as && sort as1 >got.as && test_cmp want.as got.as &&
	test_grep "assigned iot\[3\]" ase1 &&
	timeout 30 ingest-eventhub -b $BS -t iot --assign --start latest --idle-exit 1s >as2 2>/dev/null &&
	test_lines 0 as2 &&
	test_expect_code 2 ingest-eventhub -b $BS -t iot --assign --exec cat 2>ase3 &&
	test_grep "add --no-commit" ase3
'

test_expect_success 'usage errors exit 2' '
	test_expect_code 2 ingest-eventhub 2>u1 &&
	test_expect_code 2 ingest-eventhub -b x:1 2>u2 && test_grep "no topic" u2 &&
	test_expect_code 2 ingest-eventhub -b x:1 -t t --start yesterday 2>u3 &&
	test_expect_code 2 ingest-eventhub -b x:1 -t t -X nosuch.property=1 2>u4
'

test_done
