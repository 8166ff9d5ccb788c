/*
 * extract-lob - pull records out of line-of-business systems (CSV, JSON,
 * NDJSON files and SQL databases through ODBC) as NDJSON.
 */
#include "extract.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "exitcode.h"
#include "log.h"
#include "redact.h"
#include "state.h"
#include "stage.h"
#include "stats.h"

#define SNAPSHOT_COMPLETE "snapshot-complete"
#define WATERMARK_CONTROL "watermark"


/* The state file's schema: migrations[i] takes version i to i+1. */
static const char *const migrations[] = {
	"CREATE TABLE extract_watermark("
	" source TEXT PRIMARY KEY,"
	" value TEXT NOT NULL,"
	" updated_at INTEGER NOT NULL"
	") WITHOUT ROWID",
};

struct opts {
	const char *auth_header;
	const char *auth_header_file;
	const char *limit_param;
	const char *next;
	const char *offset_param;
	const char *scope;
	const char *token_file;
	double rate;
	long max_pages;
	long max_attempts;
	long page_size;
	int insecure;
	int follow_foreign;
	const char *cacert;
	const char *dead_letter;
	const char *delimiter;
	const char *items;
	const char *key;
	const char *name;
	const char *password_file;
	const char *query;
	const char *run;
	const char *shard;
	const char *state;
	const char *types;
	const char *user;
	const char *watermark;
	const char *wm_start;
	const char *conn_file;		/* iothub: */
	const char *iothub_key_file;
	const char *policy;
	const char *where;
	int modules;
	long fetch;
	size_t max_record;
	int ack;
	int empty_null;
	int no_header;
	int no_snapshot;
};

static int
opt_rate(const struct cli_opt *o, char **a, void *ctx)
{
	struct opts *p = ctx;
	char *e;

	(void)o;
	p->rate = strtod(a[0], &e);
	if (e == a[0] || *e != '\0' || p->rate < 0) {
		fprintf(stderr, "extract-lob: error: --rate '%s': expected a "
		    "number of requests a second\n", a[0]);
		return -1;
	}
	return 0;
}

static struct opts op = { .max_record = NDJSON_DEFAULT_MAX_LINE,
    .fetch = 1000, .offset_param = "offset", .limit_param = "limit" };

