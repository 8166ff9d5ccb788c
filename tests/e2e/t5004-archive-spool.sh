#!/usr/bin/env bash
# archive's spool (blob targets), against Azurite: the default spool is
# private (0700, under $XDG_STATE_HOME), a spool another user could have
# planted (wrong owner, group/other-writable, a symbolic link) is refused
# before anything is read, the old predictable /tmp name is not used,
# segments planted in your own spool are refused and left alone, and the
# segments of a crashed run are still uploaded by the next one.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-azurite.sh"
test_require jq "for manifests" || { test_done; exit 1; }
test_require python3 "the fake Blob endpoint is a python script" || { test_done; exit 1; }
az_begin || { test_done; exit 1; }
export TMPDIR=$TEST_DIR XDG_STATE_HOME=$TEST_DIR/state
export AZURE_STORAGE_CONNECTION_STRING=$AZ_CS
test_bg python3 "$TP_TOP/tests/tools/fake-blob.py" "$TEST_DIR/hang.log" hang-puts \
	>"$TEST_DIR/hang.url" 2>"$TEST_DIR/hang.err"

python3 "$TP_TOP/bench/gen-lob.py" 300 >in.ndjson
# spool_of NAME: the default spool of container arch, prefix NAME
spool_of() { echo "$XDG_STATE_HOME/twinpipe/archive/devstoreaccount1-arch-$1"; }
# wait_for N DIR: until DIR holds N manifests (the event), at most 60 s
wait_for() {
	local i
	for i in $(seq 1 600); do
		[ "$(find "$2" -name "*.manifest.json" 2>/dev/null | wc -l)" -ge "$1" ] && return 0
		sleep 0.1
	done
	echo "no $1 manifests in $2" >&2; return 1
}
# a segment with a manifest that is consistent, made elsewhere: to plant
echo '{"planted":true}' | TWINPIPE_ARCHIVE_CLOCK=1600000000 \
	archive --dir evil --run-id evil --no-pass
