/*
 * fastpath_eval.c - evaluation of a compiled program on one record's tape:
 * the per-record arena, truthiness and jq's ordering, the builtins, the
 * comparisons and arithmetic, and ev(), the evaluator itself. Any case not
 * handled exactly as jq 1.6 would returns -1 (the record goes to libjq).
 */
#include "fastpath_impl.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "json.h"

void *
arena_alloc(struct ctx *c, size_t n)
{
	struct arena_block *b = c->arena;

	n = (n + 7) & ~(size_t)7;
	if (b == NULL || b->cap - b->used < n) {
		size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
		struct arena_block *nb = xmalloc(sizeof(*nb) + cap);

		nb->next = b;
		nb->used = 0;
		nb->cap = cap;
		c->arena = b = nb;
	}
	b->used += n;
	return b->data + b->used - n;
}

void
arena_reset(struct ctx *c)
{
	struct arena_block *b = c->arena, *next;

	if (b == NULL)
		return;
	for (next = b->next; next != NULL; ) {
		struct arena_block *nn = next->next;

		free(next);
		next = nn;
	}
	b->next = NULL;
	b->used = 0;
}

static int
truthy(const struct ctx *c, const struct val *v)
{
	if (v->k == V_NULL || v->k == V_FALSE)
		return 0;
	if (v->k == V_NODE) {
		uint8_t t = c->t->nodes[v->n].type;

		return t != TAPE_NULL && t != TAPE_FALSE;
	}
	return 1;
}

/* Turn a tape scalar into a plain value (containers stay V_NODE). */
void
deref(const struct ctx *c, struct val *v)
{
	const struct tape_node *nd;

	if (v->k != V_NODE)
		return;
	nd = &c->t->nodes[v->n];
	switch (nd->type) {
	case TAPE_NULL: v->k = V_NULL; break;
	case TAPE_TRUE: v->k = V_TRUE; break;
	case TAPE_FALSE: v->k = V_FALSE; break;
	case TAPE_STRING:
		v->k = V_STR;
		v->u.s = nd->p;
		v->n = nd->n;
		v->raw_ok = (nd->flags & TAPE_RAW_OK) != 0;
		break;
	case TAPE_NUMBER:
		v->k = V_NUM;
		v->u.d = tape_number(nd);
		break;
	default:
		break;
	}
}

/* jq kind order: null < false < true < number < string < array < object */
static int
kind_rank(const struct ctx *c, const struct val *v)
{
	if (v->k == V_NODE)
		return c->t->nodes[v->n].type == TAPE_ARRAY ? 5 : 6;
	switch (v->k) {
	case V_NULL: return 0;
	case V_FALSE: return 1;
	case V_TRUE: return 2;
	case V_NUM: return 3;
	case V_STR: return 4;
	case V_ARR: return 5;
	default: return 6;
	}
}

static int
str_has_escape_needs(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == '"' || ch == '\\' || ch == 0x7f)
			return 1;
	}
	return 0;
}

struct val
mkstr(const char *s, size_t n)
{
	struct val v;

	v.k = V_STR;
	v.u.s = s;
	v.n = (uint32_t)n;
	v.raw_ok = !str_has_escape_needs(s, n);
	return v;
}

/* tostring of a scalar (jq's dumper, no literal restoring). -1: fallback */
int
to_string(struct ctx *c, struct val *v)
{
	char tmp[40];
	struct buf b = { tmp, 0, sizeof(tmp) };
	char *s;

	deref(c, v);
	switch (v->k) {
	case V_STR:
		return 0;
	case V_NULL:
		*v = mkstr("null", 4);
		return 0;
	case V_TRUE:
		*v = mkstr("true", 4);
		return 0;
	case V_FALSE:
		*v = mkstr("false", 5);
		return 0;
	case V_NUM:
		json_write_number(&b, v->u.d);
		s = arena_alloc(c, b.len);
		memcpy(s, tmp, b.len);
		*v = mkstr(s, b.len);
		return 0;
	default:
		return -1;
	}
}

