# tests/e2e/lib-emulator.sh - start twin-emulator for a test (sourced after
# lib.sh, outside test bodies):
#
#   emu_start [OPTION]...   sets EMU_URL and EMU_PID; returns 1 (and prints
#                           its stderr) when no URL showed up within 10 s
#   emu_curl ARGS...        curl with the emulator's TLS certificate, if any
#   emu_node SCRIPT ARGS... node with the fidelity packages (tests/.node)
EMU_URL= EMU_PID=
emu_n=0
emu_start() {
	local i
	emu_n=$((emu_n + 1))
	test_bg twin-emulator "$@" >"$TEST_DIR/emu$emu_n.out" 2>"$TEST_DIR/emu$emu_n.err"
	EMU_PID=$!
	for i in $(seq 1 100); do
		EMU_URL=$(head -n 1 "$TEST_DIR/emu$emu_n.out" 2>/dev/null)
		[ -n "$EMU_URL" ] && return 0
		kill -0 "$EMU_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "twin-emulator did not start:" >&2
	cat "$TEST_DIR/emu$emu_n.err" >&2
	return 1
}
emu_curl() {
	if [ -f "$TEST_DIR/cert.pem" ]; then
		curl -sS --cacert "$TEST_DIR/cert.pem" "$@"
	else
		curl -sS "$@"
	fi
}
# install Microsoft's node clients; prints why and returns 1 on failure
emu_node_install() {
	"$TP_TOP/tests/fidelity/install.sh"
}
emu_node() {
	TP_NODE_MODULES=$TP_TOP/tests/.node/node_modules node "$@"
}
