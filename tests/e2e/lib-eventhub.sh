# tests/e2e/lib-eventhub.sh - ingest-eventhub on librdkafka's mock cluster
# (sourced after lib.sh, outside test bodies):
#
#   eh_start PARTITIONS DEVICES ROUNDS
#       build tests/tools/eh-produce, start it (the mock cluster lives in
#       its process, stopped with the test), wait until it has produced
#       its IoT Hub-shaped events into topic "iot"; sets BS to the
#       bootstrap servers and EH_GROUP_OPTS to fast group settings.
#       Prints "not ok" and returns 1 when the producer cannot be built.
eh_start() {
	cc -o eh-produce "$TP_TOP/tests/tools/eh-produce.c" -lrdkafka || {
		echo "not ok 1 - cannot build eh-produce"
		return 1
	}
	test_bg ./eh-produce iot "$1" "$2" "$3" >produce.out 2>produce.err </dev/null
	local i
	for i in $(seq 600); do	# up to 60s
		grep -q '^produced' produce.out 2>/dev/null && break
		sleep 0.1
	done
	BS=$(head -n 1 produce.out)
	EH_GROUP_OPTS="-X session.timeout.ms=6000 -X heartbeat.interval.ms=500"
}