static const struct cli_opt options[] = {
	{ "ack", 0, CLI_FLAG, &op.ack, NULL, NULL,
	    "read push results, pass them on, and advance the --watermark "
	    "in --state past the acknowledged records", 0, NULL },
	{ "auth-header", 0, CLI_STR, &op.auth_header, "NAME", NULL,
	    "HTTP: send header NAME with the value of EXTRACT_AUTH_HEADER "
	    "(or --auth-header-file)", 0, NULL },
	{ "auth-header-file", 0, CLI_STR, &op.auth_header_file, "FILE", NULL,
	    "HTTP: read the --auth-header value from FILE", 0, NULL },
	CLI_OPT_CACERT(&op.cacert),
	{ "connection-string-file", 0, CLI_STR, &op.conn_file, "FILE", NULL,
	    "iothub: read the IoT Hub connection string from FILE (else "
	    "IOTHUB_CONNECTION_STRING)", 0, NULL },
	{ "dead-letter", 0, CLI_STR, &op.dead_letter, "FILE",
	    "TWINPIPE_DEAD_LETTER",
	    "append malformed records with their error to FILE (NDJSON)", 0,
	    NULL },
	{ "delimiter", 'd', CLI_STR, &op.delimiter, "CHAR", NULL,
	    "CSV field delimiter (default ','; 'tab' or '\\t' for TSV)", 0,
	    NULL },
	{ "empty-null", 0, CLI_FLAG, &op.empty_null, NULL, NULL,
	    "CSV: an unquoted empty field is null (\"\" stays \"\")", 0,
	    NULL },
	{ "fetch", 0, CLI_LONG, &op.fetch, "N", NULL,
	    "ODBC: rows a cursor fetches at a time (psqlODBC; default 1000)",
	    0, NULL },
	{ "follow-foreign-links", 0, CLI_FLAG, &op.follow_foreign, NULL, NULL,
	    "HTTP: follow a next link to another origin, without any "
	    "credential (default: refused)", 0, NULL },
	{ "insecure", 0, CLI_FLAG, &op.insecure, NULL, NULL,
	    "HTTP: do not verify TLS certificates", 0, NULL },
	{ "iothub-key-file", 0, CLI_STR, &op.iothub_key_file, "FILE", NULL,
	    "iothub: read the shared access policy key from FILE (else "
	    "IOTHUB_KEY)", 0, NULL },
	{ "items", 0, CLI_STR, &op.items, "PATH", NULL,
	    "JSON: the jq path of the array whose elements are the records "
	    "(default .[])", 0, NULL },
	{ "key", 'k', CLI_STR, &op.key, "EXPR", "EXTRACT_KEY",
	    "the record's key for --shard, a jq path like .id", 0, NULL },
	{ "limit-param", 0, CLI_STR, &op.limit_param, "NAME", NULL,
	    "HTTP: the limit query parameter of --page-size (default limit)",
	    0, NULL },
	{ "max-attempts", 0, CLI_LONG, &op.max_attempts, "N", NULL,
	    "HTTP: attempts per page, not counting 429s that give a "
	    "retry time (default 10)", 0, NULL },
	{ "max-pages", 0, CLI_LONG, &op.max_pages, "N", NULL,
	    "HTTP: stop after N pages (default 0: all)", 0, NULL },
	{ "max-record", 0, CLI_SIZE, &op.max_record, "SIZE",
	    "TWINPIPE_MAX_LINE", "largest record accepted (default 16M)", 0,
	    NULL },
	{ "modules", 0, CLI_FLAG, &op.modules, NULL, NULL,
	    "iothub: read the module twins too", 0, NULL },
	{ "name", 0, CLI_STR, &op.name, "NAME", NULL,
	    "the source's name in _meta.src and the state (default: SOURCE "
	    "without secrets)", 0, NULL },
	{ "next", 0, CLI_STR, &op.next, "EXPR", NULL,
	    "HTTP: the path of the next page's URL in a page, e.g. "
	    ".[\"@odata.nextLink\"]", 0, NULL },
	{ "no-header", 0, CLI_FLAG, &op.no_header, NULL, NULL,
	    "CSV: there is no header row; columns are named c1, c2, ...", 0,
	    NULL },
	{ "no-snapshot", 0, CLI_FLAG, &op.no_snapshot, NULL, NULL,
	    "do not announce a complete snapshot at the end", 0, NULL },
	{ "offset-param", 0, CLI_STR, &op.offset_param, "NAME", NULL,
	    "HTTP: the offset query parameter of --page-size (default offset)",
	    0, NULL },
	{ "page-size", 0, CLI_LONG, &op.page_size, "N", NULL,
	    "HTTP: page by offset/limit, N records a page; iothub: twins "
	    "a page (x-ms-max-item-count)", 0, NULL },
	{ "password-file", 0, CLI_STR, &op.password_file, "FILE", NULL,
	    "ODBC, HTTP basic: read the password from FILE (else "
	    "EXTRACT_PASSWORD)", 0, NULL },
	{ "policy", 0, CLI_STR, &op.policy, "NAME", "IOTHUB_POLICY",
	    "iothub: the shared access policy of the key (default "
	    "iothubowner)", 0, NULL },
	{ "rate", 0, CLI_FN, NULL, "N", NULL,
	    "HTTP, iothub: at most N requests a second", 1, opt_rate },
	{ "query", 0, CLI_STR, &op.query, "SQL", "EXTRACT_QUERY",
	    "ODBC: the query; with --watermark its one ? is the watermark",
	    0, NULL },
	CLI_OPT_REDACT_PARAM,
	{ "run-id", 0, CLI_STR, &op.run, "ID", "TWINPIPE_RUN_ID",
	    "the run id in _meta.src (default: UTC time and pid)", 0, NULL },
	{ "scope", 0, CLI_STR, &op.scope, "SCOPE", "EXTRACT_SCOPE",
	    "HTTP: bearer token for SCOPE from the Entra ID credential chain",
	    0, NULL },
	{ "shard", 0, CLI_STR, &op.shard, "I/N", "EXTRACT_SHARD",
	    "emit only the records whose --key is in shard I of N", 0,
	    NULL },
	{ "state", 0, CLI_STR, &op.state, "FILE", "TWINPIPE_STATE",
	    "the state file that keeps the watermark (SQLite)", 0, NULL },
	{ "token-file", 0, CLI_STR, &op.token_file, "FILE", NULL,
	    "HTTP: a bearer token read from FILE", 0, NULL },
	{ "types", 't', CLI_STR, &op.types, "COL=TYPE,...", NULL,
	    "CSV: column types int, number, bool, datetime, json, string",
	    0, NULL },
	{ "user", 0, CLI_STR, &op.user, "USER", "EXTRACT_USER",
	    "ODBC: the user name; HTTP: basic authentication as USER", 0,
	    NULL },
	{ "watermark", 0, CLI_STR, &op.watermark, "COLUMN", NULL,
	    "ODBC: read only rows past the last acknowledged COLUMN value; "
	    "directories, globs and blob: last-modified",
	    0, NULL },
	{ "watermark-start", 0, CLI_STR, &op.wm_start, "VALUE", NULL,
	    "the watermark of the first run (JSON: 0 or \"2024-01-01\")", 0,
	    NULL },
	{ "where", 0, CLI_STR, &op.where, "CONDITION", NULL,
	    "iothub: only the twins of the query's WHERE CONDITION", 0, NULL },
};

