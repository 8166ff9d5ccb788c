#!/usr/bin/env bash
# pipelines/iothub-backfill-to-cosmos beside the live stream, both against
# twin-emulator (IoT Hub registry, its routed events over AMQP, Cosmos DB):
# devices that exist before the stream starts are back-filled; the
# back-fill and the stream run at the same time while twins change, devices
# come and go; devices deleted, created and changed while nothing reads the
# events are healed by the next back-fill. At the end every Cosmos document
# equals the hub's twin and no deleted device is left.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-cosmos.sh"

KEY=$(head -c 32 /dev/urandom | base64)
printf '%s\n' "$KEY" >"$TEST_DIR/iothub.key"
HUB=myhub.azure-devices.net
V="api-version=2021-04-12"
sas() {
	local sr se=$2 hex sig
	sr=$(jq -rn --arg s "$1" '$s|@uri')
	hex=$(printf '%s' "$KEY" | base64 -d | od -An -v -tx1 | tr -d ' \n')
	sig=$(printf '%s\n%s' "$sr" "$se" |
		openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hex" -binary | base64)
	printf 'SharedAccessSignature sr=%s&sig=%s&se=%s&skn=iothubowner' "$sr" \
		"$(jq -rn --arg s "$sig" '$s|@uri')" "$se"
}
AUTH=$(sas "$HUB" $(($(date +%s) + 3600)))
hub() {	# hub METHOD PATH [BODY]: fails unless 2xx
	local c
	c=$(emu_curl -o /dev/null -w "%{http_code}" -X "$1" -H "Authorization: $AUTH" \
		-H "Content-Type: application/json" ${3:+-d "$3"} "$EMU_URL$2")
	case $c in 2*) ;; *) echo "hub $1 $2: HTTP $c" >&2; return 1;; esac
}
desired() { hub PATCH "/twins/$1?$V" "{\"properties\":{\"desired\":$2}}"; }
tags() { hub PATCH "/twins/$1?$V" "{\"tags\":$2}"; }
reported() { hub PATCH "/_admin/iothub/twins/$1/reported" "$2"; }

pcos_start --iothub myhub --iothub-key-file "$TEST_DIR/iothub.key" \
	--amqp-port auto --eh-partitions 1 || exit 1
amqp=$(sed -n 2p "$TEST_DIR/emu$emu_n.out")
PATH=$TP_TOP/pipelines:$PATH
export IOTHUB_CONNECTION_STRING="HostName=$HUB;SharedAccessKeyName=iothubowner;SharedAccessKey=$KEY"
export EVENTHUB_CONNECTION_STRING="Endpoint=sb://localhost:${amqp##*:}/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;EntityPath=myhub;UseDevelopmentEmulator=true"
export COSMOS_DATABASE=db COSMOS_CONTAINER=c IOTHUB_PAGE_SIZE=4 IOTHUB_RATE=20
JQ=$TP_TOP/pipelines/iothub-to-cosmos.jq
LIVE="transform -f $JQ --dead-letter ltdlq | push-cosmos --endpoint $EMU_URL -d db --container c -p /deviceId --tombstones --encode-ids --create-container --dead-letter lpdlq"
backfill() { WORK=$TEST_DIR/bf$1 COSMOS_OPTIONS="--endpoint $EMU_URL --create-container" iothub-backfill-to-cosmos "$EMU_URL"; }

# the comparable state: id, version, tags, desired and reported without
# $metadata; from the hub (the registry) and from Cosmos (live documents)
norm='{id, version, tags, d: (.properties.desired | del(.["$metadata"])), r: (.properties.reported | del(.["$metadata"]))}'
hub_state() {
	IOTHUB_KEY=$KEY extract-lob --modules iothub:"$EMU_URL" 2>/dev/null |
		jq -cS "select(.deviceId) | .id = (if .moduleId then \"\(.deviceId)/\(.moduleId)\" else .deviceId end) | $norm" | sort
}
cos_state() { cos_docs | jq -cS "select(._deleted | not) | .id |= gsub(\"%2F\"; \"/\") | $norm" | sort; }
converged() { hub_state >hub.st && cos_state >cos.st && cmp -s hub.st cos.st; }

test_expect_success 'a hub of 24 devices and a module, with history, before any stream' '
	for i in $(seq -w 1 24); do hub PUT "/devices/dev$i?$V" "{}" || exit 1; done &&
	hub PUT "/devices/dev01/modules/m1?$V" "{\"moduleId\":\"m1\"}" &&
	for i in $(seq -w 1 24); do
		tags dev$i "{\"site\":\"s$i\",\"floor\":1}" && desired dev$i "{\"rate\":$((10#$i)),\"mode\":\"a\"}" &&
		reported dev$i "{\"fw\":\"1.$i\",\"temp\":20}" || exit 1
	done &&
	hub PATCH "/twins/dev01/modules/m1?$V" "{\"properties\":{\"desired\":{\"k\":1}}}"
'

test_bg ingest-eventhub -v --checkpoint-dir "$TEST_DIR/ck" --start latest \
	--commit-interval 200ms --exec "$LIVE" >live.out 2>live.err
