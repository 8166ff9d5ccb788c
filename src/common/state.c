/*
 * state.c - SQLite state files: WAL, busy timeout, migrations, batches.
 */
#include "state.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

struct state {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmt[STATE_MAX_STMT];
	size_t batch, pending;
	int in_tx;
	unsigned long long commits;
};

static void __attribute__((format(printf, 3, 4)))
set_err(struct state *s, struct state_err *err, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	if (s != NULL && s->db != NULL && n + 3 < sizeof(err->msg))
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s",
		    sqlite3_errmsg(s->db));
}

int
state_exec(struct state *s, const char *sql, struct state_err *err)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		set_err(s, err, "state '%s'", s->path);
		return -1;
	}
	return 0;
}

static int
get_version(struct state *s, const char *component, int *version,
    struct state_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT version FROM schema_version "
	    "WHERE component = ?", -1, &st, NULL) != SQLITE_OK) {
		set_err(s, err, "state '%s'", s->path);
		return -1;
	}
	sqlite3_bind_text(st, 1, component, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		set_err(s, err, "state '%s': reading its schema version",
		    s->path);
		return -1;
	}
	return 0;
}

struct state *
state_open(const char *path, const char *component,
    const char *const *migrations, int nmig, int busy_ms,
    struct state_err *err)
{
	struct state *s = xcalloc(1, sizeof(*s));
	int v, i;

	s->path = xstrdup(path);
	s->batch = 1000;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		set_err(s, err, "cannot open state '%s'", path);
		goto fail;
	}
	sqlite3_busy_timeout(s->db, busy_ms);
	sqlite3_extended_result_codes(s->db, 1);
	if (state_exec(s, "PRAGMA journal_mode=WAL", err) < 0 ||
	    state_exec(s, "PRAGMA synchronous=NORMAL", err) < 0 ||
	    state_exec(s, "BEGIN IMMEDIATE", err) < 0)
		goto fail;
	if (state_exec(s, "CREATE TABLE IF NOT EXISTS schema_version("
	    "component TEXT PRIMARY KEY, version INTEGER NOT NULL)", err) < 0 ||
	    get_version(s, component, &v, err) < 0)
		goto rollback;
	if (v > nmig) {
		set_err(NULL, err, "state '%s': schema version %d of '%s' is "
		    "newer than this program knows (%d)", path, v, component,
		    nmig);
		goto rollback;
	}
	for (i = v; i < nmig; i++)
		if (state_exec(s, migrations[i], err) < 0)
			goto rollback;
	if (v < nmig) {
		sqlite3_stmt *st = NULL;
		int rc;

		if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO "
		    "schema_version(component, version) VALUES(?, ?)", -1, &st,
		    NULL) != SQLITE_OK) {
			set_err(s, err, "state '%s'", path);
			goto rollback;
		}
		sqlite3_bind_text(st, 1, component, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, nmig);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			set_err(s, err, "state '%s'", path);
			goto rollback;
		}
	}
	if (state_exec(s, "COMMIT", err) < 0)
		goto rollback;
	return s;
rollback:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
fail:
	state_close(s, NULL);
	return NULL;
}

int
state_close(struct state *s, struct state_err *err)
{
	int i, rc = 0;

	if (s == NULL)
		return 0;
	if (s->in_tx && s->db != NULL)
		rc = state_batch_commit(s, err);
	for (i = 0; i < STATE_MAX_STMT; i++)
		sqlite3_finalize(s->stmt[i]);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
	return rc;
}

sqlite3 *
state_db(struct state *s)
{
	return s->db;
}

sqlite3_stmt *
state_stmt(struct state *s, int slot, const char *sql, struct state_err *err)
{
	sqlite3_stmt **st = &s->stmt[slot];

	if (*st == NULL) {
		if (sqlite3_prepare_v3(s->db, sql, -1,
		    SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
			set_err(s, err, "state '%s': preparing a statement",
			    s->path);
			*st = NULL;
			return NULL;
		}
		return *st;
	}
	sqlite3_reset(*st);
	sqlite3_clear_bindings(*st);
	return *st;
}

void
state_set_batch(struct state *s, size_t batch)
{
	s->batch = batch ? batch : 1;
}

int
state_batch_begin(struct state *s, struct state_err *err)
{
	if (s->in_tx)
		return 0;
	if (state_exec(s, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	s->in_tx = 1;
	s->pending = 0;
	return 0;
}

int
state_batch_step(struct state *s, struct state_err *err)
{
	if (++s->pending >= s->batch)
		return state_batch_commit(s, err);
	return 0;
}

int
state_batch_commit(struct state *s, struct state_err *err)
{
	int i;

	if (!s->in_tx)
		return 0;
	/* statements left mid-step would keep the transaction busy */
	for (i = 0; i < STATE_MAX_STMT; i++)
		if (s->stmt[i] != NULL)
			sqlite3_reset(s->stmt[i]);
	s->in_tx = 0;
	s->pending = 0;
	if (state_exec(s, "COMMIT", err) < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	s->commits++;
	return 0;
}

unsigned long long
state_commits(const struct state *s)
{
	return s->commits;
}
