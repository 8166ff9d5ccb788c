/*
 * iothub_query.c - the simple forms of IoT Hub's query language:
 * SELECT * FROM devices | devices.modules, with a WHERE condition parsed
 * once into a small tree and evaluated against each twin.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "cmp.h"
#include "iothub.h"
#include "qlex.h"

enum { Q_OR, Q_AND, Q_NOT, Q_CMP, Q_IN, Q_NIN, Q_DEF, Q_LIT, Q_PATH };

struct iq_node {
	int kind;
	int op;			/* Q_CMP: index in cmp_ops */
	int a, b;		/* children */
	jv v;			/* Q_LIT value, Q_PATH keys, Q_IN/Q_NIN list */
};

static const char *cmp_ops[] = { "<=", ">=", "!=", "<>", "=", "<", ">" };

struct qp {
	const char *s;
	struct iothub_query *q;
	int err, depth;
	char *msg;
	size_t msgsz;
};

static void
qp_fail(struct qp *p, const char *what)
{
	if (!p->err)
		snprintf(p->msg, p->msgsz, "syntax error near '%.20s': %s",
		    p->s, what);
	p->err = 1;
}

static void
qp_ws(struct qp *p)
{
	qlex_ws(&p->s);
}

static int
is_ident(int c)
{
	return isalnum(c) || c == '_' || c == '$';
}

/* A case-insensitive keyword not followed by an identifier character. */
static int
qp_kw(struct qp *p, const char *kw)
{
	size_t n = strlen(kw);

	qp_ws(p);
	if (strncasecmp(p->s, kw, n) != 0 || is_ident((unsigned char)p->s[n]))
		return 0;
	p->s += n;
	return 1;
}

static int
qp_ch(struct qp *p, char c)
{
	return qlex_ch(&p->s, c);
}

/* A new node; -1 (and the parse fails) when the query is too big. */
static int
qp_node(struct qp *p, int kind, int a, int b, jv v)
{
	struct iq_node *n;

	if (p->q->nn >= IOTHUB_MAX_NODES) {
		jv_free(v);
		qp_fail(p, "the query is too complex");
		return -1;
	}
	if (p->q->nn % 16 == 0)
		p->q->n = xrealloc(p->q->n, (size_t)(p->q->nn + 16) *
		    sizeof(*p->q->n));
	n = &p->q->n[p->q->nn];
	n->kind = kind;
	n->op = 0;
	n->a = a;
	n->b = b;
	n->v = v;
	return p->q->nn++;
}

static jv
qp_string(struct qp *p)
{
	jv v = qlex_string(&p->s);

	if (!jv_is_valid(v))
		qp_fail(p, "unterminated string");
	return v;
}

static jv
qp_number(struct qp *p)
{
	char *end;
	double d = strtod(p->s, &end);

	if (end == p->s || isalpha((unsigned char)*end)) {
		qp_fail(p, "number expected");
		return jv_invalid();
	}
	p->s = end;
	return jv_number(d);
}

/* A literal: string, number, true, false, null; invalid on failure. */
static jv
qp_literal(struct qp *p)
{
	qp_ws(p);
	if (*p->s == '\'' || *p->s == '"')
		return qp_string(p);
	if (*p->s == '-' || *p->s == '+' || isdigit((unsigned char)*p->s))
		return qp_number(p);
	if (qp_kw(p, "true"))
		return jv_true();
	if (qp_kw(p, "false"))
		return jv_false();
	if (qp_kw(p, "null"))
		return jv_null();
	qp_fail(p, "literal expected");
	return jv_invalid();
}

/* Is the first key of keys (borrowed) name, ignoring case? */
static int
first_is(jv keys, const char *name)
{
	jv k = jv_array_get(jv_copy(keys), 0);
	int r = jv_get_kind(k) == JV_KIND_STRING &&
	    strcasecmp(jv_string_value(k), name) == 0;

	jv_free(k);
	return r;
}