LIVE_PID=$!
test_expect_success 'the live stream runs (an event made after it started is applied)' '
	test_wait_for 60 "grep -q \"amqp: reading myhub\" live.err" &&
	desired dev24 "{\"probe\":1}" &&
	test_wait_for 60 "cos_doc dev24 | jq -e \".properties.desired.probe == 1\" >/dev/null" &&
	test "$(cos_docs | wc -l)" = 1
'

# racing changes: updates (sets and removals, desired, tags, reported),
# creates and deletes, while the back-fill reads and writes
churn() {
	local k i
	for k in 1 2 3 4 5 6; do
		for i in 02 05 07 11 13 17 19 23; do
			desired dev$i "{\"rate\":$((k * 100 + 10#$i)),\"mode\":$([ $((k % 2)) = 0 ] && echo null || echo "\"b$k\"")}" &&
			tags dev$i "{\"floor\":$k}" && reported dev$i "{\"temp\":$((20 + k))}" || return 1
		done
		case $k in
		2) hub DELETE "/devices/dev03?$V" && hub DELETE "/devices/dev09?$V" ;;
		3) hub PUT "/devices/new$k?$V" "{}" && desired new$k "{\"x\":$k}" ;;
		4) hub DELETE "/devices/dev01/modules/m1?$V" && hub PUT "/devices/new$k?$V" "{}" ;;
		5) hub DELETE "/devices/new3?$V" && tags new4 "{\"born\":5}" ;;
		esac || return 1
	done
}
test_expect_success 'back-fill and live stream at once, changes racing: both succeed' '
	churn >churn.out 2>&1 &
	cpid=$! &&
	IOTHUB_RATE=3 backfill 1 2>bf1.err; rc=$?
	wait $cpid; crc=$?
	cat churn.out && test $crc = 0 && test $rc = 0 || { cat bf1.err; false; } &&
	test_grep "extract-lob: summary: in=2[0-9] " bf1.err &&
	tail -n 1 bf1/results.ndjson | jq -e "._meta.control == \"snapshot-complete\""
'
say "back-fill beside the stream: $(grep -h "push-cosmos: summary" bf1.err 2>/dev/null)"
say "churn during it: $(grep -c . churn.out 2>/dev/null) error lines"
test_expect_success 'then every document equals its twin; deleted devices are tombstones' '
	test_wait_for 60 converged || { diff hub.st cos.st; false; } &&
	test "$(wc -l <hub.st)" = 23 &&
	for d in dev03 dev09 new3; do cos_doc $d | jq -e "._deleted == true" >/dev/null || exit 1; done &&
	cos_doc dev01%2Fm1 | jq -e "._deleted == true" &&
	cos_doc dev02 | jq -e ".properties.desired.rate == 602 and (.properties.desired | has(\"mode\") | not) and .properties.reported.fw == \"1.02\"" &&
	! test -s bf1/push.dlq.ndjson && ! test -s lpdlq
'
test_expect_success 'the stream stops (SIGTERM: drained, committed)' '
	kill -TERM $LIVE_PID && test_wait_for 60 "! kill -0 $LIVE_PID 2>/dev/null" &&
	test_grep "ingest-eventhub: summary" live.err
'
test_expect_success 'while nothing reads: devices deleted, created and changed' '
	hub DELETE "/devices/dev04?$V" && hub DELETE "/devices/dev12?$V" && hub DELETE "/devices/new4?$V" &&
	hub PUT "/devices/late1?$V" "{}" && tags late1 "{\"site\":\"late\"}" &&
	desired dev06 "{\"rate\":null,\"extra\":{\"a\":1}}" && reported dev08 "{\"fw\":\"2.0\"}" &&
	! converged
'
# a document written in the second before a read starts counts as written
# after it (_ts has seconds; the read's start is the hub's time less 1 s):
# wait until the clock is 2 s past the last write
test_expect_success 'the clock is past the last write to Cosmos' '
	d=$(emu_date) && a=$(emu_sign get docs dbs/db/colls/c "$d") &&
	last=$(emu_curl -H "x-ms-date: $d" -H "Authorization: $a" -H "x-ms-version: 2020-07-15" \
		-H "x-ms-max-item-count: 1000" "$EMU_URL/dbs/db/colls/c/docs" | jq "[.Documents[]._ts] | max") &&
	test "$last" -gt 0 &&
	test_wait_for 30 "[ \$(date +%s) -ge $((last + 2)) ]"
'
test_expect_success 'the next back-fill heals it: deletes tombstoned, the rest equal' '
	backfill 2 2>bf2.err &&
	test_grep "reconciled=3" bf2.err &&
	converged || { diff hub.st cos.st; false; } &&
	for d in dev04 dev12 new4; do cos_doc $d | jq -e "._deleted == true and (._deleted_at | type) == \"string\"" >/dev/null || exit 1; done &&
	cos_doc late1 | jq -e ".tags.site == \"late\""
'
test_expect_success 'a back-fill of an unchanged hub writes nothing and deletes nothing' '
	backfill 3 2>bf3.err &&
	test_grep "stale=21 " bf3.err && test_grep "reconciled=0" bf3.err && converged
'
test_expect_success 'a read that is not complete deletes nothing' '
	hub DELETE "/devices/dev10?$V" &&
	EXTRACT_OPTIONS="--max-pages 2" backfill 4 2>bf4.err &&
	! grep -q "reconciled=[1-9]" bf4.err && cos_doc dev10 | jq -e "._deleted | not"
'
kill "$EMU_PID"
test_done
