#!/usr/bin/env bash
# The batch pipeline (pipelines/lob-to-adt) against twin-emulator survives
# kill -9 of any stage at any moment: 20 rounds of a changing LOB export,
# each run killed at a random moment in a random stage, then run again to
# completion; after every completed run the emulator's twin graph must
# equal the graph computed independently (tests/tools/warehouse-gen.py)
# from that round's data: nothing lost, nothing stale. The last rounds run
# with the emulator throttling and answering 10% 503s.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-adt.sh"
test_require python3 "the data generator" || { test_done; exit 1; }
test_require sqlite3 "state inspection" || { test_done; exit 1; }
gen=$TP_TOP/tests/tools/warehouse-gen.py
ROUNDS=${CRASH_ROUNDS:-20}
SEED=${CRASH_SEED:-$RANDOM}
say "seed $SEED, $ROUNDS rounds (CRASH_SEED=$SEED to repeat)"

padt_start --page-size 1000 || exit 1
adt POST /models "$(cat "$TP_TOP/pipelines/samples/warehouse/models.json")" >/dev/null
export LOB_SOURCE="csv:$TEST_DIR/assets.csv" \
	TRANSFORM=$TP_TOP/pipelines/samples/warehouse/warehouse.jq \
	STATE=$TEST_DIR/state.db WORK=$TEST_DIR/out ADT_ENDPOINT=$EMU_URL \
	ADT_OPTIONS="--cacert $TEST_DIR/cert.pem --twin-rate 0 --create-rate 0 --max-time 60"
PATH=$TP_TOP/pipelines:$PATH

check_graph() {
	python3 "$gen" expect "$TEST_DIR/assets.csv" | jq -S . >"$TEST_DIR/expect.json" &&
	adt_graph >"$TEST_DIR/got.json" &&
	diff -u "$TEST_DIR/expect.json" "$TEST_DIR/got.json"
}

test_expect_success "$ROUNDS rounds: kill -9 a random stage at a random moment, rerun, compare" '
	kills=0
	for round in $(seq 0 $((ROUNDS - 1))); do
		python3 "$gen" csv "$SEED" "$round" >"$TEST_DIR/assets.csv"
		if [ "$round" -ge $((ROUNDS - 5)) ]; then
			emu_curl -d "{\"rate\":300,\"error_rate\":0.1}" "$EMU_URL/_admin/faults" >/dev/null
		fi
		# a run killed at a random moment in a random stage (the
		# emulator answers a little slower so that runs last a while)
		emu_curl -d "{\"latency_ms\":10,\"jitter_ms\":10}" "$EMU_URL/_admin/faults" >/dev/null
		lob-to-adt >"$TEST_DIR/run.out" 2>"$TEST_DIR/run.err" &
		pid=$!
		sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
		victims=
		for p in $(pgrep -P "$pid"); do
			case "$(cat /proc/$p/comm 2>/dev/null)" in
			bash|"") ;;
			*) victims="$victims $p" ;;
			esac
		done
		if [ -n "$victims" ]; then
			set -- $victims
			shift $((RANDOM % $#))
			victim=$1
			name=$(cat /proc/$victim/comm 2>/dev/null) || true
			kill -9 "$victim" 2>/dev/null && kills=$((kills + 1)) &&
				echo "round $round: killed $name"
		fi
		wait $pid || true
		emu_curl -d "{\"latency_ms\":0,\"jitter_ms\":0}" "$EMU_URL/_admin/faults" >/dev/null
		# the rerun completes and the twins equal this round s data
		timeout 120 lob-to-adt >"$TEST_DIR/run.out" 2>"$TEST_DIR/run.err" ||
			{ echo "round $round: rerun failed:"; cat "$TEST_DIR/run.err"; cat "$TEST_DIR"/out/*.dlq.ndjson 2>/dev/null | head -5; exit 1; }
		emu_curl -d "{\"rate\":0,\"error_rate\":0}" "$EMU_URL/_admin/faults" >/dev/null
		check_graph || { echo "round $round: graph differs"; exit 1; }
	done
	emu_curl -d "{\"rate\":0,\"error_rate\":0}" "$EMU_URL/_admin/faults" >/dev/null
	echo "kills: $kills"
	test $kills -ge $((ROUNDS / 2))  # most runs are killed, not all: some end first
'

test_expect_success 'a final run with nothing changed sends nothing' '
	lob-to-adt 2>err && test_grep "push-adt: summary: in=0 " err
'
test_done
