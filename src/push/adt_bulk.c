/*
 * adt_bulk.c - the ADT import file and the job's output log (adt_bulk.h).
 */
#include "adt_bulk.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "ndjson.h"

void
adt_bulk_release(struct adt_bulk *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		free(b->e[i].id);
		free(b->e[i].rel_id);
		free(b->e[i].code);
		free(b->e[i].msg);
	}
	free(b->e);
	free(b->tix);
	free(b->rix);
	buf_release(&b->twins);
	buf_release(&b->rels);
	memset(b, 0, sizeof(*b));
}

static size_t *
ix_push(size_t *ix, size_t n, size_t v)
{
	/* grows in powers of two */
	if ((n & (n - 1)) == 0)
		ix = xrealloc(ix, (n ? 2 * n : 1) * sizeof(*ix));
	ix[n] = v;
	return ix;
}

long
adt_bulk_add(struct adt_bulk *b, const struct adt_op *op, jv rec,
    const struct json_numlits *lits)
{
	struct adt_bulk_ent *e;
	struct buf *sec;

	if (op->op != ADT_UPSERT && op->op != ADT_REPLACE)
		return -1;
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 64;
		b->e = xrealloc(b->e, b->cap * sizeof(*b->e));
	}
	e = &b->e[b->n];
	memset(e, 0, sizeof(*e));
	e->kind = op->kind;
	e->id = xstrdup(op->id);
	e->rel_id = op->rel_id ? xstrdup(op->rel_id) : NULL;
	if (op->kind == ADT_TWIN) {
		sec = &b->twins;
		b->tix = ix_push(b->tix, b->ntwins++, b->n);
	} else {
		sec = &b->rels;
		b->rix = ix_push(b->rix, b->nrels++, b->n);
	}
	adt_bulk_line(sec, rec, lits);
	buf_addc(sec, '\n');
	return (long)b->n++;
}

void
adt_bulk_line(struct buf *out, jv rec, const struct json_numlits *lits)
{
	jv v = jv_object_delete(jv_copy(rec), jv_string("$op"));

	v = jv_object_delete(v, jv_string("_meta"));
	json_write(out, v, 0, lits);
	jv_free(v);
}

static void
header(struct buf *out, const char *author)
{
	buf_adds(out, "{\"Section\":\"Header\"}\n{\"fileVersion\":\"1.0.0\","
	    "\"author\":");
	json_write_string(out, author, strlen(author), 0);
	buf_adds(out, ",\"organization\":\"twinpipe\"}\n");
}

void
adt_bulk_file(struct adt_bulk *b, struct buf *out, const char *author)
{
	size_t line = 2, k;

	header(out, author ? author : "push-adt");
	b->twin0 = b->rel0 = 0;
	if (b->ntwins) {
		buf_adds(out, "{\"Section\":\"Twins\"}\n");
		line++;
		b->twin0 = line + 1;
		buf_add(out, b->twins.p, b->twins.len);
		for (k = 0; k < b->ntwins; k++)
			b->e[b->tix[k]].line = ++line;
	}
	if (b->nrels) {
		buf_adds(out, "{\"Section\":\"Relationships\"}\n");
		line++;
		b->rel0 = line + 1;
		buf_add(out, b->rels.p, b->rels.len);
		for (k = 0; k < b->nrels; k++)
			b->e[b->rix[k]].line = ++line;
	}
}

static const char *
str_of(jv o, const char *k)
{
	return json_get_str(o, k);
}

int
adt_bulk_log_parse(const char *p, size_t n, struct adt_bulk_log *l,
    struct buf *err)
{
	struct json_err je;
	jv v, d, num;

	memset(l, 0, sizeof(*l));
	l->line = -1;
	l->v = jv_invalid();
	if (json_parse(p, n, &v, NULL, &je) < 0) {
		buf_adds(err, "not JSON");
		return -1;
	}
	d = json_get(v, "details");
	if (jv_get_kind(v) != JV_KIND_OBJECT ||
	    jv_get_kind(d) != JV_KIND_OBJECT) {
		jv_free(d);
		jv_free(v);
		buf_adds(err, "not a log line (no \"details\" object)");
		return -1;
	}
	l->v = jv_array_append(jv_array_append(jv_array(), v), d);
	/* borrowed from l->v: the array holds both */
	v = jv_array_get(jv_copy(l->v), 0);
	d = jv_array_get(jv_copy(l->v), 1);
	l->error = str_of(v, "logType") &&
	    strcmp(str_of(v, "logType"), "Error") == 0;
	l->section = str_of(d, "section");
	l->status = str_of(d, "status");
	l->id = str_of(d, "$dtId");
	l->rel_id = str_of(d, "$relationshipId");
	l->code = str_of(d, "code");
	l->msg = str_of(d, "message");
	num = json_get(d, "lineNumber");
	if (jv_get_kind(num) == JV_KIND_NUMBER && jv_number_value(num) >= 1 &&
	    jv_number_value(num) < 1e15)
		l->line = (long)jv_number_value(num);
	jv_free(num);
	/* jq keeps the strings alive in l->v: these copies can go */
	jv_free(v);
	jv_free(d);
	return 0;
}

