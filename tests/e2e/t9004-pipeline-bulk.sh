#!/usr/bin/env bash
# The batch pipeline (pipelines/lob-to-adt) with BULK_CONTAINER: the first
# load goes through one ADT import job (twin-emulator's, the import file
# and the log in Azurite); push-adt is killed (-9) while the job runs and
# the rerun picks the job up: no second job, the graph equals the one the
# generator computes. The next round (changes, a few new twins below the
# threshold) takes the request path; a run with nothing changed sends
# nothing.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-adt.sh"
. "$TP_TOP/tests/e2e/lib-azurite.sh"
test_require python3 "the data generator" || { test_done; exit 1; }
test_require jq "for results" || { test_done; exit 1; }
az_begin --skipApiVersionCheck || { test_done; exit 1; }
gen=$TP_TOP/tests/tools/warehouse-gen.py
printf '%s\n' "$AZ_CS" >"$TEST_DIR/storage.cs"
# a slow import (10 entities/s: the first load's ~330 entities take half a
# minute) so that the job is still running when push-adt is killed, even
# on a loaded machine
padt_start --page-size 1000 --import-rate 10 \
	--storage-connection-string-file "$TEST_DIR/storage.cs" || exit 1
adt POST /models "$(cat "$TP_TOP/pipelines/samples/warehouse/models.json")" >/dev/null
export AZURE_STORAGE_CONNECTION_STRING=$AZ_CS TMPDIR=$TEST_DIR
export LOB_SOURCE="csv:$TEST_DIR/assets.csv" \
	TRANSFORM=$TP_TOP/pipelines/samples/warehouse/warehouse.jq \
	STATE=$TEST_DIR/state.db WORK=$TEST_DIR/out ADT_ENDPOINT=$EMU_URL \
	BULK_CONTAINER=$AZ_URL/imports/lob \
	ADT_OPTIONS="--cacert $TEST_DIR/cert.pem --twin-rate 0 --create-rate 0 --bulk-threshold 100"
PATH=$TP_TOP/pipelines:$PATH

check_graph() {
	python3 "$gen" expect "$TEST_DIR/assets.csv" | jq -S . >"$TEST_DIR/expect.json" &&
	adt_graph >"$TEST_DIR/got.json" &&
	diff -u "$TEST_DIR/expect.json" "$TEST_DIR/got.json"
}
jobs_json() { adt GET /jobs/imports; }
summary_of() { grep "push-adt: summary:" "$1"; }

test_expect_success 'first load: kill -9 push-adt while its import job runs, rerun: one job, the whole graph' '
	python3 "$gen" csv 7 0 >"$TEST_DIR/assets.csv" &&
	test "$(wc -l <"$TEST_DIR/assets.csv")" -gt 100 &&
	{ lob-to-adt >run1.out 2>run1.err & pid=$!; } &&
	{ test_wait_for 300 "jobs_json | jq -e \".value | any(.status != \\\"notstarted\\\")\" >/dev/null" &&
		jobs_json | jq -e ".value | any(.status == \"running\")" >/dev/null ||
		{ jobs_json >&2; cat run1.err >&2; false; }; } &&
	test -s "$WORK/push-adt.bulk" &&
	victim=$(pgrep -P "$pid" -x push-adt) && test -n "$victim" &&
	kill -9 $victim &&
	{ wait $pid; true; } && test_grep "push-adt exited 137" run1.err &&
	test -s "$WORK/push-adt.bulk" &&
	{ timeout 300 lob-to-adt >run2.out 2>run2.err ||
		{ cat run1.err run2.err >&2; false; }; } &&
	test "$(jobs_json | jq ".value | length")" = 1 &&
	jobs_json | jq -e ".value[0].status == \"succeeded\"" >/dev/null &&
	test ! -e "$WORK/push-adt.bulk" &&
	check_graph
'
test_expect_success 'the next round (changes, few new twins): the request path, no second job' '
	python3 "$gen" csv 7 1 >"$TEST_DIR/assets.csv" &&
	{ timeout 300 lob-to-adt >run3.out 2>run3.err ||
		{ cat run3.err >&2; false; }; } &&
	test "$(jobs_json | jq ".value | length")" = 1 &&
	check_graph
'
test_expect_success 'a run with nothing changed sends nothing' '
	lob-to-adt 2>err && test_grep "push-adt: summary: in=0 " err
'
test_done
