#!/bin/sh
# Install Microsoft's Node clients for the fidelity tests into tests/.node
# (git-ignored), once. Exit 0 when they are there; otherwise say why and
# exit 1 (the calling test turns that into a "not ok" line).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
dir=$top/tests/.node
want_cosmos=4.9
want_adt=1.1.0
want_eh=6
want_iothub=1.16
want_ckpt=2
have() {
	[ -f "$dir/node_modules/@azure/cosmos/package.json" ] &&
	[ -f "$dir/node_modules/@azure/digital-twins-core/package.json" ] &&
	grep -q "\"version\": \"$want_cosmos\." "$dir/node_modules/@azure/cosmos/package.json" &&
	grep -q "\"version\": \"$want_adt\"" "$dir/node_modules/@azure/digital-twins-core/package.json" &&
	[ -f "$dir/node_modules/@azure/event-hubs/package.json" ] &&
	grep -q "\"version\": \"$want_eh\." "$dir/node_modules/@azure/event-hubs/package.json" &&
	[ -f "$dir/node_modules/azure-iothub/package.json" ] &&
	grep -q "\"version\": \"$want_iothub\." "$dir/node_modules/azure-iothub/package.json" &&
	[ -f "$dir/node_modules/@azure/eventhubs-checkpointstore-blob/package.json" ] &&
	grep -q "\"version\": \"$want_ckpt\." "$dir/node_modules/@azure/eventhubs-checkpointstore-blob/package.json"
}
if have; then exit 0; fi
command -v node >/dev/null 2>&1 || { echo "install.sh: node is missing (apt-get install nodejs)" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "install.sh: npm is missing (apt-get install npm)" >&2; exit 1; }
mkdir -p "$dir"
# one installer at a time (tests run in parallel)
exec 9>"$dir/.lock"
flock 9
if have; then exit 0; fi
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error \
	"@azure/cosmos@~$want_cosmos.0" "@azure/digital-twins-core@$want_adt" \
	"@azure/event-hubs@^$want_eh" "azure-iothub@~$want_iothub.6" \
	"@azure/eventhubs-checkpointstore-blob@^$want_ckpt" "@azure/storage-blob@^12" >&2 ||
	{ echo "install.sh: npm install failed" >&2; exit 1; }
have || { echo "install.sh: packages missing after npm install" >&2; exit 1; }
