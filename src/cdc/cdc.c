/*
 * cdc-filter - pass only the records whose content changed since the last
 * acknowledged run; emit deletes for keys missing from a complete snapshot;
 * with --commit, record what the sink acknowledged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jq.h>

#include "buf.h"
#include "canon.h"
#include "cli.h"
#include "codec.h"
#include "exitcode.h"
#include "json.h"
#include "keypath.h"
#include "log.h"
#include "ndjson.h"
#include "stage.h"
#include "state.h"
#include "stats.h"
#include "tape.h"

#define DEFAULT_KEY ".[\"$dtId\"] // .id"
#define SNAPSHOT_COMPLETE "snapshot-complete"
#define READ_TX_RECORDS 4096


/* The state file's schema: migrations[i] takes version i to i+1. */
static const char *const migrations[] = {
	"CREATE TABLE cdc_state("
	" key TEXT PRIMARY KEY,"
	" hash BLOB NOT NULL,"
	" ident TEXT,"
	" doc TEXT,"
	" updated_at INTEGER NOT NULL"
	") WITHOUT ROWID",
};

enum {
	ST_LOOKUP,
	ST_SEEN_INSERT,
	ST_SEEN_GET,
	ST_SEEN_SET,
	ST_UPSERT,
	ST_DELETE,
	ST_MISSING
};

struct opts {
	const char *key;
	const char *state;
	const char *dead_letter;
	const char *shard;
	int diff;
	int snapshot;
	int commit;
	long batch;
	size_t max_line;
	struct canon canon;
	int bad_exclude;
};

static struct opts op = {
	.key = DEFAULT_KEY,
	.batch = 1000,
	.max_line = NDJSON_DEFAULT_MAX_LINE,
};

static int
opt_exclude(const struct cli_opt *o, char **a, void *ctx)
{
	struct opts *p = ctx;
	char err[256];

	(void)o;
	if (canon_exclude(&p->canon, a[0], err, sizeof(err)) < 0) {
		fprintf(stderr, "cdc-filter: error: --exclude %s: %s\n", a[0],
		    err);
		p->bad_exclude = 1;
		return -1;
	}
	return 0;
}

static const struct cli_opt options[] = {
	{ "batch", 0, CLI_LONG, &op.batch, "N", "CDC_BATCH",
	    "--commit: acknowledgements per transaction (default 1000)", 0,
	    NULL },
	{ "commit", 0, CLI_FLAG, &op.commit, NULL, NULL,
	    "read push results and record the acknowledged changes", 0,
	    NULL },
	{ "dead-letter", 0, CLI_STR, &op.dead_letter, "FILE",
	    "TWINPIPE_DEAD_LETTER",
	    "append bad input lines with their error to FILE (NDJSON)", 0,
	    NULL },
	{ "diff", 0, CLI_FLAG, &op.diff, NULL, NULL,
	    "emit updates as JSON Patch operations ($op \"patch\")", 0,
	    NULL },
	{ "exclude", 0, CLI_FN, NULL, "FIELD", NULL,
	    "leave FIELD (a name or a JSON Pointer) out of the comparison; "
	    "repeatable", 1, opt_exclude },
	{ "key", 'k', CLI_STR, &op.key, "EXPR", "CDC_KEY",
	    "jq path of the record's key (default .[\"$dtId\"] // .id)", 0,
	    NULL },
	{ "max-line", 0, CLI_SIZE, &op.max_line, "SIZE",
	    "TWINPIPE_MAX_LINE", "longest input line accepted "
	    "(default 16M)", 0, NULL },
	{ "shard", 0, CLI_STR, &op.shard, "I/N", "CDC_SHARD",
	    "keep only the keys of shard I of N (0 <= I < N)", 0, NULL },
	{ "snapshot", 0, CLI_FLAG, &op.snapshot, NULL, NULL,
	    "the input is a complete snapshot: emit deletes for missing keys",
	    0, NULL },
	{ "state", 's', CLI_STR, &op.state, "FILE", "CDC_STATE",
	    "the state file (SQLite; created when missing)", 0, NULL },
};

static const struct cli_prog prog = {
	"cdc-filter",
	"--state FILE [--key EXPR] [--diff] [--snapshot] [OPTION ...] [FILE ...]\n"
	"--state FILE --commit [OPTION ...] [FILE ...]",
	"Pass on only the NDJSON records whose content changed since the\n"
	"last acknowledged run, with _meta.cdc = {key, hash, change}; with\n"
	"--snapshot, emit $op \"delete\" records for keys missing from a\n"
	"complete snapshot. With --commit, read the push results and record\n"
	"in the state the changes the sink acknowledged (ok results). The\n"
	"first stage never writes the state.",
	options, sizeof(options) / sizeof(options[0]),
	"A complete snapshot is announced by the control record\n"
	"  {\"_meta\":{\"control\":\"snapshot-complete\",\"records\":N}}\n"
	"See cdc-filter(1) for the state schema.\n",
	&op
};

