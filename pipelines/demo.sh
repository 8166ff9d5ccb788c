#!/usr/bin/env bash
# make demo: the batch pipeline (pipelines/lob-to-adt) on the warehouse
# sample against twin-emulator on a free loopback port (TLS, tokens from its
# own Entra-style endpoint) — no Azure account needed. It loads the models,
# runs the pipeline, changes a few LOB rows, runs it again to show that only
# those reach the twins, prints the twin graph and stops the emulator.
# Then the streaming half on a second emulator (plain loopback): devices
# created, changed and deleted in its IoT Hub (REST), their events read
# from the built-in Event Hub over AMQP by ingest-eventhub, transformed by
# pipelines/iothub-to-cosmos.jq and merged into its Cosmos DB by
# push-cosmos; the documents are printed next to the IoT Hub twins and the
# demo fails (exit 1) if they differ.
#
# Against a real instance: ADT_ENDPOINT=https://... make demo (credentials
# from the Entra chain, e.g. az login; the models of
# pipelines/samples/warehouse/models.json must exist there).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
PATH=$top/bin:$top/pipelines:$PATH
sample=$top/pipelines/samples/warehouse
work=$(mktemp -d "${TMPDIR:-/tmp}/twinpipe-demo.XXXXXX")
emu_pid= emu2_pid=
cleanup() {
	[ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
	[ -n "$emu2_pid" ] && kill "$emu2_pid" 2>/dev/null && wait "$emu2_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
V=api-version=2023-10-31
secret=demo-client-secret-$$

if [ -z "${ADT_ENDPOINT:-}" ]; then
	echo "== starting twin-emulator (TLS, loopback, free port)"
	printf '%s\n' "$secret" >"$work/client.secret"
	twin-emulator --port 0 --tls --cert "$work/cert.pem" --key "$work/key.pem" \
		--client-secret-file "$work/client.secret" >"$work/emu.url" 2>"$work/emu.err" &
	emu_pid=$!
	for _ in $(seq 1 100); do [ -s "$work/emu.url" ] && break; sleep 0.1; done
	ADT_ENDPOINT=$(head -n 1 "$work/emu.url")
	[ -n "$ADT_ENDPOINT" ] || { cat "$work/emu.err" >&2; exit 3; }
	export AZURE_AUTHORITY_HOST=$ADT_ENDPOINT AZURE_TENANT_ID=demo \
		AZURE_CLIENT_ID=demo AZURE_CLIENT_SECRET=$secret
	export ADT_OPTIONS="--cacert $work/cert.pem"
	echo "   $ADT_ENDPOINT"
	token() {
		curl -sS --cacert "$work/cert.pem" -d "grant_type=client_credentials&client_id=demo&client_secret=$secret&scope=https://digitaltwins.azure.net/.default" \
			"$ADT_ENDPOINT/demo/oauth2/v2.0/token" | jq -r .access_token
	}
	adt() {
		curl -sS --cacert "$work/cert.pem" -X "$1" -H "Authorization: Bearer $(token)" \
			-H "Content-Type: application/json" ${3:+-d "$3"} "$ADT_ENDPOINT$2?$V"
	}
	echo "== loading the DTDL models ($sample/models.json)"
	adt POST /models "$(cat "$sample/models.json")" | jq -r '.[] | "   " + .id'
else
	token() { az account get-access-token --resource https://digitaltwins.azure.net --query accessToken -o tsv; }
	adt() {
		curl -sS -X "$1" -H "Authorization: Bearer $(token)" \
			-H "Content-Type: application/json" ${3:+-d "$3"} "$ADT_ENDPOINT$2?$V"
	}
fi
export ADT_ENDPOINT
cp "$sample/assets.csv" "$work/assets.csv"
export LOB_SOURCE="csv:$work/assets.csv" TRANSFORM=$sample/warehouse.jq \
	STATE=$work/state.db WORK=$work/out

echo
echo "== run 1: every row is new"
lob-to-adt
echo
echo "== the LOB system changes: a battery, a status, a zone's capacity; forklift 6 is retired"
sed -i -e 's/^forklift,fl-002,\(.*\),64,carrying/forklift,fl-002,\1,58,carrying/' \
	-e 's/^forklift,fl-004,\(.*\),35.5,charging/forklift,fl-004,\1,100,idle/' \
	-e 's/^zone,zone-sea-b,\(.*\),900,/zone,zone-sea-b,\1,950,/' \
	-e '/^forklift,fl-006,/d' "$work/assets.csv"
echo
echo "== run 2: only the changes reach the twins (push-adt in= above)"
lob-to-adt
echo
echo "== run 3: nothing changed, nothing sent"
lob-to-adt
echo
echo "== the twin graph"
twins=$(adt POST /query '{"query":"SELECT * FROM digitaltwins"}')
rels=$(for id in $(jq -r '.value[] | .["$dtId"]' <<<"$twins"); do
	adt GET "/digitaltwins/$id/relationships" | jq -c '.value[]'; done | jq -s .)
jq -rn --argjson t "$twins" --argjson r "$rels" '
	($t.value | map({key: .["$dtId"], value: .}) | from_entries) as $tw
	| def line($id; $ind): $tw[$id] as $x
	    | "\($ind)\($id)  \($x["$metadata"]["$model"] | capture(":(?<m>[A-Za-z]+);") .m)  \($x | del(.["$dtId","$etag","$metadata"]) | tojson)";
	  def kids($id): [$r[] | select(.["$sourceId"] == $id)] | sort_by(.["$targetId"]);
	  def tree($id; $ind): line($id; $ind),
	    (kids($id)[] | "\($ind)  --\(.["$relationshipName"])-->", tree(.["$targetId"]; $ind + "    "));
	  ($t.value | map(.["$dtId"]) | map(select(. as $i | [$r[] | .["$targetId"]] | index($i) | not)) | sort)[] as $root
	  | tree($root; "   ")'
echo
echo "The same pipeline runs against Azure with ADT_ENDPOINT=https://... (see pipelines/lob-to-adt)."

echo
echo "== streaming: IoT Hub -> Event Hubs (AMQP) -> ingest-eventhub -> transform -> push-cosmos"
twin-emulator --port 0 --no-auth --amqp-port auto --iothub demohub --eh-partitions 2 \
	>"$work/emu2.url" 2>"$work/emu2.err" &
emu2_pid=$!
for _ in $(seq 1 100); do [ -n "$(sed -n 2p "$work/emu2.url")" ] && break; sleep 0.1; done
U=$(head -n 1 "$work/emu2.url") amqp=$(sed -n 2p "$work/emu2.url")
[ -n "$amqp" ] || { cat "$work/emu2.err" >&2; exit 3; }
echo "   IoT Hub and Cosmos DB $U, Event Hubs $amqp"
IV=api-version=2021-04-12
hub() {	# hub METHOD PATH [BODY]
	curl -sS -f -o /dev/null -X "$1" -H "Content-Type: application/json" ${3:+-d "$3"} "$U$2"
}
echo "== the IoT Hub: 4 devices created, their twins changed, one deleted"
for d in pump-1 pump-2 valve-1 valve-2; do hub PUT "/devices/$d?$IV" '{}'; done
hub PATCH "/twins/pump-1?$IV" '{"tags":{"site":"north"},"properties":{"desired":{"rate":40,"mode":"auto"}}}'
hub PATCH "/twins/pump-2?$IV" '{"tags":{"site":"south"},"properties":{"desired":{"rate":25}}}'
hub PATCH "/_admin/iothub/twins/pump-1/reported" '{"rate":38,"fw":{"version":"2.1"}}'
hub PATCH "/twins/pump-1?$IV" '{"properties":{"desired":{"rate":45,"mode":null}}}'
hub PATCH "/twins/valve-1?$IV" '{"tags":{"site":"north"},"properties":{"desired":{"open":true}}}'
hub PATCH "/_admin/iothub/twins/valve-1/reported" '{"open":true,"pressure":{"bar":2.5}}'
hub PUT "/twins/pump-2?$IV" '{"tags":{"site":"south","line":"b"},"properties":{"desired":{"rate":30}}}'
hub DELETE "/devices/valve-2?$IV"
export EVENTHUB_CONNECTION_STRING="Endpoint=sb://localhost:${amqp##*:}/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;EntityPath=demohub;UseDevelopmentEmulator=true"
ckey='C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=='
export COSMOS_KEY=$ckey
echo "== ingest-eventhub --transport amqp --exec 'transform -f iothub-to-cosmos.jq | push-cosmos ...'"
timeout 120 ingest-eventhub --transport amqp --checkpoint-dir "$work/eh-ckpt" --idle-exit 2s \
	--dead-letter "$work/eh.dlq" --exec "transform -f $top/pipelines/iothub-to-cosmos.jq \
	--dead-letter $work/transform.dlq | push-cosmos --endpoint $U -d iot --container twins \
	--partition-key-path /deviceId --tombstones --encode-ids --create-container \
	--dead-letter $work/push.dlq" 2>&1 | grep -E "summary|error" | sed 's/^/   /'
# the documents, read with the account key (Cosmos DB's REST signature)
cdate=$(LC_ALL=C TZ=GMT date '+%a, %d %b %Y %H:%M:%S GMT')
hex=$(printf '%s' "$ckey" | base64 -d | od -An -v -tx1 | tr -d ' \n')
sig=$(printf 'get\ndocs\ndbs/iot/colls/twins\n%s\n\n' "$(printf '%s' "$cdate" | tr 'A-Z' 'a-z')" |
	openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hex" -binary | base64)
auth=$(jq -rn --arg s "type=master&ver=1.0&sig=$sig" '$s|@uri')
curl -sS -f -H "x-ms-date: $cdate" -H "Authorization: $auth" -H "x-ms-version: 2020-07-15" \
	"$U/dbs/iot/colls/twins/docs" >"$work/docs.json"
# both sides as {device: {tags, desired, reported}} ("deleted" for a
# deleted device), IoT Hub's and push-cosmos' bookkeeping ($-keys) left out
for d in pump-1 pump-2 valve-1 valve-2; do
	curl -sS -o "$work/twin.json" -w '%{http_code}' "$U/twins/$d?$IV" | grep -q '^200$' &&
		jq -c --arg d "$d" '{($d): .}' "$work/twin.json" || jq -nc --arg d "$d" '{($d): "deleted"}'
done | jq -s -S 'add | map_values(if . == "deleted" then . else
	{tags: (.tags // {}), desired: (.properties.desired | with_entries(select(.key | startswith("$") | not))),
	 reported: (.properties.reported | with_entries(select(.key | startswith("$") | not)))} end)' >"$work/iothub.json"
jq -S '.Documents | map({key: .deviceId, value: (if ._deleted then "deleted" else
	{tags: (.tags // {}), desired: (.properties.desired // {} | with_entries(select(.key | startswith("$") | not))),
	 reported: (.properties.reported // {} | with_entries(select(.key | startswith("$") | not)))} end)})
	| from_entries' "$work/docs.json" >"$work/cosmos.json"
echo "== IoT Hub twins (left) and Cosmos DB documents (right)"
paste <(jq -r 'to_entries[] | "\(.key) \(.value | tojson)"' "$work/iothub.json") \
	<(jq -r 'to_entries[] | "\(.key) \(.value | tojson)"' "$work/cosmos.json") |
	sed 's/^/   /'
if ! diff -u "$work/iothub.json" "$work/cosmos.json" >"$work/diff"; then
	echo "== they differ:" >&2
	cat "$work/diff" >&2
	exit 1
fi
echo "== equal: every device's Cosmos DB document is its IoT Hub twin"
echo
echo "Done."
