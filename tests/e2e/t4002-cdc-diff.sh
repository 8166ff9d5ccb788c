#!/usr/bin/env bash
# cdc-filter --diff: updates become ADT JSON Patches; applied to the old
# document by an independent RFC 6902 implementation (written in jq here)
# they give the new document.
. "$(dirname "$0")/../lib.sh"

test_require jq "the independent JSON Patch implementation" || { test_done; exit 1; }

ack='if ._meta.cdc then {ok:true,op:"upsert",id:.["$dtId"],status:200,attempts:1,_meta} else . end'

# RFC 6902 add/remove/replace (strict: remove and replace need the target,
# add needs the parent), RFC 6901 pointers with ~0/~1
cat >apply.jq <<'JQ'
def ptr: if . == "" then [] else
	(if startswith("/") then .[1:] else error("bad pointer \(.)") end)
	| . + "/" | split("/") | .[:-1] | map(gsub("~1"; "/") | gsub("~0"; "~")) end;
def has_path($p): ($p | length) == 0 or
	(getpath($p[:-1]) | type == "object" and has($p[-1]));
def parent_ok($p): ($p | length) > 0 and (getpath($p[:-1]) | type == "object");
def apply($ops): reduce $ops[] as $o (.;
	($o.path | ptr) as $p |
	if $o.op == "add" then
		if parent_ok($p) then setpath($p; $o.value) else error("add: no parent for \($o.path)") end
	elif $o.op == "replace" then
		if has_path($p) then setpath($p; $o.value) else error("replace: no \($o.path)") end
	elif $o.op == "remove" then
		if has_path($p) then delpaths([$p]) else error("remove: no \($o.path)") end
	else error("unexpected op \($o.op)") end);
JQ

cat >old <<'EOF2'
{"$dtId":"t1","$metadata":{"$model":"dtmi:x:T;1"},"a":1,"b":"x","gone":true,"o":{"p":1,"q/r":2,"t~":3,"deep":{"x":[1,2],"y":{"z":null}}},"arr":[1,{"k":2}],"":"empty"}
{"$dtId":"t2","a":{"b":1},"s":"é€😀"}
{"$dtId":"t3","a":1,"b":2,"c":3}
{"$dtId":"t4","x":[1,2,3],"y":{"a":1}}
{"$dtId":"t5","same":1,"n":1.5}
{"$dtId":"t6","~/":{"/~":1},"keep":0}
EOF2
cat >new <<'EOF2'
{"$dtId":"t1","$metadata":{"$model":"dtmi:x:T;2"},"a":2,"b":"x","o":{"p":1,"q/r":20,"new~/":4,"deep":{"x":[1,2,3],"y":{"z":0,"w":"w"}}},"arr":[1,{"k":3}],"":"still","added":{"n":[]}}
{"$dtId":"t2","a":[1],"s":"é€😀!"}
{"$dtId":"t3","c":3}
{"$dtId":"t4","x":{"0":1},"y":5}
{"$dtId":"t5","same":1,"n":1.5}
{"$dtId":"t6","~/":{"/~":2,"":3},"keep":0}
EOF2

test_expect_success 'setup: the old documents are acknowledged with --diff' '
	cdc-filter --state s.db --diff old >out && test_lines 6 out &&
	! grep -q "\"\$op\"" out &&
	jq -c "del(._meta)" out >got && test_cmp old got &&
	transform -c "$ack" out | cdc-filter --state s.db --commit >/dev/null &&
	sqlite3 s.db "SELECT doc FROM cdc_state WHERE key = \"t3\"" >got &&
	echo "{\"\$dtId\":\"t3\",\"a\":1,\"b\":2,\"c\":3}" >expect && test_cmp expect got
'

