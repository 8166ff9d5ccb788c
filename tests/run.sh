#!/usr/bin/env bash
# Runs the whole suite: unit tests, fuzz corpus replays, end-to-end tests.
# Each test file prints TAP; this prints one line a file and, last,
# "N passed, N failed" (tests, not files). Exit 0 only if nothing failed.
#
# Environment: TP_BIN (programs), TP_BUILD (build dir), TESTS (a glob of
# test files to run instead of all), VALGRIND=1 (run programs under
# valgrind), JOBS (parallel test files, default 2).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
: "${TP_BIN:=$top/bin}" "${TP_BUILD:=$top/build/rel}" "${JOBS:=2}"
export TP_BIN TP_BUILD TP_TOP="$top"
mkdir -p "$top/tests/.tmp"
logdir=$(mktemp -d "$top/tests/.tmp/logs.XXXXXX")

files=()
if [ -n "${TESTS:-}" ]; then
	for f in $TESTS; do files+=("$f"); done
else
	for f in "$TP_BUILD"/tests/test_*; do [ -x "$f" ] && files+=("$f"); done
	for f in "$TP_BUILD"/tests/replay_*; do [ -x "$f" ] && files+=("$f"); done
	for f in "$top"/tests/e2e/t*.sh; do [ -f "$f" ] && files+=("$f"); done
fi

run_one() {
	f=$1; name=$(basename "$f"); log=$logdir/$name.log
	case "$name" in
	replay_fuzz_*)
		corpus=$top/tests/fuzz/corpus/${name#replay_fuzz_}
		"$f" "$corpus" >"$log" 2>&1 ;;
	*.sh) bash "$f" >"$log" 2>&1 ;;
	*) "$f" >"$log" 2>&1 ;;
	esac
	echo $? >"$log.rc"
}
export -f run_one; export logdir top

start=$(date +%s)
printf '%s\n' "${files[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_one "$@"' _ {}

pass=0; fail=0; bad_files=()
for f in "${files[@]}"; do
	name=$(basename "$f"); log=$logdir/$name.log; rc=$(cat "$log.rc" 2>/dev/null || echo 99)
	p=$(grep -c '^ok ' "$log" || true); n=$(grep -c '^not ok ' "$log" || true)
	if [ "$rc" != 0 ] && [ "$n" = 0 ]; then n=1; fi  # died without saying why
	if [ "$p" = 0 ] && [ "$n" = 0 ]; then n=1; echo "# $name ran no test" >>"$log"; fi
	pass=$((pass + p)); fail=$((fail + n))
	if [ "$n" -gt 0 ]; then
		bad_files+=("$name"); printf 'FAIL %-45s %3d ok, %d failed (exit %s)\n' "$name" "$p" "$n" "$rc"
	else
		printf 'ok   %-45s %3d ok\n' "$name" "$p"
	fi
done
for b in "${bad_files[@]}"; do
	echo "---- $b ----"; grep -v '^ok ' "$logdir/$b.log" | tail -n 60
done
echo "time: $(( $(date +%s) - start ))s"
echo "logs: $logdir"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
