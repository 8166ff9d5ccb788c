/*
 * jpatch.c - JSON Pointer edits (ADT JSON Patch, Cosmos partial document
 * update) and the Cosmos patch condition language ("from c where ...").
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmp.h"
#include "emu.h"
#include "json.h"
#include "qlex.h"

#define JP_MAX_DEPTH 64

static void __attribute__((format(printf, 3, 4)))
seterr(char *msg, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, n, fmt, ap);
	va_end(ap);
}

/* Split a JSON Pointer into unescaped tokens (malloc'd; *n set). */
static char **
ptr_split(const char *p, int *n)
{
	char **tok;
	int cap = 8, i;
	const char *s, *e;
	char *t;

	*n = 0;
	if (p == NULL || *p != '/')
		return NULL;
	tok = xcalloc((size_t)cap, sizeof(*tok));
	for (s = p + 1;; s = e + 1) {
		e = strchr(s, '/');
		if (e == NULL)
			e = s + strlen(s);
		if (*n == cap) {
			cap *= 2;
			tok = xrealloc(tok, (size_t)cap * sizeof(*tok));
		}
		t = xmalloc((size_t)(e - s) + 1);
		for (i = 0; s < e; s++) {
			if (*s == '~' && s + 1 < e && (s[1] == '0' || s[1] == '1')) {
				t[i++] = s[1] == '0' ? '~' : '/';
				s++;
			} else
				t[i++] = *s;
		}
		t[i] = '\0';
		tok[(*n)++] = t;
		if (*e == '\0')
			break;
	}
	return tok;
}

static void
ptr_free(char **tok, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(tok[i]);
	free(tok);
}

/* Array index: 0 .. ; -1 for "-"; -2 when not an index. */
static long
ptr_index(const char *t)
{
	char *end;
	long v;

	if (strcmp(t, "-") == 0)
		return -1;
	if (*t == '\0' || (t[0] == '0' && t[1] != '\0') || !isdigit((unsigned char)*t))
		return -2;
	errno = 0;
	v = strtol(t, &end, 10);
	if (*end != '\0' || errno != 0 || v > 1000000)
		return -2;
	return v;
}

/* Owned value at the tokens, or jv_invalid(). doc borrowed. */
static jv
ptr_get(jv doc, char **tok, int n)
{
	jv v = jv_copy(doc), c;
	long ix;
	int i;

	for (i = 0; i < n; i++) {
		if (jv_get_kind(v) == JV_KIND_OBJECT) {
			c = jv_object_get(jv_copy(v), jv_string(tok[i]));
		} else if (jv_get_kind(v) == JV_KIND_ARRAY) {
			ix = ptr_index(tok[i]);
			if (ix < 0 || ix >= jv_array_length(jv_copy(v)))
				c = jv_invalid();
			else
				c = jv_array_get(jv_copy(v), (int)ix);
		} else
			c = jv_invalid();
		jv_free(v);
		v = c;
		if (!jv_is_valid(v))
			break;
	}
	return v;
}

static jv
array_insert(jv a, int at, jv val)
{
	jv out = jv_array();
	int i, n = jv_array_length(jv_copy(a));

	for (i = 0; i < n; i++) {
		if (i == at)
			out = jv_array_append(out, jv_copy(val));
		out = jv_array_append(out, jv_array_get(jv_copy(a), i));
	}
	if (at >= n)
		out = jv_array_append(out, jv_copy(val));
	jv_free(a);
	jv_free(val);
	return out;
}

static jv
array_remove(jv a, int at)
{
	jv out = jv_array();
	int i, n = jv_array_length(jv_copy(a));

	for (i = 0; i < n; i++)
		if (i != at)
			out = jv_array_append(out, jv_array_get(jv_copy(a), i));
	jv_free(a);
	return out;
}

