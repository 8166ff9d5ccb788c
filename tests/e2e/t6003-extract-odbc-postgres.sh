#!/usr/bin/env bash
# extract-lob odbc: against a real PostgreSQL server (started here on a
# loopback port, in a temp dir) through psqlODBC: types, NULLs, the
# watermark, a large result streamed in bounded memory, auth failure.
. "$(dirname "$0")/../lib.sh"

PGB=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$PGB" ] || [ ! -x "$PGB/initdb" ]; then
	test_require initdb "PostgreSQL server binaries (Debian postgresql)"
	test_done; exit 1
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PGD=$TEST_DIR/pg
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
pg_stop() { as_pg "$PGB/pg_ctl" -D "$PGD/data" -m immediate stop >/dev/null 2>&1 || true; }
trap 'pg_stop; _cleanup' EXIT
chmod 755 "$TEST_DIR"
mkdir -p "$PGD/data" "$PGD/sock"
echo s3cret >"$PGD/pw"
[ "$(id -u)" = 0 ] && chown nobody "$PGD/data" "$PGD/sock" "$PGD/pw"
TZ=UTC as_pg "$PGB/initdb" -D "$PGD/data" -A md5 -U postgres -E UTF8 --no-sync \
	--pwfile="$PGD/pw" >"$TEST_DIR/initdb.log" 2>&1 ||
	{ cat "$TEST_DIR/initdb.log"; echo "not ok 1 - initdb"; exit 1; }
as_pg "$PGB/pg_ctl" -D "$PGD/data" -l "$PGD/data/log" -w -o \
	"-p $PORT -k $PGD/sock -c listen_addresses=127.0.0.1 -c fsync=off -c TimeZone=UTC" \
	start >/dev/null || { cat "$PGD/data/log"; echo "not ok 1 - pg_ctl start"; exit 1; }
export EXTRACT_PASSWORD=s3cret PGPASSWORD=s3cret
psqlc() { psql -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
conn="odbc:Driver=PostgreSQL Unicode;Server=127.0.0.1;Port=$PORT;Database=postgres"
x() { extract-lob --run-id r1 --user postgres --name pg "$@"; }

psqlc <<'SQL'
CREATE TABLE orgs(id bigint PRIMARY KEY, name text, price numeric(30,10),
	ratio double precision, active boolean, modified timestamptz, d date,
	img bytea, big numeric, meta jsonb);
INSERT INTO orgs VALUES
 (1, 'Acme', 12345678901234567890.0123456789, 0.25, true,
  '2024-01-02 03:04:05.25+02', '2024-01-02', '\x00ff10',
  123456789012345678901234567890, '{"a": 1}'),
 (2, 'Bé "q"', NULL, NULL, false, '2024-01-03 00:00:00Z', NULL, NULL, NULL, NULL),
 (3, 'Three', -0.5, 1e300, NULL, '2024-01-04 00:00:00Z', '1999-12-31', '', 0, '[]');
SQL

test_expect_success 'types: exact numerics keep their digits, timestamps in UTC, bool, bytea, NULL' '
	x --query "SELECT * FROM orgs ORDER BY id" "$conn" >out &&
	sed "s/,\"_meta\".*//" out >got &&
	cat >expect <<-\EXP &&
	{"id":1,"name":"Acme","price":12345678901234567890.0123456789,"ratio":0.25,"active":true,"modified":"2024-01-02T01:04:05.250000Z","d":"2024-01-02","img":"AP8Q","big":123456789012345678901234567890,"meta":"{\"a\": 1}"
	{"id":2,"name":"Bé \"q\"","price":null,"ratio":null,"active":false,"modified":"2024-01-03T00:00:00.000000Z","d":null,"img":null,"big":null,"meta":null
	{"id":3,"name":"Three","price":-0.5000000000,"ratio":1e+300,"active":null,"modified":"2024-01-04T00:00:00.000000Z","d":"1999-12-31","img":"","big":0,"meta":"[]"
	{"_meta":{"control":"snapshot-complete","source":"pg","run":"r1","records":3}}
	EXP
	test_cmp expect got
'

test_expect_success 'watermark on a timestamptz column, advanced by --ack' '
	q="SELECT id, modified FROM orgs WHERE modified > ? ORDER BY modified" &&
	x --state s.db --watermark modified --watermark-start "\"2024-01-02T12:00:00\"" --query "$q" "$conn" >o1 &&
	jq -r "select(.id) | .id" o1 >ids && printf "2\n3\n" >expect && test_cmp expect ids &&
	jq -c "if ._meta.control then . else {ok: true, id, _meta} end" o1 |
		extract-lob --ack --state s.db --name pg --watermark modified >/dev/null &&
	psqlc -c "INSERT INTO orgs(id, name, modified) VALUES (4, '"'"'new'"'"', '"'"'2024-02-01Z'"'"')" &&
	x --state s.db --watermark modified --query "$q" "$conn" >o2 &&
	jq -r "select(.id) | .id" o2 >ids && echo 4 >expect && test_cmp expect ids
'

test_expect_success 'a large result streams in bounded memory (cursor fetch)' '
	/usr/bin/time -f %M -o rss extract-lob --user postgres --fetch 500 \
		--query "SELECT g AS id, repeat('"'"'x'"'"', 100) AS pad FROM generate_series(1, 200000) g" \
		"$conn" 2>/dev/null | tail -n 1 >last &&
	test_grep "\"records\":200000" last &&
	rss=$(tail -n 1 rss) && echo "peak RSS ${rss} KiB" &&
	{ [ "${SAN:-}" = 1 ] || test "$rss" -lt 30000; }
'

test_expect_success 'bad SQL: exit 3 with the server message, no control line' '
	test_expect_code 3 x --query "SELECT * FROM no_such_table" "$conn" >out 2>err &&
	test ! -s out && test_grep "no_such_table" err
'

test_expect_success 'wrong password: exit 3, the password is not printed' '
	EXTRACT_PASSWORD=wrong test_expect_code 3 x --query "SELECT 1" "$conn" >out 2>err &&
	test ! -s out && test_grep "cannot connect" err && ! grep -q wrong err
'

test_expect_success 'an unreachable server: exit 3' '
	test_expect_code 3 x --query "SELECT 1" "odbc:Driver=PostgreSQL Unicode;Server=127.0.0.1;Port=1;Database=x" >out 2>err &&
	test ! -s out && test_grep "cannot connect" err
'
test_done
