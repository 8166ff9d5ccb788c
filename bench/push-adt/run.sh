#!/usr/bin/env bash
# bench/push-adt/run.sh - 20k ADT twin upserts against twin-emulator (TLS,
# bearer tokens from its token endpoint): push-adt side by side with
# Microsoft's @azure/digital-twins-core (node), then push-adt against an
# emulator throttled to N requests/s.
#
#   bench/push-adt/run.sh [TWINS [CONCURRENCY [THROTTLE_N]]]
#
# ONLY=throttled runs the throttled part alone.
#
# Needs bin/push-adt, bin/twin-emulator, node and the SDK in tests/.node
# (installed by tests/fidelity/install.sh, as the emulator tests do).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-20000} conc=${2:-64} thr=${3:-500}
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
export TP_NODE_MODULES=$top/tests/.node/node_modules
[ "${ONLY:-}" = throttled ] || [ -d "$TP_NODE_MODULES/@azure/digital-twins-core" ] ||
	"$top/tests/fidelity/install.sh"

start_emu() {
	[ -n "$pid" ] && { kill "$pid"; wait "$pid" 2>/dev/null || true; }
	"$top/bin/twin-emulator" --tls --cert "$work/cert.pem" --key "$work/key.pem" "$@" \
		>"$work/url" 2>"$work/emu.err" & pid=$!
	for _ in $(seq 1 50); do [ -s "$work/url" ] && break; sleep 0.1; done
	url=$(cat "$work/url")
	export AZURE_AUTHORITY_HOST=$url AZURE_TENANT_ID=bench AZURE_CLIENT_ID=bench \
		AZURE_CLIENT_SECRET=bench-secret NODE_EXTRA_CA_CERTS=$work/cert.pem
	tok=$(curl -s --cacert "$work/cert.pem" -d "grant_type=client_credentials&client_id=bench&client_secret=bench-secret&scope=https://digitaltwins.azure.net/.default" \
		"$url/bench/oauth2/v2.0/token" | jq -r .access_token)
	curl -s --cacert "$work/cert.pem" -H "Authorization: Bearer $tok" -H "Content-Type: application/json" \
		-d '[{"@id":"dtmi:bench:Thing;1","@type":"Interface","@context":"dtmi:dtdl:context;2","contents":[{"@type":"Property","name":"name","schema":"string"},{"@type":"Property","name":"temp","schema":"double"},{"@type":"Property","name":"on","schema":"boolean"}]}]' \
		"$url/models?api-version=2023-10-31" >/dev/null
}
# timed LABEL OPS CMD...: wall, CPU (user+sys), ops/s, CPU s per 1000 ops
timed() {
	local label=$1 ops=$2; shift 2
	/usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >"$work/out" 2>"$work/err" ||
		echo "# $label: exit $? ($(tail -n 1 "$work/err"))" >&2
	tail -n 1 "$work/time" >"$work/time.last" && mv "$work/time.last" "$work/time"
	read -r wall usr sys <"$work/time"
	awk -v l="$label" -v w="$wall" -v u="$usr" -v s="$sys" -v n="$ops" 'BEGIN {
		printf "| %s | %.2f s | %.2f s | %.0f | %.3f |\n", l, w, u + s, n / w, (u + s) * 1000 / n }'
}
for i in $(seq 1 "$n"); do
	printf '{"$dtId":"bench-%d","$metadata":{"$model":"dtmi:bench:Thing;1"},"name":"thing %d","temp":%d.5,"on":true}\n' "$i" "$i" "$((i % 40))"
done >"$work/twins.ndjson"
sed 's/^{/{"$op":"replace",/' "$work/twins.ndjson" >"$work/replace.ndjson"
P=(--cacert "$work/cert.pem" --concurrency "$conc" --rate 0 --create-rate 0 --twin-rate 0)

if [ "${ONLY:-}" != throttled ]; then
echo "# $n twins, concurrency $conc, $(nproc) CPUs, push-adt $(git -C "$top" rev-parse --short HEAD), node $(node --version)"
echo "| run | wall | CPU (user+sys) | ops/s | CPU s / 1000 ops |"
echo "|---|---:|---:|---:|---:|"
start_emu
timed "push-adt upsert, new twins (PUT If-None-Match: 1 request/op)" "$n" \
	"$top/bin/push-adt" --endpoint "$url" "${P[@]}" "$work/twins.ndjson"
grep -o "summary:.*" "$work/err" | cut -c1-120 >&2
timed "push-adt upsert, existing twins (PUT 412 + PATCH: 2 requests/op)" "$n" \
	"$top/bin/push-adt" --endpoint "$url" "${P[@]}" "$work/twins.ndjson"
timed "push-adt \$op replace (PUT: 1 request/op, what the SDK's upsert sends)" "$n" \
	"$top/bin/push-adt" --endpoint "$url" "${P[@]}" "$work/replace.ndjson"
start_emu
timed "SDK upsertDigitalTwin, new twins ($conc in flight)" "$n" \
	node "$top/bench/push-adt/sdk-upsert.js" "$url" "$work/twins.ndjson" "$conc"
cat "$work/out" >&2
timed "SDK upsertDigitalTwin, existing twins ($conc in flight)" "$n" \
	node "$top/bench/push-adt/sdk-upsert.js" "$url" "$work/twins.ndjson" "$conc"
cat "$work/out" >&2
fi

echo
echo "# throttled: emulator --rate $thr, $n new twins, concurrency $conc, push-adt $(git -C "$top" rev-parse --short HEAD)"
echo "| run | wall | goodput (ops/s) | % of N | requests | 429s | % 429 | failed |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for r in 0 "$thr"; do
	start_emu --rate "$thr"
	/usr/bin/time -f "%e" -o "$work/time" "$top/bin/push-adt" --endpoint "$url" \
		--cacert "$work/cert.pem" --concurrency "$conc" --rate "$r" --create-rate 0 --twin-rate 0 \
		--stats json "$work/twins.ndjson" >"$work/out" 2>"$work/err" || true
	wall=$(cat "$work/time")
	s=$(grep '^{"prog"' "$work/err" | jq -c .summary)
	ok=$(jq .ok <<<"$s") req=$(jq .requests <<<"$s") t429=$(jq .throttled <<<"$s") f=$(jq .failed <<<"$s")
	awk -v l="push-adt --rate $r" -v w="$wall" -v ok="$ok" -v n="$thr" -v req="$req" -v t="$t429" -v f="$f" 'BEGIN {
		printf "| %s | %.1f s | %.0f | %.0f%% | %d | %d | %.1f%% | %d |\n", l, w, ok / w, 100 * ok / w / n, req, t, 100 * t / req, f }'
done
