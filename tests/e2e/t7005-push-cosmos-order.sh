#!/usr/bin/env bash
# push-cosmos applies IoT Hub partial twin updates leaf by leaf: whatever
# the order the events arrive in (shuffled, replayed, two writers racing),
# the documents end as the events folded in version order would, computed
# here independently with jq (RFC 7396, nulls remove). A tombstone keeps
# the late updates of a deleted device out; with "$time" a device created
# again starts a new generation, and the late events of the old one stay
# out whatever their versions.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"
. "$TP_TOP/tests/e2e/lib-push-cosmos.sh"

pcos_start || exit 1

# gen PREFIX DEVICES VERSIONS SEED: per device, versions 1..VERSIONS of
# partial updates of 1 to 4 leaves among different, overlapping and nested
# paths (a value replacing an object, an object replacing a value, nulls);
# version 1 of every other device is a whole twin (createDeviceIdentity).
gen() {
	awk -v pre="$1" -v D="$2" -v V="$3" -v seed="$4" 'BEGIN {
		srand(seed)
		for (d = 1; d <= D; d++)
			for (v = 1; v <= V; v++) {
				printf "%s %d %d", pre, d, v
				for (n = 1 + int(rand() * 4); n > 0; n--)
					printf " %d", int(rand() * 1000)
				print ""
			}
	}' | jq -Rc '
	def isprefix($a; $b): ($a | length) <= ($b | length) and $b[0:($a | length)] == $a;
	split(" ") as $f | "\($f[0])\($f[1])" as $id | ($f[1] | tonumber) as $d |
	($f[2] | tonumber) as $v |
	[["properties","reported","a"], ["properties","reported","b"],
	 ["properties","reported","n","x"], ["properties","reported","n","y"],
	 ["properties","reported","n","m","p"], ["properties","reported","n"],
	 ["properties","desired","t"], ["properties","desired","u","w"],
	 ["tags","site"], ["properties","reported","n","m"]] as $paths |
	[$v, null, "s\($v)", [$v, $d], {k: $v}, null, {q: null, r: $v}] as $vals |
	if $v == 1 and $d % 2 == 1 then
		{"$op": "upsert", id: $id, deviceId: $id, "$version": 1, status: "enabled",
		 tags: {site: "a"}, properties: {desired: {t: 0}, reported: {a: 0,
		 n: {x: 0, m: {p: 0, q: 0}}}}}
	else
		reduce ($f[3:][] | tonumber) as $r ({p: [], o: {}};
			$paths[$r % ($paths | length)] as $p |
			if any(.p[]; isprefix(.; $p) or isprefix($p; .)) then .
			else .p += [$p] | .o |= setpath($p; $vals[($r / 10 | floor) % ($vals | length)])
			end)
		| {"$op": "merge", id: $id, deviceId: $id, "$version": $v} + .o
	end'
}
# the documents the events folded in version order give (one a line)
FOLD='def mp($t; $p): if ($p | type) == "object" then
		reduce ($p | to_entries[]) as $e (if ($t | type) == "object" then $t else {} end;
			if $e.value == null then del(.[$e.key]) else .[$e.key] = mp(.[$e.key]; $e.value) end)
	else $p end;
	[inputs] | group_by(.id)[] | unique_by(.["$version"]) |
	reduce .[] as $e (null; ($e | del(.["$op"], .["$version"])) as $b |
		if $e["$op"] == "upsert" then $b else mp(.; $b) end)
	| tojson'
# shuffle FILE: its lines and every fifth line again, in a fixed random order
shuffle() {
	{ cat "$1"; awk 'NR % 5 == 0' "$1"; } | shuf --random-source=<(yes 7)
}
# docs PREFIX: the stored documents of PREFIX without our system fields
docs() {
	cos_docs | jq -cS --arg p "$1" 'select(.id | startswith($p)) | del(._v, ._lv)'
}

test_expect_success 'create the container' '
	pcos --create-container </dev/null 2>err
