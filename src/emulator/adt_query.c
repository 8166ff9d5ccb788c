/*
 * adt_query.c - ADT's query language as twin-emulator serves it: a
 * recursive-descent parser of the forms adt_query.h lists, the evaluation
 * of their conditions on one row of bound entities, and the projection of
 * a row into a result item. No store access: adt.c enumerates the rows.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adt_query.h"
#include "buf.h"
#include "cmp.h"
#include "qlex.h"

static const char *
q_ws(const char *s)
{
	qlex_ws(&s);
	return s;
}

/* Consume keyword kw (any case, whole word) at *s. */
static int
q_kw(const char **s, const char *kw)
{
	size_t n = strlen(kw);
	const char *p = q_ws(*s);

	if (strncasecmp(p, kw, n) != 0 || isalnum((unsigned char)p[n]) ||
	    p[n] == '_' || p[n] == '$')
		return 0;
	*s = p + n;
	return 1;
}

/* Consume character c (after blanks) at *s; *s stays put without it. */
static int
q_ch(const char **s, char c)
{
	const char *p = *s;

	if (!qlex_ch(&p, c))
		return 0;
	*s = p;
	return 1;
}

/* An identifier or dotted path: letters, digits, _ and $, dots between. */
static int
q_ident(const char **s, char *out, size_t outsz)
{
	const char *p = q_ws(*s), *st = p;
	size_t n;

	if (!isalpha((unsigned char)*p) && *p != '_' && *p != '$')
		return -1;
	while (isalnum((unsigned char)*p) || *p == '_' || *p == '$' ||
	    (*p == '.' && (isalnum((unsigned char)p[1]) || p[1] == '_' ||
	    p[1] == '$')))
		p++;
	n = (size_t)(p - st);
	if (n == 0 || n >= outsz)
		return -1;
	memcpy(out, st, n);
	out[n] = '\0';
	*s = p;
	return 0;
}

static const char *const reserved[] = { "SELECT", "FROM", "WHERE", "JOIN",
    "RELATED", "AND", "OR", "NOT", "AS", "TOP", "IN", "NIN", "ORDER",
    "MATCH" };

static int
is_reserved(const char *w)
{
	size_t i;

	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcasecmp(w, reserved[i]) == 0)
			return 1;
	return 0;
}

/* An alias name (an identifier that is no keyword, without dots). */
static int
q_alias(const char **s, char *out, size_t outsz)
{
	const char *p = *s;

	if (q_ident(&p, out, outsz) != 0 || strchr(out, '.') != NULL ||
	    is_reserved(out))
		return -1;
	*s = p;
	return 0;
}

static jv
q_literal(const char **s)
{
	const char *p = q_ws(*s);
	char *end;
	double d;
	jv v;

	if (*p == '\'' || *p == '"') {
		v = qlex_string(&p);
		if (jv_is_valid(v))
			*s = p;
		return v;
	}
	if (q_kw(&p, "true")) {
		*s = p;
		return jv_true();
	}
	if (q_kw(&p, "false")) {
		*s = p;
		return jv_false();
	}
	if (q_kw(&p, "null")) {
		*s = p;
		return jv_null();
	}
	if (!isdigit((unsigned char)*p) && *p != '-' && *p != '+' && *p != '.')
		return jv_invalid();
	d = strtod(p, &end);
	if (end == p || isalpha((unsigned char)*end))
		return jv_invalid();
	*s = end;
	return jv_number(d);
}

/* [lit, lit, ...] for IN. */
static jv
q_list(const char **s)
{
	jv arr = jv_array(), v;
	const char *p = *s;
	int n = 0;

	if (!q_ch(&p, '['))
		goto bad;
	if (q_ch(&p, ']'))
		goto done;
	do {
		v = q_literal(&p);
		if (!jv_is_valid(v) || ++n > 100) {
			jv_free(v);
			goto bad;
		}
		arr = jv_array_append(arr, v);
	} while (q_ch(&p, ','));
	if (!q_ch(&p, ']'))
		goto bad;
done:
	*s = p;
	return arr;
bad:
	jv_free(arr);
	return jv_invalid();
}

static int
alias_find(const struct adt_query *q, const char *name, size_t n)
{
	int i;

	for (i = 0; i < q->nalias; i++)
		if (q->alias[i][0] != '\0' && strlen(q->alias[i]) == n &&
		    strncmp(q->alias[i], name, n) == 0)
			return i;
	return -1;
}