static const struct cli_prog prog = {
	"extract-lob",
	"[OPTION ...] SOURCE\n"
	"--ack --state FILE --watermark COLUMN --name NAME [FILE ...]",
	"Read the records of SOURCE and write one JSON object per record to\n"
	"standard output, with _meta.src naming the source, run and position.\n"
	"SOURCE is csv:PATH (or csv:- for standard input), tsv:PATH,\n"
	"ndjson:PATH, json:PATH, http(s)://URL (JSON pages), or odbc:DSN /\n"
	"odbc:CONNECTION-STRING with --query, or iothub:[HOST] (every twin\n"
	"of an IoT Hub's registry). For json: and ndjson:, PATH may\n"
	"be a directory or a glob: every file in name order, one source;\n"
	"blob:URL reads every blob of a container or prefix the same way.\n"
	"After a complete read without errors, a control record\n"
	"{\"_meta\":{\"control\":\"snapshot-complete\",...}} tells cdc-filter it\n"
	"may infer deletes. Malformed records go to the dead-letter file.",
	options, sizeof(options) / sizeof(options[0]),
	NULL,
	&op
};

/* ---- the watermark in the state file ---- */

static struct state *
wm_open(struct state_err *se)
{
	return state_open(op.state, "extract", migrations,
	    (int)(sizeof(migrations) / sizeof(migrations[0])), 30000, se);
}

static char *
wm_key(const char *source)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "%s\x1f%s", source, op.watermark);
	return buf_cstr(&b);
}

/* The stored watermark (JSON text, malloc'd) or NULL; -1 on error. */
static int
wm_load(const char *source, char **out)
{
	struct state_err se;
	struct state *s = wm_open(&se);
	sqlite3_stmt *st;
	char *key = wm_key(source);
	int rc = -1;

	*out = NULL;
	if (s == NULL) {
		log_error("state file '%s': %s", op.state, se.msg);
		free(key);
		return -1;
	}
	st = state_stmt(s, 0, "SELECT value FROM extract_watermark WHERE "
	    "source = ?", &se);
	if (st != NULL) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			*out = xstrdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_reset(st);
		rc = 0;
	} else {
		log_error("state file '%s': %s", op.state, se.msg);
	}
	state_close(s, &se);
	free(key);
	return rc;
}

/*
 * Bind a watermark value (JSON text) so that SQLite orders it: numbers as
 * numbers, strings by their text (timestamps are written with a fixed
 * number of fraction digits by the ODBC source).
 */
static void
wm_bind(sqlite3_stmt *st, int i, const char *v, size_t n)
{
	if (n > 0 && v[0] == '"') {
		/* the ODBC source writes plain strings: no escapes to undo
		 * for timestamps; others compare by their JSON text */
		sqlite3_bind_text(st, i, v + 1, (int)n - 2, SQLITE_TRANSIENT);
	} else {
		char tmp[64], *e;
		long long ll;

		if (n >= sizeof(tmp)) {
			sqlite3_bind_text(st, i, v, (int)n, SQLITE_TRANSIENT);
			return;
		}
		memcpy(tmp, v, n);
		tmp[n] = '\0';
		errno = 0;
		ll = strtoll(tmp, &e, 10);
		if (*e == '\0' && errno == 0)
			sqlite3_bind_int64(st, i, ll);
		else
			sqlite3_bind_double(st, i, strtod(tmp, NULL));
	}
}

struct ack {
	struct state *s;
	struct tape t;
	uint64_t ok, failed, ends;
};

static uint32_t
member(const struct tape *t, uint32_t obj, const char *k)
{
	if (obj == 0 && t->nodes[0].type != TAPE_OBJECT)
		return 0;
	if (t->nodes[obj].type != TAPE_OBJECT)
		return 0;
	return tape_lookup(t, obj, k, strlen(k));
}

