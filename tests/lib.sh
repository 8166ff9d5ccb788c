# tests/lib.sh - sourced by every end-to-end test (after git's t/test-lib.sh).
#
#   . "$(dirname "$0")/../lib.sh"
#   test_expect_success 'what it checks' '
#       transform .a <in >out && test_cmp expect out
#   '
#   test_done
#
# Each test body runs in a subshell with `set -e` inside a private temp dir
# ($TEST_DIR, removed at exit). Programs from $TP_BIN are on PATH; with
# VALGRIND=1 they run under valgrind (errors fail the test, exit 99).
# Servers started with test_bg are killed at exit.
set -u
TP_TOP=${TP_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
TP_BIN=${TP_BIN:-$TP_TOP/bin}
FIXTURES=$TP_TOP/tests/fixtures
TEST_NAME=$(basename "$0" .sh)
TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tp-$TEST_NAME.XXXXXX")
test_count=0
test_failed=0
_bg_pids=()

_cleanup() {
	local p
	for p in "${_bg_pids[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	cd / && rm -rf "$TEST_DIR"
}
trap _cleanup EXIT

if [ "${VALGRIND:-}" = 1 ]; then
	mkdir -p "$TEST_DIR/.vgbin"
	for p in "$TP_BIN"/*; do
		cat >"$TEST_DIR/.vgbin/$(basename "$p")" <<VG
#!/bin/sh
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --trace-children=no "$p" "\$@"
VG
		chmod +x "$TEST_DIR/.vgbin/$(basename "$p")"
	done
	PATH=$TEST_DIR/.vgbin:$PATH
else
	PATH=$TP_BIN:$PATH
fi
export PATH ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
cd "$TEST_DIR"

say() { printf '# %s\n' "$*"; }

test_expect_success() {
	local desc=$1 body=$2 out rc
	test_count=$((test_count + 1))
	out=$( (set -e; eval "$body") 2>&1 ); rc=$?
	if [ $rc = 0 ]; then
		echo "ok $test_count - $desc"
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $desc"
		printf '%s\n' "$out" | tail -n 40 | sed 's/^/#   /'
		printf '#   (exit %s)\n' "$rc"
	fi
}

# test_expect_code CODE CMD...: CMD must exit with CODE.
test_expect_code() {
	local want=$1 rc=0; shift
	"$@" || rc=$?
	if [ "$rc" != "$want" ]; then
		echo "expected exit $want, got $rc: $*" >&2
		return 1
	fi
}

# test_must_fail CMD...: CMD must fail normally (exit 1-125), never crash.
test_must_fail() {
	local rc=0
	"$@" || rc=$?
	if [ $rc = 0 ]; then echo "should have failed: $*" >&2; return 1; fi
	if [ $rc -gt 125 ]; then echo "crashed (exit $rc): $*" >&2; return 1; fi
	return 0
}

# test_cmp EXPECTED ACTUAL
test_cmp() { diff -u "$1" "$2"; }

# test_grep PATTERN FILE: like grep -q, but shows the file when it fails.
test_grep() {
	if ! grep -q -e "$1" "$2"; then
		echo "pattern '$1' not found in $2:" >&2; head -n 20 "$2" >&2
		return 1
	fi
}

# test_lines N FILE
test_lines() {
	local n; n=$(wc -l <"$2" | tr -d ' ')
	[ "$n" = "$1" ] || { echo "expected $1 lines in $2, got $n" >&2; return 1; }
}

# test_require CMD WHY: a missing prerequisite is a failure, said loudly.
test_require() {
	if ! command -v "$1" >/dev/null 2>&1; then
		test_count=$((test_count + 1)); test_failed=$((test_failed + 1))
		echo "not ok $test_count - prerequisite '$1' is missing ($2); run 'make deps'"
		return 1
	fi
}

# test_bg CMD...: start a background process, killed at exit.
test_bg() { "$@" & _bg_pids+=($!); }

test_done() {
	echo "1..$test_count"
	[ "$test_failed" = 0 ]
}

# test_wait_for SECONDS CMD: poll (every 0.1 s) until the shell command CMD
# succeeds. The bound is generous, for a busy machine; it only keeps a
# broken run from hanging, and says what it waited for when it runs out.
test_wait_for() {
	local bound=$1 t0=$SECONDS
	until eval "$2"; do
		if [ $((SECONDS - t0)) -ge "$bound" ]; then
			echo "waited ${bound}s in vain for: $2" >&2
			return 1
		fi
		sleep 0.1
	done
}

# test_tap NAME CMD...: run a client script that prints TAP lines of its
# own (a Microsoft SDK or proton driver); they join this file's, numbered
# on, its other lines as comments, and "the NAME run exited 0" is a test.
test_tap() {
	local name=$1 out rc=0 line
	shift
	out=$("$@" 2>&1) || rc=$?
	while IFS= read -r line; do
		case "$line" in
		"ok "*) test_count=$((test_count + 1)); echo "ok $test_count - ${line#* - }" ;;
		"not ok "*) test_count=$((test_count + 1)); test_failed=$((test_failed + 1))
			echo "not ok $test_count - ${line#* - }" ;;
		1..*) ;;
		*) echo "# $line" ;;
		esac
	done <<<"$out"
	test_expect_success "the $name run exited 0" "test $rc = 0"
}