/* The edit at the last token, on container c (consumed). */
static jv
edit_leaf(jv c, const char *key, enum jpatch_op op, jv value, char *msg,
    size_t msgsz)
{
	jv old;
	long ix;
	int n;

	if (jv_get_kind(c) == JV_KIND_OBJECT) {
		old = jv_object_get(jv_copy(c), jv_string(key));
		switch (op) {
		case JP_ADD:
		case JP_SET:
			jv_free(old);
			return jv_object_set(c, jv_string(key), jv_copy(value));
		case JP_REPLACE:
			if (!jv_is_valid(old)) {
				seterr(msg, msgsz, "the target location '%s' does not exist", key);
				goto fail;
			}
			jv_free(old);
			return jv_object_set(c, jv_string(key), jv_copy(value));
		case JP_REMOVE:
			if (!jv_is_valid(old)) {
				seterr(msg, msgsz, "the target location '%s' does not exist", key);
				goto fail;
			}
			jv_free(old);
			return jv_object_delete(c, jv_string(key));
		case JP_INCR:
			if (jv_get_kind(value) != JV_KIND_NUMBER) {
				seterr(msg, msgsz, "increment value must be a number");
				goto fail;
			}
			if (!jv_is_valid(old)) {
				jv_free(old);
				return jv_object_set(c, jv_string(key), jv_copy(value));
			}
			if (jv_get_kind(old) != JV_KIND_NUMBER) {
				jv_free(old);
				seterr(msg, msgsz, "the target '%s' is not a number", key);
				goto fail;
			}
			old = jv_number(jv_number_value(old) + jv_number_value(value));
			return jv_object_set(c, jv_string(key), old);
		case JP_MOVE:
			break;
		}
		jv_free(old);
	} else if (jv_get_kind(c) == JV_KIND_ARRAY) {
		n = jv_array_length(jv_copy(c));
		ix = ptr_index(key);
		if (ix == -1 && (op == JP_ADD || op == JP_SET))
			ix = n;
		if (ix < 0 || ix > n || (ix == n && op != JP_ADD && op != JP_SET)) {
			seterr(msg, msgsz, "array index '%s' is out of range", key);
			goto fail;
		}
		switch (op) {
		case JP_ADD:
			return array_insert(c, (int)ix, jv_copy(value));
		case JP_SET:
		case JP_REPLACE:
			if (ix == n)
				return jv_array_append(c, jv_copy(value));
			return jv_array_set(c, (int)ix, jv_copy(value));
		case JP_REMOVE:
			return array_remove(c, (int)ix);
		case JP_INCR:
			old = jv_array_get(jv_copy(c), (int)ix);
			if (jv_get_kind(old) != JV_KIND_NUMBER ||
			    jv_get_kind(value) != JV_KIND_NUMBER) {
				jv_free(old);
				seterr(msg, msgsz, "the target is not a number");
				goto fail;
			}
			old = jv_number(jv_number_value(old) + jv_number_value(value));
			return jv_array_set(c, (int)ix, old);
		case JP_MOVE:
			break;
		}
	} else
		seterr(msg, msgsz, "the parent of '%s' is not an object or array", key);
fail:
	jv_free(c);
	if (msg[0] == '\0')
		seterr(msg, msgsz, "invalid operation");
	return jv_invalid();
}

static jv
edit(jv v, char **tok, int n, int i, enum jpatch_op op, jv value, char *msg,
    size_t msgsz)
{
	jv child;
	long ix;

	if (i == n - 1)
		return edit_leaf(v, tok[i], op, value, msg, msgsz);
	if (jv_get_kind(v) == JV_KIND_OBJECT) {
		child = jv_object_get(jv_copy(v), jv_string(tok[i]));
		if (!jv_is_valid(child))
			goto missing;
		child = edit(child, tok, n, i + 1, op, value, msg, msgsz);
		if (!jv_is_valid(child))
			goto fail;
		return jv_object_set(v, jv_string(tok[i]), child);
	}
	if (jv_get_kind(v) == JV_KIND_ARRAY) {
		ix = ptr_index(tok[i]);
		if (ix < 0 || ix >= jv_array_length(jv_copy(v)))
			goto missing;
		child = jv_array_get(jv_copy(v), (int)ix);
		child = edit(child, tok, n, i + 1, op, value, msg, msgsz);
		if (!jv_is_valid(child))
			goto fail;
		return jv_array_set(v, (int)ix, child);
	}
missing:
	seterr(msg, msgsz, "the path segment '%s' does not exist", tok[i]);
fail:
	jv_free(v);
	return jv_invalid();
}