static int
ack_line(struct ack *a, const struct ndjson_line *l, struct state_err *se)
{
	struct json_err je;
	uint32_t meta, src, wm, ok, srcname, ctl;
	sqlite3_stmt *st;
	const struct tape_node *sn;

	if (tape_parse(&a->t, l->p, l->len, &je) < 0 ||
	    a->t.nodes[0].type != TAPE_OBJECT ||
	    (a->t.nodes[0].flags & TAPE_DUPS))
		return 0;
	meta = member(&a->t, 0, "_meta");
	if (meta == 0)
		return 0;
	if ((ctl = member(&a->t, meta, "control")) != 0) {
		srcname = member(&a->t, meta, "source");
		sn = &a->t.nodes[ctl];
		if (sn->type == TAPE_STRING && sn->n == 9 &&
		    memcmp(sn->p, WATERMARK_CONTROL, 9) == 0 && srcname != 0 &&
		    a->t.nodes[srcname].type == TAPE_STRING &&
		    a->t.nodes[srcname].n == strlen(op.name) &&
		    memcmp(a->t.nodes[srcname].p, op.name,
		    strlen(op.name)) == 0)
			a->ends++;
		return 0;
	}
	src = member(&a->t, meta, "src");
	if (src == 0 || a->t.nodes[src].type != TAPE_OBJECT)
		return 0;
	wm = member(&a->t, src, "wm");
	srcname = member(&a->t, src, "source");
	ok = member(&a->t, 0, "ok");
	if (wm == 0 || srcname == 0 || ok == 0)
		return 0;
	sn = &a->t.nodes[srcname];
	if (sn->type != TAPE_STRING || sn->n != strlen(op.name) ||
	    memcmp(sn->p, op.name, sn->n) != 0)
		return 0;
	st = state_stmt(a->s, 1, "INSERT INTO temp.ack(ok, k, v) VALUES "
	    "(?, ?, ?)", se);
	if (st == NULL)
		return -1;
	{
		struct buf v = BUF_INIT;
		struct canon c = CANON_INIT;
		int isok = a->t.nodes[ok].type == TAPE_TRUE;

		canon_write(&c, &v, &a->t, wm, 0);
		sqlite3_bind_int(st, 1, isok);
		wm_bind(st, 2, v.p, v.len);
		sqlite3_bind_text(st, 3, v.p, (int)v.len, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE) {
			snprintf(se->msg, sizeof(se->msg), "%s",
			    sqlite3_errmsg(state_db(a->s)));
			buf_release(&v);
			canon_release(&c);
			return -1;
		}
		if (isok)
			a->ok++;
		else
			a->failed++;
		buf_release(&v);
		canon_release(&c);
	}
	return state_batch_step(a->s, se);
}

