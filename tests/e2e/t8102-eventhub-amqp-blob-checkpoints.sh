#!/usr/bin/env bash
# ingest-eventhub's checkpoints in Blob Storage (Azurite), in the layout of
# Microsoft's BlobCheckpointStore: ingest-eventhub reads part of a hub and
# checkpoints, Microsoft's EventHubConsumerClient with
# @azure/eventhubs-checkpointstore-blob 2.x goes on from there and gets
# exactly the rest; then the other way round (the SDK checkpoints,
# ingest-eventhub resumes). SharedKey, SAS and a bad store.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-azurite.sh"

test_require node "Microsoft's clients" || exit 1
test_require jq "for records" || exit 1
test_expect_success 'install @azure/event-hubs 6.x, the checkpoint store 2.x' 'emu_node_install'
# the newest @azure/storage-blob asks for an API version newer than
# azurite 3.x knows; the blob operations used here are the same in both
az_ok=1
az_begin --skipApiVersionCheck || az_ok=0
[ $az_ok = 1 ] || { test_expect_success 'a group that is a dot segment is refused, not sent' '
	test_expect_code 2 env AZURE_STORAGE_CONNECTION_STRING=$AZ_CS \
		ingest-eventhub -g .. --checkpoint-store ck1 --idle-exit 1s >out5 2>err5 &&
	test_grep "consumer group name .\.\.. cannot name a checkpoint" err5
'
test_done; exit 1; }
emu_start --amqp-port auto --eventhub hub1:3 || exit 1
amqp=$(sed -n 2p "$TEST_DIR/emu$emu_n.out")
export EVENTHUB_CONNECTION_STRING="Endpoint=sb://localhost:${amqp##*:}/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;EntityPath=hub1;UseDevelopmentEmulator=true"
sdk() { emu_node "$TP_TOP/tests/fidelity/eh-ckpt-consume.js" "$EVENTHUB_CONNECTION_STRING" "$AZ_CS" "$@"; }
# "P SEQ" of every event in a file of records
pseq() { jq -r '._meta.src // empty | "\(.partition) \(.sequenceNumber)"' "$1"; }

test_expect_success 'the SDK sends 5 devices x 12 twin changes' '
	emu_node "$TP_TOP/tests/fidelity/eh-produce.js" "$EVENTHUB_CONNECTION_STRING" 5 12 >sent &&
	grep -q "^sent 60$" sent
'
test_expect_success 'ingest-eventhub reads 25 events, checkpoints them in Azurite' '
	AZURE_STORAGE_CONNECTION_STRING=$AZ_CS ingest-eventhub -v \
		--checkpoint-store ck1 --max-events 25 --exec "tee -a out1" >/dev/null 2>err1 &&
	pseq out1 >got1 && test_lines 25 got1 && ! grep -q "from its checkpoint" err1
'
test_expect_success 'the blobs are where the SDK looks: empty, state in metadata' '
	sas=$(az_sas ck1 rl) &&
	curl -sf "$AZ_URL/ck1?restype=container&comp=list&include=metadata&$sas" >list.xml &&
	grep -o "<Name>[^<]*</Name>" list.xml | sort >names &&
	grep -q "^<Name>localhost/hub1/twinpipe/checkpoint/[0-2]</Name>$" names &&
	grep -q "<sequencenumber>[0-9]*</sequencenumber>" list.xml &&
	grep -q "<offset>[0-9]*</offset>" list.xml &&
	! grep -q "<Content-Length>[1-9]" list.xml
'
# the SDK stops at 35 events: a duplicate among them leaves one missing
test_expect_success 'the SDK goes on from those checkpoints: exactly the other 35' '
	sdk ck1 twinpipe 35 10000 >sdk1 2>sdkerr1 &&
	{ grep -q "^done 35$" sdk1 || { cat sdk1 sdkerr1 >&2; false; }; } &&
	{ pseq out1; grep -E "^[0-9]+ [0-9]+$" sdk1; } | sort >all1 &&
	test "$(sort -u all1 | wc -l)" = 60 && test "$(wc -l <all1)" = 60
'
test_expect_success 'the SDK reads 20 events of a new group, checkpoints each' '
	sdk ck2 g2 20 10000 >sdk2 2>sdkerr2 &&
	{ grep -q "^done 20$" sdk2 || { cat sdk2 sdkerr2 >&2; false; }; } &&
	grep -q "^blob localhost/hub1/g2/checkpoint/[0-9] .*sequencenumber=" sdk2
'
test_expect_success 'ingest-eventhub resumes from the SDK checkpoints: the other 40' '
	AZURE_STORAGE_CONNECTION_STRING=$AZ_CS ingest-eventhub -v -g g2 \
		--checkpoint-store ck2 --idle-exit 1s --exec "tee -a out2" >/dev/null 2>err2 &&
	test_grep "from its checkpoint" err2 &&
	{ pseq out2; grep -E "^[0-9]+ [0-9]+$" sdk2; } | sort >all2 &&
	test "$(sort -u all2 | wc -l)" = 60 && test "$(wc -l <all2)" = 60
'
test_expect_success 'a SAS container URL, and a second run reads nothing more' '
	az_sas ck2 racwl >sas2 &&
	AZURE_STORAGE_SAS_TOKEN=$(cat sas2) ingest-eventhub -g g2 \
		--checkpoint-store "$AZ_URL/ck2" --idle-exit 1s --exec "tee -a out3" >/dev/null 2>err3 &&
	pseq out3 >got3 && test_lines 0 got3
'
test_expect_success 'a wrong account key: a clear error, exit 2, the key not logged' '
	bad="DefaultEndpointsProtocol=http;AccountName=$AZ_ACCOUNT;AccountKey=QkFES0VZ;BlobEndpoint=$AZ_URL;" &&
	test_expect_code 2 env AZURE_STORAGE_CONNECTION_STRING="$bad" \
		ingest-eventhub --checkpoint-store ck1 --idle-exit 1s >out4 2>err4 &&
	test_grep "checkpoint store" err4 && ! grep -q QkFES0VZ err4
'
test_expect_success 'a group that is a dot segment is refused, not sent' '
	test_expect_code 2 env AZURE_STORAGE_CONNECTION_STRING=$AZ_CS \
		ingest-eventhub -g .. --checkpoint-store ck1 --idle-exit 1s >out5 2>err5 &&
	test_grep "consumer group name .\.\.. cannot name a checkpoint" err5
'
test_done
