#!/usr/bin/env bash
# The batch pipeline with the warehouse sample from a SQLite database
# through ODBC gives the same twin graph as from its CSV export.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-adt.sh"
test_require sqlite3 "the sample database is made with sqlite3" || { test_done; exit 1; }
test_require python3 "the expected graph" || { test_done; exit 1; }
sample=$TP_TOP/pipelines/samples/warehouse
padt_start --page-size 1000 || exit 1
adt POST /models "$(cat "$sample/models.json")" >/dev/null
PATH=$TP_TOP/pipelines:$PATH
export TRANSFORM=$sample/warehouse.jq ADT_ENDPOINT=$EMU_URL \
	ADT_OPTIONS="--cacert $TEST_DIR/cert.pem"


test_expect_success 'SQLite (odbc:) source: the graph of the sample' '
	sqlite3 assets.db <"$sample/assets.sql" &&
	LOB_SOURCE="odbc:Driver=SQLite3;Database=$TEST_DIR/assets.db" LOB_QUERY="SELECT * FROM assets" \
		STATE=$TEST_DIR/sql.db WORK=$TEST_DIR/out-sql lob-to-adt 2>err &&
	python3 "$TP_TOP/tests/tools/warehouse-gen.py" expect "$sample/assets.csv" | jq -S . >expect &&
	adt_graph >got && test_cmp expect got
'

test_expect_success 'the CSV export of the same data changes nothing (only types differ)' '
	LOB_SOURCE="csv:$sample/assets.csv" STATE=$TEST_DIR/sql.db WORK=$TEST_DIR/out-csv \
		lob-to-adt 2>err &&
	adt_graph >got2 && test_cmp expect got2
'
test_expect_success 'ARCHIVE_DIR keeps the result stream (archive --cat reads it back)' '
	sed "s/^forklift,fl-001,Forklift 1,zone-sea-a,,,,87.5/forklift,fl-001,Forklift 1,zone-sea-a,,,,80/" \
		"$sample/assets.csv" >changed.csv &&
	LOB_SOURCE="csv:$TEST_DIR/changed.csv" STATE=$TEST_DIR/sql.db WORK=$TEST_DIR/out-arch \
		ARCHIVE_DIR=$TEST_DIR/arch lob-to-adt 2>err &&
	archive --cat --dir arch >results &&
	test "$(jq -s "map(select(.ok)) | length" results)" -ge 1 &&
	jq -se "map(select(.id == \"fl-001\")) | length == 1" results &&
	test "$(adt_twin fl-001 | jq .battery)" = 80
'
test_done
