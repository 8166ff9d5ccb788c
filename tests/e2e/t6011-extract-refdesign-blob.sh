#!/usr/bin/env bash
# The reference design's files from where ADF leaves them: a Blob Storage
# container (Azurite), extract-lob blob: -> transform -m -> push-adt into
# twin-emulator; listing by pages in name order, prefixes, SharedKey and
# SAS, a failed listing announces no snapshot, --watermark last-modified.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-adt.sh"
. "$TP_TOP/tests/e2e/lib-azurite.sh"
test_require jq "to check twins" || { test_done; exit 1; }
test_require python3 "to upload blobs" || { test_done; exit 1; }

FIX=$TP_TOP/tests/fixtures/refdesign
PUT=$TP_TOP/tests/e2e/az-put.py
export AZ_KEY

az_begin || { test_done; exit 1; }
padt_start || exit 1

adt POST /models '[{"@id":"dtmi:t:Plant;1","@type":"Interface","contents":[
	{"@type":"Property","name":"AssetId","schema":"string"},
	{"@type":"Property","name":"Name","schema":"string"},
	{"@type":"Property","name":"Staff","schema":"integer"},
	{"@type":"Property","name":"Certified","schema":"boolean"},
	{"@type":"Property","name":"Region","schema":"string"}]}]' >models.out

