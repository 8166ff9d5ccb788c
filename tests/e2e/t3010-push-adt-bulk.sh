#!/usr/bin/env bash
# push-adt --bulk against twin-emulator's ADT import jobs and Azurite: a
# first load through one job, below the threshold no job, entity errors
# from the job's log, existing twins and later records on the request path
# after the job, a failing job, kill -9 while the job runs and a rerun
# (no second load), control records in order.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-adt.sh"
. "$TP_TOP/tests/e2e/lib-azurite.sh"
test_require jq "for results" || { test_done; exit 1; }
test_expect_success 'azurite (npm azurite 3.x) is installed' '
	az_install
'
az_ok=0
az_start --skipApiVersionCheck 2>azstart.err && az_ok=1
test_expect_success 'azurite starts' '
	test $az_ok = 1 || { cat azstart.err; false; }
'
[ $az_ok = 1 ] || { test_done; exit 1; }
export TMPDIR=$TEST_DIR
printf '%s\n' "$AZ_CS" >"$TEST_DIR/storage.cs"
padt_start --storage-connection-string-file "$TEST_DIR/storage.cs" || exit 1
export AZURE_STORAGE_CONNECTION_STRING=$AZ_CS
BULK="--bulk-container $AZ_URL/imports/run --bulk-state $TEST_DIR/bulk.state"

# gen PREFIX N: N twins PREFIX0.. and N relationships PREFIXi -> PREFIX(i+1)
gen() {
	jq -nc --arg p "$1" --argjson n "$2" '
		(range($n) | {"$dtId": "\($p)\(.)", "$metadata": {"$model": "dtmi:t:Room;1"}, temp: ., _meta: {i: .}}),
		(range($n) | {"$dtId": "\($p)\(.)", "$relationshipId": "r\(.)", "$targetId": "\($p)\((. + 1) % $n)", "$relationshipName": "contains", w: .})'
}
jobs_n() { adt GET /jobs/imports | jq '.value | length'; }
# dump FILE...: the tail of each on stderr (for a failing step), then false
dump() { for f; do echo "== $f"; tail -n 15 "$f"; done | sed "s/^/# /" >&2; false; }
ok_all() { jq -se 'all(.[]; .ok)' "$1" >/dev/null; }

test_expect_success 'usage: always without a container, a job without a state file' '
	test_expect_code 2 padt --bulk always </dev/null 2>err && test_grep "bulk-container" err &&
	test_expect_code 2 padt --bulk-container "$AZ_URL/imports" </dev/null 2>err &&
	test_grep "bulk-state" err &&
	test_expect_code 2 padt --bulk sometimes </dev/null 2>err
'
test_expect_success '(a) a first load above the threshold: one job, every record ok' '
	gen a 3000 >a.in &&
	padt $BULK --bulk-threshold 1000 --dead-letter a.dlq <a.in >a.out 2>a.err &&
	test_lines 6000 a.out && ok_all a.out &&
	jq -se "all(.[]; .status == 201 and .attempts == 0)" a.out &&
	jq -se "[.[] | select(._meta.i == 7)] | length == 1" a.out &&
	test "$(jobs_n)" = 1 &&
	test "$(adt_count)" = 3000 &&
	adt GET "/digitaltwins/a5/relationships/r5" | jq -e ".\"\$targetId\" == \"a6\"" &&
	test ! -e bulk.state && test ! -s a.dlq || dump a.err a.out
'
test_done