jv
jpatch_apply(jv doc, enum jpatch_op op, const char *path, const char *from,
    jv value, char *msg, size_t msgsz)
{
	char **tok = NULL, **ftok = NULL;
	int n = 0, fn = 0;
	jv moved = jv_invalid();

	msg[0] = '\0';
	tok = ptr_split(path, &n);
	if (tok == NULL || n == 0 || n > JP_MAX_DEPTH) {
		seterr(msg, msgsz, "invalid path '%s'", path ? path : "");
		jv_free(doc);
		doc = jv_invalid();
		goto out;
	}
	if (op == JP_MOVE) {
		ftok = ptr_split(from, &fn);
		if (ftok == NULL || fn == 0 || fn > JP_MAX_DEPTH) {
			seterr(msg, msgsz, "invalid from path '%s'", from ? from : "");
			jv_free(doc);
			doc = jv_invalid();
			goto out;
		}
		moved = ptr_get(doc, ftok, fn);
		if (!jv_is_valid(moved)) {
			seterr(msg, msgsz, "the from location '%s' does not exist", from);
			jv_free(doc);
			doc = jv_invalid();
			goto out;
		}
		doc = edit(doc, ftok, fn, 0, JP_REMOVE, jv_null(), msg, msgsz);
		if (jv_is_valid(doc))
			doc = edit(doc, tok, n, 0, JP_ADD, moved, msg, msgsz);
		goto out;
	}
	doc = edit(doc, tok, n, 0, op, value, msg, msgsz);
out:
	jv_free(moved);
	ptr_free(tok, n);
	ptr_free(ftok, fn);
	return doc;
}

/* ---- conditions: from ALIAS where EXPR ---- */

struct cp {
	const char *s;
	const char *alias;
	size_t alias_len;
	jv doc;
	int err;
	char *msg;
	size_t msgsz;
	int depth;
	jv params;		/* [{"name":"@x","value":...}] or null */
};

static void cp_fail(struct cp *p, const char *what);

/* The value of query parameter @name (s points at '@'), or invalid. */
static jv
cp_param(struct cp *p)
{
	const char *st = p->s;
	int i, n;
	jv e, v = jv_invalid();
	const char *name;

	p->s++;
	while (isalnum((unsigned char)*p->s) || *p->s == '_')
		p->s++;
	if (jv_get_kind(p->params) != JV_KIND_ARRAY) {
		cp_fail(p, "unknown parameter");
		return jv_invalid();
	}
	n = jv_array_length(jv_copy(p->params));
	for (i = 0; i < n; i++) {
		e = jv_array_get(jv_copy(p->params), i);
		name = json_get_str(e, "name");
		if (name != NULL && strlen(name) == (size_t)(p->s - st) &&
		    strncmp(name, st, (size_t)(p->s - st)) == 0) {
			jv_free(v);
			v = json_get(e, "value");
		}
		jv_free(e);
	}
	if (!jv_is_valid(v))
		cp_fail(p, "unknown parameter");
	return v;
}

static void
cp_ws(struct cp *p)
{
	qlex_ws(&p->s);
}

/* Match a case-insensitive keyword followed by a non-identifier char. */
static int
cp_kw(struct cp *p, const char *kw)
{
	size_t n = strlen(kw);

	cp_ws(p);
	if (strncasecmp(p->s, kw, n) != 0)
		return 0;
	if (isalnum((unsigned char)p->s[n]) || p->s[n] == '_')
		return 0;
	p->s += n;
	return 1;
}