/* ident ('.' ident | '[' string ']')*, a leading "devices[.modules]." dropped */
static int
qp_path(struct qp *p)
{
	jv keys = jv_array();
	const char *st;
	int n;

	for (;;) {
		qp_ws(p);
		st = p->s;
		if (jv_array_length(jv_copy(keys)) > 0 && *p->s == '[') {
			p->s++;
			qp_ws(p);
			if (*p->s != '\'' && *p->s != '"') {
				qp_fail(p, "quoted property name expected");
				break;
			}
			keys = jv_array_append(keys, qp_string(p));
			if (p->err || !qp_ch(p, ']')) {
				qp_fail(p, "']' expected");
				break;
			}
			continue;
		}
		if (jv_array_length(jv_copy(keys)) > 0) {
			if (*p->s != '.')
				break;
			p->s++;
			qp_ws(p);
			st = p->s;
		}
		while (is_ident((unsigned char)*p->s))
			p->s++;
		if (st == p->s) {
			qp_fail(p, "property name expected");
			break;
		}
		keys = jv_array_append(keys, jv_string_sized(st, (int)(p->s - st)));
	}
	if (p->err) {
		jv_free(keys);
		return -1;
	}
	n = jv_array_length(jv_copy(keys));
	if (n > 1 && first_is(keys, "devices")) {
		keys = jv_array_slice(keys, 1, n);
		n--;
		if (n > 1 && first_is(keys, "modules"))
			keys = jv_array_slice(keys, 1, n);
	}
	return qp_node(p, Q_PATH, -1, -1, keys);
}

static int qp_or(struct qp *p);

static int
qp_operand(struct qp *p)
{
	int n;

	qp_ws(p);
	if (p->err)
		return -1;
	if (qp_ch(p, '(')) {
		if (++p->depth > 32) {
			qp_fail(p, "nested too deep");
			return -1;
		}
		n = qp_or(p);
		p->depth--;
		if (!p->err && !qp_ch(p, ')'))
			qp_fail(p, "')' expected");
		return p->err ? -1 : n;
	}
	if (qp_kw(p, "IS_DEFINED")) {
		if (!qp_ch(p, '(')) {
			qp_fail(p, "'(' expected");
			return -1;
		}
		n = qp_path(p);
		if (!p->err && !qp_ch(p, ')'))
			qp_fail(p, "')' expected");
		return p->err ? -1 : qp_node(p, Q_DEF, n, -1, jv_null());
	}
	if (*p->s == '\'' || *p->s == '"' || *p->s == '-' || *p->s == '+' ||
	    isdigit((unsigned char)*p->s))
		return qp_node(p, Q_LIT, -1, -1, qp_literal(p));
	{
		const char *save = p->s;

		if (qp_kw(p, "true") || qp_kw(p, "false") || qp_kw(p, "null")) {
			p->s = save;
			return qp_node(p, Q_LIT, -1, -1, qp_literal(p));
		}
	}
	if (isalpha((unsigned char)*p->s) || *p->s == '_' || *p->s == '$')
		return qp_path(p);
	qp_fail(p, "value or property expected");
	return -1;
}

static int
qp_cmp(struct qp *p)
{
	int a, b, kind, n;
	size_t i;
	jv list;

	a = qp_operand(p);
	if (p->err)
		return -1;
	qp_ws(p);
	if ((kind = qp_kw(p, "IN") ? Q_IN : qp_kw(p, "NIN") ? Q_NIN : -1) >= 0) {
		if (!qp_ch(p, '[')) {
			qp_fail(p, "'[' expected");
			return -1;
		}
		list = jv_array();
		if (!qp_ch(p, ']')) {
			do {
				list = jv_array_append(list, qp_literal(p));
			} while (!p->err && qp_ch(p, ','));
			if (!p->err && !qp_ch(p, ']'))
				qp_fail(p, "']' expected");
		}
		if (p->err) {
			jv_free(list);
			return -1;
		}
		return qp_node(p, kind, a, -1, list);
	}
	for (i = 0; i < sizeof(cmp_ops) / sizeof(cmp_ops[0]); i++)
		if (strncmp(p->s, cmp_ops[i], strlen(cmp_ops[i])) == 0)
			break;
	if (i == sizeof(cmp_ops) / sizeof(cmp_ops[0]))
		return a;
	p->s += strlen(cmp_ops[i]);
	b = qp_operand(p);
	if (p->err)
		return -1;
	n = qp_node(p, Q_CMP, a, b, jv_null());
	if (n >= 0)
		p->q->n[n].op = (int)i;
	return n;
}

static int
qp_not(struct qp *p)
{
	int a;

	if (qp_kw(p, "NOT")) {
		if (++p->depth > 32) {
			qp_fail(p, "nested too deep");
			return -1;
		}
		a = qp_not(p);
		p->depth--;
		return p->err ? -1 : qp_node(p, Q_NOT, a, -1, jv_null());
	}
	return qp_cmp(p);
}

static int
qp_and(struct qp *p)
{
	int a = qp_not(p), b;

	while (!p->err && qp_kw(p, "AND")) {
		b = qp_not(p);
		if (p->err)
			return -1;
		a = qp_node(p, Q_AND, a, b, jv_null());
	}
	return p->err ? -1 : a;
}

