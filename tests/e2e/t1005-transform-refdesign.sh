#!/usr/bin/env bash
# transform -m with the reference design's own mapping format: JSON Pointer
# Targets, the twin id from $FILENAME, patches of existing twins when the
# mapping names no model.
. "$(dirname "$0")/../lib.sh"
test_require jq "to check the output" || { test_done; exit 1; }

FIX=$TP_TOP/tests/fixtures/refdesign

mkdir in &&
printf '%s\n' '{"Division":"electgen","Headcount":"12","Certified":"True"}' >in/org1.json &&
printf '%s\n' '{"Division":"water","Headcount":7}' >in/org2 &&
printf '%s\n' '{"Division":"gas","Headcount":"many"}' >in/org3.json

test_expect_success 'leading-slash Targets, $FILENAME id, no model: one add per entry' '
	test_expect_code 1 transform -m "$FIX/plants-mapping.json" --dead-letter dl in/org1.json in/org2 in/org3.json >out 2>err &&
	cat >expect <<-\EOF &&
	{"$dtId":"org1","$op":"patch","$patch":[{"op":"add","path":"/AssetId","value":"org1"},{"op":"add","path":"/Name","value":"electgen"},{"op":"add","path":"/Staff","value":12},{"op":"add","path":"/Certified","value":true}]}
	{"$dtId":"org2","$op":"patch","$patch":[{"op":"add","path":"/AssetId","value":"org2"},{"op":"add","path":"/Name","value":"water"},{"op":"add","path":"/Staff","value":7}]}
	EOF
	test_cmp expect out &&
	test_grep "org3.json:1: .*\"Headcount\" to \"/Staff\": \"many\" is not a number" err &&
	test_lines 1 dl
'

test_expect_success '_meta.src.file names the twin (extension dropped, directories too)' '
	echo "{\"Division\":\"d\",\"_meta\":{\"src\":{\"file\":\"inputfiles/2026/plant-9.json\"}}}" |
	transform -m "$FIX/plants-mapping.json" >out &&
	jq -e ".\"\$dtId\" == \"plant-9\" and .\"\$patch\"[0].value == \"plant-9\"" out
'

test_expect_success 'no $dtId entry and no file name: each record fails, dead-lettered, the run goes on' '
	printf "%s\n" "{\"Division\":\"a\"}" "not json" "{\"Division\":\"b\",\"_meta\":{\"src\":{\"file\":\"x/org5.json\"}}}" >nofile.ndjson &&
	test_expect_code 1 transform -m "$FIX/plants-mapping.json" --dead-letter dl2 <nofile.ndjson >out 2>err &&
	test_lines 1 out && jq -e ".\"\$dtId\" == \"org5\"" out &&
	test_grep "<stdin>:1: .*no twin id: the mapping has no \\\$dtId entry and the record has no file name" err &&
	test_lines 2 dl2 &&
	! grep "\"\\\$dtId\":\"\"" out
'

test_expect_success 'a $dtId entry that gives no value fails the record (never an empty id)' '
	cat >idmap.json <<-\EOF &&
	{"model":"dtmi:m;1","mapping":[{"Source":"id","Target":"$dtId"},{"Source":"n","Target":"/n"}]}
	EOF
	printf "%s\n" "{\"id\":\"a\",\"n\":1}" "{\"n\":2}" "{\"id\":\"\",\"n\":3}" >ids.ndjson &&
	for fp in "" --no-fast-path; do
		test_expect_code 1 transform $fp -m idmap.json ids.ndjson >out 2>err &&
		test_lines 1 out && test_grep "ids.ndjson:2: .*no twin id: the \\\$dtId entry gave no value" err &&
		test_grep "ids.ndjson:3: .*no twin id" err || return 1
	done
'

test_expect_success 'JSON Pointers: nested, ~1 and ~0 unescaped; with a model, upsert objects' '
	cat >ptr.json <<-\EOF &&
	{"model":"dtmi:m;1","mapping":[
	 {"Source":"lat","Target":"/location/lat","TargetType":"double"},
	 {"Source":"lon","Target":"location/lon","TargetType":"double"},
	 {"Source":"s","Target":"/a~1b~0c"},
	 {"Source":"$FILENAME","Target":"/file"}]}
	EOF
	echo "{\"lat\":\"1.5\",\"lon\":2,\"s\":\"x\"}" >site-3.ndjson &&
	transform -m ptr.json site-3.ndjson >out &&
	echo "{\"\$dtId\":\"site-3\",\"location\":{\"lat\":1.5,\"lon\":2},\"a/b~c\":\"x\",\"file\":\"site-3\",\"\$metadata\":{\"\$model\":\"dtmi:m;1\"}}" >expect &&
	test_cmp expect out &&
	jq "del(.model)" ptr.json >ptrp.json &&
	transform -m ptrp.json site-3.ndjson >out &&
	jq -e -c ".\"\$patch\" | map(.path) == [\"/location/lat\",\"/location/lon\",\"/a~1b~0c\",\"/file\"]" out
