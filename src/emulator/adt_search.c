/*
 * adt_search.c - the ADT query endpoint of twin-emulator: paging by
 * continuation token, the twins and relationships a parsed query
 * (adt_query.c) selects, projections and JOINs.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sqlite3.h>

#include "codec.h"
#include "adt_query.h"
#include "adt_impl.h"
#include "emu.h"
#include "json.h"

/* ---- query (the language is adt_query.c's) ---- */

/* One run of a query: the row being bound, the page being filled. */
struct qrun {
	const struct adt_query *q;
	jv row, out;
	long skip, seen, got, page, count;
	int more, stop;
};

static int
qrun_is_a(const char *model, const char *base)
{
	return adt_model_is_a(model, base, 0);
}

static void
qrun_emit(struct qrun *x)
{
	x->count++;
	if (x->q->count || x->seen++ < x->skip)
		return;
	if (x->q->top > 0 && x->skip + x->got >= x->q->top) {
		x->stop = 1;
		return;
	}
	if (x->got == x->page) {
		x->more = 1;
		x->stop = 1;
		return;
	}
	x->out = jv_array_append(x->out, adt_query_project(x->q, x->row));
	x->got++;
}

/* Bind JOIN j and the ones after it, for each relationship it follows. */
static void
qrun_join(struct qrun *x, int j)
{
	const struct adtq_join *jn = &x->q->join[j];
	sqlite3_stmt *st;
	jv from, rels, rel, tw;
	const char *src;
	int i, n;

	if (j == x->q->njoin) {
		qrun_emit(x);
		return;
	}
	from = jv_array_get(jv_copy(x->row), jn->from);
	src = json_get_str(from, "$dtId");
	rels = jv_array();
	st = store_stmt("SELECT body FROM rels WHERE src=? AND name=? "
	    "ORDER BY id");
	sqlite3_bind_text(st, 1, src != NULL ? src : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, jn->rel, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW)
		rels = jv_array_append(rels, store_col_json(st, 0));
	sqlite3_reset(st);
	jv_free(from);
	n = jv_array_length(jv_copy(rels));
	for (i = 0; i < n && !x->stop; i++) {
		rel = jv_array_get(jv_copy(rels), i);
		tw = adt_twin_load(json_get_str(rel, "$targetId") != NULL ?
		    json_get_str(rel, "$targetId") : "");
		if (jv_is_valid(tw)) {
			x->row = jv_array_set(x->row, jn->target, tw);
			if (jn->relalias >= 0)
				x->row = jv_array_set(x->row, jn->relalias,
				    jv_copy(rel));
			if (adt_query_match(x->q, x->row, j + 1, qrun_is_a))
				qrun_join(x, j + 1);
		} else
			jv_free(tw);
		jv_free(rel);
	}
	jv_free(rels);
}

/* A continuation token: the query and how many items were returned. */
static jv
qtoken_make(const char *text, long next)
{
	struct buf b = BUF_INIT;
	jv v = JV_OBJECT(jv_string("q"), jv_string(text), jv_string("s"),
	    jv_number((double)next));
	char *js = json_dump(v, 0);	/* borrows v */

	jv_free(v);

	buf_adds(&b, "tpemu:");
	base64_encode(&b, js, strlen(js));
	free(js);
	v = jv_string_sized(b.p, (int)b.len);
	buf_release(&b);
	return v;
}

/* Read a token into *text (owned, jv string) and *skip; -1 if invalid. */
static int
qtoken_read(const char *tok, jv *text, long *skip)
{
	struct buf b = BUF_INIT;
	struct json_err je;
	jv o = jv_invalid(), q, s;
	int rc = -1;

	if (strncmp(tok, "tpemu:", 6) != 0 ||
	    base64_decode(&b, tok + 6, strlen(tok + 6)) != 0 ||
	    json_parse(b.len ? b.p : "", b.len, &o, NULL, &je) != 0)
		goto out;
	q = json_get(o, "q");
	s = json_get(o, "s");
	if (jv_get_kind(q) == JV_KIND_STRING && jv_get_kind(s) == JV_KIND_NUMBER &&
	    jv_number_value(s) >= 0 && jv_number_value(s) < 1e12) {
		*skip = (long)jv_number_value(s);
		jv_free(*text);
		*text = q;
		rc = 0;
	} else
		jv_free(q);
	jv_free(s);
out:
	jv_free(o);
	buf_release(&b);
	return rc;
}