test_expect_success 'updates are JSON Patches of exactly the changed properties' '
	cdc-filter --state s.db --diff new >out 2>err &&
	test_lines 5 out && test_grep "unchanged=1 inserted=0 updated=5" err &&
	jq -e "all(.[\"\$op\"] == \"patch\" and (.[\"\$patch\"] | type == \"array\"))" -s out >/dev/null &&
	jq -c "select(.[\"\$dtId\"] == \"t3\") | .[\"\$patch\"]" out >got &&
	echo "[{\"op\":\"remove\",\"path\":\"/a\"},{\"op\":\"remove\",\"path\":\"/b\"}]" >expect &&
	test_cmp expect got &&
	jq -r "select(.[\"\$dtId\"] == \"t6\") | .[\"\$patch\"][].path" out >got &&
	printf "/~0~1/\n/~0~1/~1~0\n" >expect && test_cmp expect got &&
	jq -r "select(.[\"\$dtId\"] == \"t1\") | .[\"\$patch\"][] | .op + \" \" + .path" out >got &&
	cat >expect <<-\EOT &&
	replace /
	replace /$metadata/$model
	replace /a
	add /added
	replace /arr
	remove /gone
	replace /o/deep/x
	add /o/deep/y/w
	replace /o/deep/y/z
	add /o/new~0~1
	replace /o/q~1r
	remove /o/t~0
	EOT
	test_cmp expect got
'

test_expect_success 'each patch applied to the old document gives the new one (jq RFC 6902)' '
	while read -r line; do
		id=$(printf "%s\n" "$line" | jq -r ".[\"\$dtId\"]") &&
		grep -F "\"\$dtId\":\"$id\"" old >o1 &&
		grep -F "\"\$dtId\":\"$id\"" new | jq -S -c . >want &&
		printf "%s\n" "$line" | jq -c ".[\"\$patch\"]" >ops &&
		jq -S -c --slurpfile ops ops "include \"apply\"; apply(\$ops[0])" -L . o1 >got &&
		test_cmp want got || exit 1
	done <out
'

test_expect_success 'the new document travels in _meta.cdc.doc and is committed' '
	transform -c "$ack" out | cdc-filter --state s.db --commit >/dev/null &&
	cdc-filter --state s.db --diff new >again && test_lines 0 again &&
	sqlite3 s.db "SELECT doc FROM cdc_state WHERE key = \"t3\"" >got &&
	echo "{\"\$dtId\":\"t3\",\"c\":3}" >expect && test_cmp expect got
'

test_expect_success 'a change a patch cannot express sends the whole record' '
	echo "{\"\$dtId\":\"a\",\"\$relationshipId\":\"r\",\"\$targetId\":\"b\",\"\$relationshipName\":\"has\",\"w\":1}" >r1 &&
	echo "{\"\$dtId\":\"a\",\"\$relationshipId\":\"r\",\"\$targetId\":\"c\",\"\$relationshipName\":\"has\",\"w\":1}" >r2 &&
	cdc-filter --state r.db --diff --key ".[\"\$relationshipId\"]" r1 | transform -c "$ack" |
		cdc-filter --state r.db --commit >/dev/null &&
	cdc-filter --state r.db --diff --key ".[\"\$relationshipId\"]" r2 >out &&
	jq -c "del(._meta)" out >got && test_cmp r2 got &&
	jq -r "._meta.cdc.change" out >got && echo update >expect && test_cmp expect got
'

test_expect_success 'without a stored document (committed without --diff) updates are whole' '
	cdc-filter --state n.db old | transform -c "$ack" | cdc-filter --state n.db --commit >/dev/null &&
	cdc-filter --state n.db --diff new >out && test_lines 5 out &&
	! grep -q "\$patch" out
'

test_expect_success 'patches of a patch-relationship carry $relationshipId' '
	echo "{\"\$dtId\":\"a\",\"\$relationshipId\":\"r\",\"\$targetId\":\"b\",\"\$relationshipName\":\"has\",\"w\":2}" >r3 &&
	cdc-filter --state r.db --diff --key ".[\"\$relationshipId\"]" r3 >out &&
	jq -c "del(._meta)" out >got &&
	echo "{\"\$dtId\":\"a\",\"\$relationshipId\":\"r\",\"\$op\":\"patch\",\"\$patch\":[{\"op\":\"replace\",\"path\":\"/w\",\"value\":2}]}" >expect &&
	test_cmp expect got
'

test_done