/* --ack: pass results through, then advance the watermark. */
static int
run_ack(char **files, int nfiles, struct ndjson_writer *w)
{
	struct state_err se;
	struct ack a = { 0 };
	struct ndjson_line l;
	sqlite3_stmt *st;
	char *key = wm_key(op.name);
	int i, rc = -1, n = nfiles > 0 ? nfiles : 1;

	a.t = (struct tape)TAPE_INIT;
	a.s = wm_open(&se);
	if (a.s == NULL) {
		log_error("state file '%s': %s", op.state, se.msg);
		free(key);
		return -1;
	}
	if (state_exec(a.s, "CREATE TEMP TABLE ack(ok INTEGER, k, v TEXT)",
	    &se) < 0 || state_batch_begin(a.s, &se) < 0)
		goto fail;
	for (i = 0; i < n; i++) {
		const char *path = nfiles > 0 ? files[i] : "-";
		int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY);
		struct ndjson_reader *r;
		int got;

		if (fd < 0) {
			log_error("cannot open '%s': %s", path,
			    strerror(errno));
			goto out;
		}
		r = ndjson_reader_new(fd, fd == 0 ? "<stdin>" : path,
		    op.max_record, NULL, NULL, &stage_stop);
		while ((got = ndjson_read(r, &l)) > 0) {
			if (ndjson_write_line(w, l.p, l.len) < 0)
				break;
			if (!l.too_long && ack_line(&a, &l, &se) < 0) {
				ndjson_reader_free(r);
				if (fd > 0)
					close(fd);
				goto fail;
			}
		}
		if (got < 0)
			log_error("read error on '%s': %s", path,
			    strerror(errno));
		if (ndjson_reader_stopped(r))
			got = -1;
		ndjson_reader_free(r);
		if (fd > 0)
			close(fd);
		if (got < 0 || w->err)
			goto out;
	}
	if (a.ends == 0) {
		log_warn("no '%s' control record for '%s' in the results: the "
		    "watermark stays", WATERMARK_CONTROL, op.name);
		rc = 0;
		goto out;
	}
	/* the highest acknowledged value below the lowest failed one */
	st = state_stmt(a.s, 2, "SELECT v FROM temp.ack WHERE ok = 1 AND "
	    "(NOT EXISTS (SELECT 1 FROM temp.ack WHERE ok = 0) OR k < "
	    "(SELECT min(k) FROM temp.ack WHERE ok = 0)) ORDER BY k DESC "
	    "LIMIT 1", &se);
	if (st == NULL)
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW) {
		char *v = xstrdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_stmt *up;

		sqlite3_reset(st);
		up = state_stmt(a.s, 3, "INSERT INTO extract_watermark(source, "
		    "value, updated_at) VALUES (?, ?, ?) ON CONFLICT(source) "
		    "DO UPDATE SET value = excluded.value, updated_at = "
		    "excluded.updated_at", &se);
		if (up == NULL) {
			free(v);
			goto fail;
		}
		sqlite3_bind_text(up, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(up, 2, v, -1, SQLITE_STATIC);
		sqlite3_bind_int64(up, 3, (sqlite3_int64)time(NULL));
		if (sqlite3_step(up) != SQLITE_DONE) {
			snprintf(se.msg, sizeof(se.msg), "%s",
			    sqlite3_errmsg(state_db(a.s)));
			free(v);
			goto fail;
		}
		sqlite3_reset(up);
		log_info("watermark of '%s' is now %s", op.name, v);
		free(v);
	}
	if (state_batch_commit(a.s, &se) < 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	log_error("state file '%s': %s", op.state, se.msg);
out:
	*stats_counter("acked") = a.ok;
	*stats_counter("failed") = a.failed;
	if (state_close(a.s, &se) < 0 && rc == 0) {
		log_error("state file '%s': %s", op.state, se.msg);
		rc = -1;
	}
	tape_release(&a.t);
	free(key);
	return rc;
}

/* ---- main ---- */

/*
 * The source without secrets: PWD=... / Password=... values of an ODBC
 * connection string hidden; the userinfo and secret query parameters of
 * an http(s): or blob: URL redacted (redact.h).
 */
static char *
source_name(const char *src)
{
	struct buf b = BUF_INIT;
	const char *p = src;

	if (strncmp(src, "blob:", 5) == 0) {
		buf_adds(&b, "blob:");
		redact_url(&b, src + 5);
		return buf_cstr(&b);
	}
	if (strncmp(src, "http://", 7) == 0 || strncmp(src, "https://", 8) == 0)
		return redact_url_dup(src);
	while (*p != '\0') {
		const char *semi = strchr(p, ';'), *eq;
		size_t n = semi != NULL ? (size_t)(semi - p + 1) : strlen(p);

		eq = memchr(p, '=', n);
		if (eq != NULL && strncmp(src, "odbc:", 5) == 0 &&
		    ((eq - p >= 3 && strncasecmp(eq - 3, "pwd", 3) == 0) ||
		    (eq - p >= 8 && strncasecmp(eq - 8, "password", 8) == 0))) {
			buf_add(&b, p, (size_t)(eq - p + 1));
			buf_adds(&b, "***");
			if (semi != NULL)
				buf_addc(&b, ';');
		} else {
			buf_add(&b, p, n);
		}
		p += n;
	}
	return buf_cstr(&b);
}

static int
open_path(const char *path, const char **file)
{
	int fd;

	if (strcmp(path, "-") == 0) {
		*file = "<stdin>";
		return 0;
	}
	*file = path;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		log_error("cannot open '%s': %s", path, strerror(errno));
	return fd;
}

static void
refresh_counts(void *ctx)
{
	const struct extract *x = ctx;

	*stats_counter("in") = x->in;
	*stats_counter("out") = x->out;
	*stats_counter("failed") = x->failed;
	if (x->shard_n > 1)
		*stats_counter("other_shard") = x->other_shard;
}

/* The iothub: source: its secrets, then the read. -2: usage error. */
static int
run_iothub(struct extract *x, const char *host)
{
	struct iothub_src_opts io = { 0 };
	char *conn = NULL, *key = NULL;
	int fail = 0, rc;

	conn = cli_secret("IOTHUB_CONNECTION_STRING", op.conn_file, &fail);
	if (!fail)
		key = cli_secret("IOTHUB_KEY", op.iothub_key_file, &fail);
	if (fail) {
		free(conn);
		return -2;
	}
	io.host = host;
	io.conn = conn;
	io.key = key;
	io.policy = op.policy;
	io.where = op.where;
	io.modules = op.modules;
	io.page_size = op.page_size;
	io.rate = op.rate;
	io.insecure = op.insecure;
	io.max_pages = op.max_pages;
	io.max_attempts = (unsigned)op.max_attempts;
	rc = extract_iothub(x, &io);
	if (conn != NULL)
		explicit_bzero(conn, strlen(conn));
	if (key != NULL)
		explicit_bzero(key, strlen(key));
	free(conn);
	free(key);
	return rc;
}

/* What one run reads from, beside the options. */
struct run {
	const char *src;	/* SOURCE */
	int multi;		/* 1: a directory or glob, 2: blob: */
	struct csv_opts co;
	char *name;		/* the source's name in records */
	char *wm;		/* the watermark to start from, or NULL */
	char *password, *token, *hval;	/* secrets */
	char id[64];		/* the run's id, when --run is not given */
	int fd;			/* a file source's descriptor */
	const char *file;
};

/* --delimiter, --types and the other CSV settings. Returns 0, or -1
 * (reported). */
static int
csv_options(struct run *rn)
{
	char msg[256];

	if (op.delimiter != NULL) {
		if (strcmp(op.delimiter, "tab") == 0 ||
		    strcmp(op.delimiter, "\\t") == 0)
			rn->co.delimiter = '\t';
		else if (strlen(op.delimiter) == 1 && op.delimiter[0] != '"' &&
		    op.delimiter[0] != '\n' && op.delimiter[0] != '\r')
			rn->co.delimiter = (unsigned char)op.delimiter[0];
		else
			return cli_usage_error(&prog, "--delimiter must be one "
			    "character (or 'tab')"), -1;
	} else if (strncmp(rn->src, "tsv:", 4) == 0) {
		rn->co.delimiter = '\t';
	}
	rn->co.no_header = op.no_header;
	rn->co.empty_null = op.empty_null;
	rn->co.types = op.types;
	if (op.types != NULL &&
	    extract_csv_check_types(op.types, msg, sizeof(msg)) < 0)
		return cli_usage_error(&prog, "--types: %s", msg), -1;
	if (op.items != NULL &&
	    extract_items_check(op.items, msg, sizeof(msg)) < 0)
		return cli_usage_error(&prog, "--items: %s", msg), -1;
	return 0;
}

/* The options that need more than the table, for one SOURCE: 0, or -1
 * (reported). */
static int
check_options(struct extract *x, struct run *rn)
{
	const char *src = rn->src;

	if (op.max_record < 16 || op.max_record > (1u << 30))
		return cli_usage_error(&prog, "--max-record must be between 16 "
		    "and 1G"), -1;
	if (op.shard != NULL && canon_shard_parse(op.shard, &x->shard_i,
	    &x->shard_n) < 0)
		return cli_usage_error(&prog, "--shard '%s': expected I/N with "
		    "0 <= I < N", op.shard), -1;
	if (op.shard != NULL && op.key == NULL)
		return cli_usage_error(&prog, "--shard needs --key"), -1;
	if (op.key != NULL && (x->kp = keypath_parse(op.key)) == NULL)
		return cli_usage_error(&prog, "--key '%s': expected a path like "
		    ".id or .[\"$dtId\"] // .id", op.key), -1;
	if (csv_options(rn) < 0)
		return -1;
	if (op.fetch < 1 || op.fetch > 100000)
		return cli_usage_error(&prog, "--fetch must be between 1 and "
		    "100000"), -1;
	if (strncmp(src, "odbc:", 5) == 0 && op.query == NULL)
		return cli_usage_error(&prog, "an odbc: source needs --query"),
		    -1;
	/* many files as one source: json:/ndjson: DIR or GLOB, blob: */
	if (strncmp(src, "blob:", 5) == 0)
		rn->multi = 2;
	else if ((strncmp(src, "json:", 5) == 0 &&
	    extract_files_is_multi(src + 5)) ||
	    (strncmp(src, "ndjson:", 7) == 0 &&
	    extract_files_is_multi(src + 7)))
		rn->multi = 1;
	if (op.watermark != NULL && rn->multi &&
	    strcmp(op.watermark, "last-modified") != 0)
		return cli_usage_error(&prog, "--watermark of a directory, glob "
		    "or blob: source must be last-modified"), -1;
	if (op.watermark != NULL && ((strncmp(src, "odbc:", 5) != 0 &&
	    !rn->multi) || op.state == NULL))
		return cli_usage_error(&prog, "--watermark needs an odbc: "
		    "source (or a directory, glob or blob: source) and "
		    "--state"), -1;
	if (op.scope != NULL && op.token_file != NULL)
		return cli_usage_error(&prog, "give --scope or --token-file, "
		    "not both"), -1;
	if (op.page_size < 0 || op.max_pages < 0 || op.max_attempts < 0 ||
	    op.max_attempts > 1000)
		return cli_usage_error(&prog, "--page-size, --max-pages and "
		    "--max-attempts must not be negative"), -1;
	return 0;
}

/* The run's id: --run, or the time and the process id. */
static void
run_id(struct extract *x, struct run *rn)
{
	time_t now = time(NULL);
	struct tm tm;

	if (op.run != NULL) {
		x->run = op.run;
		return;
	}
	gmtime_r(&now, &tm);
	strftime(rn->id, sizeof(rn->id), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(rn->id + strlen(rn->id), sizeof(rn->id) - strlen(rn->id),
	    "-%ld", (long)getpid());
	x->run = rn->id;
}

/* --watermark: where the last acknowledged run ended, or
 * --watermark-start. Returns 0, or -1 (reported). */
static int
load_watermark(struct run *rn)
{
	if (op.watermark == NULL)
		return 0;
	if (wm_load(rn->name, &rn->wm) < 0)
		return -1;
	if (rn->wm == NULL && op.wm_start != NULL)
		rn->wm = xstrdup(op.wm_start);
	if (rn->wm != NULL && rn->multi && (rn->wm[0] != '"' ||
	    rn->wm[strlen(rn->wm) - 1] != '"'))
		return cli_usage_error(&prog, "--watermark-start of "
		    "last-modified: a JSON string such as "
		    "\"2026-01-01T00:00:00.000000000Z\""), -1;
	if (rn->wm == NULL && !rn->multi)
		return cli_usage_error(&prog, "no watermark of '%s' in '%s' "
		    "yet: give --watermark-start", rn->name, op.state), -1;
	return 0;
}

/* The password, the token and the --auth-header value, from files or
 * the environment. Returns 0, or -1 (reported). */
static int
read_secrets(struct run *rn)
{
	int failed = 0;

	rn->password = cli_secret("EXTRACT_PASSWORD", op.password_file,
	    &failed);
	if (!failed && op.token_file != NULL)
		rn->token = cli_secret(NULL, op.token_file, &failed);
	if (!failed && op.auth_header != NULL) {
		rn->hval = cli_secret("EXTRACT_AUTH_HEADER",
		    op.auth_header_file, &failed);
		if (rn->hval == NULL && !failed)
			return cli_usage_error(&prog, "--auth-header needs "
			    "EXTRACT_AUTH_HEADER or --auth-header-file"), -1;
	}
	return failed ? -1 : 0;
}

/* A directory, a glob or a blob: container as one source */
static int
from_files(struct extract *x, struct run *rn)
{
	struct files_opts fo = { 0 };
	struct blob_src_opts bo = { 0 };

	fo.lines = strncmp(rn->src, "ndjson:", 7) == 0;
	fo.items = op.items;
	fo.max_line = op.max_record;
	fo.wm_since = op.watermark != NULL ? rn->wm : NULL;
	if (op.watermark != NULL && rn->wm == NULL)
		fo.wm_since = "\"\"";	/* first run: everything */
	if (rn->multi == 1)
		return extract_files(x, rn->src + (rn->src[0] == 'j' ? 5 : 7),
		    &fo);
	bo.url = rn->src + 5;
	bo.insecure = op.insecure;
	bo.cacert = op.cacert;
	return extract_blob(x, &bo, &fo);
}

static int
from_odbc(struct extract *x, struct run *rn)
{
	struct odbc_opts oo = { 0 };

	oo.conn = rn->src + 5;
	oo.query = op.query;
	oo.user = op.user;
	oo.password = rn->password;
	oo.wm_col = op.watermark;
	oo.wm_value = rn->wm;
	oo.fetch = op.fetch;
	return extract_odbc(x, &oo);
}

static int
from_http(struct extract *x, struct run *rn)
{
	struct http_src_opts ho = { 0 };

	ho.url = rn->src;
	ho.items = op.items;
	ho.next = op.next;
	ho.page_size = op.page_size;
	ho.offset_param = op.offset_param;
	ho.limit_param = op.limit_param;
	ho.scope = op.scope;
	ho.token = rn->token;
	ho.basic_user = op.user;
	ho.password = rn->password;
	ho.header_name = op.auth_header;
	ho.header_value = rn->hval;
	ho.rate = op.rate;
	ho.insecure = op.insecure;
	ho.cacert = op.cacert;
	ho.follow_foreign = op.follow_foreign;
	ho.max_pages = op.max_pages;
	ho.max_attempts = (unsigned)op.max_attempts;
	return extract_http(x, &ho);
}

/* One file of a csv:, tsv:, ndjson: or json: source */
static int
from_file(struct extract *x, struct run *rn, size_t skip)
{
	const char *src = rn->src;

	if ((rn->fd = open_path(src + skip, &rn->file)) < 0)
		return -1;
	x->file = rn->file;
	if (skip == 4)
		return extract_csv(x, rn->fd, &rn->co);
	if (src[0] == 'n')
		return extract_ndjson(x, rn->fd, op.max_record);
	return extract_json(x, rn->fd, op.items);
}

/* The source read by the reader its scheme names. Returns 0, -1 on a
 * fatal error (reported), -2 on a usage error (reported). */
static int
read_source(struct extract *x, struct run *rn)
{
	const char *src = rn->src;

	if (rn->multi)
		return from_files(x, rn);
	if (strncmp(src, "csv:", 4) == 0 || strncmp(src, "tsv:", 4) == 0)
		return from_file(x, rn, 4);
	if (strncmp(src, "ndjson:", 7) == 0)
		return from_file(x, rn, 7);
	if (strncmp(src, "json:", 5) == 0)
		return from_file(x, rn, 5);
	if (strncmp(src, "odbc:", 5) == 0)
		return from_odbc(x, rn);
	if (strncmp(src, "http://", 7) == 0 || strncmp(src, "https://", 8) == 0)
		return from_http(x, rn);
	if (strncmp(src, "iothub:", 7) == 0)
		return run_iothub(x, src + 7);
	cli_usage_error(&prog, "unknown source '%s': expected csv:, tsv:, "
	    "ndjson:, json:, blob:, odbc:, http:, https: or iothub:",
	    rn->name);
	return -2;
}

/* After a whole read: the control record that says what it was (a
 * complete snapshot, or the watermark it reached), or why there is none.
 * Returns the exit code. */
static int
announce(struct extract *x, struct run *rn, int rc)
{
	if (rc < 0 || (rn->fd < 0 && rn->file != NULL))
		return EXIT_FATAL;
	if (stage_stop) {
		log_error("interrupted: stopped reading; no snapshot announced");
		return EXIT_FATAL;
	}
	if (x->failed > 0) {
		log_warn("%llu records failed: no complete snapshot announced",
		    (unsigned long long)x->failed);
		return EXIT_SOME_FAILED;
	}
	if (x->partial) {
		log_warn("stopped at --max-pages with more pages left: no "
		    "complete snapshot announced");
		return EXIT_ALL_OK;
	}
	if (op.watermark == NULL && op.no_snapshot)
		return EXIT_ALL_OK;
	x->rec.len = 0;
	buf_adds(&x->rec, op.watermark != NULL ? "{\"_meta\":{\"control\":\""
	    WATERMARK_CONTROL "\",\"source\":" : "{\"_meta\":{\"control\":\""
	    SNAPSHOT_COMPLETE "\",\"source\":");
	json_write_string(&x->rec, rn->name, strlen(rn->name), JSON_ASCII);
	if (op.watermark != NULL) {
		buf_printf(&x->rec, ",\"run\":\"%s\"", x->run);
	} else {
		buf_adds(&x->rec, ",\"run\":");
		json_write_string(&x->rec, x->run, strlen(x->run), JSON_ASCII);
		if (x->shard_n > 1)
			buf_printf(&x->rec, ",\"shard\":\"%u/%u\"", x->shard_i,
			    x->shard_n);
		if (x->control_extra != NULL)
			buf_adds(&x->rec, x->control_extra);
	}
	buf_printf(&x->rec, ",\"records\":%llu}}", (unsigned long long)x->out);
	ndjson_write_line(x->w, x->rec.p, x->rec.len);
	x->control++;
	return EXIT_ALL_OK;
}

/* --ack: the acknowledgements of a run read, its watermark stored. */
static int
ack(struct cli_common *common, int argc, char **argv, int first)
{
	struct stage st;
	int status;

	if (op.state == NULL || op.watermark == NULL || op.name == NULL) {
		cli_usage_error(&prog, "--ack needs --state, --watermark and "
		    "--name");
		return EXIT_USAGE;
	}
	if ((status = stage_begin(&st, argc, argv, argc, NULL,
	    "extract-lob")) != 0)
		return status;
	status = run_ack(argv + first, argc - first, &st.out) < 0 ?
	    EXIT_FATAL : EXIT_ALL_OK;
	return stage_end(&st, status, common->stats, 0, "");
}

static void
run_free(struct extract *x, struct run *rn)
{
	if (rn->fd > 0)
		close(rn->fd);
	keypath_free(x->kp);
	tape_release(&x->t);
	canon_release(&x->canon);
	json_numlits_release(&x->lits);
	buf_release(&x->rec);
	buf_release(&x->tmp);
	free(x->control_extra);
	free(rn->name);
	free(rn->wm);
	free(rn->password);
	free(rn->token);
	free(rn->hval);
}

int
main(int argc, char **argv)
{
	struct cli_common common;
	struct extract x = { 0 };
	struct run rn = { 0 };
	struct stage st;
	int first, status = EXIT_USAGE, rc;

	log_init("extract-lob");
	x.t = (struct tape)TAPE_INIT;
	x.canon = (struct canon)CANON_INIT;
	x.lits = (struct json_numlits)JSON_NUMLITS_INIT;
	x.shard_n = 1;
	rn.co = (struct csv_opts){ ',', 0, 0, NULL };
	rn.fd = -1;
	if ((first = cli_parse(&prog, argc, argv, &common)) < 0)
		return EXIT_USAGE;
	if (op.ack)
		return ack(&common, argc, argv, first);
	if (argc - first != 1) {
		cli_usage_error(&prog, "expected one SOURCE");
		return EXIT_USAGE;
	}
	rn.src = argv[first];
	if (check_options(&x, &rn) < 0)
		goto out;
	rn.name = op.name != NULL ? xstrdup(op.name) : source_name(rn.src);
	x.source = rn.name;
	run_id(&x, &rn);
	/* no input: the stage gives the signals, the output, the end */
	if (load_watermark(&rn) < 0 || (status = stage_begin(&st, argc,
	    argv, argc, op.dead_letter, "extract-lob")) != 0)
		goto out;
	if (read_secrets(&rn) < 0) {
		stage_free(&st);
		status = EXIT_USAGE;
		goto out;
	}
	x.w = &st.out;
	x.dlq = st.dlq;
	x.max_record = op.max_record;
	x.stop = &stage_stop;
	x.key_expr = op.key;
	refresh_counts(&x);
	stats_set_refresh(refresh_counts, &x);
	rc = read_source(&x, &rn);
	status = rc == -2 ? EXIT_USAGE : announce(&x, &rn, rc);
	refresh_counts(&x);
	*stats_counter("control") = x.control;
	status = stage_end(&st, status, common.stats, x.failed, "");
out:
	run_free(&x, &rn);
	return status;
}