void
adt_bulk_log_release(struct adt_bulk_log *l)
{
	jv_free(l->v);
	l->v = jv_invalid();
}

int
adt_bulk_code_exists(const char *code)
{
	size_t n;

	if (!code)
		return 0;
	n = strlen(code);
	return n >= 13 && strcmp(code + n - 13, "AlreadyExists") == 0;
}

static int
ids_match(const struct adt_bulk_ent *e, const struct adt_bulk_log *l)
{
	if (l->id && strcmp(l->id, e->id) != 0)
		return 0;
	if (e->kind == ADT_REL && l->rel_id && strcmp(l->rel_id, e->rel_id))
		return 0;
	return l->id || l->rel_id;
}

/* The entity an error line is about, or -1. */
static long
map_error(const struct adt_bulk *b, const struct adt_bulk_log *l, int rel)
{
	size_t first = rel ? b->rel0 : b->twin0, cnt = rel ? b->nrels :
	    b->ntwins, k;
	const size_t *ix = rel ? b->rix : b->tix;
	const struct adt_bulk_ent *e;

	if (l->line >= 0 && cnt && (size_t)l->line >= first &&
	    (size_t)l->line < first + cnt) {
		e = &b->e[ix[l->line - first]];
		if ((!l->id && !l->rel_id) || ids_match(e, l))
			return (long)ix[l->line - first];
		return -1;	/* the line and the ids disagree */
	}
	if (!l->id)
		return -1;
	for (k = 0; k < cnt; k++)
		if (ids_match(&b->e[ix[k]], l) && (rel ? l->rel_id != NULL :
		    1))
			return (long)ix[k];
	return -1;
}

static void
set_out(struct adt_bulk_ent *e, enum adt_bulk_out o, const char *code,
    const char *msg)
{
	e->out = o;
	free(e->code);
	free(e->msg);
	e->code = xstrdup(code ? code : "ImportError");
	e->msg = xstrdup(msg ? msg : "the import job logged an error");
}

static void
one_line(struct adt_bulk *b, const struct adt_bulk_log *l,
    struct adt_bulk_sum *s)
{
	int rel;
	long i;

	if (!l->section) {
		if (l->status && strcmp(l->status, "Succeeded") == 0)
			s->job_status = 1;
		else if (l->status && strcmp(l->status, "Failed") == 0)
			s->job_status = -1;
		return;
	}
	if (strcmp(l->section, "Twins") && strcmp(l->section, "Relationships"))
		return;	/* models: push-adt puts none in */
	rel = strcmp(l->section, "Relationships") == 0;
	if (!l->error) {
		if (l->status && strcmp(l->status, "Succeeded") == 0)
			*(rel ? &s->rels_ok : &s->twins_ok) = 1;
		return;
	}
	s->errors++;
	if ((i = map_error(b, l, rel)) < 0) {
		*(rel ? &s->rels_unmapped : &s->twins_unmapped) = 1;
		return;
	}
	set_out(&b->e[i], adt_bulk_code_exists(l->code) ? ADT_BULK_EXISTS :
	    ADT_BULK_FAILED, l->code, l->msg);
}

void
adt_bulk_settle(struct adt_bulk *b, const char *log, size_t n,
    const char *job_code, const char *job_msg, struct adt_bulk_sum *s)
{
	struct adt_bulk_log l;
	struct buf err = BUF_INIT;
	const char *p = log, *end = log + n, *nl;
	struct adt_bulk_ent *e;
	int ok, unm;
	size_t i;

	memset(s, 0, sizeof(*s));
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		if (nl > p) {
			err.len = 0;
			if (adt_bulk_log_parse(p, (size_t)(nl - p), &l,
			    &err) < 0) {
				s->bad_lines++;
			} else {
				one_line(b, &l, s);
				adt_bulk_log_release(&l);
			}
		}
		p = nl + 1;
	}
	buf_release(&err);
	for (i = 0; i < b->n; i++) {
		e = &b->e[i];
		if (e->out != ADT_BULK_PENDING)
			continue;
		ok = e->kind == ADT_REL ? s->rels_ok : s->twins_ok;
		unm = e->kind == ADT_REL ? s->rels_unmapped :
		    s->twins_unmapped;
		if (unm || (s->bad_lines && ok))
			e->out = ADT_BULK_VERIFY;
		else if (ok)
			e->out = ADT_BULK_OK;
		else
			set_out(e, ADT_BULK_FAILED, job_code ? job_code :
			    "ImportJobFailed", job_msg ? job_msg :
			    "the import job ended before this entity's "
			    "section succeeded");
	}
}

/* ---- the query ---- */

static void
quote_id(struct buf *b, const char *id)
{
	buf_addc(b, '\'');
	for (; *id != '\0'; id++) {
		if (*id == '\\' || *id == '\'')
			buf_addc(b, '\\');
		buf_addc(b, *id);
	}
	buf_addc(b, '\'');
}

