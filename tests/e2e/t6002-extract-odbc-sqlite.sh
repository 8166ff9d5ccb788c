#!/usr/bin/env bash
# extract-lob odbc: through unixODBC's SQLite driver: types, NULLs, the
# watermark bound as a parameter and advanced only past acknowledged
# records, errors.
. "$(dirname "$0")/../lib.sh"
test_require sqlite3 "the test database is made with sqlite3" || { test_done; exit 1; }

conn="odbc:Driver=SQLite3;Database=$TEST_DIR/t.db"
x() { extract-lob --run-id r1 "$@"; }
sqlite3 t.db "CREATE TABLE orgs(id INTEGER PRIMARY KEY, name TEXT, price NUMERIC,
	ratio REAL, active BOOLEAN, modified TIMESTAMP, img BLOB, note TEXT);
INSERT INTO orgs VALUES
	(1, 'Acme', 12.5, 0.25, 1, '2024-01-02 03:04:05', x'00ff10', 'x'),
	(2, 'Bé \"q\"', NULL, NULL, 0, '2024-01-03 00:00:00', NULL, NULL),
	(3, 'Big', 7, 1e300, 1, '2024-01-04 12:00:00.5', x'', ''),
	(4, 'Four', 5, 2, 0, '2024-01-05 00:00:00', NULL, 'q');"
wmq='SELECT id, modified FROM orgs WHERE modified > ? ORDER BY modified'

test_expect_success 'types: integers, numerics, REAL, bool, timestamps in UTC, base64, NULL' '
	x --query "SELECT * FROM orgs ORDER BY id" "$conn" >out &&
	sed "s/,\"_meta\".*//" out >got &&
	cat >expect <<-\EXP &&
	{"id":1,"name":"Acme","price":12.5,"ratio":0.25,"active":true,"modified":"2024-01-02T03:04:05.000000Z","img":"AP8Q","note":"x"
	{"id":2,"name":"Bé \"q\"","price":null,"ratio":null,"active":false,"modified":"2024-01-03T00:00:00.000000Z","img":null,"note":null
	{"id":3,"name":"Big","price":7,"ratio":1e+300,"active":true,"modified":"2024-01-04T12:00:00.500000Z","img":"","note":""
	{"id":4,"name":"Four","price":5,"ratio":2,"active":false,"modified":"2024-01-05T00:00:00.000000Z","img":null,"note":"q"
	{"_meta":{"control":"snapshot-complete","source":"odbc:Driver=SQLite3;Database=$TEST_DIR/t.db","run":"r1","records":4}}
	EXP
	sed -i "s|\$TEST_DIR|$TEST_DIR|" expect &&
	test_cmp expect got
'

test_expect_success 'a password in the connection string never shows in _meta' '
	x --query "SELECT 1 AS one" "$conn;PWD=hunter2" >out 2>err &&
	! grep -q hunter2 out err && test_grep "PWD=\*\*\*" out
'

test_expect_success 'watermark: first run from --watermark-start, no snapshot but a watermark record' '
	x --state s.db --name orgs --watermark modified --watermark-start "\"2024-01-02T12:00:00\"" \
		--query "$wmq" "$conn" >out1 &&
	jq -r "select(.id) | .id" out1 >ids && printf "2\n3\n4\n" >expect && test_cmp expect ids &&
	! grep -q snapshot-complete out1 &&
	tail -n 1 out1 | jq -e "._meta.control == \"watermark\" and ._meta.records == 3" &&
	jq -s -e "map(select(.id == 2))[0]._meta.src.wm == \"2024-01-03T00:00:00.000000Z\"" out1
'

test_expect_success 'nothing is stored before an acknowledgement; no start value is a usage error' '
	test_expect_code 2 x --state s.db --name orgs --watermark modified --query "$wmq" "$conn" 2>err &&
	test_grep "watermark-start" err
'

test_expect_success '--ack: the watermark stops below the first failed record' '
	jq -c "if ._meta.control then . else {ok: (.id != 3), op: \"upsert\", id: (.id|tostring), _meta} end" out1 >results &&
	extract-lob --ack --state s.db --name orgs --watermark modified <results >passed &&
	test_cmp results passed &&
	test "$(sqlite3 s.db "SELECT value FROM extract_watermark")" = "\"2024-01-03T00:00:00.000000Z\"" &&
	x --state s.db --name orgs --watermark modified --query "$wmq" "$conn" >out2 &&
	jq -r "select(.id) | .id" out2 >ids && printf "3\n4\n" >expect && test_cmp expect ids
'

test_expect_success '--ack without the watermark control record (a cut pipeline) keeps the watermark' '
	jq -c "select(.id) | {ok: true, id, _meta}" out2 >cut &&
	extract-lob --ack --state s.db --name orgs --watermark modified <cut >/dev/null 2>err &&
	test_grep "watermark stays" err &&
	test "$(sqlite3 s.db "SELECT value FROM extract_watermark")" = "\"2024-01-03T00:00:00.000000Z\""
'

test_expect_success '--ack after all succeeded moves it to the last record; an integer watermark' '
	jq -c "if ._meta.control then . else {ok: true, id, _meta} end" out2 |
		extract-lob --ack --state s.db --name orgs --watermark modified >/dev/null &&
	x --state s.db --name orgs --watermark modified --query "$wmq" "$conn" >out3 &&
	test_lines 1 out3 &&
	x --state s.db --name ids --watermark id --watermark-start 2 \
		--query "SELECT id FROM orgs WHERE id > ? ORDER BY id" "$conn" | jq -c "select(.id) | ._meta.src.wm" >wm &&
	printf "3\n4\n" >expect && test_cmp expect wm
'

test_expect_success 'the watermark is a bound parameter, not pasted SQL' '
	x --state s2.db --name inj --watermark name --watermark-start "\"x'"'"' OR 1=1 --\"" \
		--query "SELECT id, name FROM orgs WHERE name > ? ORDER BY name" "$conn" >out &&
	test_lines 1 out
'

test_expect_success 'bad SQL, a missing driver, an unopenable database: exit 3, no control line' '
	test_expect_code 3 x --query "SELEC nonsense" "$conn" >out 2>err &&
	test ! -s out && test_grep "odbc: bad query\|odbc: query failed" err &&
	test_expect_code 3 x --query "SELECT 1" "odbc:Driver=NoSuchDriver" >out 2>err &&
	test ! -s out && test_grep "cannot connect" err &&
	test_expect_code 3 x --query "SELECT * FROM nope" "$conn" >out 2>err && test ! -s out &&
	test_expect_code 2 x "$conn" 2>err && test_grep "needs --query" err
'
test_done
