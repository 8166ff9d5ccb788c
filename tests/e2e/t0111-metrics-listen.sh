#!/usr/bin/env bash
# --metrics-listen: ingest-eventhub against twin-emulator's Event Hubs
# (events sent by @azure/event-hubs) serves /metrics, /healthz and /readyz
# while it runs; consumer lag per partition (from the partition properties)
# plus the events in flight make up what was sent, and the lag goes to 0
# once everything is read. twin-emulator serves the same endpoints.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

PROM="/usr/bin/python3 $TP_TOP/tests/e2e/prom.py"
test_require curl "the endpoints are probed with curl" || exit 1
test_require node "@azure/event-hubs produces the events" || exit 1
test_expect_success 'install @azure/event-hubs 6.x' 'emu_node_install'
emu_start --amqp-port auto --eventhub hub1:3 --metrics-listen 127.0.0.1:0 -v || exit 1
amqp=$(sed -n 2p "$TEST_DIR/emu$emu_n.out")
CS="Endpoint=sb://localhost:${amqp##*:}/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;EntityPath=hub1;UseDevelopmentEmulator=true"
export EVENTHUB_CONNECTION_STRING=$CS

# listen_url ERRFILE: the metrics URL a program logged (-v), once it did
listen_url() { sed -n 's|.*metrics: serving \(http://[^ ]*\)/metrics.*|\1|p' "$1" | head -n 1; }
# code URL: the HTTP status of a GET
code() { curl -s -o /dev/null -w "%{http_code}" "$1"; }
# scrape URL FILE: /metrics parsed into FILE
scrape() { curl -sf "$1/metrics" >page && $PROM page >"$2"; }
# total FAMILY FILE: the sum of a family's samples
total() { awk -v f="$1" 'index($0, f "{") == 1 { s += $NF } END { print s + 0 }' "$2"; }

test_expect_success 'twin-emulator: /healthz, /readyz and /metrics while it serves' '
	test_wait_for 60 "test -n \"\$(listen_url $TEST_DIR/emu$emu_n.err)\"" &&
	E=$(listen_url "$TEST_DIR/emu$emu_n.err") &&
	test "$(code "$E/healthz")" = 200 && test "$(code "$E/readyz")" = 200 &&
	test "$(code "$E/nothing")" = 404 &&
	scrape "$E" s && grep -Fqx "twinpipe_up{program=\"twin-emulator\"} 1" s
'
test_expect_success 'the SDK sends 4 devices x 5 twin changes' '
	emu_node "$TP_TOP/tests/fidelity/eh-produce.js" "$CS" 4 5 >sent &&
	grep -q "^sent 20$" sent
'
test_expect_success 'usage: a bad --metrics-listen address exits 2' '
	test_expect_code 2 ingest-eventhub --metrics-listen nowhere >/dev/null 2>err &&
	test_grep "HOST:PORT" err
'
test_expect_success 'not ready while the hub cannot be reached, alive all the same' '
	{ EVENTHUB_CONNECTION_STRING="Endpoint=sb://127.0.0.1:1/;SharedAccessKeyName=k;SharedAccessKey=v;EntityPath=hub1;UseDevelopmentEmulator=true" \
		ingest-eventhub -v --metrics-listen 127.0.0.1:0 >/dev/null 2>down.err & } && pid=$! &&
	test_wait_for 60 "test -n \"\$(listen_url down.err)\"" && U=$(listen_url down.err) &&
	test "$(code "$U/healthz")" = 200 && test "$(code "$U/readyz")" = 503 &&
	kill $pid && wait $pid || true
'
test_expect_success 'a sink that acknowledges nothing: ready; lag + in flight = what was sent' '
	{ ingest-eventhub -v --prefetch 1 --max-in-flight 2 --no-commit --drain-timeout 1s \
		--exec "cat >/dev/null" --metrics-listen 127.0.0.1:0 >/dev/null 2>a.err & } && pid=$! &&
	test_wait_for 60 "test -n \"\$(listen_url a.err)\"" && U=$(listen_url a.err) &&
	test "$(code "$U/healthz")" = 200 &&
	test_wait_for 60 "test \"\$(code $U/readyz)\" = 200" &&
	test_wait_for 60 "scrape $U s && test \$(grep -c \"^twinpipe_eventhub_lag_events{\" s) = 3 &&
		test \$((\$(total twinpipe_eventhub_lag_events s) + \$(total twinpipe_eventhub_in_flight_events s))) = 20" &&
	test "$(total twinpipe_eventhub_lag_events s)" -gt 0 &&
	test "$(total twinpipe_eventhub_in_flight_events s)" -gt 0 &&
	grep -Fqx "twinpipe_eventhub_partitions_assigned{program=\"ingest-eventhub\"} 3" s &&
	grep -q "^twinpipe_eventhub_lag_seconds{partition=\"0\",program=\"ingest-eventhub\"} " s &&
	grep -Fqx "twinpipe_up{program=\"ingest-eventhub\"} 1" s &&
	kill $pid && { wait $pid || true; } &&
	test "$(code "$U/healthz")" = 000
'
test_expect_success 'reading everything: the lag goes to 0, the counters say 20' '
	{ ingest-eventhub -v --metrics-listen 127.0.0.1:0 >b.out 2>b.err & } && pid=$! &&
	test_wait_for 60 "test -n \"\$(listen_url b.err)\"" && U=$(listen_url b.err) &&
	test_wait_for 60 "test \$(wc -l <b.out) = 20" &&
	test_wait_for 60 "scrape $U s && test \$(grep -c \"^twinpipe_eventhub_lag_events{.*} 0$\" s) = 3" &&
	test "$(code "$U/readyz")" = 200 &&
	grep -Fqx "twinpipe_records_in_total{program=\"ingest-eventhub\"} 20" s &&
	grep -Fqx "twinpipe_records_out_total{program=\"ingest-eventhub\"} 20" s &&
	grep -Fqx "twinpipe_eventhub_in_flight_events{program=\"ingest-eventhub\"} 0" s &&
	test "$(total twinpipe_eventhub_lag_seconds s)" = 0 &&
	curl -s -D hdr -o /dev/null "$U/metrics" && grep -qi "^content-type: text/plain; version=0.0.4" hdr &&
	kill $pid && { wait $pid || true; }
'

# the Kafka transport: lag from the high watermarks, on librdkafka's mock cluster
. "$TP_TOP/tests/e2e/lib-eventhub.sh"
eh_start 4 5 3 || exit 1
test_expect_success 'Kafka: 4 partitions assigned, the lag goes to 0 once all 23 are read' '
	{ ingest-eventhub -v -b "$BS" -t iot -g metrics $EH_GROUP_OPTS --dead-letter k.dlq \
		--metrics-listen 127.0.0.1:0 >k.out 2>k.err & } && pid=$! &&
	test_wait_for 60 "test -n \"\$(listen_url k.err)\"" && U=$(listen_url k.err) &&
	test_wait_for 60 "test \$((\$(wc -l <k.out) + \$(wc -l <k.dlq 2>/dev/null || echo 0))) = 23" &&
	test_wait_for 60 "scrape $U s && test \$(grep -c \"^twinpipe_eventhub_lag_events{.*} 0$\" s) = 4" &&
	grep -Fqx "twinpipe_eventhub_partitions_assigned{program=\"ingest-eventhub\"} 4" s &&
	grep -Fqx "twinpipe_records_in_total{program=\"ingest-eventhub\"} 23" s &&
	test "$(code "$U/readyz")" = 200 &&
	kill $pid && { wait $pid || true; }
'
test_done
