#!/usr/bin/env bash
# make demo: the main job on the shipped sample. (Until push-adt and
# cdc-filter land, it shows the transform stage: LOB rows -> ADT twins, with
# the jq program and with the reference design's mapping file, a bad row
# dead-lettered.)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
PATH=$top/bin:$PATH
ex=$top/pipelines/examples
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

echo "== LOB rows ($ex/orgs.ndjson)"
cat "$ex/orgs.ndjson"
echo
echo "== transform -f lob-to-twin.jq  (twin upserts, ADT import-file line shape)"
transform -f "$ex/lob-to-twin.jq" --dead-letter "$work/dlq.ndjson" "$ex/orgs.ndjson" || true
echo
echo "== the same rows through the reference design's mapping file"
transform -m "$ex/org-mapping.json" --dead-letter "$work/dlq2.ndjson" "$ex/orgs.ndjson" || true
echo
echo "== dead letters (re-drive with: jq -c .record dlq.ndjson | transform ...)"
cat "$work/dlq.ndjson" "$work/dlq2.ndjson"
