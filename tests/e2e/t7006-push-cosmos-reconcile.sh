#!/usr/bin/env bash
# push-cosmos --reconcile against twin-emulator: at a snapshot-complete
# record with a "started" time, the documents the snapshot lacks are
# deleted (tombstoned) as ordinary delete records, except tombstones,
# documents written since the start, module twins of a "modules":false
# snapshot; a snapshot without a start, of a part of the source, with a
# count that does not match or a failed record deletes nothing.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-cosmos.sh"

pcos_start || exit 1
ts() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S.0000000Z; }
future=$(ts $(($(date +%s) + 30)))	# everything written so far is older
past=$(ts $(($(date +%s) - 30)))	# everything written so far is newer
ctl() {	# ctl STARTED RECORDS [EXTRA]
	printf '{"_meta":{"control":"snapshot-complete","source":"iothub:h","run":"r1"%s,"records":%s%s}}\n' \
		"${1:+,\"started\":\"$1\"}" "$2" "${3:-}"
}
up() {	# up ID [DEVICE MODULE]
	printf '{"$op":"upsert","id":"%s","deviceId":"%s"%s,"$version":1,"x":1}\n' "$1" "${2:-$1}" \
		"${3:+,\"moduleId\":\"$3\"}"
}
live() { cos_docs | jq -r 'select(._deleted | not) | .id' | sort | tr '\n' ' '; }

test_expect_success 'documents a..e and a module twin exist' '
	{ for d in a b c d e; do up $d; done; up "a%2Fm1" a m1; } | pcos --create-container >out &&
	test "$(live)" = "a a%2Fm1 b c d e "
'
test_expect_success 'no started, a part (where, shard), a count that does not match: nothing deleted' '
	{ up a; ctl "" 1; } | pcos --reconcile >out 2>err && test_grep "no \"started\"" err &&
	{ up a; ctl "$future" 1 ",\"where\":\"x\""; } | pcos --reconcile >out 2>err && test_grep "part of the" err &&
	{ up a; ctl "$future" 1 ",\"shard\":\"0/2\""; } | pcos --reconcile >out 2>err && test_grep "part of the" err &&
	{ up a; ctl "$future" 2; } | pcos --reconcile >out 2>err && test_grep "nothing deleted" err &&
	test_grep "reconciled=0" err &&
	test "$(live)" = "a a%2Fm1 b c d e "
'
test_expect_success 'a failed record in the snapshot: nothing deleted (exit 1)' '
	{ up a; echo "{\"id\":\"b\"}"; ctl "$future" 2; } | test_expect_code 1 pcos --reconcile >out 2>err &&
	test_grep "nothing deleted" err && test "$(live)" = "a a%2Fm1 b c d e "
'
test_expect_success 'documents written after the start are kept' '
	{ up a; up b; ctl "$past" 2; } | pcos --reconcile --tombstones >out 2>err &&
	test_grep "reconciled=0" err && test "$(live)" = "a a%2Fm1 b c d e "
'
test_expect_success 'a complete snapshot: the missing ones tombstoned, results before the control record' '
	{ up a; up b; up d; ctl "$future" 3 ",\"modules\":false"; } |
		pcos --reconcile --tombstones --encode-ids --dead-letter dlq >out 2>err &&
	test_grep "reconciled=2" err && test "$(live)" = "a a%2Fm1 b d " &&
	jq -r "select(.op == \"delete\") | .id" out | sort >got && printf "%s\n" c e >want && test_cmp want got &&
	jq -s -e "map(select(.op == \"delete\"))[0]._meta.reconcile.started == \"$future\"" out &&
	tail -n 1 out | jq -e "._meta.control == \"snapshot-complete\"" &&
	cos_doc c | jq -e "._deleted == true and ._v == 1 and ._deleted_at == \"$future\"" &&
	! test -s dlq
'
test_expect_success 'a module twin is reconciled when the snapshot has modules; tombstones stay' '
	{ up a; up b; up d; ctl "$future" 3 ",\"modules\":true"; } |
		pcos --reconcile --tombstones --encode-ids >out 2>err &&
	test_grep "reconciled=1" err && test "$(live)" = "a b d " &&
	cos_doc "a%2Fm1" | jq -e "._deleted == true"
'
test_expect_success '--help and the man page name --reconcile' '
	push-cosmos --help | grep -q -e --reconcile && grep -q -e "-reconcile" "$TP_TOP/man/push-cosmos.1"
'
kill "$EMU_PID"
test_done