evil=$(cd evil && ls ./*/*/*/*.ndjson.zst | sed 's|^\./||')
evil_m=${evil%.ndjson.zst}.manifest.json

test_expect_success 'the default spool: under $XDG_STATE_HOME, 0700, emptied by the upload' '
	archive --blob arch/a --no-pass <in.ndjson 2>err &&
	sp=$(spool_of a) && test -d "$sp" &&
	test "$(stat -c %a "$sp")" = 700 &&
	test "$(stat -c %a "$XDG_STATE_HOME/twinpipe")" = 700 &&
	test "$(stat -c %a "$XDG_STATE_HOME/twinpipe/archive")" = 700 &&
	test -z "$(find "$sp" -name "*.zst")" &&
	archive --cat --blob arch/a | cmp - in.ndjson
'

test_expect_success 'without $XDG_STATE_HOME: ~/.local/state/twinpipe, made 0700' '
	mkdir home &&
	env -u XDG_STATE_HOME HOME=$TEST_DIR/home archive --blob arch/h --no-pass <in.ndjson &&
	test "$(stat -c %a home/.local/state/twinpipe/archive/devstoreaccount1-arch-h)" = 700 &&
	test "$(stat -c %a home/.local/state)" = 700
'

test_expect_success 'a spool planted at the old predictable /tmp name is not used' '
	old=$TMPDIR/twinpipe-archive-devstoreaccount1-arch-old &&
	mkdir -p "$old" && cp -r evil/. "$old"/ && chmod -R a+rwX "$old" &&
	archive --blob arch/old --no-pass <in.ndjson 2>err &&
	archive --list --blob arch/old >list &&
	test_lines 1 list && ! grep -q planted list && ! grep -q evil list &&
	test -f "$old/$evil" && test -f "$old/$evil_m"
'

test_expect_success 'a planted default spool (mode 0777) is refused before reading' '
	sp=$(spool_of p777) && mkdir -p "$sp" && cp -r evil/. "$sp"/ && chmod 777 "$sp" &&
	test_expect_code 2 archive --blob arch/p777 <in.ndjson >out 2>err &&
	test_grep "is writable by others (mode 0777): refused" err &&
	test ! -s out && test -f "$sp/$evil" &&
	archive --list --blob arch/p777 >list && test_lines 0 list
'

test_expect_success 'a spool of another owner is refused' '
	if [ "$(id -u)" = 0 ]; then
		sp=$(spool_of owner) && mkdir -p "$sp" && chmod 700 "$sp" &&
		chown 65534 "$sp" && arg=
	else
		sp=/usr && arg="--spool /usr"
	fi &&
	test_expect_code 2 archive --blob arch/owner $arg <in.ndjson >out 2>err &&
	test_grep "belongs to uid [0-9]*, not to you" err && test ! -s out
'

test_expect_success 'a symbolic link is refused as the default spool and as --spool' '
	mkdir elsewhere && ln -s "$TEST_DIR/elsewhere" "$(spool_of ln)" &&
	test_expect_code 2 archive --blob arch/ln <in.ndjson >out 2>err &&
	test_grep "is a symbolic link: refused" err && test ! -s out &&
	ln -s elsewhere linked &&
	test_expect_code 2 archive --blob arch/ln --spool linked <in.ndjson 2>err &&
	test_grep "is a symbolic link: refused" err &&
	test -z "$(ls elsewhere)"
'

test_expect_success '--spool: group- or other-writable refused, made 0700 when missing' '
	mkdir s777 s770 && chmod 777 s777 && chmod 770 s770 &&
	test_expect_code 2 archive --blob arch/s --spool s777 <in.ndjson 2>err &&
	test_grep "writable by others" err &&
	test_expect_code 2 archive --blob arch/s --spool s770 <in.ndjson 2>err &&
	test_grep "writable by its group" err &&
	archive --blob arch/s --spool snew --no-pass <in.ndjson &&
	test "$(stat -c %a snew)" = 700
'

test_expect_success 'a default spool readable by others is refused (it must be 0700)' '
	sp=$(spool_of r755) && mkdir -p "$sp" && chmod 755 "$sp" &&
	test_expect_code 2 archive --blob arch/r755 <in.ndjson 2>err &&
	test_grep "can be read by others (mode 0755): refused" err
'

test_expect_success 'segments planted in your own spool: refused, logged, left alone' '
	archive --blob arch/own </dev/null >/dev/null &&
	sp=$(spool_of own) && d=$sp/2020/09/13 && mkdir -p "$d" &&
	cp "evil/$evil" "$d/122640-nomani-000000.ndjson.zst" &&
	cp "evil/$evil" "$d/122640-alter-000000.ndjson.zst" &&
	sed -e "s/-evil-/-alter-/" -e "s/\"run\":\"evil\"/\"run\":\"alter\"/" "evil/$evil_m" >"$d/122640-alter-000000.manifest.json" &&
	printf "\\377" | dd of="$d/122640-alter-000000.ndjson.zst" bs=1 seek=12 conv=notrunc 2>/dev/null &&
	cp "evil/$evil" "$d/122640-other-000000.ndjson.zst" &&
	cp "evil/$evil_m" "$d/122640-other-000000.manifest.json" &&
	ln -s "$TEST_DIR/evil/$evil" "$d/122640-link-000000.ndjson.zst" &&
	(cd "$d" && ls -l && sha256sum ./*) >before &&
	archive --blob arch/own --no-pass <in.ndjson 2>err &&
	test_grep "122640-nomani-000000.ndjson.zst. refused: .*is missing" err &&
	test_grep "122640-alter-000000.ndjson.zst. refused: its SHA-256 .* is not its manifest" err &&
	test_grep "122640-other-000000.ndjson.zst. refused: its manifest names another segment" err &&
	test_grep "122640-link-000000.ndjson.zst. is a symbolic link: skipped" err &&
	test_grep "refused=3" err && test_grep "uploaded=1" err &&
	archive --list --blob arch/own >list && test_lines 1 list &&
	! grep -q 122640 list &&
	(cd "$d" && ls -l && sha256sum ./*) | cmp - before
'

test_expect_success 'a crashed run: its segments are uploaded by the next run' '
	port=$(sed -n "1s/.*://p" hang.url) && test -n "$port" &&
	{ archive --blob "http://127.0.0.1:$port/devstoreaccount1/crash" \
		--segment-records 100 --no-pass <in.ndjson 2>crash.err & pid=$!; } &&
	sp=$XDG_STATE_HOME/twinpipe/archive/devstoreaccount1-crash &&
	wait_for 3 "$sp" && kill -KILL $pid && { wait $pid || true; } &&
	test "$(find "$sp" -name "*.ndjson.zst" | wc -l)" = 3 &&
	archive --blob crash --no-pass </dev/null 2>err &&
	test_grep "left in the spool by an earlier run" err &&
	test_grep "uploaded=3" err && test_grep "refused=0" err &&
	test -z "$(find "$sp" -name "*.zst")" &&
	archive --cat --blob crash | cmp - in.ndjson
'
test_done