/* Split "Alias.rest" into the alias and the rest; no alias: alias 0. */
static int
resolve(const struct adt_query *q, const char *path, int *alias, char *sub,
    size_t subsz)
{
	const char *d = strchr(path, '.');
	int a = alias_find(q, path, d != NULL ? (size_t)(d - path) : strlen(path));

	if (a < 0) {
		*alias = 0;
		return snprintf(sub, subsz, "%s", path) < (int)subsz ? 0 : -1;
	}
	*alias = a;
	snprintf(sub, subsz, "%s", d != NULL ? d + 1 : "");
	return 0;
}

static int
alias_add(struct adt_query *q, const char *name, int stage)
{
	if (q->nalias == ADTQ_MAX_ALIASES ||
	    alias_find(q, name, strlen(name)) >= 0)
		return -1;
	snprintf(q->alias[q->nalias], sizeof(q->alias[0]), "%s", name);
	q->stage[q->nalias] = stage;
	return q->nalias++;
}

/* The SELECT list, kept as text until the aliases are known. */
struct rawproj {
	char path[256], name[128];
};

static int
parse_select(const char **s, struct adt_query *q, struct rawproj *rp, int *nrp)
{
	if (q_kw(s, "TOP")) {
		if (!q_ch(s, '('))
			return -1;
		*s = q_ws(*s);
		if (!isdigit((unsigned char)**s))
			return -1;
		q->top = strtol(*s, (char **)s, 10);
		if (!q_ch(s, ')') || q->top <= 0 || q->top > 1000000)
			return -1;
	}
	if (q_kw(s, "COUNT")) {
		if (!q_ch(s, '(') || !q_ch(s, ')'))
			return -1;
		q->count = 1;
		return 0;
	}
	if (q_ch(s, '*')) {
		q->star = 1;
		return 0;
	}
	do {
		if (*nrp == ADTQ_MAX_PROJ ||
		    q_ident(s, rp[*nrp].path, sizeof(rp[0].path)) != 0 ||
		    is_reserved(rp[*nrp].path))
			return -1;
		rp[*nrp].name[0] = '\0';
		if (q_kw(s, "AS") && q_alias(s, rp[*nrp].name,
		    sizeof(rp[0].name)) != 0)
			return -1;
		(*nrp)++;
	} while (q_ch(s, ','));
	return 0;
}

static int
parse_from(const char **s, struct adt_query *q)
{
	char w[64], rel[256];
	struct adtq_join *j;
	const char *p;
	int from;

	if (!q_kw(s, "FROM"))
		return -1;
	if (q_kw(s, "DIGITALTWINS"))
		q->rels = 0;
	else if (q_kw(s, "RELATIONSHIPS"))
		q->rels = 1;
	else
		return -1;
	p = *s;
	if (q_alias(&p, w, sizeof(w)) == 0)
		*s = p;
	else
		w[0] = '\0';
	alias_add(q, w, 0);
	while (q_kw(s, "JOIN")) {
		if (q->rels || q->njoin == ADTQ_MAX_JOINS ||
		    q_alias(s, w, sizeof(w)) != 0)
			return -1;
		j = &q->join[q->njoin];
		if (!q_kw(s, "RELATED") || q_ident(s, rel, sizeof(rel)) != 0)
			return -1;
		p = strchr(rel, '.');
		from = p != NULL ? alias_find(q, rel, (size_t)(p - rel)) : -1;
		if (from < 0 || strchr(p + 1, '.') != NULL ||
		    (from > 0 && q->join[q->stage[from] - 1].relalias == from))
			return -1;	/* not a twin alias . name */
		j->from = from;
		snprintf(j->rel, sizeof(j->rel), "%s", p + 1);
		if ((j->target = alias_add(q, w, q->njoin + 1)) < 0)
			return -1;
		j->relalias = -1;
		p = *s;
		if (q_alias(&p, w, sizeof(w)) == 0) {
			*s = p;
			if ((j->relalias = alias_add(q, w, q->njoin + 1)) < 0)
				return -1;
		}
		q->njoin++;
	}
	return 0;
}