static int
qp_or(struct qp *p)
{
	int a = qp_and(p), b;

	while (!p->err && qp_kw(p, "OR")) {
		b = qp_and(p);
		if (p->err)
			return -1;
		a = qp_node(p, Q_OR, a, b, jv_null());
	}
	return p->err ? -1 : a;
}

void
iothub_query_free(struct iothub_query *q)
{
	int i;

	for (i = 0; i < q->nn; i++)
		jv_free(q->n[i].v);
	free(q->n);
	q->n = NULL;
	q->nn = 0;
	q->root = -1;
}

int
iothub_query_parse(const char *text, struct iothub_query *q, char *msg,
    size_t msgsz)
{
	struct qp p = { text, q, 0, 0, msg, msgsz };

	memset(q, 0, sizeof(*q));
	q->root = -1;
	msg[0] = '\0';
	if (strlen(text) > IOTHUB_MAX_QUERY) {
		snprintf(msg, msgsz, "the query is longer than %d bytes",
		    IOTHUB_MAX_QUERY);
		return -1;
	}
	if (!qp_kw(&p, "SELECT")) {
		qp_fail(&p, "SELECT expected");
		goto fail;
	}
	if (!qp_ch(&p, '*')) {
		qp_fail(&p, "only SELECT * is served by twin-emulator");
		goto fail;
	}
	if (!qp_kw(&p, "FROM") || !qp_kw(&p, "devices")) {
		qp_fail(&p, "FROM devices or FROM devices.modules expected");
		goto fail;
	}
	if (qp_ch(&p, '.')) {
		if (!qp_kw(&p, "modules")) {
			qp_fail(&p, "devices.modules expected");
			goto fail;
		}
		q->modules = 1;
	}
	qp_ws(&p);
	if (*p.s != '\0') {
		if (!qp_kw(&p, "WHERE")) {
			qp_fail(&p, "WHERE expected");
			goto fail;
		}
		q->root = qp_or(&p);
		qp_ws(&p);
		if (!p.err && *p.s != '\0')
			qp_fail(&p, "unexpected text");
		if (p.err)
			goto fail;
	}
	return 0;
fail:
	iothub_query_free(q);
	return -1;
}

/* ---- evaluation: three-valued, undefined as jv_invalid() ---- */

static jv
path_get(jv keys, jv twin)
{
	jv v = jv_copy(twin), k;
	int i, n = jv_array_length(jv_copy(keys));

	for (i = 0; i < n && jv_is_valid(v); i++) {
		k = jv_array_get(jv_copy(keys), i);
		if (jv_get_kind(v) == JV_KIND_OBJECT)
			v = jv_object_get(v, k);
		else {
			jv_free(k);
			jv_free(v);
			v = jv_invalid();
		}
	}
	return v;
}

static jv
eval(const struct iothub_query *q, int i, jv twin)
{
	const struct iq_node *n = &q->n[i];
	jv a, b;
	int r, j, len;

	switch (n->kind) {
	case Q_LIT:
		return jv_copy(n->v);
	case Q_PATH:
		return path_get(n->v, twin);
	case Q_DEF:
		a = eval(q, n->a, twin);
		r = jv_is_valid(a);
		jv_free(a);
		return jv_bool(r);
	case Q_NOT:
		r = cmp_tv(eval(q, n->a, twin));
		return cmp_tvj(r < 0 ? -1 : !r);
	case Q_AND: {
		int x = cmp_tv(eval(q, n->a, twin)), y = x == 0 ? 0 :
		    cmp_tv(eval(q, n->b, twin));

		return cmp_tvj(cmp_and3(x, y));
	}
	case Q_OR: {
		int x = cmp_tv(eval(q, n->a, twin)), y = x == 1 ? 1 :
		    cmp_tv(eval(q, n->b, twin));

		return cmp_tvj(cmp_or3(x, y));
	}
	case Q_CMP:
		a = eval(q, n->a, twin);
		b = eval(q, n->b, twin);
		r = cmp_values(a, b, cmp_ops[n->op], 0);
		jv_free(a);
		jv_free(b);
		return cmp_tvj(r);
	case Q_IN:
	case Q_NIN:
		a = eval(q, n->a, twin);
		if (!jv_is_valid(a))
			return a;
		r = 0;
		len = jv_array_length(jv_copy(n->v));
		for (j = 0; j < len && !r; j++) {
			b = jv_array_get(jv_copy(n->v), j);
			r = cmp_values(a, b, "=", 0) == 1;
			jv_free(b);
		}
		jv_free(a);
		return jv_bool(n->kind == Q_IN ? r : !r);
	}
	return jv_invalid();
}

int
iothub_query_match(const struct iothub_query *q, jv twin)
{
	if (q->root < 0)
		return 1;
	return cmp_tv(eval(q, q->root, twin)) == 1;
}
