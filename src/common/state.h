/*
 * state.h - a program's durable state in one SQLite file.
 *
 * The file is opened in WAL mode (readers never block the one writer, a
 * killed process loses nothing committed), with a busy timeout (several
 * pipeline stages may share the file) and synchronous=NORMAL (a power
 * loss may lose the last transactions, never corrupt the file; twinpipe's
 * stages replay what was not recorded, so that is safe).
 *
 * Several components may keep tables in the same file. Each one owns a
 * row of the table
 *     schema_version(component TEXT PRIMARY KEY, version INTEGER NOT NULL)
 * and upgrades its tables with its list of migrations: migrations[i] is
 * the SQL that turns version i into version i+1, run in one transaction.
 *
 * Writes are batched: state_batch_begin() opens a transaction if none is
 * open, state_batch_step() counts one change and commits every `batch`
 * changes, state_batch_commit() commits what is pending (call it whenever
 * the input would block, and at the end).
 */
#ifndef TP_STATE_H
#define TP_STATE_H

#include <stddef.h>

#include <sqlite3.h>

struct state;

struct state_err {
	char msg[512];		/* lowercase, no final period */
};

#define STATE_MAX_STMT 32

/*
 * Open (create when missing) the state file at path and bring component's
 * tables to version nmig by running migrations[version..nmig). A file whose
 * version is newer than nmig is refused. busy_ms is the busy timeout.
 * Returns NULL with err filled on failure.
 */
struct state *state_open(const char *path, const char *component,
    const char *const *migrations, int nmig, int busy_ms,
    struct state_err *err);
/* Commit what is pending and close. Returns 0, or -1 with err filled if
 * the final commit failed. state_close(NULL, ...) is a no-op. */
int state_close(struct state *s, struct state_err *err);

/* The connection, borrowed (for sqlite3_* calls the module does not wrap). */
sqlite3 *state_db(struct state *s);

/*
 * The prepared statement of slot (0..STATE_MAX_STMT-1) for sql, prepared on
 * first use and reset (bindings cleared) on every call. Returns NULL with
 * err filled if sql does not compile.
 */
sqlite3_stmt *state_stmt(struct state *s, int slot, const char *sql,
    struct state_err *err);

/* Run sql (no results). Returns 0, or -1 with err filled. */
int state_exec(struct state *s, const char *sql, struct state_err *err);

/* Set the number of changes per transaction (default 1000). */
void state_set_batch(struct state *s, size_t batch);
/* Open a write transaction unless one is open. Returns 0 or -1. */
int state_batch_begin(struct state *s, struct state_err *err);
/* Count one change; commit when the batch is full. Returns 0 or -1. */
int state_batch_step(struct state *s, struct state_err *err);
/* Commit the open transaction, if any. Returns 0 or -1 (rolled back). */
int state_batch_commit(struct state *s, struct state_err *err);
/* Number of transactions committed so far. */
unsigned long long state_commits(const struct state *s);

#endif