struct cdc {
	struct state *st;
	struct canon *canon;
	struct keypath *kp;	/* the fast key path, or NULL: jq */
	jq_state *jq;
	struct tape t, old;
	struct json_numlits lits;
	struct buf key, cbuf, obuf, tmp;
	struct dlq *dlq;
	struct ndjson_writer *w;
	unsigned shard_i, shard_n;
	int in_read_tx;
	unsigned read_tx_n;
	int fatal;
	/* snapshot */
	int snap_complete;
	long long snap_records;	/* announced count, -1: none */
	uint64_t data_records;
	/* source records: runs of records with the same _meta.src (a
	 * transform may turn one source record into several, adjacent) */
	uint64_t src_records;
	uint64_t last_src;	/* hash of the previous record's _meta.src */
	/* counters */
	uint64_t in, unchanged, inserted, updated, deleted, failed, dup,
	    control, blank, other_shard, passed;
	uint64_t committed, removed, rejected, ignored;
};

static int
fail(struct cdc *c, const char *src, const struct ndjson_line *l,
    int is_json, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* A failed record: reported, dead-lettered, counted. Returns 1. */
static int
fail(struct cdc *c, const char *src, const struct ndjson_line *l,
    int is_json, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (dlq_vfail(c->dlq, src, l, is_json, code, fmt, ap) < 0)
		c->fatal = 1;
	va_end(ap);
	c->failed++;
	return 1;
}

/* Member k of the object at node obj (the last one with duplicates), or 0. */
static uint32_t
member(const struct tape *t, uint32_t obj, const char *k)
{
	size_t kn = strlen(k);
	uint32_t i, m, found = 0;

	if (!(t->nodes[obj].flags & TAPE_DUPS))
		return tape_lookup(t, obj, k, kn);
	i = obj + 1;
	for (m = 0; m < t->nodes[obj].n; m++) {
		if (t->nodes[i].n == kn && memcmp(t->nodes[i].p, k, kn) == 0)
			found = i + 1;
		i = t->nodes[i + 1].next;
	}
	return found;
}

/* The control kind of a control record, or NULL. */
static const struct tape_node *
control_kind(const struct tape *t)
{
	uint32_t m, k;

	if (t->nodes[0].n != 1 || (m = member(t, 0, "_meta")) == 0 ||
	    t->nodes[m].type != TAPE_OBJECT)
		return NULL;
	k = member(t, m, "control");
	return k != 0 && t->nodes[k].type == TAPE_STRING ? &t->nodes[k] :
	    NULL;
}

static int
str_is(const struct tape_node *nd, const char *s)
{
	return nd->type == TAPE_STRING && nd->n == strlen(s) &&
	    memcmp(nd->p, s, nd->n) == 0;
}

/*
 * The record's key into c->key. Returns 0, or -1 with msg/code set (a
 * record error).
 */
static int
eval_key(struct cdc *c, const char **code, char *msg, size_t msglen)
{
	uint32_t k;

	c->key.len = 0;
	if (c->kp != NULL) {
		k = keypath_eval(c->kp, &c->t);
		if (k == 0) {
			*code = "missing_key";
			snprintf(msg, msglen, "no key: %s is null or missing",
			    op.key);
			return -1;
		}
		if (c->t.nodes[k].type == TAPE_STRING ||
		    c->t.nodes[k].type == TAPE_NUMBER) {
			buf_add(&c->key, c->t.nodes[k].p, c->t.nodes[k].n);
			goto check;
		}
		*code = "bad_key";
		snprintf(msg, msglen, "key %s is %s, not a string or a number",
		    op.key, tape_kind_name(c->t.nodes[k].type));
		return -1;
	} else {
		jv rec = json_from_tape(&c->t, 0, &c->lits), v;
		jv_kind kind;

		jq_start(c->jq, rec, 0);
		v = jq_next(c->jq);
		kind = jv_get_kind(v);
		if (kind == JV_KIND_INVALID) {
			jv m = jv_invalid_get_msg(v);

			*code = "key_error";
			if (jv_get_kind(m) == JV_KIND_STRING)
				snprintf(msg, msglen, "key %s failed: %s",
				    op.key, jv_string_value(m));
			else
				snprintf(msg, msglen, "key %s gave no value",
				    op.key);
			jv_free(m);
			return -1;
		}
		if (kind == JV_KIND_STRING) {
			buf_add(&c->key, jv_string_value(v),
			    (size_t)jv_string_length_bytes(jv_copy(v)));
		} else if (kind == JV_KIND_NUMBER) {
			json_write(&c->key, v, 0, &c->lits);
		} else {
			*code = kind == JV_KIND_NULL ? "missing_key" :
			    "bad_key";
			if (kind == JV_KIND_NULL)
				snprintf(msg, msglen, "no key: %s is null or "
				    "missing", op.key);
			else
				snprintf(msg, msglen, "key %s is not a string "
				    "or a number", op.key);
			jv_free(v);
			return -1;
		}
		jv_free(v);
	}
check:
	if (c->key.len == 0) {
		*code = "bad_key";
		snprintf(msg, msglen, "key %s is the empty string", op.key);
		return -1;
	}
	buf_cstr(&c->key);
	return 0;
}

/* Append the ident object ($dtId, $relationshipId, id of the record). */
static void
write_ident(struct cdc *c, struct buf *b)
{
	static const char *const f[] = { "$dtId", "$relationshipId", "id" };
	size_t i;
	int n = 0;

	buf_addc(b, '{');
	for (i = 0; i < 3; i++) {
		uint32_t v = member(&c->t, 0, f[i]);

		if (v == 0)
			continue;
		if (n++)
			buf_addc(b, ',');
		json_write_string(b, f[i], strlen(f[i]), 0);
		buf_addc(b, ':');
		canon_write(c->canon, b, &c->t, v, 0);
	}
	buf_addc(b, '}');
}

/*
 * Append `"_meta":{<old _meta members but cdc>,"cdc":{...}}` for the
 * current record. hash may be NULL; doc (canonical text) may be NULL.
 */
static void
write_meta(struct cdc *c, struct buf *b, const char *change,
    const unsigned char *hash, const char *doc, size_t doclen)
{
	uint32_t m = member(&c->t, 0, "_meta");

	buf_adds(b, "\"_meta\":{");
	if (m != 0 && c->t.nodes[m].type == TAPE_OBJECT) {
		uint32_t k = m + 1, i;

		for (i = 0; i < c->t.nodes[m].n; i++) {
			if (!str_is(&c->t.nodes[k], "cdc")) {
				canon_write(c->canon, b, &c->t, k, 0);
				buf_addc(b, ':');
				canon_write(c->canon, b, &c->t, k + 1, 0);
				buf_addc(b, ',');
			}
			k = c->t.nodes[k + 1].next;
		}
	}
	buf_adds(b, "\"cdc\":{\"key\":");
	json_write_string(b, c->key.p, c->key.len, 0);
	if (hash != NULL) {
		buf_adds(b, ",\"hash\":\"");
		hex_encode(b, hash, CANON_HASH_LEN);
		buf_addc(b, '"');
	}
	buf_adds(b, ",\"change\":\"");
	buf_adds(b, change);
	buf_adds(b, "\",\"ident\":");
	write_ident(c, b);
	if (doc != NULL) {
		buf_adds(b, ",\"doc\":");
		buf_add(b, doc, doclen);
	}
	buf_adds(b, "}}");
}

/* The record as it came, with _meta.cdc added (at the end). */
static void
emit_whole(struct cdc *c, const char *change, const unsigned char *hash,
    int with_doc)
{
	struct buf *b = &c->w->b;
	uint32_t k = 1, i;

	buf_addc(b, '{');
	for (i = 0; i < c->t.nodes[0].n; i++) {
		if (!str_is(&c->t.nodes[k], "_meta")) {
			canon_write(c->canon, b, &c->t, k, 0);
			buf_addc(b, ':');
			canon_write(c->canon, b, &c->t, k + 1, 0);
			buf_addc(b, ',');
		}
		k = c->t.nodes[k + 1].next;
	}
	write_meta(c, b, change, hash, with_doc ? c->cbuf.p : NULL,
	    c->cbuf.len);
	buf_addc(b, '}');
	ndjson_writer_commit(c->w);
}

/* An ADT JSON Patch record: the identity fields, $op, $patch, _meta. */
static void
emit_patch(struct cdc *c, const unsigned char *hash, const char *patch,
    size_t plen)
{
	static const char *const f[] = { "$dtId", "$relationshipId", "id" };
	struct buf *b = &c->w->b;
	size_t i;

	buf_addc(b, '{');
	for (i = 0; i < 3; i++) {
		uint32_t v = member(&c->t, 0, f[i]);

		if (v == 0)
			continue;
		json_write_string(b, f[i], strlen(f[i]), 0);
		buf_addc(b, ':');
		canon_write(c->canon, b, &c->t, v, 0);
		buf_addc(b, ',');
	}
	buf_adds(b, "\"$op\":\"patch\",\"$patch\":");
	buf_add(b, patch, plen);
	buf_addc(b, ',');
	write_meta(c, b, "update", hash, c->cbuf.p, c->cbuf.len);
	buf_addc(b, '}');
	ndjson_writer_commit(c->w);
}

static void
state_fatal(struct cdc *c, const struct state_err *se)
{
	if (!c->fatal)
		log_error("%s", se->msg);
	c->fatal = 1;
}

static int
read_tx(struct cdc *c)
{
	struct state_err se;

	if (c->in_read_tx && ++c->read_tx_n < READ_TX_RECORDS)
		return 0;
	if (c->in_read_tx && state_exec(c->st, "COMMIT", &se) < 0) {
		state_fatal(c, &se);
		return -1;
	}
	c->in_read_tx = 0;
	c->read_tx_n = 0;
	if (state_exec(c->st, "BEGIN", &se) < 0) {
		state_fatal(c, &se);
		return -1;
	}
	c->in_read_tx = 1;
	return 0;
}

static void
end_read_tx(struct cdc *c)
{
	struct state_err se;

	if (!c->in_read_tx)
		return;
	c->in_read_tx = 0;
	if (state_exec(c->st, "COMMIT", &se) < 0)
		state_fatal(c, &se);
}

/*
 * --snapshot: remember the key as seen. *prev is set to 1 and prev_hash
 * filled when it was seen before in this input (a duplicate).
 */
static int
seen(struct cdc *c, const unsigned char *hash, int *prev,
    unsigned char *prev_hash)
{
	struct state_err se;
	sqlite3_stmt *s;
	int rc;

	*prev = 0;
	s = state_stmt(c->st, ST_SEEN_INSERT, "INSERT INTO temp.seen(key, "
	    "hash) VALUES(?, ?)", &se);
	if (s == NULL)
		goto fatal;
	sqlite3_bind_text(s, 1, c->key.p, (int)c->key.len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, hash, CANON_HASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return 0;
	if ((rc & 0xff) != SQLITE_CONSTRAINT) {
		snprintf(se.msg, sizeof(se.msg), "state: remembering a key: %s",
		    sqlite3_errstr(rc));
		goto fatal;
	}
	*prev = 1;
	if ((s = state_stmt(c->st, ST_SEEN_GET, "SELECT hash FROM temp.seen "
	    "WHERE key = ?", &se)) == NULL)
		goto fatal;
	sqlite3_bind_text(s, 1, c->key.p, (int)c->key.len, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_bytes(s, 0) == CANON_HASH_LEN)
		memcpy(prev_hash, sqlite3_column_blob(s, 0), CANON_HASH_LEN);
	else
		memset(prev_hash, 0, CANON_HASH_LEN);
	sqlite3_reset(s);
	if ((s = state_stmt(c->st, ST_SEEN_SET, "UPDATE temp.seen SET hash = ? "
	    "WHERE key = ?", &se)) == NULL)
		goto fatal;
	sqlite3_bind_blob(s, 1, hash, CANON_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, c->key.p, (int)c->key.len, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		snprintf(se.msg, sizeof(se.msg), "state: remembering a key: %s",
		    sqlite3_errstr(rc));
		goto fatal;
	}
	return 0;
fatal:
	state_fatal(c, &se);
	return -1;
}

/* One record of the first stage. */
/* FNV-1a over the nodes of the value at i (types, sizes and bytes). */
static uint64_t
subtree_hash(const struct tape *t, uint32_t i)
{
	uint32_t end = t->nodes[i].next, k;
	uint64_t h = 1469598103934665603ull;

	for (k = i; k < end; k++) {
		const struct tape_node *nd = &t->nodes[k];
		uint32_t j;

		h = (h ^ nd->type) * 1099511628211ull;
		h = (h ^ nd->n) * 1099511628211ull;
		if (nd->type == TAPE_STRING || nd->type == TAPE_NUMBER)
			for (j = 0; j < nd->n; j++)
				h = (h ^ (unsigned char)nd->p[j]) *
				    1099511628211ull;
	}
	return h;
}

/*
 * Count source records for the snapshot check: consecutive records with
 * the same _meta.src came from one source record (transform emits all the
 * outputs of a record together); a record without _meta.src counts alone.
 */
static void
count_source_record(struct cdc *c)
{
	uint32_t m = member(&c->t, 0, "_meta"), s;
	uint64_t h;

	if (m == 0 || c->t.nodes[m].type != TAPE_OBJECT ||
	    (s = member(&c->t, m, "src")) == 0) {
		c->src_records++;
		c->last_src = 0;
		return;
	}
	h = subtree_hash(&c->t, s) | 1;	/* never 0 */
	if (h != c->last_src)
		c->src_records++;
	c->last_src = h;
}

static void
filter_line(struct cdc *c, const char *src, const struct ndjson_line *l)
{
	struct json_err je;
	const struct tape_node *ck;
	unsigned char hash[CANON_HASH_LEN], prev_hash[CANON_HASH_LEN];
	const char *code = NULL;
	char msg[512];
	uint32_t opn;
	sqlite3_stmt *s;
	struct state_err se;
	int dup = 0, rc, have_row = 0;

	c->in++;
	if (l->too_long) {
		c->data_records++;
		fail(c, src, l, 0, "line_too_long", "line longer than "
		    "--max-line (%zu bytes); its first bytes are in the "
		    "dead-letter file", l->len);
		return;
	}
	if (ndjson_blank(l->p, l->len)) {
		c->blank++;
		return;
	}
	if (tape_parse(&c->t, l->p, l->len, &je) < 0) {
		c->data_records++;
		fail(c, src, l, 0, "invalid_json", "invalid JSON at column "
		    "%zu: %s", je.off + 1, je.msg);
		return;
	}
	if (c->t.nodes[0].type != TAPE_OBJECT) {
		c->data_records++;
		fail(c, src, l, 1, "not_an_object", "record is %s, not a JSON "
		    "object", tape_kind_name(c->t.nodes[0].type));
		return;
	}
	if ((ck = control_kind(&c->t)) != NULL) {
		if (str_is(ck, SNAPSHOT_COMPLETE)) {
			uint32_t m = member(&c->t, 0, "_meta");
			uint32_t r = member(&c->t, m, "records");

			c->snap_complete = 1;
			if (r != 0 && c->t.nodes[r].type == TAPE_NUMBER)
				c->snap_records = (long long)tape_number(
				    &c->t.nodes[r]);
		}
		ndjson_write_line(c->w, l->p, l->len);
		c->control++;
		return;
	}
	c->data_records++;
	count_source_record(c);
	if (eval_key(c, &code, msg, sizeof(msg)) < 0) {
		fail(c, src, l, 1, code, "%s", msg);
		return;
	}
	if (c->shard_n > 1 && canon_shard(c->key.p, c->key.len, c->shard_n) !=
	    c->shard_i) {
		c->other_shard++;
		return;
	}
	if (read_tx(c) < 0)
		return;
	opn = member(&c->t, 0, "$op");
	if (opn != 0 && (str_is(&c->t.nodes[opn], "delete") ||
	    str_is(&c->t.nodes[opn], "patch"))) {
		/* operations pass; the commit forgets the key's hash */
		memset(hash, 0, sizeof(hash));
		if (op.snapshot && seen(c, hash, &dup, prev_hash) < 0)
			return;
		c->passed++;
		c->cbuf.len = 0;
		emit_whole(c, str_is(&c->t.nodes[opn], "delete") ? "delete" :
		    "patch", NULL, 0);
		return;
	}
	c->cbuf.len = 0;
	canon_write(c->canon, &c->cbuf, &c->t, 0, CANON_SORTED | CANON_TOP);
	canon_hash(c->canon, c->cbuf.p, c->cbuf.len, hash);
	if (op.snapshot && seen(c, hash, &dup, prev_hash) < 0)
		return;
	if ((s = state_stmt(c->st, ST_LOOKUP, op.diff ? "SELECT hash, doc "
	    "FROM cdc_state WHERE key = ?" : "SELECT hash FROM cdc_state "
	    "WHERE key = ?", &se)) == NULL) {
		state_fatal(c, &se);
		return;
	}
	sqlite3_bind_text(s, 1, c->key.p, (int)c->key.len, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		have_row = 1;
	} else if (rc != SQLITE_DONE) {
		snprintf(se.msg, sizeof(se.msg), "state '%s': looking up "
		    "key '%s': %s", op.state, c->key.p,
		    sqlite3_errmsg(state_db(c->st)));
		sqlite3_reset(s);
		state_fatal(c, &se);
		return;
	}
	if (dup) {
		/* last wins: compare with what the sink will hold */
		log_at(LV_WARN, src, l->lineno, "duplicate key '%s' in the "
		    "snapshot: the last record wins", c->key.p);
		c->dup++;
		sqlite3_reset(s);
		if (memcmp(prev_hash, hash, CANON_HASH_LEN) == 0) {
			c->unchanged++;
			return;
		}
		c->updated++;
		emit_whole(c, "update", hash, op.diff);
		return;
	}
	if (have_row && sqlite3_column_bytes(s, 0) == CANON_HASH_LEN &&
	    memcmp(sqlite3_column_blob(s, 0), hash, CANON_HASH_LEN) == 0) {
		sqlite3_reset(s);
		c->unchanged++;
		return;
	}
	if (!have_row) {
		sqlite3_reset(s);
		c->inserted++;
		emit_whole(c, "insert", hash, op.diff);
		return;
	}
	c->updated++;
	if (op.diff && sqlite3_column_type(s, 1) == SQLITE_TEXT) {
		const char *doc = (const char *)sqlite3_column_text(s, 1);
		size_t n = (size_t)sqlite3_column_bytes(s, 1), nops;

		if (tape_parse(&c->old, doc, n, &je) == 0) {
			c->obuf.len = 0;
			if (canon_diff(c->canon, &c->obuf, &c->old, &c->t,
			    &nops) == 0 && nops > 0) {
				sqlite3_reset(s);
				emit_patch(c, hash, c->obuf.p, c->obuf.len);
				return;
			}
		} else {
			log_at(LV_WARN, src, l->lineno, "key '%s': the stored "
			    "document is not valid JSON (%s): sending the "
			    "whole record", c->key.p, je.msg);
		}
	}
	sqlite3_reset(s);
	emit_whole(c, "update", hash, op.diff);
}

/* --snapshot at the end of a complete input: deletes for missing keys. */
static void
emit_deletes(struct cdc *c)
{
	struct state_err se;
	sqlite3_stmt *s;
	int rc;

	if (read_tx(c) < 0)
		return;
	if ((s = state_stmt(c->st, ST_MISSING, "SELECT key, ident FROM "
	    "cdc_state WHERE key NOT IN (SELECT key FROM temp.seen) "
	    "ORDER BY key", &se)) == NULL) {
		state_fatal(c, &se);
		return;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(s, 0);
		const char *ident = (const char *)sqlite3_column_text(s, 1);
		size_t kn = (size_t)sqlite3_column_bytes(s, 0);
		size_t in = (size_t)sqlite3_column_bytes(s, 1);
		struct buf *b = &c->w->b;

		if (c->shard_n > 1 && canon_shard(key, kn, c->shard_n) !=
		    c->shard_i)
			continue;
		buf_addc(b, '{');
		if (ident != NULL && in > 2 && ident[0] == '{') {
			buf_add(b, ident + 1, in - 2);
		} else {
			buf_adds(b, "\"$dtId\":");
			json_write_string(b, key, kn, 0);
		}
		buf_adds(b, ",\"$op\":\"delete\",\"_meta\":{\"cdc\":{\"key\":");
		json_write_string(b, key, kn, 0);
		buf_adds(b, ",\"change\":\"delete\"}}}");
		ndjson_writer_commit(c->w);
		c->deleted++;
	}
	if (rc != SQLITE_DONE) {
		snprintf(se.msg, sizeof(se.msg), "state '%s': listing missing "
		    "keys: %s", op.state, sqlite3_errmsg(state_db(c->st)));
		state_fatal(c, &se);
	}
	sqlite3_reset(s);
}

/* ---- --commit ---- */


static void
commit_line(struct cdc *c, const char *src, const struct ndjson_line *l)
{
	struct json_err je;
	struct state_err se;
	uint32_t okn, m, cd, kn, hn, chn, idn, dn;
	unsigned char hash[CANON_HASH_LEN];
	sqlite3_stmt *s;
	size_t i;
	int rc;

	c->in++;
	if (l->too_long) {
		fail(c, src, l, 0, "line_too_long", "line longer than "
		    "--max-line (%zu bytes)", l->len);
		return;
	}
	if (ndjson_blank(l->p, l->len)) {
		c->blank++;
		return;
	}
	if (tape_parse(&c->t, l->p, l->len, &je) < 0) {
		fail(c, src, l, 0, "invalid_json", "invalid JSON at column "
		    "%zu: %s", je.off + 1, je.msg);
		return;
	}
	if (c->t.nodes[0].type != TAPE_OBJECT) {
		fail(c, src, l, 1, "not_an_object", "result is %s, not a JSON "
		    "object", tape_kind_name(c->t.nodes[0].type));
		return;
	}
	if (control_kind(&c->t) != NULL) {
		ndjson_write_line(c->w, l->p, l->len);
		c->control++;
		return;
	}
	okn = member(&c->t, 0, "ok");
	if (okn == 0 || (c->t.nodes[okn].type != TAPE_TRUE &&
	    c->t.nodes[okn].type != TAPE_FALSE)) {
		fail(c, src, l, 1, "bad_result", "not a push result: \"ok\" "
		    "is missing or not a boolean");
		return;
	}
	ndjson_write_line(c->w, l->p, l->len);
	m = member(&c->t, 0, "_meta");
	cd = m != 0 && c->t.nodes[m].type == TAPE_OBJECT ?
	    member(&c->t, m, "cdc") : 0;
	if (cd == 0 || c->t.nodes[cd].type != TAPE_OBJECT ||
	    (kn = member(&c->t, cd, "key")) == 0 ||
	    c->t.nodes[kn].type != TAPE_STRING || c->t.nodes[kn].n == 0) {
		c->ignored++;	/* did not come through cdc-filter */
		return;
	}
	if (c->t.nodes[okn].type == TAPE_FALSE) {
		c->rejected++;	/* the next run sends it again */
		return;
	}
	chn = member(&c->t, cd, "change");
	if (chn == 0 || c->t.nodes[chn].type != TAPE_STRING) {
		fail(c, src, l, 1, "bad_result", "_meta.cdc.change is missing");
		return;
	}
	if (state_batch_begin(c->st, &se) < 0) {
		state_fatal(c, &se);
		return;
	}
	if (str_is(&c->t.nodes[chn], "delete") ||
	    str_is(&c->t.nodes[chn], "patch")) {
		if ((s = state_stmt(c->st, ST_DELETE, "DELETE FROM cdc_state "
		    "WHERE key = ?", &se)) == NULL) {
			state_fatal(c, &se);
			return;
		}
		sqlite3_bind_text(s, 1, c->t.nodes[kn].p,
		    (int)c->t.nodes[kn].n, SQLITE_STATIC);
		c->removed++;
	} else {
		hn = member(&c->t, cd, "hash");
		if (hn == 0 || c->t.nodes[hn].type != TAPE_STRING ||
		    c->t.nodes[hn].n != 2 * CANON_HASH_LEN) {
			fail(c, src, l, 1, "bad_result", "_meta.cdc.hash is "
			    "missing or not %d hex digits",
			    2 * CANON_HASH_LEN);
			return;
		}
		for (i = 0; i < CANON_HASH_LEN; i++) {
			int hi = hex_value(c->t.nodes[hn].p[2 * i]);
			int lo = hex_value(c->t.nodes[hn].p[2 * i + 1]);

			if (hi < 0 || lo < 0) {
				fail(c, src, l, 1, "bad_result",
				    "_meta.cdc.hash is not hexadecimal");
				return;
			}
			hash[i] = (unsigned char)(hi << 4 | lo);
		}
		idn = member(&c->t, cd, "ident");
		dn = member(&c->t, cd, "doc");
		c->tmp.len = 0;
		if (idn != 0 && c->t.nodes[idn].type == TAPE_OBJECT)
			canon_write(c->canon, &c->tmp, &c->t, idn,
			    CANON_SORTED);
		c->obuf.len = 0;
		if (dn != 0 && c->t.nodes[dn].type == TAPE_OBJECT)
			canon_write(c->canon, &c->obuf, &c->t, dn,
			    CANON_SORTED);
		if ((s = state_stmt(c->st, ST_UPSERT, "INSERT OR REPLACE INTO "
		    "cdc_state(key, hash, ident, doc, updated_at) "
		    "VALUES(?, ?, ?, ?, ?)", &se)) == NULL) {
			state_fatal(c, &se);
			return;
		}
		sqlite3_bind_text(s, 1, c->t.nodes[kn].p,
		    (int)c->t.nodes[kn].n, SQLITE_STATIC);
		sqlite3_bind_blob(s, 2, hash, CANON_HASH_LEN, SQLITE_STATIC);
		if (c->tmp.len > 0)
			sqlite3_bind_text(s, 3, c->tmp.p, (int)c->tmp.len,
			    SQLITE_STATIC);
		if (c->obuf.len > 0)
			sqlite3_bind_text(s, 4, c->obuf.p, (int)c->obuf.len,
			    SQLITE_STATIC);
		sqlite3_bind_int64(s, 5, (sqlite3_int64)time(NULL));
		c->committed++;
	}
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		snprintf(se.msg, sizeof(se.msg), "state '%s': recording key "
		    "'%.*s': %s", op.state, (int)c->t.nodes[kn].n,
		    c->t.nodes[kn].p, sqlite3_errstr(rc));
		state_fatal(c, &se);
		return;
	}
	if (state_batch_step(c->st, &se) < 0)
		state_fatal(c, &se);
}

/* ---- main loop ---- */

/* Before the reader blocks (output and dead letters are flushed by then):
 * commit the acknowledgements, or end the read transaction. */
static void
drain(void *ctx)
{
	struct cdc *c = ctx;
	struct state_err se;

	if (op.commit) {
		if (state_batch_commit(c->st, &se) < 0)
			state_fatal(c, &se);
	} else {
		end_read_tx(c);
	}
}

static int
one_line(void *ctx, const char *src, const struct ndjson_line *l)
{
	struct cdc *c = ctx;

	if (op.commit)
		commit_line(c, src, l);
	else
		filter_line(c, src, l);
	return c->fatal ? -1 : 0;
}

/* The options that need more than the table: 0, or -1 (reported). */
static int
check_options(void)
{
	if (op.bad_exclude)
		return -1;
	if (op.state == NULL || *op.state == '\0')
		return cli_usage_error(&prog, "--state FILE is required"), -1;
	if (op.commit && (op.diff || op.snapshot || op.shard != NULL ||
	    op.canon.nex > 0))
		return cli_usage_error(&prog, "--diff, --snapshot, --shard and "
		    "--exclude belong to the first stage, not to --commit"), -1;
	if (op.batch < 1 || op.batch > 1000000)
		return cli_usage_error(&prog, "--batch must be between 1 and "
		    "1000000"), -1;
	if (op.max_line < 16 || op.max_line > (1u << 30))
		return cli_usage_error(&prog, "--max-line must be between 16 "
		    "and 1G"), -1;
	return 0;
}

/* The context before any input is opened: shard, key. Returns 0 or the
 * exit code. */
static int
cdc_setup(struct cdc *c)
{
	c->snap_records = -1;
	c->canon = &op.canon;
	c->shard_n = 1;
	if (op.shard != NULL && canon_shard_parse(op.shard, &c->shard_i,
	    &c->shard_n) < 0) {
		cli_usage_error(&prog, "--shard '%s': expected I/N with "
		    "0 <= I < N", op.shard);
		return EXIT_USAGE;
	}
	if (op.commit)
		return 0;
	if ((c->kp = keypath_parse(op.key)) == NULL) {
		if ((c->jq = jq_init()) == NULL) {
			log_error("cannot initialize libjq");
			return EXIT_FATAL;
		}
		if (!jq_compile(c->jq, op.key)) {
			cli_usage_error(&prog, "--key '%s' does not compile",
			    op.key);
			return EXIT_USAGE;
		}
	}
	log_debug("key %s: %s", op.key, c->kp != NULL ? "fast path" :
	    "libjq");
	return 0;
}

/* The state database, opened once the inputs are. Returns 0 or the exit
 * code. */
static int
cdc_open_state(struct cdc *c)
{
	struct state_err se;

	c->st = state_open(op.state, "cdc", migrations,
	    (int)(sizeof(migrations) / sizeof(migrations[0])), 30000, &se);
	if (c->st == NULL) {
		log_error("%s", se.msg);
		return EXIT_USAGE;
	}
	state_set_batch(c->st, (size_t)op.batch);
	if (state_exec(c->st, "PRAGMA cache_size=-16384", &se) < 0 ||
	    (op.snapshot && state_exec(c->st, "CREATE TEMP TABLE seen("
	    "key TEXT PRIMARY KEY, hash BLOB) WITHOUT ROWID", &se) < 0)) {
		log_error("%s", se.msg);
		return EXIT_FATAL;
	}
	return 0;
}

/* After a snapshot was read: the deletes it proves, or why there are none. */
static void
infer_deletes(struct cdc *c, const struct stage *st)
{
	if (st->fatal || st->stopped) {
		log_warn("the input ended early: no deletes inferred");
	} else if (!c->snap_complete) {
		log_warn("no '%s' control record in the input: no deletes "
		    "inferred", SNAPSHOT_COMPLETE);
	} else if (c->failed > 0) {
		log_warn("%llu records failed: no deletes inferred (their "
		    "keys are unknown)", (unsigned long long)c->failed);
	} else if (c->snap_records >= 0 &&
	    (uint64_t)c->snap_records != c->data_records &&
	    (uint64_t)c->snap_records != c->src_records) {
		log_warn("the snapshot announced %lld records but %llu arrived "
		    "(from %llu source records): no deletes inferred",
		    c->snap_records, (unsigned long long)c->data_records,
		    (unsigned long long)c->src_records);
	} else {
		emit_deletes(c);
	}
}

/* The summary's counters, in the order they print. */
static void
count(const struct cdc *c)
{
	*stats_counter("in") = c->in;
	if (op.commit) {
		*stats_counter("committed") = c->committed;
		*stats_counter("removed") = c->removed;
		*stats_counter("rejected") = c->rejected;
		*stats_counter("ignored") = c->ignored;
	} else {
		*stats_counter("unchanged") = c->unchanged;
		*stats_counter("inserted") = c->inserted;
		*stats_counter("updated") = c->updated;
		*stats_counter("deleted") = c->deleted;
		if (c->passed)
			*stats_counter("passed") = c->passed;
		if (op.snapshot)
			*stats_counter("duplicate") = c->dup;
		if (c->shard_n > 1)
			*stats_counter("other_shard") = c->other_shard;
	}
	*stats_counter("failed") = c->failed;
	*stats_counter("control") = c->control;
	*stats_counter("skipped") = c->blank;
}

static void
refresh_counts(void *ctx)
{
	count(ctx);
}

static void
cdc_free(struct cdc *c)
{
	state_close(c->st, NULL);
	if (c->jq != NULL)
		jq_teardown(&c->jq);
	keypath_free(c->kp);
	tape_release(&c->t);
	tape_release(&c->old);
	json_numlits_release(&c->lits);
	buf_release(&c->key);
	buf_release(&c->cbuf);
	buf_release(&c->obuf);
	buf_release(&c->tmp);
	canon_release(&op.canon);
}

int
main(int argc, char **argv)
{
	static const struct stage_ops ops = { NULL, one_line, drain };
	struct cli_common common;
	struct stage st;
	struct cdc c = { 0 };
	struct state_err se;
	int first, status;

	log_init("cdc-filter");
	first = cli_parse(&prog, argc, argv, &common);
	if (first < 0 || check_options() < 0) {
		canon_release(&op.canon);
		return EXIT_USAGE;
	}
	if ((status = cdc_setup(&c)) != 0 ||
	    (status = stage_begin(&st, argc, argv, first, op.dead_letter,
	    "cdc-filter")) != 0) {
		cdc_free(&c);
		return status;
	}
	c.dlq = st.dlq;
	c.w = &st.out;
	stats_set_refresh(refresh_counts, &c);
	st.max_line = op.max_line;
	if ((status = cdc_open_state(&c)) != 0) {
		stage_free(&st);
		cdc_free(&c);
		return status;
	}
	stage_run(&st, &ops, &c);
	if (op.snapshot && !c.fatal && !st.out.err)
		infer_deletes(&c, &st);
	if (!op.commit)
		end_read_tx(&c);
	if (state_close(c.st, &se) < 0)
		state_fatal(&c, &se);
	c.st = NULL;
	if (c.fatal)
		status = EXIT_FATAL;
	count(&c);
	status = stage_end(&st, status, common.stats, c.failed, op.commit ?
	    "every record read was processed and its acknowledgement "
	    "recorded" : "every record read was processed");
	cdc_free(&c);
	return status;
}
