#!/usr/bin/env bash
# bench/push-adt-bulk/run.sh - a first load of N new twins and N
# relationships into twin-emulator with ADT's limits on (--rate 1000
# --create-rate 500 --twin-rate 10): push-adt's request path (--bulk never,
# its defaults) against an ADT import job (--bulk always; the import file
# in Azurite), wall time and ratio: once with the emulator's job as fast as
# it goes (--import-rate 0), once at the speed ADT quotes (--import-rate
# 1700: 1M twins ~10 min; relationships are quoted slower, 1M ~15 min, so
# the last line also projects that).
#
#   N=200000 bench/push-adt-bulk/run.sh     (N defaults to 200000; try
#   N=2000 first)
#
# Needs bin/push-adt, bin/twin-emulator and Azurite in tests/.node
# (tests/e2e/lib-azurite.sh installs it: run t3010 once).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
n=${N:-200000}
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT
az=$top/tests/.node/azurite/node_modules/.bin/azurite-blob
[ -x "$az" ] || { echo "no Azurite: run TESTS=tests/e2e/t3010-push-adt-bulk.sh tests/run.sh once" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
azp=$(free_port)
mkdir -p "$work/azurite"
"$az" --blobHost 127.0.0.1 --blobPort "$azp" --location "$work/azurite" --disableTelemetry \
	--silent --skipApiVersionCheck >"$work/azurite.log" 2>&1 & pids+=($!)
for _ in $(seq 1 600); do curl -s -o /dev/null "http://127.0.0.1:$azp/" && break; sleep 0.1; done
key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
azurl=http://127.0.0.1:$azp/devstoreaccount1
export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$key;BlobEndpoint=$azurl;"
printf '%s\n' "$AZURE_STORAGE_CONNECTION_STRING" >"$work/storage.cs"

emu=
start_emu() {	# start_emu IMPORT_RATE
	[ -n "$emu" ] && { kill "$emu"; wait "$emu" 2>/dev/null || true; }
	rm -f "$work/url"
	"$top/bin/twin-emulator" --tls --cert "$work/cert.pem" --key "$work/key.pem" \
		--rate 1000 --create-rate 500 --twin-rate 10 --import-rate "${1:-0}" \
		--storage-connection-string-file "$work/storage.cs" \
		>"$work/url" 2>"$work/emu.err" & emu=$!; pids+=($emu)
	for _ in $(seq 1 600); do [ -s "$work/url" ] && break; sleep 0.1; done
	url=$(cat "$work/url")
	export AZURE_AUTHORITY_HOST=$url AZURE_TENANT_ID=bench AZURE_CLIENT_ID=bench \
		AZURE_CLIENT_SECRET=bench-secret
	tok=$(curl -s --cacert "$work/cert.pem" -d "grant_type=client_credentials&client_id=bench&client_secret=bench-secret&scope=https://digitaltwins.azure.net/.default" \
		"$url/bench/oauth2/v2.0/token" | jq -r .access_token)
	curl -s --cacert "$work/cert.pem" -H "Authorization: Bearer $tok" -H "Content-Type: application/json" \
		-d '[{"@id":"dtmi:bench:Thing;1","@type":"Interface","@context":"dtmi:dtdl:context;2","contents":[{"@type":"Property","name":"name","schema":"string"},{"@type":"Property","name":"temp","schema":"double"},{"@type":"Relationship","name":"next"}]}]' \
		"$url/models?api-version=2023-10-31" >/dev/null
}
awk -v n="$n" 'BEGIN {
	for (i = 0; i < n; i++)
		printf "{\"$dtId\":\"t%d\",\"$metadata\":{\"$model\":\"dtmi:bench:Thing;1\"},\"name\":\"thing %d\",\"temp\":%d.5}\n", i, i, i % 40
	for (i = 0; i < n; i++)
		printf "{\"$dtId\":\"t%d\",\"$relationshipId\":\"n%d\",\"$targetId\":\"t%d\",\"$relationshipName\":\"next\"}\n", i, i, (i + 1) % n
}' >"$work/in.ndjson"

# run LABEL ARGS...: wall time of one push-adt run; its summary to stderr
run() {	# run LABEL IMPORT_RATE ARGS...
	local label=$1; shift
	start_emu "$1"; shift
	/usr/bin/time -f "%e" -o "$work/time" "$top/bin/push-adt" --endpoint "$url" \
		--cacert "$work/cert.pem" --stats json "$@" "$work/in.ndjson" >"$work/out" 2>"$work/err" ||
		echo "# $label: exit $? ($(grep -v '^{' "$work/err" | tail -n 1))" >&2
	wall=$(cat "$work/time")
	okn=$(grep '^{"prog"' "$work/err" | jq .summary.ok)
	echo "| $label | $wall s | $okn | $(awk -v w="$wall" -v n="$okn" 'BEGIN { printf "%.0f", n / w }') |"
	grep '^{"prog"' "$work/err" | jq -c '.summary | with_entries(select(.key | test("^(ok|failed|requests|throttled|bulk)")))' >&2
}
echo "# first load: $n twins + $n relationships, emulator --rate 1000 --create-rate 500 --twin-rate 10, push-adt $(git -C "$top" rev-parse --short HEAD) defaults, $(nproc) CPUs"
echo "| run | wall | ok | records/s |"
echo "|---|---:|---:|---:|"
run "request path (--bulk never)" 0 --bulk never
req=$wall
run "import job (--bulk always, emulator --import-rate 0)" 0 --bulk always \
	--bulk-container "$azurl/imports/bench" --bulk-state "$work/bulk.state"
job=$wall
run "import job at ADT's quoted speed (emulator --import-rate 1700)" 1700 --bulk always \
	--bulk-container "$azurl/imports/bench" --bulk-state "$work/bulk.state"
job2=$wall
awk -v r="$req" -v j="$job" -v j2="$job2" -v n="$n" 'BEGIN {
	adt = n / 1666.7 + n / 1111.1
	printf "\nrequest path / import job: %.1fx (wall %.1f s vs %.1f s)\n", r / j, r, j
	printf "request path / import job at 1700/s: %.1fx (wall %.1f s vs %.1f s)\n", r / j2, r, j2
	printf "with ADT'\''s quote for relationships (1M ~15 min) the job would take ~%.0f s: request path / job ~%.1fx\n", adt, r / (adt > j ? adt : j) }'
