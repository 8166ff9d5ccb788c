#!/usr/bin/env bash
# bench/cdc-filter/run.sh [N] - cdc-filter against an N-key state (default
# 1M) with 1% of the records changed, compared with `jq -c .` over the same
# file. Needs `make` first. Work files go to bench/.work/cdc (removed after).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-1000000}
work=$top/bench/.work/cdc
bin=$top/bin
rm -rf "$work" && mkdir -p "$work" && cd "$work"

# seeded generator: twins with a model, a few properties, a nested object
gen() { # $1 = 1 to change every 100th record
	awk -v n="$n" -v chg="$1" 'BEGIN {
	srand(42);
	for (i = 0; i < n; i++) {
		t = 20 + (i % 17) + (chg && i % 100 == 7 ? 0.5 : 0);
		printf "{\"$dtId\":\"room-%07d\",\"$metadata\":{\"$model\":\"dtmi:com:example:Room;1\"},\"name\":\"Room %d\",\"floor\":%d,\"area\":%.2f,\"temperature\":%s,\"tags\":[\"a\",\"b\"],\"address\":{\"building\":\"B%d\",\"wing\":\"%s\"}}\n", i, i, i % 40, 10 + (i % 97) * 1.25, t, i % 12, (i % 2 ? "east" : "west");
	}
	printf "{\"_meta\":{\"control\":\"snapshot-complete\",\"records\":%d}}\n", n;
	}'
}
gen 0 >base.ndjson
gen 1 >changed.ndjson
# the state: first stage, then every record acknowledged
"$bin"/cdc-filter --state state.db --stats none <base.ndjson |
	"$bin"/transform -c 'if ._meta.cdc then {ok:true,_meta} else . end' --stats none |
	"$bin"/cdc-filter --state state.db --commit --stats none >/dev/null
echo "records: $n, state file: $(du -k state.db | cut -f1) KiB (after a checkpoint: $(sqlite3 state.db 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null; du -k state.db | cut -f1) KiB)"
echo "input: $(du -k changed.ndjson | cut -f1) KiB"

t() { # label, command...
	local label=$1; shift
	/usr/bin/time -f "$label %e s %M KiB" "$@" 2>&1 >/dev/null </dev/null |
		grep "^$label" || true
}
for run in 1 2 3; do
	t "jq" sh -c "jq -c . changed.ndjson >/dev/null"
	t "cdc-filter" sh -c "'$bin'/cdc-filter --state state.db --snapshot --stats none changed.ndjson >out.ndjson"
	t "cdc-filter--diff" sh -c "'$bin'/cdc-filter --state state.db --diff --stats none changed.ndjson >/dev/null"
done
echo "changed records emitted: $(grep -c '"cdc"' out.ndjson)"
echo "peak memory of cdc-filter alone (snapshot mode):"
/usr/bin/time -f "cdc-filter maxrss %M KiB" "$bin"/cdc-filter --state state.db --snapshot --stats text changed.ndjson 2>&1 >/dev/null | tail -2
cd "$top" && rm -rf "$work"
