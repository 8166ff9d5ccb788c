/*
 * store.c - the SQLite store: one connection, one mutex, cached prepared
 * statements. Bodies are kept as JSON text.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "emu.h"
#include "json.h"
#include "log.h"

#define STORE_MAX_STMT 64

static sqlite3 *db;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	const char *sql;
	sqlite3_stmt *st;
} stmts[STORE_MAX_STMT];
static int nstmts;
static uint64_t seq;

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER);"
    "CREATE TABLE IF NOT EXISTS cdbs(id TEXT PRIMARY KEY, body TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS ccolls(db TEXT, id TEXT, body TEXT NOT NULL,"
    " PRIMARY KEY(db, id));"
    "CREATE TABLE IF NOT EXISTS cdocs(db TEXT, coll TEXT, pk TEXT, id TEXT,"
    " body TEXT NOT NULL, PRIMARY KEY(db, coll, pk, id));"
    "CREATE TABLE IF NOT EXISTS models(id TEXT PRIMARY KEY, body TEXT NOT NULL,"
    " meta TEXT NOT NULL, seq INTEGER);"
    "CREATE TABLE IF NOT EXISTS twins(id TEXT PRIMARY KEY, model TEXT,"
    " body TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS rels(src TEXT, id TEXT, target TEXT, name TEXT,"
    " body TEXT NOT NULL, PRIMARY KEY(src, id));"
    "CREATE INDEX IF NOT EXISTS rels_target ON rels(target);"
    "CREATE TABLE IF NOT EXISTS iot_devices(dev TEXT, mod TEXT NOT NULL,"
    " ident TEXT NOT NULL, twin TEXT NOT NULL, PRIMARY KEY(dev, mod));";

int
store_open(const char *path)
{
	char *err = NULL;
	sqlite3_stmt *st;

	if (sqlite3_open_v2(path != NULL ? path : ":memory:", &db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK) {
		log_error("%s: %s", path ? path : ":memory:", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_busy_timeout(db, 5000);
	if (path != NULL && sqlite3_exec(db, "PRAGMA journal_mode=WAL;"
	    "PRAGMA synchronous=NORMAL;", NULL, NULL, &err) != SQLITE_OK)
		goto fail;
	if (sqlite3_exec(db, schema, NULL, NULL, &err) != SQLITE_OK)
		goto fail;
	if (sqlite3_prepare_v2(db, "SELECT v FROM meta WHERE k='seq'", -1, &st,
	    NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			seq = (uint64_t)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	seq += 1000;	/* never reuse a number after a crash */
	return 0;
fail:
	log_error("%s: %s", path ? path : ":memory:", err ? err : "?");
	sqlite3_free(err);
	return -1;
}

void
store_close(void)
{
	sqlite3_stmt *st;
	int i;

	if (db == NULL)
		return;
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta VALUES('seq',?)",
	    -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	for (i = 0; i < nstmts; i++)
		sqlite3_finalize(stmts[i].st);
	nstmts = 0;
	sqlite3_close(db);
	db = NULL;
}

void
store_lock(void)
{
	pthread_mutex_lock(&mu);
}

void
store_unlock(void)
{
	pthread_mutex_unlock(&mu);
}

sqlite3_stmt *
store_stmt(const char *sql)
{
	sqlite3_stmt *st;
	int i;

	for (i = 0; i < nstmts; i++)
		if (stmts[i].sql == sql) {
			sqlite3_reset(stmts[i].st);
			sqlite3_clear_bindings(stmts[i].st);
			return stmts[i].st;
		}
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
	    NULL) != SQLITE_OK) {
		log_error("sqlite: %s: %s", sql, sqlite3_errmsg(db));
		abort();
	}
	if (nstmts < STORE_MAX_STMT) {
		stmts[nstmts].sql = sql;
		stmts[nstmts++].st = st;
	} else {
		log_error("sqlite: statement cache full");
		abort();
	}
	return st;
}

uint64_t
store_seq(void)
{
	return ++seq;
}

int
store_exec(const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_error("sqlite: %s: %s", sql, err ? err : "?");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

jv
store_col_json(sqlite3_stmt *st, int col)
{
	jv v = jv_invalid();
	struct json_err je;
	const char *t = (const char *)sqlite3_column_text(st, col);

	if (t != NULL && json_parse(t, (size_t)sqlite3_column_bytes(st, col), &v,
	    NULL, &je) != 0)
		v = jv_invalid();
	return v;
}
