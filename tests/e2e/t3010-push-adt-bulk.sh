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
az_begin --skipApiVersionCheck || { test_done; exit 1; }
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
test_expect_success '(b) below the threshold: no job, the request path' '
	gen b 100 >b.in &&
	padt $BULK --bulk-threshold 1000 <b.in >b.out 2>b.err &&
	test_lines 200 b.out && ok_all b.out &&
	jq -se "all(.[]; .attempts >= 1 and .status != 201)" b.out &&
	test "$(jobs_n)" = 1 && test ! -e bulk.state || dump b.err
'
test_expect_success '(c) entity errors of the log: those records fail, the rest ok' '
	{ gen c 50 && jq -nc "range(5) | {\"\$dtId\": \"cx\(.)\", \"\$metadata\": {\"\$model\": \"dtmi:t:Nope;1\"}}"; } >c.in &&
	test_expect_code 1 padt $BULK --bulk always --dead-letter c.dlq <c.in >c.out 2>c.err &&
	test_lines 105 c.out &&
	test "$(jq -s "map(select(.ok)) | length" c.out)" = 100 &&
	jq -se "[.[] | select(.ok | not)] | length == 5 and all(.[]; (.id | startswith(\"cx\")) and .error.code == \"ModelNotFound\")" c.out &&
	test_lines 5 c.dlq && jq -se "all(.[]; .error.code == \"ModelNotFound\")" c.dlq &&
	test "$(jobs_n)" = 2 &&
	adt_twin c49 | jq -e ".temp == 49" && adt_twin cx0 | jq -e ".error.code == \"DigitalTwinNotFound\"" || dump c.err c.out
'
test_expect_success '(d) an existing twin, patches and deletes take the request path after the job' '
	{ echo "{\"\$dtId\":\"a0\",\"\$metadata\":{\"\$model\":\"dtmi:t:Room;1\"},\"temp\":99}" &&
	  gen d 20 &&
	  echo "{\"\$dtId\":\"d1\",\"\$op\":\"patch\",\"\$patch\":[{\"op\":\"replace\",\"path\":\"/temp\",\"value\":111}]}" &&
	  echo "{\"\$dtId\":\"d2\",\"\$op\":\"delete\"}" &&
	  echo "{\"\$dtId\":\"d3\",\"\$metadata\":{\"\$model\":\"dtmi:t:Room;1\"},\"temp\":333}"; } >d.in &&
	padt $BULK --bulk always <d.in >d.out 2>d.err &&
	test_lines 44 d.out && ok_all d.out &&
	jq -se "[.[] | select(.id == \"a0\")] | .[0].status != 201 and .[0].attempts >= 1" d.out &&
	jq -se "[.[] | select(.id == \"d1\" and .op == \"patch\")] | .[0].status == 204" d.out &&
	jq -se "[.[] | select(.status == 201)] | length == 40" d.out &&
	test "$(jobs_n)" = 3 &&
	adt_twin a0 | jq -e ".temp == 99" && adt_twin d1 | jq -e ".temp == 111" &&
	adt_twin d3 | jq -e ".temp == 333" && adt_twin d2 | jq -e ".error.code == \"DigitalTwinNotFound\"" &&
	adt GET "/digitaltwins/d1/relationships/r1" | jq -e ".\"\$targetId\" == \"d2\" | not" || dump d.err d.out
'
test_expect_success '(e) a failing job: nothing acknowledged that did not land' '
	emu_curl -s -d "{\"job_fail_after\":250}" "$EMU_URL/_admin/faults" | jq -e ".job_fail_after == 250" &&
	gen e 200 >e.in &&
	test_expect_code 1 padt $BULK --bulk always --dead-letter e.dlq <e.in >e.out 2>e.err &&
	emu_curl -s -d "{\"job_fail_after\":0}" "$EMU_URL/_admin/faults" >/dev/null &&
	test_lines 400 e.out &&
	jq -r "select(.ok and (has(\"source\") | not)) | .id" e.out >e.okids &&
	while read -r id; do adt_twin "$id" | jq -e ".\"\$dtId\" == \"$id\"" >/dev/null || exit 1; done <e.okids &&
	test_lines 200 e.okids &&
	jq -se "[.[] | select(.ok | not)] | length == 200 and all(.[]; has(\"source\") and .error.code == \"InternalServerError\")" e.out &&
	test "$(jq -s "map(select(.ok | not)) | length" e.out)" = "$(wc -l <e.dlq)" &&
	test "$(jobs_n)" = 4 || dump e.err e.out