/* tonumber on a string: strict JSON number text only (jq is laxer, and
 * libjq decides those cases) */
static int
b_tonumber(struct val *v)
{
	struct tape tt = TAPE_INIT;
	struct json_err je;
	struct tape_node nd;
	const char *q = v->u.s;
	size_t i;

	if (v->n == 0 || v->n > 40 || (q[0] != '-' && (q[0] < '0' ||
	    q[0] > '9')))
		return -1;
	for (i = 0; i < v->n; i++)
		if (!((q[i] >= '0' && q[i] <= '9') || q[i] == '-' ||
		    q[i] == '+' || q[i] == '.' || q[i] == 'e' || q[i] == 'E'))
			return -1;
	if (tape_parse(&tt, q, v->n, &je) < 0 ||
	    tt.nodes[0].type != TAPE_NUMBER) {
		tape_release(&tt);
		return -1;
	}
	nd = tt.nodes[0];
	v->k = V_NUM;
	v->u.d = tape_number(&nd);
	tape_release(&tt);
	return 0;
}

/* ascii_downcase, ascii_upcase */
static int
b_case(struct ctx *c, int op, struct val *v)
{
	char *s;
	uint32_t i;

	deref(c, v);
	if (v->k != V_STR)
		return -1;
	s = arena_alloc(c, v->n);
	for (i = 0; i < v->n; i++) {
		char ch = v->u.s[i];

		if (op == B_DOWN && ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		else if (op == B_UP && ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		s[i] = ch;
	}
	v->u.s = s;
	return 0;
}

/* length: of arrays, objects, strings (code points), numbers (fabs), null */
static int
b_length(struct ctx *c, struct val *v)
{
	if (v->k == V_NODE && (c->t->nodes[v->n].type == TAPE_ARRAY ||
	    (c->t->nodes[v->n].type == TAPE_OBJECT &&
	    !(c->t->nodes[v->n].flags & TAPE_DUPS)))) {
		double d = c->t->nodes[v->n].n;

		v->k = V_NUM;
		v->u.d = d;
		return 0;
	}
	deref(c, v);
	if (v->k == V_NULL) {
		v->k = V_NUM;
		v->u.d = 0;
	} else if (v->k == V_NUM) {
		v->u.d = fabs(v->u.d);
	} else if (v->k == V_STR) {
		uint32_t i, cps = 0;

		for (i = 0; i < v->n; i++)
			if (((unsigned char)v->u.s[i] & 0xc0) != 0x80)
				cps++;
		v->k = V_NUM;
		v->u.d = cps;
	} else if (v->k == V_OBJ || v->k == V_ARR) {
		double d = v->n;

		v->k = V_NUM;
		v->u.d = d;
	} else {
		return -1;
	}
	return 0;
}

/* sub, gsub with a literal pattern and replacement */
static int
b_sub(struct ctx *c, const struct node *n, struct val *v)
{
	struct buf b = BUF_INIT;
	const char *s, *e, *hit;
	char *o;

	deref(c, v);
	if (v->k != V_STR)
		return -1;
	s = v->u.s;
	e = s + v->n;
	while ((hit = memmem(s, (size_t)(e - s), n->s, n->slen)) != NULL) {
		buf_add(&b, s, (size_t)(hit - s));
		buf_add(&b, n->s2, n->s2len);
		s = hit + n->slen;
		if (n->op == B_SUB)
			break;
	}
	if (b.p == NULL)
		return 0;	/* no match: unchanged */
	buf_add(&b, s, (size_t)(e - s));
	o = arena_alloc(c, b.len);
	memcpy(o, b.p, b.len);
	*v = mkstr(o, b.len);
	buf_release(&b);
	return 0;
}

static int
call(struct ctx *c, const struct node *n, struct val *v)
{
	int r;

	switch (n->op) {
	case B_TONUMBER:
		deref(c, v);
		if (v->k == V_NUM)
			return 0;
		return v->k == V_STR ? b_tonumber(v) : -1;
	case B_TOSTRING:
		return to_string(c, v);
	case B_DOWN:
	case B_UP:
		return b_case(c, n->op, v);
	case B_LENGTH:
		return b_length(c, v);
	case B_NOT:
		r = truthy(c, v);
		v->k = r ? V_FALSE : V_TRUE;
		return 0;
	case B_TYPE: {
		static const char *const names[] = { "null", "boolean",
			"boolean", "number", "string", "array", "object" };

		r = kind_rank(c, v);
		*v = mkstr(names[r], strlen(names[r]));
		return 0;
	}
	case B_FLOOR:
		deref(c, v);
		if (v->k != V_NUM)
			return -1;
		v->u.d = floor(v->u.d);
		return 0;
	case B_LTRIM:
	case B_RTRIM:
		deref(c, v);
		if (v->k != V_STR || v->n < n->slen)
			return 0;
		if (n->op == B_LTRIM && memcmp(v->u.s, n->s, n->slen) == 0) {
			v->u.s += n->slen;
			v->n -= n->slen;
		} else if (n->op == B_RTRIM && memcmp(v->u.s + v->n -
		    n->slen, n->s, n->slen) == 0) {
			v->n -= n->slen;
		}
		return 0;
	case B_STARTS:
	case B_ENDS:
		deref(c, v);
		if (v->k != V_STR)
			return -1;
		r = v->n >= n->slen && memcmp(n->op == B_STARTS ? v->u.s :
		    v->u.s + v->n - n->slen, n->s, n->slen) == 0;
		v->k = r ? V_TRUE : V_FALSE;
		return 0;
	case B_SUB:
	case B_GSUB:
		return b_sub(c, n, v);
	}
	return -1;
}

static int
compare(struct ctx *c, struct val *a, struct val *b, int op, int *res)
{
	int ra, rb, cmp;

	deref(c, a);
	deref(c, b);
	ra = kind_rank(c, a);
	rb = kind_rank(c, b);
	if (ra >= 5 || rb >= 5)
		return -1;	/* containers: libjq */
	if (ra != rb) {
		cmp = ra < rb ? -1 : 1;
	} else if (ra == 3) {
		cmp = a->u.d < b->u.d ? -1 : a->u.d > b->u.d ? 1 : 0;
	} else if (ra == 4) {
		uint32_t m = a->n < b->n ? a->n : b->n;

		cmp = memcmp(a->u.s, b->u.s, m);
		if (cmp == 0)
			cmp = a->n < b->n ? -1 : a->n > b->n ? 1 : 0;
		cmp = cmp < 0 ? -1 : cmp > 0;
	} else {
		cmp = 0;
	}
	switch (op) {
	case C_EQ: *res = cmp == 0; break;
	case C_NE: *res = cmp != 0; break;
	case C_LT: *res = cmp < 0; break;
	case C_LE: *res = cmp <= 0; break;
	case C_GT: *res = cmp > 0; break;
	default: *res = cmp >= 0; break;
	}
	return 0;
}

static int
arith(struct ctx *c, int op, struct val *a, struct val *b, struct val *out)
{
	deref(c, a);
	deref(c, b);
	if (op == '+') {
		if (a->k == V_NULL) {
			*out = *b;
			return 0;
		}
		if (b->k == V_NULL) {
			*out = *a;
			return 0;
		}
		if (a->k == V_STR && b->k == V_STR) {
			char *s = arena_alloc(c, (size_t)a->n + b->n);

			memcpy(s, a->u.s, a->n);
			memcpy(s + a->n, b->u.s, b->n);
			out->k = V_STR;
			out->u.s = s;
			out->n = a->n + b->n;
			out->raw_ok = a->raw_ok && b->raw_ok;
			return 0;
		}
	}
	if (a->k != V_NUM || b->k != V_NUM)
		return -1;
	out->k = V_NUM;
	switch (op) {
	case '+': out->u.d = a->u.d + b->u.d; break;
	case '-': out->u.d = a->u.d - b->u.d; break;
	case '*': out->u.d = a->u.d * b->u.d; break;
	default:
		if (b->u.d == 0)
			return -1;	/* jq's error */
		out->u.d = a->u.d / b->u.d;
	}
	return 0;
}

/*
 * The value that a path step (.a, .[N]) applies to, n->a, into *a: -1 on an
 * error, 1 when it is null (*out then is null too: null goes through a
 * path), else 0.
 */
static int
ev_base(struct ctx *c, const struct node *n, const struct val *in,
    struct val *a, struct val *out)
{
	if (ev(c, n->a, in, a) < 0)
		return -1;
	if (a->k == V_NULL || (a->k == V_NODE &&
	    c->t->nodes[a->n].type == TAPE_NULL)) {
		out->k = V_NULL;
		return 1;
	}
	return 0;
}

/* .a on the value of n->a: null through null, objects by key */
static int
ev_field(struct ctx *c, const struct node *n, const struct val *in,
    struct val *out)
{
	struct val a;
	uint32_t i;
	int r;

	if ((r = ev_base(c, n, in, &a, out)) != 0)
		return r < 0 ? -1 : 0;
	if (a.k == V_NODE && c->t->nodes[a.n].type == TAPE_OBJECT &&
	    !(c->t->nodes[a.n].flags & TAPE_DUPS)) {
		uint32_t idx = tape_lookup(c->t, a.n, n->s, n->slen);

		if (idx == 0) {
			out->k = V_NULL;
		} else {
			out->k = V_NODE;
			out->n = idx;
		}
		return 0;
	}
	if (a.k == V_OBJ) {
		for (i = 0; i < a.n; i++)
			if (a.u.pairs[i].klen == n->slen &&
			    memcmp(a.u.pairs[i].key, n->s, n->slen) == 0) {
				*out = a.u.pairs[i].v;
				return 0;
			}
		out->k = V_NULL;
		return 0;
	}
	return -1;
}

/* .[N] on the value of n->a: negative N counts from the end */
static int
ev_index(struct ctx *c, const struct node *n, const struct val *in,
    struct val *out)
{
	struct val a;
	int r;

	if ((r = ev_base(c, n, in, &a, out)) != 0)
		return r < 0 ? -1 : 0;
	if (a.k == V_NODE && c->t->nodes[a.n].type == TAPE_ARRAY) {
		int32_t len = (int32_t)c->t->nodes[a.n].n, k = n->index;
		uint32_t j;

		if (k < 0)
			k += len;
		if (k < 0 || k >= len) {
			out->k = V_NULL;
			return 0;
		}
		j = a.n + 1;
		while (k-- > 0)
			j = c->t->nodes[j].next;
		out->k = V_NODE;
		out->n = j;
		return 0;
	}
	return -1;
}

/* {k: v, ...}: a later duplicate key replaces the earlier value in place */
static int
ev_object(struct ctx *c, const struct node *n, const struct val *in,
    struct val *out)
{
	struct pair *p = arena_alloc(c, n->n * sizeof(*p) + 1);
	struct val a;
	uint32_t i, np = 0, j;

	for (i = 0; i < n->n; i++) {
		if (ev(c, n->kids[i], in, &a) < 0)
			return -1;
		for (j = 0; j < np; j++)
			if (p[j].klen == n->klens[i] &&
			    memcmp(p[j].key, n->keys[i], n->klens[i]) == 0)
				break;
		if (j == np) {
			p[np].key = n->keys[i];
			p[np].klen = n->klens[i];
			np++;
		}
		p[j].v = a;
	}
	out->k = V_OBJ;
	out->n = np;
	out->u.pairs = p;
	return 0;
}

static int
ev_array(struct ctx *c, const struct node *n, const struct val *in,
    struct val *out)
{
	struct val *e = arena_alloc(c, n->n * sizeof(*e) + 1);
	uint32_t i;

	for (i = 0; i < n->n; i++)
		if (ev(c, n->kids[i], in, &e[i]) < 0)
			return -1;
	out->k = V_ARR;
	out->n = n->n;
	out->u.elems = e;
	return 0;
}

/* a and b, a or b: the right side only when the left does not decide */
static int
ev_logic(struct ctx *c, const struct node *n, const struct val *in,
    struct val *out)
{
	struct val a, b;

	if (ev(c, n->a, in, &a) < 0)
		return -1;
	if (n->kind == N_AND && !truthy(c, &a)) {
		out->k = V_FALSE;
		return 0;
	}
	if (n->kind == N_OR && truthy(c, &a)) {
		out->k = V_TRUE;
		return 0;
	}
	if (ev(c, n->b, in, &b) < 0)
		return -1;
	out->k = truthy(c, &b) ? V_TRUE : V_FALSE;
	return 0;
}

/* "text \(x) text": every part as tostring would give it, concatenated */
static int
ev_format(struct ctx *c, const struct node *n, const struct val *in,
    struct val *out)
{
	struct buf b2 = BUF_INIT;
	struct val a;
	uint32_t i;
	char *s;

	for (i = 0; i < n->n; i++) {
		if (ev(c, n->kids[i], in, &a) < 0 || to_string(c, &a) < 0) {
			buf_release(&b2);
			return -1;
		}
		buf_add(&b2, a.u.s, a.n);
	}
	s = arena_alloc(c, b2.len);
	if (b2.len)
		memcpy(s, b2.p, b2.len);
	*out = mkstr(s, b2.len);
	buf_release(&b2);
	return 0;
}

int
ev(struct ctx *c, const struct node *n, const struct val *in,
    struct val *out)
{
	struct val a, b;
	int r;

	switch (n->kind) {
	case N_DOT:
		*out = *in;
		return 0;
	case N_FIELD:
		return ev_field(c, n, in, out);
	case N_INDEX:
		return ev_index(c, n, in, out);
	case N_LIT:
		*out = n->lit;
		if (out->k == V_STR)
			out->raw_ok = !str_has_escape_needs(out->u.s, out->n);
		return 0;
	case N_OBJ:
		return ev_object(c, n, in, out);
	case N_ARR:
		return ev_array(c, n, in, out);
	case N_PIPE:
		if (ev(c, n->a, in, &a) < 0)
			return -1;
		return ev(c, n->b, &a, out);
	case N_ALT:
		if (ev(c, n->a, in, &a) < 0)
			return -1;
		if (truthy(c, &a)) {
			*out = a;
			return 0;
		}
		return ev(c, n->b, in, out);
	case N_AND:
	case N_OR:
		return ev_logic(c, n, in, out);
	case N_CMP:
		if (ev(c, n->a, in, &a) < 0 || ev(c, n->b, in, &b) < 0 ||
		    compare(c, &a, &b, n->op, &r) < 0)
			return -1;
		out->k = r ? V_TRUE : V_FALSE;
		return 0;
	case N_ARITH:
		/* jq evaluates the right operand first; no side effects
		 * here, so the order does not show */
		if (ev(c, n->a, in, &a) < 0 || ev(c, n->b, in, &b) < 0)
			return -1;
		return arith(c, n->op, &a, &b, out);
	case N_NEG:
		if (ev(c, n->a, in, &a) < 0)
			return -1;
		deref(c, &a);
		if (a.k != V_NUM)
			return -1;
		out->k = V_NUM;
		out->u.d = -a.u.d;
		return 0;
	case N_CALL:
		*out = *in;
		return call(c, n, out);
	case N_IF:
		if (ev(c, n->a, in, &a) < 0)
			return -1;
		return ev(c, truthy(c, &a) ? n->b : n->c, in, out);
	case N_FMT:
		return ev_format(c, n, in, out);
	}
	return -1;
}
