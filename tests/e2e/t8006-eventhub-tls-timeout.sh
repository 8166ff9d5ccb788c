#!/usr/bin/env bash
# ingest-eventhub gives up on a server whose certificate it cannot verify:
# after --tls-timeout without a connection through TLS it exits 2 naming
# the endpoint and the verification error, instead of retrying for ever.
# AMQP: twin-emulator's amqps port without its CA; Kafka: an openssl
# s_server on loopback (TLS only; with --cacert the handshake gets through).
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
test_require openssl "the Kafka TLS endpoint is openssl s_server" || { test_done; exit 1; }

emu_start --tls --cert "$TEST_DIR/cert.pem" --key "$TEST_DIR/key.pem" \
	--amqp-port auto --eventhub hub1:1 || exit 1
A=$(sed -n 2p "$TEST_DIR/emu$emu_n.out")
AP=${A##*:}
openssl req -x509 -newkey rsa:2048 -nodes -keyout k.pem -out c.pem -days 2 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
test_bg openssl s_server -accept 127.0.0.1:0 -cert c.pem -key k.pem -www \
	>ss.out 2>ss.err </dev/null
test_wait_for 60 "grep -q '^ACCEPT' ss.out" || exit 1
KP=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' ss.out | head -n 1)

# run_bounded CMD...: run in the background, wait (generously) for it to
# end; its exit code in rc, the seconds it took in secs
run_bounded() {
	local t0=$SECONDS pid rc=0
	"$@" >out 2>err &
	pid=$!
	test_wait_for 90 "! kill -0 $pid 2>/dev/null" || { kill "$pid"; return 1; }
	wait "$pid" || rc=$?
	echo "$rc" >rc
	echo $((SECONDS - t0)) >secs
}

test_expect_success 'AMQP: an untrusted certificate: exit 2 after --tls-timeout, endpoint and error named' '
	EVENTHUB_CONNECTION_STRING="Endpoint=sb://localhost:$AP/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;EntityPath=hub1" \
		run_bounded ingest-eventhub -T amqp --tls-timeout 3s &&
	test "$(cat rc)" = 2 && test "$(cat secs)" -ge 2 && test "$(cat secs)" -lt 60 &&
	test_grep "localhost:$AP" err && test_grep "certificate verify failed" err &&
	test_grep "error: amqp: .*not trusted.*--cacert" err && test_lines 0 out
'

test_expect_success 'Kafka: an untrusted certificate: exit 2 after --tls-timeout, endpoint and error named' '
	run_bounded ingest-eventhub -b 127.0.0.1:$KP -t t1 -X security.protocol=ssl \
		--tls-timeout 3s &&
	test "$(cat rc)" = 2 && test "$(cat secs)" -ge 2 && test "$(cat secs)" -lt 60 &&
	test_grep "error: kafka: .*127.0.0.1:$KP.*certificate verify failed" err &&
	test_grep "not trusted.*--cacert" err && test_lines 0 out
'

test_expect_success 'Kafka --assign: the same' '
	run_bounded ingest-eventhub --assign -b 127.0.0.1:$KP -t t1 \
		-X security.protocol=ssl --tls-timeout 3s &&
	test "$(cat rc)" = 2 && test "$(cat secs)" -lt 60 &&
	test_grep "error: kafka: .*certificate verify failed" err
'

test_expect_success 'Kafka: --cacert (ssl.ca.location) gets through the handshake' '
	ingest-eventhub -vv -b 127.0.0.1:$KP -t t1 -X security.protocol=ssl \
		-X debug=broker --cacert c.pem --tls-timeout 1s >out 2>err &
	pid=$! &&
	test_wait_for 60 "grep -q \"SSL_HANDSHAKE -> APIVERSION_QUERY\" err" &&
	kill -0 $pid && kill $pid && { wait $pid || :; } &&
	! grep -q "certificate verify failed" err
'
test_done
