#!/usr/bin/env bash
# ingest-eventhub --namespace: Entra ID tokens (SASL OAUTHBEARER) from the
# credential chain, served by twin-emulator. librdkafka 2.0.2's mock cluster
# has no SASL ("SASL Handshake not supported by broker"), so
# tests/tools/kafka-sasl-proxy.c answers SaslHandshake/SaslAuthenticate in
# front of it, records the bearer tokens and checks their audience, and
# tests/tools/connect-redirect.c (LD_PRELOAD) sends ingest-eventhub's
# connections to the brokers through it. -X bootstrap.servers and -X
# security.protocol=SASL_PLAINTEXT replace the namespace's address and TLS;
# the token path is the one --namespace uses against Event Hubs.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

T=$TP_TOP/tests/tools
{ cc -o eh-produce "$T/eh-produce.c" -lrdkafka &&
	cc -o kafka-sasl-proxy "$T/kafka-sasl-proxy.c" &&
	cc -shared -fPIC -o connect-redirect.so "$T/connect-redirect.c" -ldl; } ||
	{ echo "not ok 1 - cannot build the test tools"; exit 1; }
test_bg ./eh-produce iot 4 5 3 >produce.out 2>produce.err </dev/null
for i in $(seq 600); do grep -q '^produced' produce.out 2>/dev/null && break; sleep 0.1; done	# up to 60s
BS=$(head -n 1 produce.out)
test_bg ./kafka-sasl-proxy "$BS" tokens https://eventhubs.azure.net >proxy.out 2>proxy.err
test_bg ./kafka-sasl-proxy "$BS" tokens.other https://other.example >proxy2.out 2>proxy2.err
for i in $(seq 50); do test -s proxy.out && test -s proxy2.out && break; sleep 0.1; done
printf 'eh-secret-42\n' >secret
emu_start --client-secret-file secret --token-lifetime 8s || exit 1
export AZURE_AUTHORITY_HOST=$EMU_URL AZURE_TENANT_ID=tenant1 AZURE_CLIENT_ID=client1 \
	AZURE_CLIENT_SECRET=eh-secret-42 TWINPIPE_CREDENTIAL=environment
unset AZURE_FEDERATED_TOKEN_FILE IDENTITY_ENDPOINT IDENTITY_HEADER 2>/dev/null || true
# ./eh PROXY-OUT ARGS: ingest-eventhub --namespace through that proxy
cat >eh <<EOF
#!/bin/sh
p=\$1; shift
# (under make SAN=1 the shim comes before ASan's runtime: allowed, it
# only wraps connect)
ASAN_OPTIONS="\${ASAN_OPTIONS:-}:verify_asan_link_order=0" \\
LD_PRELOAD=$PWD/connect-redirect.so TP_CONNECT_REDIRECT=\$(head -n 1 "\$p") \\
exec ingest-eventhub --namespace ns1 -t iot -X bootstrap.servers="$BS" \\
	-X security.protocol=SASL_PLAINTEXT -X session.timeout.ms=6000 \\
	-X heartbeat.interval.ms=500 "\$@"
EOF
chmod +x eh
# the JSON payload of a JWT
jwt_payload() {
	local p; p=$(printf '%s' "$1" | cut -d. -f2 | tr '_-' '/+')
	while [ $((${#p} % 4)) -ne 0 ]; do p="$p="; done
	printf '%s' "$p" | base64 -d
}

test_expect_success 'the mock cluster alone has no SASL' '
	# it retries for ever: stopped once the error was reported (waited for)
	{ timeout 120 ingest-eventhub --namespace ns1 -t iot -g nosasl -X bootstrap.servers="$BS" \
		-X security.protocol=SASL_PLAINTEXT >o0 2>e0 & p=$!; } &&
	rc=0 && test_wait_for 100 "grep -q \"SASL Handshake not supported by broker\" e0" || rc=1
	kill $p 2>/dev/null; wait $p 2>/dev/null || true
	test $rc = 0 && test ! -s o0
'

test_expect_success 'a token for https://eventhubs.azure.net/.default authenticates every connection; events are read' '
	{ timeout 60 ./eh proxy.out -g entra -v --idle-exit 5s >o1 2>e1 || test $? = 1; } &&
	test_lines 21 o1 &&
	test_grep "entra: token for https://eventhubs.azure.net/.default from credential .environment." e1 &&
	test -s tokens && ! grep -q "before authentication" proxy.err &&
	bad=0 && while read -r t; do
		jwt_payload "$t" | jq -e ".aud == \"https://eventhubs.azure.net\" and .appid == \"client1\" and .tid == \"tenant1\"" >/dev/null || bad=1
	done <tokens && test $bad = 0 &&
	! grep -q -e "$(head -n 1 tokens)" -e eh-secret-42 e1 || { cat e1 proxy.err; false; }
'

test_expect_success 'the token is refreshed before it expires (8s tokens)' '
	n=$(grep -c "entra: token for" e1) && echo "tokens fetched: $n" && test "$n" -ge 2
'

test_expect_success 'over SASL, --exec commits and a restart reads nothing' '
	test_expect_code 1 timeout 60 ./eh proxy.out -g entra-exec --idle-exit 2s \
		--exec "transform \"{ok: true, _meta}\"" >o2 2>e2 &&
	test_grep "in=23 out=21 failed=2 acked=23 sink_failed=0 commits=[1-9]" e2 &&
	timeout 60 ./eh proxy.out -g entra-exec --idle-exit 2s --exec "transform \"{ok: true, _meta}\"" >o3 2>e3 &&
	test_grep "summary: in=0 " e3 || { cat e2 e3; false; }
'

test_expect_success 'a credential the token endpoint refuses: a clear error, exit 3, nothing sent' '
	n=$(wc -l <tokens) &&
	test_expect_code 3 env AZURE_CLIENT_SECRET=wrong timeout 30 ./eh proxy.out -g entra-bad \
		--idle-exit 2s >o4 2>e4 &&
	test_grep "error: entra: no credential for https://eventhubs.azure.net/.default: environment: HTTP 401" e4 &&
	test ! -s o4 && test "$(wc -l <tokens)" = "$n" && ! grep -q "=wrong" e4
'

test_expect_success 'a token the broker refuses is reported' '
	{ timeout 120 ./eh proxy2.out -g entra-aud >o5 2>e5 & p=$!; } &&
	rc=0 && test_wait_for 100 "grep -q \"token rejected: wrong audience\" e5" || rc=1
	kill $p 2>/dev/null; wait $p 2>/dev/null || true
	test $rc = 0 && test ! -s o5 && test -s tokens.other
'

test_done
