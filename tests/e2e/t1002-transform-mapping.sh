#!/usr/bin/env bash
# transform -m: the reference design's mapping file.
. "$(dirname "$0")/../lib.sh"
test_require jq "the reference for the printed program" || { test_done; exit 1; }

cat >map.json <<'IN'
{"model": "dtmi:test:Org;1", "mapping": [
 {"Source": "$FILENAME", "Target": "$dtId", "TargetType": "string"},
 {"Source": "Name", "Target": "name", "TargetType": "String"},
 {"Source": "Cap", "Target": "capacity", "TargetType": "int"},
 {"Source": "Ratio", "Target": "ratio", "TargetType": "double"},
 {"Source": "On", "Target": "active", "TargetType": "boolean"},
 {"Source": "When", "Target": "since", "TargetType": "dateTime"},
 {"Source": "Day", "Target": "day", "TargetType": "date"},
 {"Source": "Dur", "Target": "every", "TargetType": "duration"},
 {"Source": "Lat", "Target": "location/lat", "TargetType": "float"}
]}
IN
cat >org-42.ndjson <<'IN'
{"Name":"Plant","Cap":"12","Ratio":"0.25","On":"YES","When":"2024-01-02 03:04:05","Day":"2024-02-29","Dur":"PT15M","Lat":"47.5"}
{"Name":"","Cap":"","Ratio":null,"On":"0","When":"2024-01-02T03:04:05+02:00"}
{"Name":7,"Cap":3,"On":false,"Dur":"P1Y2M3DT4H5M6.5S"}
{"Name":"x","Cap":"1.5"}
{"Name":"x","On":"maybe"}
{"Name":"x","When":"02/01/2024"}
{"Name":"x","Dur":"P"}
{"Name":"x","Day":"2024-13-01"}
{"Name":"x","Ratio":"12abc"}
IN

test_expect_success 'conversions, omitted empties, $FILENAME and model' '
	test_expect_code 1 transform -m map.json org-42.ndjson >out 2>err &&
	cat >expect <<-\EOF &&
	{"$dtId":"org-42","name":"Plant","capacity":12,"ratio":0.25,"active":true,"since":"2024-01-02T03:04:05Z","day":"2024-02-29","every":"PT15M","location":{"lat":47.5},"$metadata":{"$model":"dtmi:test:Org;1"}}
	{"$dtId":"org-42","name":"","active":false,"since":"2024-01-02T03:04:05+02:00","$metadata":{"$model":"dtmi:test:Org;1"}}
	{"$dtId":"org-42","name":"7","capacity":3,"active":false,"every":"P1Y2M3DT4H5M6.5S","$metadata":{"$model":"dtmi:test:Org;1"}}
	EOF
	test_cmp expect out
'

test_expect_success 'conversion errors name the mapping and the value' '
	test_grep "org-42.ndjson:4: .*\"Cap\" to \"capacity\": \"1.5\" is not an integer" err &&
	test_grep "org-42.ndjson:5: .*\"maybe\" is not a boolean" err &&
	test_grep "org-42.ndjson:6: .*is not an ISO 8601 date-time" err &&
	test_grep "org-42.ndjson:7: .*is not an ISO 8601 duration" err &&
	test_grep "org-42.ndjson:8: .*is not an ISO 8601 date" err &&
	test_grep "org-42.ndjson:9: .*\"12abc\" is not a number" err
'

test_expect_success '_meta.src.file names $FILENAME when the record has it' '
	echo "{\"Name\":\"n\",\"_meta\":{\"src\":{\"file\":\"/x/site-7.csv\"}}}" |
	transform -m map.json >out &&
	jq -e ".\"\$dtId\" == \"site-7\" and ._meta.src.file == \"/x/site-7.csv\"" out
'

test_expect_success '--print-program gives a program jq runs to the same output' '
	transform -m map.json --print-program >prog.txt &&
	grep -v "^# run with" prog.txt >prog.jq &&
	m=$(sed -n "s/^# run with: --argjson tp_mapping .\(.*\). --arg tp_now.*/\1/p" prog.txt) &&
	head -3 org-42.ndjson >in3 &&
	TWINPIPE_INPUT_FILE=in3 jq -c -f prog.jq --argjson tp_mapping "$m" --arg tp_now x in3 >jq.out &&
	transform -m map.json in3 >tf.out &&
	test_cmp jq.out tf.out
'