/* The entities of the FROM collection that pass its conditions (owned). */
static jv
query_base(const struct adt_query *q, jv row)
{
	const struct adtq_cond *c0 = &q->c[0];
	sqlite3_stmt *st;
	jv v, arr = jv_array();

	if (!q->rels && q->nc >= 1 && c0->kind == ADTQ_CMP && c0->alias == 0 &&
	    strcmp(c0->path, "$dtId") == 0 && strcmp(c0->op, "=") == 0 &&
	    jv_get_kind(c0->lit) == JV_KIND_STRING) {
		st = store_stmt("SELECT body FROM twins WHERE id=?");
		sqlite3_bind_text(st, 1, jv_string_value(c0->lit), -1,
		    SQLITE_STATIC);
	} else if (q->rels)
		st = store_stmt("SELECT body FROM rels ORDER BY src, id");
	else
		st = store_stmt("SELECT body FROM twins ORDER BY id");
	while (sqlite3_step(st) == SQLITE_ROW) {
		v = store_col_json(st, 0);
		if (!jv_is_valid(v)) {
			jv_free(v);
			continue;
		}
		row = jv_array_set(row, 0, jv_copy(v));
		if (adt_query_match(q, row, 0, qrun_is_a))
			arr = jv_array_append(arr, v);
		else
			jv_free(v);
	}
	sqlite3_reset(st);
	jv_free(row);
	return arr;
}

/* Run x->q from x->skip and answer rs with the page. */
static void
query_run(struct qrun *x, const char *text, struct resp *rs)
{
	const struct adt_query *q = x->q;
	jv base;
	int i, n;

	if (q->top > 0 && q->top < x->page)
		x->page = q->top;
	x->row = jv_array();
	for (i = 0; i < q->nalias; i++)
		x->row = jv_array_append(x->row, jv_null());
	base = query_base(q, jv_copy(x->row));
	n = jv_array_length(jv_copy(base));
	for (i = 0; i < n && !x->stop; i++) {
		x->row = jv_array_set(x->row, 0, jv_array_get(jv_copy(base), i));
		qrun_join(x, 0);
	}
	jv_free(base);
	jv_free(x->row);
	x->row = jv_invalid();
	if (q->count) {
		jv_free(x->out);
		x->out = JV_ARRAY(JV_OBJECT(jv_string("COUNT"),
		    jv_number((double)x->count)));
	}
	resp_json(rs, 200, JV_OBJECT(jv_string("value"), x->out,
	    jv_string("continuationToken"), x->more ?
	    qtoken_make(text, x->skip + x->got) : jv_null()));
	x->out = jv_invalid();
	resp_header(rs, "query-charge", "%.2f", 1 + 0.1 * (double)x->got);
}

/*
 * POST /query: {"query"} for a first page; {"continuationToken"} alone
 * (or with the query) for the next ones. max-items-per-page sets a page.
 */
void
adt_search(struct req *r, struct resp *rs)
{
	jv body = jv_invalid(), text = jv_invalid();
	struct adt_query q;
	struct qrun x;
	char msg[600];
	const char *tok, *mi = req_header(r, "max-items-per-page");

	r->kind = "adt.query";
	memset(&x, 0, sizeof(x));
	x.out = jv_array();
	x.page = mi != NULL ? strtol(mi, NULL, 10) : emu.page_size;
	if (x.page <= 0 || x.page > ADT_MAX_PAGE)
		x.page = emu.page_size;
	if (strcmp(r->method, "POST") != 0) {
		adt_err(rs, 405, "MethodNotAllowed", "Use POST /query.");
		goto out;
	}
	if (req_json(r, &body, msg, sizeof(msg)) != 0 ||
	    jv_get_kind(body) != JV_KIND_OBJECT) {
		adt_err(rs, 400, "BadRequest", "The body must be {\"query\": "
		    "\"SELECT ...\"} or {\"continuationToken\": \"...\"}.");
		goto out;
	}
	text = json_get(body, "query");
	tok = json_get_str(body, "continuationToken");
	if (tok != NULL && qtoken_read(tok, &text, &x.skip) != 0) {
		adt_err(rs, 400, "BadRequest", "Invalid continuation token.");
		goto out;
	}
	if (jv_get_kind(text) != JV_KIND_STRING) {
		adt_err(rs, 400, "BadRequest", "The body must be {\"query\": "
		    "\"SELECT ...\"} or {\"continuationToken\": \"...\"}.");
		goto out;
	}
	if (adt_query_parse(jv_string_value(text), &q, msg, sizeof(msg)) != 0) {
		adt_err(rs, 400, "SqlQueryError", "%s", msg);
		goto out;
	}
	x.q = &q;
	query_run(&x, jv_string_value(text), rs);
	adt_query_free(&q);
out:
	jv_free(x.out);
	jv_free(text);
	jv_free(body);
}
