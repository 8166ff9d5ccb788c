#!/usr/bin/env bash
# Every networked program takes --cacert FILE and TWINPIPE_CACERT the same
# way (one shared option), and it reaches every TLS client of the program:
# the http module, the token endpoint (auth), the blob module and the AMQP
# transport (Kafka's ssl.ca.location: t8006). Against twin-emulator's TLS
# with its generated certificate; an unknown CA is refused with a clear
# error naming the certificate problem.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
test_require openssl "a second, unknown CA is made with openssl" || { test_done; exit 1; }

emu_start --tls --cert "$TEST_DIR/cert.pem" --key "$TEST_DIR/key.pem" \
	--amqp-port auto --eventhub hub1:1 || exit 1
U=$EMU_URL
A=$(sed -n 2p "$TEST_DIR/emu$emu_n.out")
openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem \
	-days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
test -s other.pem || { echo "openssl made no certificate"; exit 1; }
export AZURE_AUTHORITY_HOST=$U AZURE_TENANT_ID=tenant1 AZURE_CLIENT_ID=client1 \
	AZURE_CLIENT_SECRET=emulator-secret-42
unset TWINPIPE_CACERT IDENTITY_ENDPOINT IDENTITY_HEADER AZURE_FEDERATED_TOKEN_FILE 2>/dev/null || true
echo "sv=2022-11-02&sp=rwl&sig=bm90YXNpZw%3D%3D" >sas
mkdir -m 700 sp

# One run of each program; "ok" when TLS got through (an answer from the
# emulator), "bad" when it was refused with the certificate problem named.
run() { # PROG CA-ARGS...: stdout in out, stderr in err, exit code in rc
	local p=$1 rc=0
	shift
	case "$p" in
	push-adt)
		echo '{"$dtId":"r1","$metadata":{"$model":"dtmi:t:Room;1"}}' |
			push-adt --endpoint "$U" --max-attempts 1 "$@" >out 2>err || rc=$? ;;
	push-cosmos)
		echo '{"id":"d1","deviceId":"d1","a":1}' |
			COSMOS_KEY=$EMU_KEY push-cosmos --endpoint "$U" -d db --container c \
			--partition-key-path /deviceId --create-container --max-attempts 1 \
			"$@" >out 2>err || rc=$? ;;
	archive)
		echo '{"id":"a"}' | AZURE_STORAGE_SAS_TOKEN= archive --blob "$U/acct/cont" \
			--sas-file sas --spool sp --retry-time 1s "$@" >out 2>err || rc=$? ;;
	extract-lob)	# a token (auth module), then a page (http module)
		extract-lob --scope https://digitaltwins.azure.net/.default --max-attempts 1 \
			--items . "$U/_admin/health" "$@" >out 2>err || rc=$? ;;
	extract-blob)	# the blob module
		AZURE_STORAGE_SAS_TOKEN=$(cat sas) extract-lob --max-attempts 1 \
			"blob:$U/acct/cont" "$@" >out 2>err || rc=$? ;;
	ingest-eventhub)
		EVENTHUB_CONNECTION_STRING="Endpoint=sb://localhost:${A##*:}/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;EntityPath=hub1" \
			ingest-eventhub -T amqp --idle-exit 1s --tls-timeout 3s "$@" >out 2>err || rc=$? ;;
	esac
	echo "$rc" >rc
}
# what a successful TLS exchange looks like for each
answered() {
	case "$1" in
	push-adt) jq -e -s "length == 1 and .[0].status > 0" out ;;
	push-cosmos) test "$(cat rc)" = 0 && jq -e .ok out ;;
	archive) test_grep "HTTP 404" err ;;
	extract-lob) test_grep "not an array" err ;;
	extract-blob) test_grep "listing container .cont.: HTTP 404" err ;;
	ingest-eventhub) test "$(cat rc)" = 0 ;;
	esac && ! grep -qi "certificate" out err
}
refused() {
	test "$(cat rc)" != 0 &&
	grep -qi "certificate" err &&
	{ test "$1" != ingest-eventhub || test "$(cat rc)" = 2; }
}

for p in push-adt push-cosmos archive extract-lob extract-blob ingest-eventhub; do
	test_expect_success "$p: --cacert FILE trusts the emulator" '
		run $p --cacert "$TEST_DIR/cert.pem" && answered $p
	'
	test_expect_success "$p: TWINPIPE_CACERT does the same" '
		TWINPIPE_CACERT=$TEST_DIR/cert.pem run $p && answered $p
	'
	test_expect_success "$p: without it, the untrusted certificate is refused clearly" '
		run $p && refused $p
	'
	test_expect_success "$p: an unknown CA is refused clearly" '
		run $p --cacert other.pem && refused $p &&
		TWINPIPE_CACERT=other.pem run $p && refused $p
	'
done
test_expect_success 'every networked program lists --cacert and TWINPIPE_CACERT in --help' '
	for p in push-adt push-cosmos archive extract-lob ingest-eventhub; do
		$p --help >h && test_grep "cacert FILE" h && test_grep TWINPIPE_CACERT h ||
			return 1
	done
'
test_done
