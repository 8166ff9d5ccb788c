#!/usr/bin/env bash
# tests/stress.sh - run the suite N times while every core is kept busy,
# to find tests whose outcome depends on timing.
#
#   tests/stress.sh [-n RUNS] [-s]      (or: make stress RUNS=5 [SAN=1])
#
# A CPU hog per core (stress-ng, or a bounded busy loop where it is
# missing) runs for the whole of each run and is stopped after it; each
# run is `make test` (or `make SAN=1 test` with -s). Every failing test is
# reported with the log of its file. Exit 0 only if every run passed.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
runs=5 san=
while getopts n:s o; do
	case $o in
	n) runs=$OPTARG ;;
	s) san=1 ;;
	*) echo "usage: tests/stress.sh [-n RUNS] [-s]" >&2; exit 2 ;;
	esac
done
case $runs in ''|*[!0-9]*) echo "stress: -n wants a number" >&2; exit 2 ;; esac
cores=$(nproc)
out=$(mktemp -d "$top/tests/.tmp/stress.XXXXXX" 2>/dev/null) ||
	{ mkdir -p "$top/tests/.tmp"; out=$(mktemp -d "$top/tests/.tmp/stress.XXXXXX"); }

hog_pids=()
hog_start() {
	if command -v stress-ng >/dev/null 2>&1; then
		# bounded by itself too: at most 2 hours
		stress-ng --cpu "$cores" --cpu-method matrixprod --timeout 7200s \
			--quiet >/dev/null 2>&1 &
		hog_pids+=($!)
	else
		echo "stress: stress-ng is missing (make deps); using a shell busy loop per core" >&2
		for _ in $(seq "$cores"); do
			( end=$((SECONDS + 7200)); while [ $SECONDS -lt $end ]; do :; done ) &
			hog_pids+=($!)
		done
	fi
}
hog_stop() {
	local p
	for p in "${hog_pids[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	hog_pids=()
}
trap hog_stop EXIT

make -C "$top" -j"$cores" all ${san:+SAN=1} >/dev/null || { echo "stress: build failed" >&2; exit 1; }
failed_runs=0
for r in $(seq "$runs"); do
	hog_start
	t0=$SECONDS
	make -C "$top" ${san:+SAN=1} test >"$out/run$r.txt" 2>&1
	rc=$?
	hog_stop
	summary=$(grep -E "^[0-9]+ passed, [0-9]+ failed" "$out/run$r.txt" | tail -n 1)
	echo "stress: run $r/$runs${san:+ (SAN)}: ${summary:-no summary} in $((SECONDS - t0))s (exit $rc)"
	if [ $rc != 0 ]; then
		failed_runs=$((failed_runs + 1))
		logs=$(sed -n 's/^logs: //p' "$out/run$r.txt" | tail -n 1)
		for f in $(sed -n 's/^FAIL \([^ ]*\).*/\1/p' "$out/run$r.txt"); do
			echo "stress: run $r: FAIL $f"
			[ -n "$logs" ] && [ -f "$logs/$f.log" ] &&
				sed 's/^/    /' "$logs/$f.log" | grep -v "^    ok " | tail -n 60
		done
	fi
done
echo "stress: $((runs - failed_runs)) of $runs runs passed under load on $cores cores (output in $out)"
[ $failed_runs = 0 ]
