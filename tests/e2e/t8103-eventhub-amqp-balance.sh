#!/usr/bin/env bash
# Several ingest-eventhub instances of one group share a 4-partition hub
# through the ownership blobs of a Blob Storage checkpoint store (Azurite),
# as the SDKs' processors do: two, then three instances balance (each owns
# at least one partition, every partition is owned once); one is killed
# with SIGKILL and the others take its partitions within the (short)
# ownership expiry; every event sent is output by some instance, and the
# only duplicates are of the killed instance's partitions (in flight).
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-azurite.sh"

test_require node "@azure/event-hubs produces the events" || exit 1
test_require jq "for records" || exit 1
test_require python3 "reads the ownership listing" || exit 1
test_expect_success 'install @azure/event-hubs 6.x' 'emu_node_install'
az_begin || { test_done; exit 1; }
emu_start --amqp-port auto --eventhub hub1:4 || exit 1
amqp=$(sed -n 2p "$TEST_DIR/emu$emu_n.out")
export EVENTHUB_CONNECTION_STRING="Endpoint=sb://localhost:${amqp##*:}/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;EntityPath=hub1;UseDevelopmentEmulator=true"
export AZURE_STORAGE_CONNECTION_STRING=$AZ_CS
az_sas ckpt racwl >sas

# "PARTITION OWNERID" of every ownership blob that has an owner
owners() {
	curl -sf "$AZ_URL/ckpt?restype=container&comp=list&include=metadata&prefix=localhost/hub1/twinpipe/ownership/&$(cat sas)" |
	python3 -c '
import sys, xml.etree.ElementTree as E
for b in E.fromstring(sys.stdin.read()).iter("Blob"):
    o = b.find("Metadata/ownerid")
    if o is not None and o.text:
        print(b.find("Name").text.rsplit("/", 1)[1], o.text)' 2>/dev/null
}
# every partition owned once, by exactly N instances, each with one at least
balanced() {
	owners >own || return 1
	test "$(cut -d" " -f1 own | sort -u | wc -l)" = 4 &&
	test "$(wc -l <own)" = 4 &&
	test "$(cut -d" " -f2 own | sort -u | wc -l)" = "$1"
}
# the partitions each owner holds, ascending, e.g. 112
shares() { cut -d" " -f2 own | sort | uniq -c | awk '{print $1}' | sort | tr -d "\n"; }
id_of() { sed -n 's/.* as owner \([0-9a-f-]*\)$/\1/p' "$1"; }
pseq() { cat "$@" 2>/dev/null | jq -r '._meta.src // empty | "\(.partition) \(.sequenceNumber)"'; }
run() { # NAME: an instance writing what it handled to seen.NAME
	test_bg ingest-eventhub -v --checkpoint-store ckpt --ownership-expiry 3s \
		--commit-interval 200ms --barrier-interval 100ms \
		--exec "tee -a seen.$1" >/dev/null 2>err.$1
	eval "pid_$1=\${_bg_pids[-1]}"
}

test_expect_success 'the SDK sends 8 devices x 5 twin changes' '
	emu_node "$TP_TOP/tests/fidelity/eh-produce.js" "$EVENTHUB_CONNECTION_STRING" 8 5 >sent1 &&
	grep -q "^sent 40$" sent1
'
run a
run b
test_expect_success 'two instances: 2 + 2 partitions' '
	test_wait_for 60 "balanced 2 && test \$(shares) = 22"
'
run c
test_expect_success 'a third one: 2 + 1 + 1, every partition owned once' '
	test_wait_for 60 "balanced 3 && test \$(shares) = 112" &&
	test_wait_for 30 "test \$(pseq seen.a seen.b seen.c | sort -u | wc -l) = 40"
'
test_expect_success 'more events while the three read' '
	emu_node "$TP_TOP/tests/fidelity/eh-produce.js" "$EVENTHUB_CONNECTION_STRING" 8 5 6 >sent2 &&
	grep -q "^sent 40$" sent2
'
test_expect_success 'SIGKILL one owner: the other two take its partitions' '
	victim=$(id_of err.b) && test -n "$victim" &&
	owners | grep " $victim$" | cut -d" " -f1 | sort >victim_parts &&
	test -s victim_parts &&
	t0=$SECONDS && kill -9 $pid_b &&
	test_wait_for 60 "balanced 2 && ! grep -q \" $victim$\" own && test \$(shares) = 22" &&
	echo "# taken over $((SECONDS - t0))s after the SIGKILL (expiry 3s)"
'
test_expect_success 'still more events after the kill' '
	emu_node "$TP_TOP/tests/fidelity/eh-produce.js" "$EVENTHUB_CONNECTION_STRING" 8 5 11 >sent3 &&
	grep -q "^sent 40$" sent3
'
test_expect_success 'every event sent was output by some instance' '
	test_wait_for 60 "test \$(pseq seen.a seen.b seen.c | sort -u | wc -l) = 120"
'
test_expect_success 'duplicates only of partitions that changed hands (in flight)' '
	pseq seen.a seen.b seen.c | sort | uniq -d | cut -d" " -f1 | sort -u >dup_parts &&
	{ cat victim_parts; sed -n "s/.*revoked hub1\[\([0-9]*\)\]$/\1/p" err.a err.b err.c; } |
		sort -u >moved &&
	comm -23 dup_parts moved >bad && test_lines 0 bad
'
test_expect_success 'SIGTERM: the others stop and give their partitions up' '
	kill -TERM $pid_a $pid_c &&
	test_wait_for 60 "owners >own && test_lines 0 own" &&
	test_wait_for 60 "grep -q \"^ingest-eventhub: summary\" err.a" &&
	test_wait_for 60 "grep -q \"^ingest-eventhub: summary\" err.c"
'
test_done
