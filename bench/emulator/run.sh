#!/usr/bin/env bash
# bench/emulator/run.sh - requests/s of twin-emulator for ADT twin upserts
# (PUT /digitaltwins/ID with model validation, bearer token checked) and
# for the trivial /_admin/health, measured with wrk.
#
#   [EMU_FLAGS="--threads 1"] bench/emulator/run.sh [DURATION [CONNECTIONS [THREADS]]]
#
# Needs wrk (apt-get install wrk) and a built bin/twin-emulator.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
dur=${1:-10s} conns=${2:-64} threads=${3:-2}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"' EXIT
"$top/bin/twin-emulator" --port 0 ${EMU_FLAGS:-} >"$work/url" 2>"$work/err" & pid=$!
for _ in $(seq 1 50); do [ -s "$work/url" ] && break; sleep 0.1; done
url=$(cat "$work/url")
TOKEN=$(curl -s -d "grant_type=client_credentials&client_id=bench&client_secret=x&scope=https%3A%2F%2Fdigitaltwins.azure.net%2F.default" \
	"$url/bench/oauth2/v2.0/token" | jq -r .access_token)
export TOKEN
curl -s -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
	-d '[{"@id":"dtmi:bench:Thing;1","@type":"Interface","@context":"dtmi:dtdl:context;2","contents":[{"@type":"Property","name":"name","schema":"string"},{"@type":"Property","name":"temp","schema":"double"},{"@type":"Property","name":"on","schema":"boolean"}]}]' \
	"$url/models?api-version=2023-10-31" >/dev/null
echo "# twin-emulator $(git -C "$top" rev-parse --short HEAD), $(nproc) CPUs, wrk -t$threads -c$conns -d$dur"
echo "## twin upsert (PUT /digitaltwins/ID, 10k twins)"
wrk -t"$threads" -c"$conns" -d"$dur" -s "$top/bench/emulator/twin-upsert.lua" "$url" | grep -E "Requests/sec|Latency|Non-2xx|Socket errors" || true
echo "## twin read (GET /digitaltwins/ID)"
wrk -t"$threads" -c"$conns" -d"$dur" -s "$top/bench/emulator/twin-read.lua" "$url" | grep -E "Requests/sec|Latency|Non-2xx|Socket errors" || true
DATE=$(LC_ALL=C TZ=GMT date '+%a, %d %b %Y %H:%M:%S GMT')
# Cosmos DB wants a token for its own audience (the account as addressed)
TOKEN=$(curl -s -d "grant_type=client_credentials&client_id=bench&client_secret=x&scope=https%3A%2F%2F127.0.0.1%2F.default" \
	"$url/bench/oauth2/v2.0/token" | jq -r .access_token)
export DATE TOKEN
aad="type%3Daad%26ver%3D1.0%26sig%3D$TOKEN"
curl -s -H "Authorization: $aad" -H "x-ms-date: $DATE" -d '{"id":"bench"}' "$url/dbs" >/dev/null
curl -s -H "Authorization: $aad" -H "x-ms-date: $DATE" -d '{"id":"c","partitionKey":{"paths":["/pk"],"kind":"Hash"}}' "$url/dbs/bench/colls" >/dev/null
echo "## Cosmos DB document upsert (POST .../docs, is-upsert, aad token)"
wrk -t"$threads" -c"$conns" -d"$dur" -s "$top/bench/emulator/cosmos-upsert.lua" "$url" | grep -E "Requests/sec|Latency|Non-2xx|Socket errors" || true
echo "## GET /_admin/health"
wrk -t"$threads" -c"$conns" -d"$dur" "$url/_admin/health" | grep -E "Requests/sec|Latency|Non-2xx|Socket errors" || true
curl -s "$url/_admin/stats" | jq -c '.by_request'
