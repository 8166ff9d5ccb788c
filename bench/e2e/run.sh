#!/usr/bin/env bash
# bench/e2e: N LOB rows (bench/gen-lob.py) through the whole batch pipeline
# (pipelines/lob-to-adt) into twin-emulator, then a second run with 1% of
# the rows changed, which must send exactly that many requests.
#   bench/e2e/run.sh [N]      (default 1000000)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-1000000}
work=$(mktemp -d "${TMPDIR:-/tmp}/tp-e2e.XXXXXX")
emu=
trap '[ -n "$emu" ] && kill $emu 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
PATH=$top/bin:$top/pipelines:$PATH
secret=bench-secret
printf '%s\n' "$secret" >"$work/secret"
twin-emulator --port 0 --tls --cert "$work/cert.pem" --key "$work/key.pem" \
	--client-secret-file "$work/secret" >"$work/url" 2>"$work/emu.err" & emu=$!
for _ in $(seq 1 100); do [ -s "$work/url" ] && break; sleep 0.1; done
url=$(head -1 "$work/url")
export AZURE_AUTHORITY_HOST=$url AZURE_TENANT_ID=t AZURE_CLIENT_ID=c AZURE_CLIENT_SECRET=$secret
tok=$(curl -sS --cacert "$work/cert.pem" -d "grant_type=client_credentials&client_id=c&client_secret=$secret&scope=https://digitaltwins.azure.net/.default" "$url/t/oauth2/v2.0/token" | jq -r .access_token)
curl -sS --cacert "$work/cert.pem" -H "Authorization: Bearer $tok" -H "Content-Type: application/json" \
	-d '[{"@id":"dtmi:com:contoso:Organization;1","@type":"Interface","@context":"dtmi:dtdl:context;2","contents":[
	{"@type":"Property","name":"name","schema":"string"},{"@type":"Property","name":"kind","schema":"string"},
	{"@type":"Property","name":"region","schema":"string"},{"@type":"Property","name":"capacity","schema":"integer"},
	{"@type":"Property","name":"active","schema":"boolean"},{"@type":"Property","name":"opened","schema":"dateTime"},
	{"@type":"Property","name":"location","schema":{"@type":"Object","fields":[{"name":"lat","schema":"double"},{"name":"lon","schema":"double"}]}}]}]' \
	"$url/models?api-version=2023-10-31" >/dev/null
python3 "$top/bench/gen-lob.py" "$n" 42 | jq -r '[.OrgId,.Name,.Type,.Region,.Capacity,.Active,.Opened,.Lat,.Lon] | @csv' |
	{ echo "OrgId,Name,Type,Region,Capacity,Active,Opened,Lat,Lon"; cat; } >"$work/rows.csv"
export LOB_SOURCE="csv:$work/rows.csv" TRANSFORM=$top/pipelines/examples/lob-to-twin.jq \
	STATE=$work/state.db WORK=$work/out ADT_ENDPOINT=$url \
	ADT_OPTIONS="--cacert $work/cert.pem --concurrency 64 --rate 0 --create-rate 0 --twin-rate 0"
echo "# bench/e2e: $n rows, $(nproc) CPUs, twin-emulator on the same machine"
run() {
	/usr/bin/time -f "%e" -o "$work/time" lob-to-adt 2>"$work/err" || true
	grep -E "summary" "$work/err" | sed 's/^/   /'
	echo "   wall: $(cat "$work/time") s"
}
echo "## run 1: every row new"
run
awk -F, 'NR > 1 && NR % 100 == 0 { $5 = "\"" (substr($5, 2, length($5) - 2) + 1) "\"" } 1' OFS=, "$work/rows.csv" >"$work/rows2.csv"
mv "$work/rows2.csv" "$work/rows.csv"
changed=$(( n / 100 ))
echo "## run 2: $changed rows (1%) changed"
run
req=$(sed -n 's/.*push-adt: summary: .* requests=\([0-9]*\).*/\1/p' "$work/err")
echo "   requests sent: $req for $changed changed rows ($(awk -v r="$req" -v n="$n" 'BEGIN { printf "%.2f", 100 * r / n }')% of $n)"