test_expect_success 'the container holds one blob per twin, as ADF writes them' '
	python3 "$PUT" "$AZ_URL" inputfiles &&
	args=() &&
	for f in "$FIX"/plants/*; do args+=("$(basename "$f")" "$f"); done &&
	: >empty && args+=(_SUCCESS empty) &&
	python3 "$PUT" "$AZ_URL" inputfiles "${args[@]}"
'

test_expect_success 'the twins exist beforehand' '
	for id in plant-01 plant-02 plant-03 plant-04; do
		adt PUT "/digitaltwins/$id" "{\"\$metadata\":{\"\$model\":\"dtmi:t:Plant;1\"},\"Name\":\"old\",\"Region\":\"north\"}" >put.out || return 1
	done
'

test_expect_success 'blob: lists by pages in name order; empty blobs skipped; snapshot after the listing' '
	EXTRACT_BLOB_PAGE_SIZE=2 AZURE_STORAGE_KEY=$AZ_KEY extract-lob "blob:$AZ_URL/inputfiles" >rows 2>err &&
	jq -r "._meta.src.file // empty" rows >names &&
	printf "%s\n" plant-01 plant-02.json plant-03.json plant-04 plant-99.json >want &&
	test_cmp want names &&
	tail -n 1 rows | jq -e "._meta.control == \"snapshot-complete\" and ._meta.records == 5" &&
	test_grep "requests=8 " err
'

test_expect_success 'extract-lob blob: | transform -m | push-adt patches each twin as the reference would' '
	AZURE_STORAGE_KEY=$AZ_KEY extract-lob "blob:$AZ_URL/inputfiles" |
		transform -m "$FIX/plants-mapping.json" |
		test_expect_code 1 padt --dead-letter push.dl >results 2>push.err &&
	jq -se "[.[] | select(.ok)] | length == 4" results &&
	jq -e ".record[\"\$dtId\"] == \"plant-99\" and .error.code == \"DigitalTwinNotFound\"" push.dl &&
	for f in "$FIX"/plants/plant-0*; do
		base=$(basename "$f") && id=${base%.json} &&
		adt_twin "$id" >twin.json &&
		jq -c --arg file "$id" --slurpfile map "$FIX/plants-mapping.json" -f "$FIX/reference-patch.jq" "$f" >p &&
		jq -e --slurpfile p p ". as \$t | reduce \$p[0][] as \$o (true; . and ((\$t | getpath(\$o.path | ltrimstr(\"/\") | split(\"/\"))) == \$o.value))" twin.json >/dev/null &&
		jq -e ".Region == \"north\"" twin.json >/dev/null || return 1
	done
'

test_expect_success 'a prefix (CONTAINER/PREFIX on the connection string), names with & and spaces, SAS' '
	python3 "$PUT" "$AZ_URL" inputfiles "2026/12/plant 07&x.json" "$FIX/plants/plant-01" "2026/12/plant-08" "$FIX/plants/plant-04" &&
	AZURE_STORAGE_CONNECTION_STRING=$AZ_CS extract-lob blob:inputfiles/2026/12 >p.rows &&
	jq -r "._meta.src.file // empty" p.rows >names &&
	printf "%s\n" "2026/12/plant 07&x.json" "2026/12/plant-08" >want && test_cmp want names &&
	transform -m "$FIX/plants-mapping.json" p.rows | jq -r ".\"\$dtId\" // empty" >ids &&
	printf "%s\n" "plant 07&x" "plant-08" >want && test_cmp want ids &&
	AZURE_STORAGE_SAS_TOKEN=$(az_sas inputfiles rl) extract-lob "blob:$AZ_URL/inputfiles/2026" >s.rows 2>s.err &&
	jq -r "._meta.src.file // empty" s.rows >names2 && test_lines 2 names2 &&
	! grep -q "sig=" s.err
'

test_expect_success 'a listing that fails is fatal (exit 3) and announces no snapshot' '
	test_expect_code 3 env AZURE_STORAGE_KEY=$(printf "%064d" 0 | base64 -w0) \
		extract-lob "blob:$AZ_URL/inputfiles" >bad.rows 2>bad.err &&
	test_grep "listing container .inputfiles.: .*403" bad.err &&
	! grep -q snapshot-complete bad.rows &&
	test_expect_code 3 env AZURE_STORAGE_KEY=$AZ_KEY extract-lob "blob:$AZ_URL/nosuchcontainer" >bad.rows 2>bad.err &&
	test_grep "ContainerNotFound" bad.err && test_lines 0 bad.rows
'

# the clock second after the Last-Modified of blob NAME (an event, not a sleep)
lm_passed() {
	local lm
	lm=$(curl -sfI "$AZ_URL/inputfiles/$1?$(az_sas inputfiles r)" | sed -n "s/^Last-Modified: //Ip" | tr -d "\r")
	[ -n "$lm" ] && [ "$(date +%s)" -gt "$(date -d "$lm" +%s)" ]
}

test_expect_success '--watermark last-modified reads only blobs modified since the acknowledged ones' '
	test_wait_for 30 "lm_passed 2026/12/plant-08" &&
	python3 "$PUT" "$AZ_URL" inputfiles mid-1 "$FIX/plants/plant-02.json" &&
	AZURE_STORAGE_KEY=$AZ_KEY extract-lob "blob:$AZ_URL/inputfiles" --watermark last-modified \
		--state wm.db --name inputs >w1.rows &&
	test_lines 9 w1.rows &&
	tail -n 1 w1.rows | jq -e "._meta.control == \"watermark\"" &&
	jq -c "select(._meta.src) | {ok: true, _meta}" w1.rows >w1.results &&
	tail -n 1 w1.rows >>w1.results &&
	extract-lob -v --ack --state wm.db --watermark last-modified --name inputs w1.results >/dev/null 2>ack.err &&
	test_grep "watermark of .inputs. is now" ack.err &&
	test_wait_for 30 "lm_passed mid-1" &&
	python3 "$PUT" "$AZ_URL" inputfiles new-1 "$FIX/plants/plant-03.json" &&
	AZURE_STORAGE_KEY=$AZ_KEY extract-lob "blob:$AZ_URL/inputfiles" --watermark last-modified \
		--state wm.db --name inputs >w2.rows &&
	jq -r "._meta.src.file // empty" w2.rows >names &&
	printf "%s\n" mid-1 new-1 >want && test_cmp want names
'
test_expect_success 'pipelines/lob-to-adt with LOB_SOURCE=blob:... and the mapping file' '
	adt PATCH /digitaltwins/plant-01 "[{\"op\":\"add\",\"path\":\"/Name\",\"value\":\"changed\"}]" &&
	AZURE_STORAGE_CONNECTION_STRING=$AZ_CS LOB_SOURCE=blob:inputfiles \
		TRANSFORM="$FIX/plants-mapping.json" STATE=$PWD/pl.db WORK=$PWD/work \
		ADT_ENDPOINT=$EMU_URL ADT_OPTIONS="--cacert $TEST_DIR/cert.pem" \
		test_expect_code 1 "$TP_TOP/pipelines/lob-to-adt" 2>pl.err &&
	test "$(adt_twin plant-01 | jq -r .Name)" = electgen &&
	jq -s -e "map(.record[\"\$dtId\"]) | index(\"plant-99\") != null" work/push.dlq.ndjson &&
	test "$(adt_count)" = 4
'
test_done