static int
cp_ch(struct cp *p, char c)
{
	return qlex_ch(&p->s, c);
}

static void
cp_fail(struct cp *p, const char *what)
{
	if (!p->err)
		seterr(p->msg, p->msgsz, "syntax error in condition near '%.20s': %s",
		    p->s, what);
	p->err = 1;
}

/* A quoted string literal (' or "), with \ escapes. */
static jv
cp_string(struct cp *p)
{
	jv v = qlex_string(&p->s);

	if (!jv_is_valid(v))
		cp_fail(p, "unterminated string");
	return v;
}

static jv cp_or(struct cp *p);

static jv
cp_path(struct cp *p)
{
	jv v = jv_copy(p->doc), k;
	const char *st;

	p->s += p->alias_len;
	for (;;) {
		cp_ws(p);
		if (*p->s == '.') {
			p->s++;
			cp_ws(p);
			st = p->s;
			while (isalnum((unsigned char)*p->s) || *p->s == '_' || *p->s == '$')
				p->s++;
			if (st == p->s) {
				cp_fail(p, "property name expected");
				jv_free(v);
				return jv_invalid();
			}
			k = jv_string_sized(st, (int)(p->s - st));
		} else if (*p->s == '[') {
			p->s++;
			cp_ws(p);
			if (*p->s == '\'' || *p->s == '"')
				k = cp_string(p);
			else if (isdigit((unsigned char)*p->s))
				k = jv_number(strtol(p->s, (char **)&p->s, 10));
			else
				k = jv_invalid();
			if (!jv_is_valid(k) || !cp_ch(p, ']')) {
				jv_free(k);
				jv_free(v);
				cp_fail(p, "bad index");
				return jv_invalid();
			}
		} else
			return v;
		if (jv_get_kind(k) == JV_KIND_STRING && jv_get_kind(v) == JV_KIND_OBJECT)
			v = jv_object_get(v, k);
		else if (jv_get_kind(k) == JV_KIND_NUMBER && jv_get_kind(v) == JV_KIND_ARRAY &&
		    jv_number_value(k) < jv_array_length(jv_copy(v)))
			v = jv_array_get(v, (int)jv_number_value(k)), jv_free(k);
		else {
			jv_free(k);
			jv_free(v);
			v = jv_invalid();	/* undefined: skip the rest of the path */
			for (;;) {
				cp_ws(p);
				if (*p->s == '.') {
					p->s++;
					while (isalnum((unsigned char)*p->s) || *p->s == '_' || *p->s == '$')
						p->s++;
				} else if (*p->s == '[') {
					while (*p->s != '\0' && *p->s != ']')
						p->s++;
					if (*p->s == ']')
						p->s++;
				} else
					return v;
			}
		}
	}
}

static jv
cp_operand(struct cp *p)
{
	jv v;
	char *end;
	double d;
	int defined;

	cp_ws(p);
	if (p->err)
		return jv_invalid();
	if (++p->depth > 64) {
		cp_fail(p, "too deep");
		return jv_invalid();
	}
	if (cp_ch(p, '(')) {
		v = cp_or(p);
		if (!cp_ch(p, ')'))
			cp_fail(p, "')' expected");
	} else if (cp_kw(p, "IS_DEFINED")) {
		if (!cp_ch(p, '('))
			cp_fail(p, "'(' expected");
		v = cp_operand(p);
		if (!cp_ch(p, ')'))
			cp_fail(p, "')' expected");
		defined = jv_is_valid(v);
		jv_free(v);
		v = jv_bool(defined);
	} else if (cp_kw(p, "true"))
		v = jv_true();
	else if (cp_kw(p, "false"))
		v = jv_false();
	else if (cp_kw(p, "null"))
		v = jv_null();
	else if (cp_kw(p, "undefined"))
		v = jv_invalid();
	else if (*p->s == '\'' || *p->s == '"')
		v = cp_string(p);
	else if (*p->s == '@')
		v = cp_param(p);
	else if (*p->s == '-' || isdigit((unsigned char)*p->s)) {
		errno = 0;
		d = strtod(p->s, &end);
		if (end == p->s) {
			cp_fail(p, "number expected");
			v = jv_invalid();
		} else {
			p->s = end;
			v = jv_number(d);
		}
	} else if (strncmp(p->s, p->alias, p->alias_len) == 0 &&
	    !isalnum((unsigned char)p->s[p->alias_len]) && p->s[p->alias_len] != '_')
		v = cp_path(p);
	else {
		cp_fail(p, "value or path expected");
		v = jv_invalid();
	}
	p->depth--;
	return v;
}