test_expect_success 'bad mapping files are usage errors (exit 2)' '
	echo "{\"mapping\":[{\"Source\":\"a\",\"Target\":\"b\",\"TargetType\":\"uuid\"}]}" >bad1.json &&
	test_expect_code 2 transform -m bad1.json </dev/null 2>err && test_grep "unknown TargetType" err &&
	echo "{\"map\":[]}" >bad2.json &&
	test_expect_code 2 transform -m bad2.json </dev/null 2>err && test_grep "no \"mapping\" array" err &&
	echo "{" >bad3.json &&
	test_expect_code 2 transform -m bad3.json </dev/null 2>err && test_grep "invalid JSON" err &&
	test_expect_code 2 transform -m nope.json </dev/null 2>err &&
	test_expect_code 2 transform -m map.json -f x.jq </dev/null 2>err
'

test_expect_success 'the shipped example mapping equals the shipped jq program on the sample' '
	transform -m "$TP_TOP/pipelines/examples/org-mapping.json" "$TP_TOP/pipelines/examples/orgs.ndjson" 2>/dev/null | jq -cS "del(._meta)" >a || true
	transform -f "$TP_TOP/pipelines/examples/lob-to-twin.jq" "$TP_TOP/pipelines/examples/orgs.ndjson" 2>/dev/null | jq -cS . >b || true
	head -3 a >a3 && head -3 b >b3 && test_cmp a3 b3
'
test_expect_success 'the native mapping equals the jq program (libjq) on varied rows' '
	cat >map2.json <<-\EOF &&
	{"model": "dtmi:m;1", "mapping": [
	 {"Source": "id", "Target": "$dtId"},
	 {"Source": "$FILENAME", "Target": "file"},
	 {"Source": "$LINE", "Target": "line", "TargetType": "integer"},
	 {"Source": "$NOW", "Target": "now", "TargetType": "dateTime"},
	 {"Source": "s", "Target": "s", "TargetType": "string"},
	 {"Source": "b", "Target": "b", "TargetType": "boolean"},
	 {"Source": "d", "Target": "n/d", "TargetType": "double"},
	 {"Source": "i", "Target": "n/i", "TargetType": "integer"},
	 {"Source": "dt", "Target": "t/dt", "TargetType": "dateTime"},
	 {"Source": "da", "Target": "t/d", "TargetType": "date"},
	 {"Source": "p", "Target": "t/p", "TargetType": "duration"},
	 {"Source": "m", "Target": "$model"},
	 {"Source": "s", "Target": "s", "TargetType": "string"}
	]}
	EOF
	for v in "\"x\"" "\"\"" null true false 0 1 2.5 "\"1\"" "\"0\"" "\"YES\"" "\"n\"" "\" 12 \"" "\"1e3\"" "\"-0.50\"" \
		"\"007\"" "\"1.\"" "\"2024-02-29\"" "\"2024-02-30\"" "\"2024-13-01\"" "\"2024-01-02 03:04\"" \
		"\"2024-01-02T03:04:05.123z\"" "\"2024-01-02T03:04:05-0500\"" "\"2024-01-02T24:00\"" "\"2024-01-02T03:04:60\"" \
		"\"PT15M\"" "\"P1Y2M3W4DT5H6M7.5S\"" "\"P\"" "\"PT\"" "\"-P1D\"" "\"P1DT\"" "\"P1.5D\"" "[1]" "{\"a\":1}" \
		12345678901234567890 1.50 "\"tab\\there\"" "\"\\u00e9\""; do
		for f in s b d i dt da p; do
			for meta in "" ",\"_meta\":{\"src\":{\"file\":\"/a/b.c.csv\",\"row\":7}}" ",\"_meta\":{\"src\":{\"line\":false}}" ",\"_meta\":{\"src\":{\"file\":\"noext\"}}"; do
				for m in "" ",\"m\":\"dtmi:own;1\""; do
					echo "{\"id\":\"i\",\"$f\":$v$meta$m}"
				done
			done
		done
	done >rows.ndjson &&
	test_lines 2128 rows.ndjson &&
	transform --stats none -m map2.json rows.ndjson >fast.out 2>fast.err || true
	transform --stats none --no-fast-path -m map2.json rows.ndjson >slow.out 2>slow.err || true
	sed "s/\"now\":\"[^\"]*\"//" fast.out >f && sed "s/\"now\":\"[^\"]*\"//" slow.out >s &&
	test_cmp s f && test_cmp slow.err fast.err &&
	test $(wc -l <fast.out) -gt 400
'
test_done