static int
parse_proj(struct adt_query *q, const struct rawproj *rp, int nrp)
{
	struct adtq_proj *pj;
	const char *last;
	int i;

	for (i = 0; i < nrp; i++) {
		pj = &q->proj[i];
		if (resolve(q, rp[i].path, &pj->alias, pj->path,
		    sizeof(pj->path)) != 0)
			return -1;
		last = strrchr(rp[i].path, '.');
		snprintf(pj->name, sizeof(pj->name), "%.127s", rp[i].name[0] ?
		    rp[i].name : last != NULL ? last + 1 : rp[i].path);
	}
	q->nproj = nrp;
	/* SELECT T FROM DIGITALTWINS T: the twins themselves */
	if (q->njoin == 0 && nrp == 1 && q->proj[0].path[0] == '\0' &&
	    rp[0].name[0] == '\0') {
		q->nproj = 0;
		q->star = 1;
	}
	if (q->star && q->njoin > 0)
		return -1;	/* ADT: project the aliases of a JOIN */
	return 0;
}

static int
parse_cond(const char **s, struct adt_query *q, struct adtq_cond *c)
{
	static const char *ops[] = { "<=", ">=", "!=", "<>", "=", "<", ">" };
	char tmp[256];
	const char *p;
	size_t i;

	c->lit = jv_invalid();
	if (q_kw(s, "IS_OF_MODEL")) {
		if (!q_ch(s, '('))
			return -1;
		p = *s;
		if (q_ident(&p, tmp, sizeof(tmp)) == 0) {
			if (resolve(q, tmp, &c->alias, c->path, sizeof(c->path)) ||
			    c->path[0] != '\0' || !q_ch(&p, ','))
				return -1;
			*s = p;
		}
		c->lit = q_literal(s);
		if (jv_get_kind(c->lit) != JV_KIND_STRING)
			return -1;
		if (q_ch(s, ',')) {
			if (!q_kw(s, "exact"))
				return -1;
			c->exact = 1;
		}
		c->kind = ADTQ_MODEL;
		return q_ch(s, ')') ? 0 : -1;
	}
	if (q_kw(s, "IS_DEFINED")) {
		if (!q_ch(s, '(') || q_ident(s, tmp, sizeof(tmp)) != 0 ||
		    resolve(q, tmp, &c->alias, c->path, sizeof(c->path)) != 0 ||
		    !q_ch(s, ')'))
			return -1;
		c->kind = ADTQ_DEFINED;
		return 0;
	}
	if (q_ident(s, tmp, sizeof(tmp)) != 0 || is_reserved(tmp) ||
	    resolve(q, tmp, &c->alias, c->path, sizeof(c->path)) != 0 ||
	    c->path[0] == '\0')
		return -1;
	if (q_kw(s, "IN")) {
		c->lit = q_list(s);
		c->kind = ADTQ_IN;
		return jv_is_valid(c->lit) ? 0 : -1;
	}
	*s = q_ws(*s);
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strncmp(*s, ops[i], strlen(ops[i])) == 0)
			break;
	if (i == sizeof(ops) / sizeof(ops[0]))
		return -1;
	snprintf(c->op, sizeof(c->op), "%s", ops[i]);
	*s += strlen(ops[i]);
	c->lit = q_literal(s);
	c->kind = ADTQ_CMP;
	return jv_is_valid(c->lit) ? 0 : -1;
}

int
adt_query_parse(const char *text, struct adt_query *q, char *msg,
    size_t msgsz)
{
	struct rawproj rp[ADTQ_MAX_PROJ];
	const char *s = text;
	int nrp = 0;

	memset(q, 0, sizeof(*q));
	if (strlen(text) > ADTQ_MAX_TEXT) {
		snprintf(msg, msgsz, "The query is longer than %d characters.",
		    ADTQ_MAX_TEXT);
		return -1;
	}
	if (!q_kw(&s, "SELECT") || parse_select(&s, q, rp, &nrp) != 0 ||
	    parse_from(&s, q) != 0 || parse_proj(q, rp, nrp) != 0)
		goto bad;
	if (q_kw(&s, "WHERE")) {
		do {
			if (q->nc == ADTQ_MAX_CONDS)
				goto bad;
			if (parse_cond(&s, q, &q->c[q->nc]) != 0) {
				jv_free(q->c[q->nc].lit);
				goto bad;
			}
			q->nc++;
		} while (q_kw(&s, "AND"));
	}
	if (*q_ws(s) != '\0')
		goto bad;
	return 0;
bad:
	adt_query_free(q);
	snprintf(msg, msgsz, "Query syntax not supported by twin-emulator near "
	    "'%.40s': use SELECT [TOP(n)] * | COUNT() | alias[.path] [AS name], "
	    "... FROM DIGITALTWINS | RELATIONSHIPS [alias] [JOIN alias RELATED "
	    "alias.relationship [alias] ...] [WHERE cond AND cond ...] with "
	    "IS_OF_MODEL([alias,] '...' [, exact]), IS_DEFINED(path), path IN "
	    "[...] or path <op> literal.", q_ws(s));
	return -1;
}

