# tests/e2e/lib-push-cosmos.sh - push-cosmos against twin-emulator (sourced
# after lib.sh and lib-emulator.sh, outside test bodies):
#
#   pcos_start [EMULATOR-OPTION]...  start the emulator, set COSMOS_KEY
#   pcos ARGS...     push-cosmos --endpoint $EMU_URL -d db --container c
#                    --partition-key-path /deviceId ARGS
#   cos_docs [C]     every document of container C (default c), system
#                    properties removed, sorted by id, one a line
#   cos_doc ID       one document (from cos_docs), or nothing
#   cos_doc_is ID F  the document exists and jq -e F holds on it
#   faults JSON      POST /_admin/faults
pcos_start() {
	emu_start "$@" || return 1
	export COSMOS_KEY=$EMU_KEY
	unset COSMOS_CONNECTION_STRING COSMOS_ENDPOINT COSMOS_DATABASE \
		COSMOS_CONTAINER COSMOS_PARTITION_KEY_PATH COSMOS_TOKEN_FILE 2>/dev/null || true
}
pcos() {
	push-cosmos --endpoint "$EMU_URL" -d db --container c \
		--partition-key-path /deviceId "$@"
}
cos_docs() {
	local d a c=${1:-c}
	d=$(emu_date) && a=$(emu_sign get docs "dbs/db/colls/$c" "$d") &&
	emu_curl -H "x-ms-date: $d" -H "Authorization: $a" -H "x-ms-version: 2020-07-15" \
		-H "x-ms-max-item-count: 1000" "$EMU_URL/dbs/db/colls/$c/docs" |
		jq -c '.Documents | sort_by(.id)[] | del(._rid, ._self, ._etag, ._attachments, ._ts)'
}
cos_doc() { cos_docs | jq -c --arg id "$1" 'select(.id == $id)'; }
# cos_doc_is ID FILTER...: the document exists and jq -e FILTER holds on it
# (a bare `cos_doc ID | jq -e F` passes when the document is missing: jq
# 1.6 exits 0 on empty input)
cos_doc_is() {
	local d
	d=$(cos_doc "$1") && test -n "$d" ||
		{ echo "cos_doc_is: no document '$1'" >&2; return 1; }
	shift
	printf '%s\n' "$d" | jq -e "$@"
}
faults() { emu_curl -d "$1" "$EMU_URL/_admin/faults" >/dev/null; }