static jv
cp_cmp(struct cp *p)
{
	static const char *ops[] = { "<=", ">=", "!=", "<>", "=", "<", ">" };
	jv a, b;
	size_t i;
	int r;

	a = cp_operand(p);
	cp_ws(p);
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strncmp(p->s, ops[i], strlen(ops[i])) == 0)
			break;
	if (i == sizeof(ops) / sizeof(ops[0]))
		return a;
	p->s += strlen(ops[i]);
	b = cp_operand(p);
	r = cmp_values(a, b, ops[i], 1);
	jv_free(a);
	jv_free(b);
	return cmp_tvj(r);
}

static jv
cp_not(struct cp *p)
{
	jv v;

	if (cp_kw(p, "NOT")) {
		if (++p->depth > 64) {
			cp_fail(p, "too deep");
			return jv_invalid();
		}
		v = cp_not(p);
		p->depth--;
		if (jv_get_kind(v) == JV_KIND_TRUE || jv_get_kind(v) == JV_KIND_FALSE)
			return jv_bool(jv_get_kind(v) == JV_KIND_FALSE);
		jv_free(v);
		return jv_invalid();
	}
	return cp_cmp(p);
}

static jv
cp_and(struct cp *p)
{
	int a = cmp_tv(cp_not(p)), b;

	while (!p->err && cp_kw(p, "AND")) {
		b = cmp_tv(cp_not(p));
		a = cmp_and3(a, b);
	}
	return cmp_tvj(a);
}

static jv
cp_or(struct cp *p)
{
	int a = cmp_tv(cp_and(p)), b;

	while (!p->err && cp_kw(p, "OR")) {
		b = cmp_tv(cp_and(p));
		a = cmp_or3(a, b);
	}
	return cmp_tvj(a);
}

int
jpatch_cond(const char *cond, jv doc, char *msg, size_t msgsz)
{
	return jpatch_cond_params(cond, doc, jv_null(), msg, msgsz);
}

int
jpatch_cond_params(const char *cond, jv doc, jv params, char *msg,
    size_t msgsz)
{
	struct cp p = { cond, NULL, 0, doc, 0, msg, msgsz, 0, params };
	const char *st;
	jv v;

	msg[0] = '\0';
	if (!cp_kw(&p, "FROM")) {
		cp_fail(&p, "FROM expected");
		return -1;
	}
	cp_ws(&p);
	st = p.s;
	while (isalnum((unsigned char)*p.s) || *p.s == '_')
		p.s++;
	if (st == p.s) {
		cp_fail(&p, "alias expected");
		return -1;
	}
	p.alias = st;
	p.alias_len = (size_t)(p.s - st);
	cp_ws(&p);
	if (*p.s == '\0')
		return 1;
	if (!cp_kw(&p, "WHERE")) {
		cp_fail(&p, "WHERE expected");
		return -1;
	}
	v = cp_or(&p);
	cp_ws(&p);
	if (!p.err && *p.s != '\0')
		cp_fail(&p, "unexpected text");
	if (p.err) {
		jv_free(v);
		return -1;
	}
	return cmp_tv(v) == 1;
}