void
adt_query_free(struct adt_query *q)
{
	int i;

	for (i = 0; i < q->nc; i++)
		jv_free(q->c[i].lit);
	q->nc = 0;
}

static int
cmp_ok(jv a, jv b, const char *op)
{
	int c;

	if (!jv_is_valid(a))
		return 0;
	if (jv_get_kind(a) == JV_KIND_NUMBER && jv_get_kind(b) == JV_KIND_NUMBER)
		c = jv_number_value(a) < jv_number_value(b) ? -1 :
		    jv_number_value(a) > jv_number_value(b);
	else if (jv_get_kind(a) == JV_KIND_STRING &&
	    jv_get_kind(b) == JV_KIND_STRING)
		c = strcmp(jv_string_value(a), jv_string_value(b));
	else if (strcmp(op, "=") == 0)
		return jv_equal(jv_copy(a), jv_copy(b));
	else if (strcmp(op, "!=") == 0 || strcmp(op, "<>") == 0)
		return !jv_equal(jv_copy(a), jv_copy(b));
	else
		return 0;
	return cmp_holds(op, c);
}

/* The value at dotted path in ent (borrowed); "" is ent itself. */
static jv
path_get(jv ent, const char *path)
{
	jv v = jv_copy(ent);
	char seg[256];
	const char *p = path, *d;
	size_t n;

	while (*p != '\0' && jv_is_valid(v)) {
		d = strchr(p, '.');
		n = d != NULL ? (size_t)(d - p) : strlen(p);
		if (n >= sizeof(seg) || jv_get_kind(v) != JV_KIND_OBJECT) {
			jv_free(v);
			return jv_invalid();
		}
		memcpy(seg, p, n);
		seg[n] = '\0';
		v = jv_object_get(v, jv_string(seg));
		if (d == NULL)
			break;
		p = d + 1;
	}
	return v;
}

static int
cond_ok(const struct adtq_cond *c, jv ent, adtq_is_a_fn is_a)
{
	jv v, m;
	int i, n, r = 0;

	if (c->kind == ADTQ_MODEL) {
		m = jv_getpath(jv_copy(ent), JV_ARRAY(jv_string("$metadata"),
		    jv_string("$model")));
		if (jv_get_kind(m) == JV_KIND_STRING)
			r = c->exact || is_a == NULL ?
			    strcmp(jv_string_value(m), jv_string_value(c->lit)) == 0 :
			    is_a(jv_string_value(m), jv_string_value(c->lit));
		jv_free(m);
		return r;
	}
	v = path_get(ent, c->path);
	if (c->kind == ADTQ_DEFINED)
		r = jv_is_valid(v);
	else if (c->kind == ADTQ_CMP)
		r = cmp_ok(v, c->lit, c->op);
	else if (jv_is_valid(v)) {
		n = jv_array_length(jv_copy(c->lit));
		for (i = 0; i < n && !r; i++) {
			jv x = jv_array_get(jv_copy(c->lit), i);

			r = cmp_ok(v, x, "=");
			jv_free(x);
		}
	}
	jv_free(v);
	return r;
}

int
adt_query_match(const struct adt_query *q, jv row, int stage,
    adtq_is_a_fn is_a)
{
	int i, r = 1;

	for (i = 0; i < q->nc && r; i++) {
		jv ent;

		if (q->stage[q->c[i].alias] != stage)
			continue;
		ent = jv_array_get(jv_copy(row), q->c[i].alias);
		r = jv_get_kind(ent) == JV_KIND_OBJECT && cond_ok(&q->c[i], ent,
		    is_a);
		jv_free(ent);
	}
	return r;
}

jv
adt_query_project(const struct adt_query *q, jv row)
{
	jv out, ent, v;
	int i;

	if (q->star || q->nproj == 0)
		return jv_array_get(jv_copy(row), 0);
	out = jv_object();
	for (i = 0; i < q->nproj; i++) {
		ent = jv_array_get(jv_copy(row), q->proj[i].alias);
		v = path_get(ent, q->proj[i].path);
		jv_free(ent);
		if (jv_is_valid(v))
			out = jv_object_set(out, jv_string(q->proj[i].name), v);
		else
			jv_free(v);
	}
	return out;
}
