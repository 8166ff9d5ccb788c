#!/usr/bin/env bash
# bench/iothub-backfill/run.sh - the back-fill of an N-device hub (default
# 100k) against twin-emulator (IoT Hub registry + Cosmos DB, one process):
#   1. extract-lob iothub: alone (the twin query, 1000 a page, SAS): twins/s
#      and peak RSS (flat: one page in memory);
#   2. pipelines/iothub-backfill-to-cosmos into an empty container: devices/s
#      and Cosmos RU per device (push-cosmos' ru counter);
#   3. the same again on an unchanged hub (every twin stale): devices/s, RU
#      per device (a read each);
#   4. with the hub throttling twin queries (emulator rate fault, 10 req/s):
#      extract-lob waits out the 429s.
# The devices are made once, kept in bench/.work/iothub-backfill/hub-N.db.
#   bench/iothub-backfill/run.sh [N]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-100000}
w=$top/bench/.work/iothub-backfill
mkdir -p "$w"
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true' EXIT
KEY=$(printf 'bench-iothub-key-0123456789abcdef' | base64)
printf '%s\n' "$KEY" >"$w/key"
export COSMOS_KEY='C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=='
export PATH=$top/bin:$top/pipelines:$PATH
db=$w/hub-$n.db
"$top/bin/twin-emulator" --iothub benchhub --iothub-key-file "$w/key" --db "$db" \
	>"$w/url" 2>"$w/emu.err" & pid=$!
for _ in $(seq 1 100); do [ -s "$w/url" ] && break; sleep 0.1; done
url=$(head -n 1 "$w/url")
sas() {
	local sr se=$(($(date +%s) + 36000)) hex sig
	sr=benchhub.azure-devices.net
	hex=$(printf '%s' "$KEY" | base64 -d | od -An -v -tx1 | tr -d ' \n')
	sig=$(printf '%s\n%s' "$sr" "$se" |
		openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hex" -binary | base64)
	printf 'SharedAccessSignature sr=%s&sig=%s&se=%s&skn=iothubowner' "$sr" \
		"$(jq -rn --arg s "$sig" '$s|@uri')" "$se"
}
if [ ! -f "$w/hub-$n.done" ]; then
	echo "making $n devices (once) ..." >&2
	auth=$(sas)
	# one curl, 32 in parallel: a PUT of every device, then a PATCH of
	# its twin (tags and desired properties)
	python3 - "$n" "$url" "$auth" >"$w/curl.cfg" <<'PY'
import json, sys
n, url, auth = int(sys.argv[1]), sys.argv[2], sys.argv[3]
q = lambda s: json.dumps(s)
first = [True]
def req(method, path, body):
    if not first[0]:
        print("next")
    first[0] = False
    print(f'url = {q(url + path + "?api-version=2021-04-12")}\nrequest = "{method}"\n'
          f'header = {q("Authorization: " + auth)}\nheader = "Content-Type: application/json"\n'
          f'data = {q(json.dumps(body))}\noutput = "/dev/null"')
for i in range(n):
    req("PUT", f"/devices/dev{i:06d}", {"deviceId": f"dev{i:06d}"})
for i in range(n):
    req("PATCH", f"/twins/dev{i:06d}", {"tags": {"site": f"s{i % 97}", "row": i},
        "properties": {"desired": {"rate": i % 13, "mode": "eco"}}})
PY
	curl -sS --no-progress-meter --parallel --parallel-max 32 -K "$w/curl.cfg"
	touch "$w/hub-$n.done"
fi
export IOTHUB_CONNECTION_STRING="HostName=benchhub.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=$KEY"
got=$(extract-lob --stats none --page-size 1000 iothub:"$url" | grep -c '"deviceId"')
[ "$got" = "$n" ] || { echo "the hub has $got devices, not $n" >&2; exit 1; }

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
rate() { awk -v s="$1" -v n="$n" 'BEGIN { printf "%.0f", n / s }'; }
echo "| step | wall | devices/s | RU/device | peak RSS |"
echo "|---|---:|---:|---:|---:|"
t0=$(date +%s%N)
/usr/bin/time -f %M -o "$w/rss" extract-lob --stats none --page-size 1000 iothub:"$url" >/dev/null
t1=$(date +%s%N); s=$(secs "$t0" "$t1")
echo "| \`extract-lob iothub:\` (twin query, 1000 a page) | $s s | $(rate "$s") | - | $(( $(cat "$w/rss") / 1024 )) MB |"

back() {	# back NAME: the pipeline into container c; prints wall s
	local t0 t1
	rm -rf "$w/$1"
	t0=$(date +%s%N)
	WORK=$w/$1 IOTHUB_RATE=0 COSMOS_DATABASE=bench COSMOS_CONTAINER=c \
		COSMOS_OPTIONS="--endpoint $url --create-container -c 64" \
		iothub-backfill-to-cosmos "$url" 2>"$w/$1.err" || { cat "$w/$1.err" >&2; exit 1; }
	t1=$(date +%s%N)
	secs "$t0" "$t1"
}
ru() { grep -o 'push-cosmos: summary: .* ru=[0-9]*' "$w/$1.err" | sed 's/.*ru=//' |
	awk -v n="$n" '{ printf "%.1f", $1 / n }'; }
s=$(back fill)
echo "| back-fill into an empty container (extract, transform, push-cosmos -c 64) | $s s | $(rate "$s") | $(ru fill) | - |"
s=$(back again)
echo "| the same, hub unchanged (every twin stale) | $s s | $(rate "$s") | $(ru again) | - |"
curl -s -d '{"rate":10}' "$url/_admin/faults" >/dev/null
t0=$(date +%s%N)
extract-lob --page-size 1000 iothub:"$url" 2>"$w/thr.err" >/dev/null
t1=$(date +%s%N); s=$(secs "$t0" "$t1")
curl -s -d '{"rate":0}' "$url/_admin/faults" >/dev/null
thr=$(grep -o 'throttled=[0-9]*' "$w/thr.err" | cut -d= -f2)
echo "| \`extract-lob iothub:\`, hub throttled at 10 requests/s ($thr 429s waited out) | $s s | $(rate "$s") | - | - |"