size_t
adt_bulk_query(struct buf *out, char *const *ids, size_t n)
{
	size_t k, base = out->len, mark;

	buf_adds(out, "SELECT T.$dtId FROM DIGITALTWINS T WHERE T.$dtId IN [");
	for (k = 0; k < n && k < ADT_BULK_IN_MAX; k++) {
		mark = out->len;
		if (k > 0)
			buf_addc(out, ',');
		quote_id(out, ids[k]);
		if (k > 0 && out->len + 1 - base > ADT_BULK_QUERY_MAX) {
			out->len = mark;
			break;
		}
	}
	buf_addc(out, ']');
	buf_cstr(out);
	return k;
}

/* ---- the state file ---- */

static void
state_member(struct buf *b, const char *k, const char *v, int *first)
{
	if (v == NULL)
		return;
	buf_adds(b, *first ? "{" : ",");
	*first = 0;
	json_write_string(b, k, strlen(k), 0);
	buf_addc(b, ':');
	json_write_string(b, v, strlen(v), 0);
}

void
adt_bulk_state_write(struct buf *out, const struct adt_bulk_state *s)
{
	int first = 1;

	state_member(out, "jobId", s->job_id, &first);
	state_member(out, "endpoint", s->endpoint, &first);
	state_member(out, "inputBlobUri", s->input_url, &first);
	state_member(out, "outputBlobUri", s->output_url, &first);
	state_member(out, "inputBlob", s->input_blob, &first);
	state_member(out, "outputBlob", s->output_blob, &first);
	buf_adds(out, first ? "{}\n" : "}\n");
}

void
adt_bulk_state_release(struct adt_bulk_state *s)
{
	free(s->job_id);
	free(s->endpoint);
	free(s->input_url);
	free(s->output_url);
	free(s->input_blob);
	free(s->output_blob);
	memset(s, 0, sizeof(*s));
}

/* s[k] as a malloc'd string: 0 (also when absent), -1 when not a string */
static int
state_str(jv o, const char *k, char **dst)
{
	jv v = json_get(o, k);
	int rc = 0;

	if (jv_get_kind(v) == JV_KIND_STRING)
		*dst = xstrdup(jv_string_value(v));
	else if (jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL)
		rc = -1;
	jv_free(v);
	return rc;
}

int
adt_bulk_state_parse(const char *p, size_t n, struct adt_bulk_state *s,
    struct buf *err)
{
	struct json_err je;
	jv v;

	memset(s, 0, sizeof(*s));
	if (json_parse(p, n, &v, NULL, &je) < 0) {
		buf_adds(err, "not JSON");
		return -1;
	}
	if (jv_get_kind(v) != JV_KIND_OBJECT) {
		jv_free(v);
		buf_adds(err, "not a JSON object");
		return -1;
	}
	if (state_str(v, "jobId", &s->job_id) < 0 ||
	    state_str(v, "endpoint", &s->endpoint) < 0 ||
	    state_str(v, "inputBlobUri", &s->input_url) < 0 ||
	    state_str(v, "outputBlobUri", &s->output_url) < 0 ||
	    state_str(v, "inputBlob", &s->input_blob) < 0 ||
	    state_str(v, "outputBlob", &s->output_blob) < 0 ||
	    s->job_id == NULL || s->job_id[0] == '\0') {
		jv_free(v);
		adt_bulk_state_release(s);
		buf_adds(err, "no \"jobId\" string, or a member that is not a "
		    "string");
		return -1;
	}
	jv_free(v);
	return 0;
}

/* ---- the spool ---- */

#define FRAME_HDR 17	/* lineno (8), length (8), flags (1) */

static void
put64(unsigned char *p, unsigned long long v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static unsigned long long
get64(const unsigned char *p)
{
	unsigned long long v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void
adt_spool_frame(struct buf *out, const struct ndjson_line *l)
{
	unsigned char h[FRAME_HDR];

	put64(h, l->lineno);
	put64(h + 8, l->len);
	h[16] = (unsigned char)((l->too_long ? 1 : 0) |
	    (l->unterminated ? 2 : 0));
	buf_add(out, h, sizeof(h));
	buf_add(out, l->p, l->len);
	buf_addc(out, '\0');
}

long
adt_spool_unframe(char *p, size_t n, struct ndjson_line *l)
{
	const unsigned char *u = (const unsigned char *)p;
	unsigned long long len;

	if (n == 0)
		return 0;
	if (n < FRAME_HDR + 1)
		return -1;
	len = get64(u + 8);
	if (len > n - FRAME_HDR - 1 || (u[16] & ~3u) != 0 ||
	    p[FRAME_HDR + len] != '\0' || len > (1ull << 40))
		return -1;
	memset(l, 0, sizeof(*l));
	l->lineno = get64(u);
	l->len = (size_t)len;
	l->p = p + FRAME_HDR;
	l->too_long = u[16] & 1;
	l->unterminated = (u[16] & 2) != 0;
	return (long)(FRAME_HDR + len + 1);
}
