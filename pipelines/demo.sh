#!/usr/bin/env bash
# make demo: the batch pipeline (pipelines/lob-to-adt) on the warehouse
# sample against twin-emulator on a free loopback port (TLS, tokens from its
# own Entra-style endpoint) — no Azure account needed. It loads the models,
# runs the pipeline, changes a few LOB rows, runs it again to show that only
# those reach the twins, prints the twin graph and stops the emulator.
#
# Against a real instance: ADT_ENDPOINT=https://... make demo (credentials
# from the Entra chain, e.g. az login; the models of
# pipelines/samples/warehouse/models.json must exist there).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
PATH=$top/bin:$top/pipelines:$PATH
sample=$top/pipelines/samples/warehouse
work=$(mktemp -d "${TMPDIR:-/tmp}/twinpipe-demo.XXXXXX")
emu_pid=
cleanup() {
	[ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
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
echo "Done. The same pipeline runs against Azure with ADT_ENDPOINT=https://... (see pipelines/lob-to-adt)."