'
test_expect_success '(g) control records stay after the results before them' '
	{ gen g 30 | head -n 30 && echo "{\"_meta\":{\"control\":\"mark\",\"n\":1}}" &&
	  echo "{\"\$dtId\":\"a1\",\"temp\":5}" && gen g 30 | tail -n 30 &&
	  echo "{\"_meta\":{\"control\":\"mark\",\"n\":2}}"; } >g.in &&
	padt $BULK --bulk always <g.in >g.out 2>g.err &&
	test_lines 63 g.out &&
	jq -se "(map(._meta.control == \"mark\" and ._meta.n == 1) | index(true)) >= 30" g.out &&
	jq -se ".[-1]._meta.n == 2" g.out &&
	jq -se "[.[] | select(.id == \"a1\")] | .[0].status == 204" g.out || dump g.err g.out
'
test_expect_success '(l) an import file above 64 MiB goes up in blocks' '
	python3 -c "
import json
pad = \"x\" * 25000
for i in range(2800):
    print(json.dumps({\"\$dtId\": \"l%d\" % i, \"\$metadata\": {\"\$model\": \"dtmi:t:Room;1\"}, \"name\": pad}))
" >l.in &&
	test "$(wc -c <l.in)" -gt 67108864 &&
	padt -v $BULK --bulk always --bulk-keep <l.in >l.out 2>l.err &&
	test_lines 2800 l.out && ok_all l.out && jq -se "all(.[]; .status == 201)" l.out &&
	adt_twin l2799 | jq -e ".name | length == 25000" &&
	test_grep "import job .*: 2800 twins" l.err &&
	id=$(sed -n "s/.*import job .\([^ ]*\).: 2800 twins.*/\1/p" l.err) && test -n "$id" &&
	curl -sS "$AZ_URL/imports/run/push-adt-$id.ndjson?comp=blocklist&$(az_sas imports rl)" \
		-H "x-ms-version: 2021-08-06" >blocks.xml &&
	test "$(grep -o "<Block>" blocks.xml | wc -l)" = 3 || dump l.err blocks.xml
'
# blocked_reading PID: PID waits in read(2) on its standard input, and the
# pipe on fd 7 holds nothing more (everything written was read)
blocked_reading() {
	case "$(cat "/proc/$1/syscall" 2>/dev/null)" in "0 0x0 "*) ;; *) return 1 ;; esac
	test "$(python3 -c "import array, fcntl, termios; a = array.array(\"i\", [0]); fcntl.ioctl(7, termios.FIONREAD, a); print(a[0])")" = 0
}
test_expect_success '(m) a stop while the input is read (pass 1): no job, every record read interrupted' '
	n0=$(jobs_n) && rm -f p && mkfifo p && exec 7<>p &&
	gen m 10 >&7 &&
	{ push-adt --endpoint "$EMU_URL" --cacert "$TEST_DIR/cert.pem" $BULK --bulk always \
		--dead-letter m.dlq <p >m.out 2>m.err & pid=$!; } &&
	for i in $(seq 1 600); do blocked_reading $pid && break; sleep 0.1; done &&
	blocked_reading $pid && kill -TERM $pid && { wait $pid; test $? = 3; } && exec 7>&- &&
	test_lines 20 m.out && jq -se "all(.[]; .error.code == \"interrupted\")" m.out &&
	test_lines 20 m.dlq && test "$(jobs_n)" = "$n0" && test ! -e bulk.state || dump m.err m.out
'
test_expect_success '(h) --dry-run says a job would be used, and lists its requests' '
	gen h 5 >h.in &&
	push-adt --dry-run $BULK --bulk always <h.in >h.out 2>h.err &&
	head -n 1 h.out | jq -e ".bulk and (.requests | length == 4) and .requests[1].method == \"PUT\" and (.requests[1].url | test(\"/jobs/imports/\")) and (.requests[1].body.inputBlobUri | test(\"^http://127.0.0.1:[0-9]+/devstoreaccount1/imports/run/push-adt-\"))" &&
	test_lines 16 h.out && test ! -e bulk.state || dump h.err h.out
'
test_expect_success '(k) a state file naming a job that was never created is forgotten' '
	echo "{\"jobId\":\"never-made\",\"endpoint\":\"$EMU_URL\"}" >bulk.state &&
	gen k 20 >k.in &&
	padt -v $BULK --bulk always <k.in >k.out 2>k.err &&
	test_grep "never created" k.err && ok_all k.out && test_lines 40 k.out &&
	test ! -e bulk.state &&
	echo "{\"jobId\":\"x\",\"endpoint\":\"https://elsewhere\"}" >bulk.state &&
	test_expect_code 3 padt $BULK --bulk always <k.in >k2.out 2>k2.err &&
	test_grep "another instance" k2.err && test ! -s k2.out && rm bulk.state &&
	echo "not json" >bulk.state &&
	test_expect_code 3 padt $BULK --bulk always <k.in >k3.out 2>k3.err &&
	test_grep "not push-adt" k3.err && rm bulk.state || dump k.err k2.err k3.err
'
# (f) a slow job on an emulator of its own
padt_start --storage-connection-string-file "$TEST_DIR/storage.cs" --import-rate 300 || exit 1
test_expect_success '(f) kill -9 while the job runs, then a rerun: no second load' '
	gen f 600 >f.in &&
	{ push-adt --endpoint "$EMU_URL" --cacert "$TEST_DIR/cert.pem" $BULK --bulk always <f.in >f1.out 2>f1.err & pid=$!; } &&
	for i in $(seq 1 600); do
		adt GET /jobs/imports | jq -e ".value[] | select(.status == \"running\")" >/dev/null && break
		sleep 0.1
	done &&
	adt GET /jobs/imports | jq -e ".value[] | select(.status == \"running\")" >/dev/null &&
	test -s bulk.state && kill -9 $pid && { wait $pid; test $? = 137; } &&
	padt -v $BULK --bulk always --dead-letter f.dlq <f.in >f.out 2>f.err &&
	test_lines 1200 f.out && ok_all f.out &&
	jq -se "all(.[]; .status == 201 and .attempts == 0)" f.out &&
	test "$(jobs_n)" = 1 && test ! -e bulk.state && test "$(adt_count)" = 600 &&
	test_grep "earlier run" f.err || dump f1.err f.err f.out
'
# wait_running: until an import job of the emulator runs (bounded)
wait_running() {
	for i in $(seq 1 600); do
		adt GET /jobs/imports | jq -e ".value[] | select(.status == \"running\")" >/dev/null && return 0
		sleep 0.1
	done
	return 1
}
test_expect_success '(i) SIGTERM while the job runs: interrupted, state kept (also by a stop while a rerun waits); a rerun settles it; one run per state file' '
	gen i 1500 >i.in &&
	{ push-adt --endpoint "$EMU_URL" --cacert "$TEST_DIR/cert.pem" $BULK --bulk always \
		--dead-letter i.dlq <i.in >i1.out 2>i1.err & pid=$!; } &&
	wait_running && test -s bulk.state &&
	test_expect_code 2 padt $BULK <i.in >i2.out 2>i2.err &&
	test_grep "in use by another push-adt" i2.err && test ! -s i2.out &&
	kill -TERM $pid &&
	{ wait $pid; test $? = 3; } &&
	test_lines 3000 i1.out && jq -se "all(.[]; (.ok | not) and .error.code == \"interrupted\")" i1.out &&
	test_lines 3000 i.dlq && test -s bulk.state && test_grep "runs on" i1.err &&
	{ push-adt -v --endpoint "$EMU_URL" --cacert "$TEST_DIR/cert.pem" $BULK --bulk always \
		<i.in >i3.out 2>i3.err & pid=$!; } &&
	for i in $(seq 1 600); do grep -q "waiting for it to end" i3.err && break; sleep 0.1; done &&
	test_grep "waiting for it to end" i3.err && kill -TERM $pid && { wait $pid; test $? = 3; } &&
	test ! -s i3.out && test -s bulk.state &&
	padt $BULK --bulk always <i.in >i.out 2>i.err &&
	test_lines 3000 i.out && ok_all i.out && jq -se "all(.[]; .status == 201)" i.out &&
	test ! -e bulk.state && test "$(jobs_n)" = 2 || dump i1.err i.err i.out
'
test_expect_success '(j) another job runs (JobLimitReached): wait for it, then load' '
	gen ja 600 >ja.in && gen jb 50 >jb.in &&
	{ push-adt --endpoint "$EMU_URL" --cacert "$TEST_DIR/cert.pem" $BULK --bulk always \
		<ja.in >ja.out 2>ja.err & pid=$!; } &&
	wait_running &&
	padt -v --bulk-container "$AZ_URL/imports/other" --bulk-state jb.state --bulk always <jb.in >jb.out 2>jb.err &&
	wait $pid && ok_all ja.out && ok_all jb.out && test_lines 100 jb.out &&
	test_grep "JobLimitReached" jb.err && test "$(jobs_n)" = 4 &&
	test ! -e jb.state || dump ja.err jb.err
'
test_done
