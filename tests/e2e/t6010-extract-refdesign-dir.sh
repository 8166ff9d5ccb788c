#!/usr/bin/env bash
# The reference design's files run unchanged: its mapping format over a
# directory of per-twin files, extract-lob -> transform -m -> push-adt into
# twin-emulator; the twins exist beforehand and each is patched exactly as
# the reference's custom activity would patch it; a missing twin is
# dead-lettered and the run goes on.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-adt.sh"
test_require jq "to check twins" || { test_done; exit 1; }

FIX=$TP_TOP/tests/fixtures/refdesign
padt_start || exit 1

adt POST /models '[{"@id":"dtmi:t:Plant;1","@type":"Interface","contents":[
	{"@type":"Property","name":"AssetId","schema":"string"},
	{"@type":"Property","name":"Name","schema":"string"},
	{"@type":"Property","name":"Staff","schema":"integer"},
	{"@type":"Property","name":"Certified","schema":"boolean"},
	{"@type":"Property","name":"Region","schema":"string"}]}]' >models.out

test_expect_success 'the twins exist beforehand (created by someone else)' '
	for id in plant-01 plant-02 plant-03 plant-04; do
		adt PUT "/digitaltwins/$id" "{\"\$metadata\":{\"\$model\":\"dtmi:t:Plant;1\"},\"Name\":\"old\",\"Region\":\"north\"}" >put.out &&
		jq -e ".\"\$dtId\" == \"$id\"" put.out || return 1
	done
'

test_expect_success 'transform -m emits, per file, the patch the reference activity sends' '
	extract-lob "json:$FIX/plants" >rows 2>ex.err &&
	test_lines 6 rows &&
	transform -m "$FIX/plants-mapping.json" rows >ops 2>tf.err &&
	test_lines 6 ops &&
	for f in "$FIX"/plants/*; do
		base=$(basename "$f") && id=${base%.json} &&
		jq -c --arg file "$id" --slurpfile map "$FIX/plants-mapping.json" -f "$FIX/reference-patch.jq" "$f" >want &&
		jq -c --arg id "$id" "select(.\"\$dtId\" == \$id) | .\"\$patch\"" ops >got &&
		test_cmp want got &&
		test "$(jq -r --arg id "$id" "select(.\"\$dtId\" == \$id) | .\"\$op\"" ops)" = patch || return 1
	done
'

test_expect_success 'the pipeline patches the existing twins, dead-letters the missing one' '
	extract-lob "json:$FIX/plants" --dead-letter ex.dl |
		transform -m "$FIX/plants-mapping.json" --dead-letter tf.dl |
		test_expect_code 1 padt --dead-letter push.dl >results 2>push.err &&
	jq -se "[.[] | select(.id)] | length == 5" results &&
	jq -se "[.[] | select(.ok)] | length == 4" results &&
	jq -se ".[] | select(.id == \"plant-99\") | (.ok | not) and .status == 404 and .error.code == \"DigitalTwinNotFound\"" results &&
	test_lines 1 push.dl && jq -e ".record[\"\$dtId\"] == \"plant-99\"" push.dl &&
	test "$(adt_count "WHERE \$dtId = '"'"'plant-99'"'"'")" = 0
'

test_expect_success 'each twin now holds what the reference would have written, others keep theirs' '
	for f in "$FIX"/plants/plant-0*; do
		base=$(basename "$f") && id=${base%.json} &&
		adt_twin "$id" >twin.json &&
		jq -c --arg file "$id" --slurpfile map "$FIX/plants-mapping.json" -f "$FIX/reference-patch.jq" "$f" >p &&
		jq -e --slurpfile p p ". as \$t | reduce \$p[0][] as \$o (true; . and ((\$t | getpath(\$o.path | ltrimstr(\"/\") | split(\"/\"))) == \$o.value))" twin.json >/dev/null &&
		jq -e ".Region == \"north\" and .AssetId == \"$id\"" twin.json >/dev/null || return 1
	done &&
	test "$(adt_twin plant-03 | jq -r .Name)" = "gas & oil" &&
	test "$(adt_twin plant-03 | jq .Staff)" = 310 &&
	test "$(adt_twin plant-02 | jq .Certified)" = false
'

test_expect_success 'a glob of the same files is the same source, in name order' '
	extract-lob "json:$FIX/plants/plant-0*" >g.rows &&
	jq -r "._meta.src.file // empty" g.rows | xargs -n1 basename >names &&
	printf "%s\n" plant-01 plant-02.json plant-03.json plant-04 >want &&
	test_cmp want names &&
	tail -n 1 g.rows | jq -e "._meta.control == \"snapshot-complete\" and ._meta.records == 4"
'

test_expect_success 'pipelines/lob-to-adt runs it: LOB_SOURCE a directory, TRANSFORM the mapping file' '
	adt PATCH /digitaltwins/plant-04 "[{\"op\":\"add\",\"path\":\"/Name\",\"value\":\"changed\"}]" &&
	LOB_SOURCE="json:$FIX/plants" TRANSFORM="$FIX/plants-mapping.json" \
		STATE=$PWD/pl.db WORK=$PWD/work ADT_ENDPOINT=$EMU_URL \
		ADT_OPTIONS="--cacert $TEST_DIR/cert.pem" \
		test_expect_code 1 "$TP_TOP/pipelines/lob-to-adt" 2>pl.err &&
	test_grep "push-adt exited 1" pl.err &&
	jq -e ".record[\"\$dtId\"] == \"plant-99\"" work/push.dlq.ndjson &&
	test "$(adt_twin plant-04 | jq -r .Name)" = wind &&
	test "$(adt_count)" = 4
'
test_done