'
test_expect_success 'the generator covers what it should' '
	gen s 3 12 1 >ev &&
	jq -se "any(.[]; .\"\$op\" == \"upsert\") and any(.[]; .. == null) and
		any(.[]; .properties.reported.n | type == \"number\") and
		any(.[]; .properties.reported.n.m.p != null)" ev >/dev/null
'
test_expect_success 'shuffled partial updates with replays end in the in-order fold' '
	gen d 24 14 42 >ev && test_lines 336 ev &&
	jq -nr "$FOLD" ev | jq -cS . >expect && test_lines 24 expect &&
	shuffle ev >in && test_lines 403 in &&
	! cmp -s ev in &&
	pcos --concurrency 16 <in >out 2>err &&
	test_lines 403 out && jq -se "all(.[]; .ok)" out >/dev/null &&
	stale=$(jq -s "map(select(.stale)) | length" out) &&
	test "$stale" -ge 67 &&
	docs d >actual &&
	test_cmp expect actual
'
test_expect_success 'the documents keep the leaf versions, not one version' '
	cos_docs | jq -se "map(select(.id | startswith(\"d\"))) | all(.[]; ._v == 14) and
		any(.[]; ._lv | length > 3) and all(.[]; ._lv | all(.[]; . <= 14))" >/dev/null
'
test_expect_success 'the same events again are all stale: one read each, no write' '
	pcos --concurrency 16 <in >out2 2>err2 &&
	test "$(jq -s "map(select(.stale)) | length" out2)" = 403 &&
	test_grep "requests=403 " err2 &&
	docs d >actual2 && test_cmp expect actual2
'
test_expect_success 'two writers racing on the same devices end in the in-order fold' '
	gen r 8 16 9 >rev &&
	jq -nr "$FOLD" rev | jq -cS . >rexpect &&
	shuffle rev >rin &&
	awk "NR % 2" rin >rin1 && awk "NR % 2 == 0" rin >rin2 &&
	{ pcos --concurrency 8 <rin1 >rout1 2>rerr1 & p1=$!; } &&
	pcos --concurrency 8 <rin2 >rout2 2>rerr2 &&
	wait $p1 &&
	cat rout1 rout2 | jq -se "all(.[]; .ok)" >/dev/null &&
	docs r >ractual &&
	test_cmp rexpect ractual
'
test_expect_success 'with --tombstones a late update of a deleted device stays out' '
	m() { echo "{\"\$op\":\"merge\",\"id\":\"t1\",\"deviceId\":\"t1\",\"\$version\":$1,$2}"; } &&
	{ m 1 "\"a\":1,\"n\":{\"x\":1}" && m 2 "\"b\":2" &&
	  echo "{\"\$op\":\"delete\",\"id\":\"t1\",\"deviceId\":\"t1\",\"\$version\":4}" &&
	  m 3 "\"c\":3" && m 5 "\"n\":{\"y\":5}" && m 3 "\"c\":3" && m 2 "\"d\":2"; } >tin &&
	pcos --tombstones <tin >tout &&
	jq -se "[.[] | .stale // false] == [false,false,false,true,false,true,true]" tout &&
	cos_doc_is t1 ". == {id:\"t1\",deviceId:\"t1\",n:{y:5},_v:5,_lv:{\"\":4,\"/n/y\":5}}"
'
# ev ID OP VERSION TIME [JSON-MEMBERS]: one record with "$time"
ev() {
	echo "{\"\$op\":\"$2\",\"id\":\"$1\",\"deviceId\":\"$1\",\"\$version\":$3,\"\$time\":\"2026-01-01T$4Z\"${5:+,$5}}"
}
test_expect_success 'with --tombstones and $time a device created again starts a generation; without, it stays deleted' '
	{ ev g1 upsert 1 10:00:00 "\"a\":1" && ev g1 merge 2 10:01:00 "\"b\":2" &&
	  ev g1 merge 7 10:02:00 "\"c\":7" && ev g1 delete 8 10:03:00.5 &&
	  ev g1 merge 2 11:01:00 "\"b\":\"new\"" && ev g1 merge 7 10:02:00 "\"c\":7" &&
	  ev g1 upsert 1 11:00:00 "\"a\":\"new\",\"b\":0" &&
	  ev g1 merge 5 10:02:30 "\"d\":5" && ev g1 delete 8 10:03:00.5; } >gin &&
	pcos --tombstones <gin >gout &&
	jq -se "[.[] | .stale // false] == [false,false,false,false,false,true,false,true,true]" gout &&
	cos_doc_is g1 "del(._lv) == {id:\"g1\",deviceId:\"g1\",a:\"new\",b:\"new\",_v:2,
		_gen:\"2026-01-01T10:03:00.500000001Z\"}" &&
	ev g1 delete 3 12:00:00 | pcos --tombstones >gout2 &&
	cos_doc_is g1 ". == {id:\"g1\",deviceId:\"g1\",_v:3,_deleted:true,
		_deleted_at:\"2026-01-01T12:00:00Z\"}" &&
	jq -c "del(.[\"\$time\"]) | .id = \"g3\" | .deviceId = \"g3\"" gin |
		pcos --tombstones >gout3 &&
	jq -se "[.[] | .stale // false] == [false,false,false,false,true,true,true,true,true]" gout3 &&
	cos_doc_is g3 ". == {id:\"g3\",deviceId:\"g3\",_v:8,_deleted:true}"
'
test_expect_success 'without tombstones, $time keeps the old generation out of the new' '
	{ ev g2 upsert 1 10:00:00 "\"a\":1" && ev g2 delete 3 10:03:00 &&
	  ev g2 upsert 1 11:00:00 "\"a\":\"new\"" && ev g2 merge 7 10:02:00 "\"c\":7" &&
	  ev g2 merge 2 11:00:01 "\"b\":2" && ev g2 merge 3 11:00:00 "\"e\":3"; } >hin &&
	pcos <hin >hout &&
	jq -se "[.[] | .stale // false] == [false,false,false,true,false,false]" hout &&
	cos_doc_is g2 "del(._lv) == {id:\"g2\",deviceId:\"g2\",a:\"new\",b:2,e:3,_v:3,
		_gen:\"2026-01-01T11:00:00Z\"}" &&
	ev g2 merge 3 junk | test_expect_code 1 pcos >hout2 &&
	jq -e ".error.code == \"bad_time\"" hout2
'
test_done