'

test_expect_success 'a Target that is not a valid JSON Pointer is a load error naming the entry' '
	for t in "/a~2" "/a~" "/" "/a//b" "a//b"; do
		jq -n --arg t "$t" "{mapping:[{Source:\"x\",Target:\"/ok\"},{Source:\"y\",Target:\$t}]}" >badp.json &&
		test_expect_code 2 transform -m badp.json </dev/null 2>err &&
		test_grep "entry 2: Target .* is not a valid JSON Pointer" err || return 1
	done
'

test_expect_success 'every TargetType name the reference accepts loads; unknown ones are refused' '
	for t in string boolean double float integer int dateTime date duration; do
		jq -n --arg t "$t" "{mapping:[{Source:\"x\",Target:\"/p\",TargetType:\$t}]}" >tt.json &&
		transform -m tt.json </dev/null || return 1
	done &&
	jq -n "{mapping:[{Source:\"x\",Target:\"/p\",TargetType:\"decimal\"}]}" >tt.json &&
	test_expect_code 2 transform -m tt.json </dev/null 2>err && test_grep "unknown TargetType" err
'

test_expect_success '--print-program says patch or upsert, and jq runs it to the same output' '
	transform -m "$FIX/plants-mapping.json" --print-program >prog.txt &&
	test_grep "^# mapping: patch of existing twins" prog.txt &&
	test_grep "twin id: \\\$FILENAME" prog.txt &&
	transform -m ptr.json --print-program >prog2.txt && test_grep "^# mapping: upsert" prog2.txt &&
	grep -v "^# run with" prog.txt >prog.jq &&
	m=$(sed -n "s/^# run with: --argjson tp_mapping .\(.*\). --arg tp_now.*/\1/p" prog.txt) &&
	TWINPIPE_INPUT_FILE=in/org1.json jq -c -f prog.jq --argjson tp_mapping "$m" --arg tp_now x in/org1.json >jq.out &&
	transform -m "$FIX/plants-mapping.json" in/org1.json >tf.out &&
	test_cmp jq.out tf.out
'

test_expect_success 'the native mapping equals libjq for patch mappings on varied rows' '
	cat >map3.json <<-\EOF &&
	{"mapping":[
	 {"Source":"$FILENAME","Target":"/AssetId"},
	 {"Source":"s","Target":"/Name","TargetType":"string"},
	 {"Source":"b","Target":"/On","TargetType":"boolean"},
	 {"Source":"i","Target":"/n/i","TargetType":"integer"},
	 {"Source":"d","Target":"/x~1y","TargetType":"double"},
	 {"Source":"id","Target":"$dtId"}]}
	EOF
	for v in "\"x\"" "\"\"" null true 0 1 2.5 "\"1\"" "\"YES\"" "\" 12 \"" "[1]" "{\"a\":1}" "\"q\\\"uote\""; do
		for f in s b i d id; do
			for meta in "" ",\"_meta\":{\"src\":{\"file\":\"/a/b.c.json\"}}" ",\"_meta\":{\"src\":{\"file\":\"\"}}"; do
				echo "{\"$f\":$v$meta}"
			done
		done
	done >rows.ndjson &&
	jq "del(.mapping[5])" map3.json >map4.json &&
	for m in map3 map4; do
		transform --stats none -m $m.json rows.ndjson >fast.$m 2>fast.err.$m
		transform --stats none --no-fast-path -m $m.json rows.ndjson >slow.$m 2>slow.err.$m
		test_cmp slow.$m fast.$m && test_cmp slow.err.$m fast.err.$m || return 1
	done &&
	test $(wc -l <fast.map3) -gt 20 && test $(wc -l <fast.map4) -gt 60 &&
	test_grep "no twin id" fast.err.map3 && test_grep "no twin id" fast.err.map4
'
test_done
