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
#include "stats.h"

#define SNAPSHOT_COMPLETE "snapshot-complete"
#define WATERMARK_CONTROL "watermark"

static volatile sig_atomic_t stop_flag;

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

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

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
		    op.max_record, NULL, NULL, &stop_flag);
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

static int
parse_shard(const char *s, unsigned *i, unsigned *n)
{
	char *e;
	unsigned long a, b;

	errno = 0;
	a = strtoul(s, &e, 10);
	if (e == s || *e != '/' || errno)
		return -1;
	s = e + 1;
	b = strtoul(s, &e, 10);
	if (e == s || *e != '\0' || errno || b == 0 || b > 65536 || a >= b)
		return -1;
	*i = (unsigned)a;
	*n = (unsigned)b;
	return 0;
}

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

int
main(int argc, char **argv)
{
	struct cli_common common;
	struct extract x = { 0 };
	struct ndjson_writer w;
	struct sigaction sa;
	struct csv_opts co = { ',', 0, 0, NULL };
	struct odbc_opts oo = { 0 };
	char msg[256], run[64], *name = NULL, *wm = NULL, *password = NULL;
	char *token = NULL, *hval = NULL;
	const char *src, *file = NULL;
	int first, status = EXIT_ALL_OK, fd = -1, rc = -1, pwfail = 0;
	int writer = 0, multi = 0;

	log_init("extract-lob");
	x.t = (struct tape)TAPE_INIT;
	x.canon = (struct canon)CANON_INIT;
	x.lits = (struct json_numlits)JSON_NUMLITS_INIT;
	x.shard_n = 1;
	first = cli_parse(&prog, argc, argv, &common);
	if (first < 0) {
		status = EXIT_USAGE;
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (op.ack) {
		if (op.state == NULL || op.watermark == NULL || op.name == NULL) {
			cli_usage_error(&prog, "--ack needs --state, "
			    "--watermark and --name");
			status = EXIT_USAGE;
			goto out;
		}
		ndjson_writer_init(&w, 1);
		writer = 1;
		if (run_ack(argv + first, argc - first, &w) < 0)
			status = EXIT_FATAL;
		goto flush;
	}
	if (argc - first != 1) {
		cli_usage_error(&prog, "expected one SOURCE");
		status = EXIT_USAGE;
		goto out;
	}
	src = argv[first];
	if (op.max_record < 16 || op.max_record > (1u << 30)) {
		cli_usage_error(&prog, "--max-record must be between 16 and 1G");
		status = EXIT_USAGE;
		goto out;
	}
	if (op.shard != NULL) {
		if (parse_shard(op.shard, &x.shard_i, &x.shard_n) < 0) {
			cli_usage_error(&prog, "--shard '%s': expected I/N "
			    "with 0 <= I < N", op.shard);
			status = EXIT_USAGE;
			goto out;
		}
		if (op.key == NULL) {
			cli_usage_error(&prog, "--shard needs --key");
			status = EXIT_USAGE;
			goto out;
		}
	}
	if (op.key != NULL && (x.kp = keypath_parse(op.key)) == NULL) {
		cli_usage_error(&prog, "--key '%s': expected a path like .id "
		    "or .[\"$dtId\"] // .id", op.key);
		status = EXIT_USAGE;
		goto out;
	}
	if (op.delimiter != NULL) {
		if (strcmp(op.delimiter, "tab") == 0 ||
		    strcmp(op.delimiter, "\\t") == 0)
			co.delimiter = '\t';
		else if (strlen(op.delimiter) == 1 && op.delimiter[0] != '"' &&
		    op.delimiter[0] != '\n' && op.delimiter[0] != '\r')
			co.delimiter = (unsigned char)op.delimiter[0];
		else {
			cli_usage_error(&prog, "--delimiter must be one "
			    "character (or 'tab')");
			status = EXIT_USAGE;
			goto out;
		}
	} else if (strncmp(src, "tsv:", 4) == 0) {
		co.delimiter = '\t';
	}
	co.no_header = op.no_header;
	co.empty_null = op.empty_null;
	co.types = op.types;
	if (op.types != NULL &&
	    extract_csv_check_types(op.types, msg, sizeof(msg)) < 0) {
		cli_usage_error(&prog, "--types: %s", msg);
		status = EXIT_USAGE;
		goto out;
	}
	if (op.items != NULL &&
	    extract_items_check(op.items, msg, sizeof(msg)) < 0) {
		cli_usage_error(&prog, "--items: %s", msg);
		status = EXIT_USAGE;
		goto out;
	}
	if (op.fetch < 1 || op.fetch > 100000) {
		cli_usage_error(&prog, "--fetch must be between 1 and 100000");
		status = EXIT_USAGE;
		goto out;
	}
	if (strncmp(src, "odbc:", 5) == 0 && op.query == NULL) {
		cli_usage_error(&prog, "an odbc: source needs --query");
		status = EXIT_USAGE;
		goto out;
	}
	/* many files as one source: json:/ndjson: DIR or GLOB, blob: */
	if (strncmp(src, "blob:", 5) == 0)
		multi = 2;
	else if ((strncmp(src, "json:", 5) == 0 &&
	    extract_files_is_multi(src + 5)) ||
	    (strncmp(src, "ndjson:", 7) == 0 &&
	    extract_files_is_multi(src + 7)))
		multi = 1;
	if (op.watermark != NULL && multi &&
	    strcmp(op.watermark, "last-modified") != 0) {
		cli_usage_error(&prog, "--watermark of a directory, glob or "
		    "blob: source must be last-modified");
		status = EXIT_USAGE;
		goto out;
	}
	if (op.watermark != NULL && ((strncmp(src, "odbc:", 5) != 0 &&
	    !multi) || op.state == NULL)) {
		cli_usage_error(&prog, "--watermark needs an odbc: source (or "
		    "a directory, glob or blob: source) and --state");
		status = EXIT_USAGE;
		goto out;
	}
	name = op.name != NULL ? xstrdup(op.name) : source_name(src);
	x.source = name;
	if (op.run != NULL) {
		x.run = op.run;
	} else {
		time_t now = time(NULL);
		struct tm tm;

		gmtime_r(&now, &tm);
		strftime(run, sizeof(run), "%Y%m%dT%H%M%SZ", &tm);
		snprintf(run + strlen(run), sizeof(run) - strlen(run), "-%ld",
		    (long)getpid());
		x.run = run;
	}
	if (op.watermark != NULL) {
		if (wm_load(name, &wm) < 0) {
			status = EXIT_USAGE;
			goto out;
		}
		if (wm == NULL && op.wm_start != NULL)
			wm = xstrdup(op.wm_start);
		if (wm != NULL && multi && (wm[0] != '"' ||
		    wm[strlen(wm) - 1] != '"')) {
			cli_usage_error(&prog, "--watermark-start of "
			    "last-modified: a JSON string such as "
			    "\"2026-01-01T00:00:00.000000000Z\"");
			status = EXIT_USAGE;
			goto out;
		}
		if (wm == NULL && !multi) {
			cli_usage_error(&prog, "no watermark of '%s' in '%s' "
			    "yet: give --watermark-start", name, op.state);
			status = EXIT_USAGE;
			goto out;
		}
	}
	if (op.dead_letter != NULL &&
	    (x.dlq = dlq_open(op.dead_letter, "extract-lob")) == NULL) {
		log_error("cannot open dead-letter file '%s': %s",
		    op.dead_letter, strerror(errno));
		status = EXIT_USAGE;
		goto out;
	}
	password = cli_secret("EXTRACT_PASSWORD", op.password_file,
	    &pwfail);
	if (!pwfail && op.token_file != NULL)
		token = cli_secret(NULL, op.token_file, &pwfail);
	if (!pwfail && op.auth_header != NULL) {
		hval = cli_secret("EXTRACT_AUTH_HEADER", op.auth_header_file,
		    &pwfail);
		if (hval == NULL && !pwfail) {
			cli_usage_error(&prog, "--auth-header needs "
			    "EXTRACT_AUTH_HEADER or --auth-header-file");
			status = EXIT_USAGE;
			goto out;
		}
	}
	if (op.scope != NULL && op.token_file != NULL) {
		cli_usage_error(&prog, "give --scope or --token-file, not both");
		status = EXIT_USAGE;
		goto out;
	}
	if (op.page_size < 0 || op.max_pages < 0 || op.max_attempts < 0 ||
	    op.max_attempts > 1000) {
		cli_usage_error(&prog, "--page-size, --max-pages and "
		    "--max-attempts must not be negative");
		status = EXIT_USAGE;
		goto out;
	}
	if (pwfail) {
		status = EXIT_USAGE;
		goto out;
	}

	ndjson_writer_init(&w, 1);
	writer = 1;
	x.w = &w;
	x.dlq = x.dlq;
	x.max_record = op.max_record;
	x.stop = &stop_flag;
	x.key_expr = op.key;
	refresh_counts(&x);
	stats_set_refresh(refresh_counts, &x);
	if (multi) {
		struct files_opts fo = { 0 };

		fo.lines = strncmp(src, "ndjson:", 7) == 0;
		fo.items = op.items;
		fo.max_line = op.max_record;
		fo.wm_since = op.watermark != NULL ? wm : NULL;
		if (op.watermark != NULL && wm == NULL)
			fo.wm_since = "\"\"";	/* first run: everything */
		if (multi == 2) {
			struct blob_src_opts bo = { 0 };

			bo.url = src + 5;
			bo.insecure = op.insecure;
			bo.cacert = op.cacert;
			rc = extract_blob(&x, &bo, &fo);
		} else {
			rc = extract_files(&x, src + (src[0] == 'j' ? 5 : 7),
			    &fo);
		}
	} else if (strncmp(src, "csv:", 4) == 0 ||
	    strncmp(src, "tsv:", 4) == 0) {
		if ((fd = open_path(src + 4, &file)) >= 0) {
			x.file = file;
			rc = extract_csv(&x, fd, &co);
		}
	} else if (strncmp(src, "ndjson:", 7) == 0) {
		if ((fd = open_path(src + 7, &file)) >= 0) {
			x.file = file;
			rc = extract_ndjson(&x, fd, op.max_record);
		}
	} else if (strncmp(src, "json:", 5) == 0) {
		if ((fd = open_path(src + 5, &file)) >= 0) {
			x.file = file;
			rc = extract_json(&x, fd, op.items);
		}
	} else if (strncmp(src, "odbc:", 5) == 0) {
		oo.conn = src + 5;
		oo.query = op.query;
		oo.user = op.user;
		oo.password = password;
		oo.wm_col = op.watermark;
		oo.wm_value = wm;
		oo.fetch = op.fetch;
		rc = extract_odbc(&x, &oo);
	} else if (strncmp(src, "http://", 7) == 0 ||
	    strncmp(src, "https://", 8) == 0) {
		struct http_src_opts ho = { 0 };

		ho.url = src;
		ho.items = op.items;
		ho.next = op.next;
		ho.page_size = op.page_size;
		ho.offset_param = op.offset_param;
		ho.limit_param = op.limit_param;
		ho.scope = op.scope;
		ho.token = token;
		ho.basic_user = op.user;
		ho.password = password;
		ho.header_name = op.auth_header;
		ho.header_value = hval;
		ho.rate = op.rate;
		ho.insecure = op.insecure;
		ho.cacert = op.cacert;
		ho.follow_foreign = op.follow_foreign;
		ho.max_pages = op.max_pages;
		ho.max_attempts = (unsigned)op.max_attempts;
		rc = extract_http(&x, &ho);
	} else if (strncmp(src, "iothub:", 7) == 0) {
		rc = run_iothub(&x, src + 7);
		if (rc == -2) {
			status = EXIT_USAGE;
			goto flush;
		}
	} else {
		cli_usage_error(&prog, "unknown source '%s': expected csv:, "
		    "tsv:, ndjson:, json:, blob:, odbc:, http:, https: or "
		    "iothub:", name);
		status = EXIT_USAGE;
		goto flush;
	}
	if (rc < 0 || (fd < 0 && file != NULL)) {
		status = EXIT_FATAL;
	} else if (stop_flag) {
		log_error("interrupted: stopped reading; no snapshot announced");
		status = EXIT_FATAL;
	} else if (x.failed > 0) {
		log_warn("%llu records failed: no complete snapshot announced",
		    (unsigned long long)x.failed);
	} else if (x.partial) {
		log_warn("stopped at --max-pages with more pages left: no "
		    "complete snapshot announced");
	} else if (op.watermark != NULL) {
		x.rec.len = 0;
		buf_adds(&x.rec, "{\"_meta\":{\"control\":\"" WATERMARK_CONTROL
		    "\",\"source\":");
		json_write_string(&x.rec, name, strlen(name), JSON_ASCII);
		buf_printf(&x.rec, ",\"run\":\"%s\",\"records\":%llu}}", x.run,
		    (unsigned long long)x.out);
		ndjson_write_line(&w, x.rec.p, x.rec.len);
		x.control++;
	} else if (!op.no_snapshot) {
		x.rec.len = 0;
		buf_adds(&x.rec, "{\"_meta\":{\"control\":\"" SNAPSHOT_COMPLETE
		    "\",\"source\":");
		json_write_string(&x.rec, name, strlen(name), JSON_ASCII);
		buf_adds(&x.rec, ",\"run\":");
		json_write_string(&x.rec, x.run, strlen(x.run), JSON_ASCII);
		if (x.shard_n > 1)
			buf_printf(&x.rec, ",\"shard\":\"%u/%u\"", x.shard_i,
			    x.shard_n);
		if (x.control_extra != NULL)
			buf_adds(&x.rec, x.control_extra);
		buf_printf(&x.rec, ",\"records\":%llu}}",
		    (unsigned long long)x.out);
		ndjson_write_line(&w, x.rec.p, x.rec.len);
		x.control++;
	}
	if (x.failed > 0)
		status = exit_worst(status, EXIT_SOME_FAILED);
flush:
	if (ndjson_writer_release(&w) < 0 || w.err) {
		log_error("write error on standard output: %s",
		    strerror(w.err ? w.err : errno));
		status = EXIT_FATAL;
	}
	writer = 0;
	if (dlq_close(x.dlq) < 0) {
		log_error("write error on the dead-letter file '%s'",
		    op.dead_letter);
		status = EXIT_FATAL;
	}
	x.dlq = NULL;
	if (!op.ack) {
		refresh_counts(&x);
		*stats_counter("control") = x.control;
	}
	stats_finish(common.stats, status);
out:
	if (writer)
		ndjson_writer_release(&w);
	if (fd > 0)
		close(fd);
	dlq_close(x.dlq);
	keypath_free(x.kp);
	tape_release(&x.t);
	canon_release(&x.canon);
	json_numlits_release(&x.lits);
	buf_release(&x.rec);
	buf_release(&x.tmp);
	free(x.control_extra);
	free(name);
	free(wm);
	free(password);
	free(token);
	free(hval);
	return status;
}
