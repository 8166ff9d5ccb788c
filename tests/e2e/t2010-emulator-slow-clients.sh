#!/usr/bin/env bash
# twin-emulator survives hostile clients: 1,000 slow TLS clients (one
# header line every 15 s, never ending their headers) plus 30 idle TCP
# connections, reconnecting as they are closed, do not keep another client
# from its answer (per-address and total connection limits, the header
# deadline); the same crowd from the client's own address is cut off
# within the header timeout; garbage closes the connection.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

test_require python3 "the slow-client helper" || { test_done; exit 1; }
# 1,030 client sockets here (the emulator raises its own limit)
ulimit -n 4096 2>/dev/null || test_require false "ulimit -n 4096 (hard limit $(ulimit -Hn))" || { test_done; exit 1; }
SLOW=$TP_TOP/tests/tools/slow-clients.py
emu_start --tls --cert "$TEST_DIR/cert.pem" --key "$TEST_DIR/key.pem" || exit 1
PORT=${EMU_URL##*:}
# crowd OUT ARGS...: start the helper in the background (pid in CROWD)
crowd() {
	local out=$1; shift
	rm -f ready stop
	python3 "$SLOW" --port "$PORT" --cafile cert.pem --ready ready --stop stop "$@" >"$out" 2>"$out.err" &
	CROWD=$!
	_bg_pids+=("$CROWD")
	for _ in $(seq 1 600); do	# up to 60 s for every first connection
		[ -f ready ] && return 0
		kill -0 "$CROWD" 2>/dev/null || break
		sleep 0.1
	done
	echo "the slow clients did not get going:" >&2; cat "$out.err" >&2
	return 1
}
# answered: status of GET /_admin/health, retried for up to 40 s (the
# emulator's idle timeout is 60 s: without the fixes nothing is freed
# before then); the elapsed seconds in took
answered() {
	local t0=$SECONDS
	emu_curl -o /dev/null -w "%{http_code}" --max-time 40 --retry 40 --retry-all-errors \
		--retry-delay 1 --retry-max-time 40 "$EMU_URL/_admin/health" 2>/dev/null || true
	echo $((SECONDS - t0)) >took
}

test_expect_success 'slow and idle clients from other addresses: another client is answered' '
	crowd a.json --slow 1000 --source 127.0.0.2 --idle 30 --idle-source 127.0.0.3 \
		--interval 15 --reconnect --duration 120 &&
	code=$(answered) &&
	touch stop && wait "$CROWD" &&
	say "answered $code in $(cat took) s while: $(cat a.json)" &&
	test "$code" = 200 &&
	jq -e ".handshakes >= 500 and .peak_alive >= 512" a.json &&
	jq -e ".slow_closed_by_server > 0" a.json
'
test_expect_success 'slow and idle clients from the same address are cut off within seconds' '
	crowd b.json --slow 1000 --idle 30 --interval 15 --until-closed --duration 60 &&
	wait "$CROWD" &&
	say "$(cat b.json)" &&
	jq -e ".alive_at_end == 0 and .closed_by_server == 1030 and .max_age_closed < 30" b.json &&
	test "$(answered)" = 200
'
test_expect_success 'a request of garbage: 400 and the connection closed' '
	printf "\001\002 garbage\r\n\r\n" |
		timeout 20 openssl s_client -quiet -connect "127.0.0.1:$PORT" -CAfile cert.pem >garbage.out 2>/dev/null;
	test_grep "^HTTP/1.1 400" garbage.out &&
	test "$(answered)" = 200
'
kill "$EMU_PID"
emu_start --tls --cert "$TEST_DIR/cert.pem" --key "$TEST_DIR/key.pem" \
	--max-connections 64 --max-connections-per-ip 8 --header-timeout 2s --idle-timeout 10s || exit 1
PORT=${EMU_URL##*:}
test_expect_success 'the limits are options: 8 per address, 2 s for the headers' '
	crowd c.json --slow 20 --until-closed --duration 30 && wait "$CROWD" &&
	say "$(cat c.json)" &&
	jq -e ".handshakes <= 8 and .closed_by_server == 20 and .max_age_closed < 15" c.json &&
	test "$(answered)" = 200 &&
	test_expect_code 2 twin-emulator --max-connections 0 2>err && test_grep "max-connections" err
'
test_done
