/*
 * tape.c - strict JSON to a flat node array.
 */
#include "tape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "utf8.h"

#define DUP_CHECK_MAX 32

struct tp {
	const unsigned char *start, *p, *end;
	struct tape *t;
	struct json_err *err;
	int depth;
	/* offsets of escaped strings in t->strings, patched at the end */
	int has_escaped;
};

static int
perr(struct tp *ps, const unsigned char *at, const char *msg)
{
	if (ps->err->msg[0] == '\0') {
		ps->err->off = (size_t)(at - ps->start);
		snprintf(ps->err->msg, sizeof(ps->err->msg), "%s", msg);
	}
	return -1;
}

static inline uint32_t
node_new(struct tp *ps, uint8_t type)
{
	struct tape *t = ps->t;

	if (t->len == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->nodes = xrealloc(t->nodes, t->cap * sizeof(*t->nodes));
	}
	t->nodes[t->len].type = type;
	t->nodes[t->len].flags = 0;
	t->nodes[t->len].n = 0;
	t->nodes[t->len].p = NULL;
	return (uint32_t)t->len++;
}

static inline void
skip_ws(struct tp *ps)
{
	const unsigned char *p = ps->p, *e = ps->end;

	while (p < e && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
		p++;
	ps->p = p;
}


static int
hex4(const unsigned char *p, unsigned *out)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		unsigned c = p[i], d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}


/*
 * The string whose opening quote is at ps->p becomes node `id`. Escaped
 * strings are decoded into t->strings; their node's p holds the offset
 * until the end of the parse (the buffer may move), flagged by p == NULL
 * and the offset kept in `next` temporarily... simpler: we store the offset
 * in a side field: see fixup in tape_parse.
 */
static int
parse_str(struct tp *ps, uint32_t id)
{
	const unsigned char *p = ps->p + 1, *e = ps->end, *run;
	struct buf *b = &ps->t->strings;
	struct tape_node *nd;
	size_t off = 0;
	int copied = 0, raw_ok = 1;

	run = p;
	for (;;) {
		unsigned c;

		while (p < e && *p >= 0x20 && *p < 0x7f && *p != '"' &&
		    *p != '\\')
			p++;
		if (p >= e)
			return perr(ps, ps->p, "unterminated string");
		c = *p;
		if (c == '"')
			break;
		if (c >= 0x7f) {
			size_t k;

			if (c == 0x7f) {
				raw_ok = 0;	/* DEL is escaped on output */
				p++;
				continue;
			}
			if ((k = utf8_seq(p, e)) == 0)
				return perr(ps, p, "invalid UTF-8 in string");
			p += k;
			continue;
		}
		if (c < 0x20)
			return perr(ps, p,
			    "unescaped control character in string");
		/* backslash */
		if (!copied) {
			off = b->len;
			copied = 1;
		}
		buf_add(b, run, (size_t)(p - run));
		if (e - p < 2)
			return perr(ps, p, "unterminated string");
		switch (p[1]) {
		case '"': buf_addc(b, '"'); p += 2; break;
		case '\\': buf_addc(b, '\\'); p += 2; break;
		case '/': buf_addc(b, '/'); p += 2; break;
		case 'b': buf_addc(b, '\b'); p += 2; break;
		case 'f': buf_addc(b, '\f'); p += 2; break;
		case 'n': buf_addc(b, '\n'); p += 2; break;
		case 'r': buf_addc(b, '\r'); p += 2; break;
		case 't': buf_addc(b, '\t'); p += 2; break;
		case 'u': {
			unsigned cp, lo;
			char tmp[4];

			if (e - p < 6 || hex4(p + 2, &cp) < 0)
				return perr(ps, p, "invalid \\u escape");
			p += 6;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return perr(ps, p - 6,
				    "lone low surrogate escape");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (e - p < 6 || p[0] != '\\' || p[1] != 'u' ||
				    hex4(p + 2, &lo) < 0 || lo < 0xdc00 ||
				    lo > 0xdfff)
					return perr(ps, p - 6,
					    "lone high surrogate escape");
				p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
			}
			buf_add(b, tmp, utf8_put(tmp, cp));
			break;
		}
		default:
			return perr(ps, p, "invalid escape in string");
		}
		run = p;
	}
	nd = &ps->t->nodes[id];
	if (copied) {
		buf_add(b, run, (size_t)(p - run));
		nd->p = NULL;	/* fixed up at the end: offset in next */
		nd->next = (uint32_t)off;
		nd->n = (uint32_t)(b->len - off);
		nd->flags = 0;	/* decoded text needs escaping again */
		ps->has_escaped = 1;
	} else {
		nd->p = (const char *)run;
		nd->n = (uint32_t)(p - run);
		nd->flags = raw_ok ? TAPE_RAW_OK : 0;
	}
	ps->p = p + 1;
	return 0;
}

static int
parse_number(struct tp *ps, uint32_t id)
{
	const unsigned char *s = ps->p, *p = s, *e = ps->end;
	int simple = 1, ndig = 0;
	struct tape_node *nd;

	if (p < e && *p == '-')
		p++;
	if (p >= e || *p < '0' || *p > '9')
		return perr(ps, s, "invalid number");
	if (*p == '0') {
		p++;
		if (p < e && *p >= '0' && *p <= '9')
			return perr(ps, s, "leading zero in number");
		ndig = 1;
	} else {
		while (p < e && *p >= '0' && *p <= '9') {
			p++;
			ndig++;
		}
	}
	if (p < e && *p == '.') {
		simple = 0;
		p++;
		if (p >= e || *p < '0' || *p > '9')
			return perr(ps, s, "digit expected after decimal point");
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		simple = 0;
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		if (p >= e || *p < '0' || *p > '9')
			return perr(ps, s, "digit expected in exponent");
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	nd = &ps->t->nodes[id];
	nd->p = (const char *)s;
	nd->n = (uint32_t)(p - s);
	nd->flags = simple && ndig <= 15 ? TAPE_SMALL_INT : 0;
	ps->p = p;
	return 0;
}

static int parse_value(struct tp *ps);

/* Key nodes of object `obj` (n members): any two equal? */
static int
has_dups(const struct tape *t, uint32_t obj)
{
	uint32_t i, j;

	for (i = obj + 1; i < t->len && i < t->nodes[obj].next;
	    i = t->nodes[i + 1].next) {
		for (j = t->nodes[i + 1].next; j < t->nodes[obj].next;
		    j = t->nodes[j + 1].next) {
			const struct tape_node *a = &t->nodes[i];
			const struct tape_node *b = &t->nodes[j];

			if (a->n == b->n && memcmp(a->p, b->p, a->n) == 0)
				return 1;
		}
	}
	return 0;
}

static int
parse_container(struct tp *ps, int obj)
{
	uint32_t id = node_new(ps, obj ? TAPE_OBJECT : TAPE_ARRAY);
	uint32_t count = 0;
	unsigned char close = obj ? '}' : ']';

	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		goto done;
	}
	for (;;) {
		if (obj) {
			uint32_t k;

			if (ps->p >= ps->end || *ps->p != '"')
				return perr(ps, ps->p,
				    "expected a string key in object");
			k = node_new(ps, TAPE_STRING);
			if (parse_str(ps, k) < 0)
				return -1;
			if (ps->t->nodes[k].p != NULL)
				ps->t->nodes[k].next = k + 1;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return perr(ps, ps->p,
				    "expected ':' after object key");
			ps->p++;
			skip_ws(ps);
		}
		if (parse_value(ps) < 0)
			return -1;
		count++;
		skip_ws(ps);
		if (ps->p >= ps->end)
			return perr(ps, ps->p, obj ? "unterminated object" :
			    "unterminated array");
		if (*ps->p == ',') {
			ps->p++;
			skip_ws(ps);
			continue;
		}
		if (*ps->p == close) {
			ps->p++;
			break;
		}
		return perr(ps, ps->p, obj ? "expected ',' or '}' in object" :
		    "expected ',' or ']' in array");
	}
done:
	ps->t->nodes[id].n = count;
	ps->t->nodes[id].next = (uint32_t)ps->t->len;
	return 0;
}

static int
parse_lit(struct tp *ps, const char *word, size_t n, uint8_t type)
{
	uint32_t id;

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return perr(ps, ps->p, "invalid literal");
	ps->p += n;
	id = node_new(ps, type);
	ps->t->nodes[id].next = id + 1;
	return 0;
}

static int
parse_value(struct tp *ps)
{
	uint32_t id;
	int r;

	if (ps->p >= ps->end)
		return perr(ps, ps->p, "unexpected end of input");
	switch (*ps->p) {
	case '{':
	case '[':
		if (++ps->depth > JSON_MAX_DEPTH)
			return perr(ps, ps->p, "nesting too deep");
		r = parse_container(ps, *ps->p == '{');
		ps->depth--;
		return r;
	case '"':
		id = node_new(ps, TAPE_STRING);
		if (parse_str(ps, id) < 0)
			return -1;
		if (ps->t->nodes[id].p != NULL)
			ps->t->nodes[id].next = id + 1;
		return 0;
	case 't':
		return parse_lit(ps, "true", 4, TAPE_TRUE);
	case 'f':
		return parse_lit(ps, "false", 5, TAPE_FALSE);
	case 'n':
		return parse_lit(ps, "null", 4, TAPE_NULL);
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) {
			id = node_new(ps, TAPE_NUMBER);
			if (parse_number(ps, id) < 0)
				return -1;
			ps->t->nodes[id].next = id + 1;
			return 0;
		}
		return perr(ps, ps->p, "unexpected character");
	}
}

int
tape_parse(struct tape *t, const char *p, size_t n, struct json_err *err)
{
	struct tp ps;
	size_t i;

	err->msg[0] = '\0';
	err->off = 0;
	t->len = 0;
	t->strings.len = 0;
	ps.start = ps.p = (const unsigned char *)p;
	ps.end = ps.p + n;
	ps.t = t;
	ps.err = err;
	ps.depth = 0;
	ps.has_escaped = 0;
	skip_ws(&ps);
	if (ps.p >= ps.end)
		return perr(&ps, ps.p, "empty input, a JSON value expected");
	if (parse_value(&ps) < 0)
		return -1;
	skip_ws(&ps);
	if (ps.p < ps.end)
		return perr(&ps, ps.p,
		    "trailing characters after the JSON value");
	/* escaped strings: offsets into t->strings become pointers */
	for (i = 0; ps.has_escaped && i < t->len; i++) {
		struct tape_node *nd = &t->nodes[i];

		if (nd->type == TAPE_STRING && nd->p == NULL) {
			nd->p = t->strings.p + nd->next;
			nd->next = (uint32_t)i + 1;
		}
	}
	/* duplicate keys */
	for (i = 0; i < t->len; i++) {
		struct tape_node *nd = &t->nodes[i];

		if (nd->type != TAPE_OBJECT || nd->n < 2)
			continue;
		if (nd->n > DUP_CHECK_MAX || has_dups(t, (uint32_t)i))
			nd->flags |= TAPE_DUPS;
	}
	return 0;
}

void
tape_release(struct tape *t)
{
	if (t == NULL)
		return;
	free(t->nodes);
	buf_release(&t->strings);
	t->nodes = NULL;
	t->len = t->cap = 0;
}

const char *
tape_kind_name(int type)
{
	switch (type) {
	case TAPE_NULL: return "null";
	case TAPE_TRUE:
	case TAPE_FALSE: return "a boolean";
	case TAPE_NUMBER: return "a number";
	case TAPE_STRING: return "a string";
	case TAPE_ARRAY: return "an array";
	default: return "an object";
	}
}

double
tape_number(const struct tape_node *nd)
{
	char tmp[64], *heap = NULL, *s = tmp;
	double d;

	if (nd->flags & TAPE_SMALL_INT) {
		const char *q = nd->p, *e = nd->p + nd->n;
		long long v = 0;
		int neg = *q == '-';

		for (q += neg; q < e; q++)
			v = v * 10 + (*q - '0');
		return neg ? -(double)v : (double)v;
	}
	/*
	 * Clinger's fast path: at most 15 significant digits and a power of
	 * ten within 10^22 are exact in a double, so one multiplication or
	 * division rounds correctly (as strtod would).
	 */
	{
		const char *q = nd->p, *e = nd->p + nd->n;
		static const double p10[] = { 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6,
			1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
			1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
		long long m = 0;
		int neg = 0, ndig = 0, scale = 0, ex = 0, exneg = 0, ok = 1;

		if (*q == '-') {
			neg = 1;
			q++;
		}
		for (; q < e && *q >= '0' && *q <= '9'; q++) {
			if (m == 0 && *q == '0')
				continue;
			if (++ndig > 15)
				ok = 0;	/* and stop before m overflows */
			else
				m = m * 10 + (*q - '0');
		}
		if (q < e && *q == '.') {
			for (q++; q < e && *q >= '0' && *q <= '9'; q++) {
				if (m == 0 && *q == '0') {
					scale--;
					continue;
				}
				scale--;
				if (++ndig > 15)
					ok = 0;
				else
					m = m * 10 + (*q - '0');
			}
		}
		if (q < e && (*q == 'e' || *q == 'E')) {
			q++;
			if (q < e && (*q == '+' || *q == '-'))
				exneg = *q++ == '-';
			for (; q < e && *q >= '0' && *q <= '9'; q++) {
				if (ex <= 1000)
					ex = ex * 10 + (*q - '0');
				else
					ok = 0;
			}
		}
		scale += exneg ? -ex : ex;
		if (ok && m == 0)
			return neg ? -0.0 : 0.0;
		if (ok && scale >= -22 && scale <= 22) {
			d = scale < 0 ? (double)m / p10[-scale] :
			    (double)m * p10[scale];
			return neg ? -d : d;
		}
	}
	if (nd->n >= sizeof(tmp))
		s = heap = xmalloc(nd->n + 1);
	memcpy(s, nd->p, nd->n);
	s[nd->n] = '\0';
	d = strtod(s, NULL);
	free(heap);
	return d;
}

uint32_t
tape_lookup(const struct tape *t, uint32_t obj, const char *k, size_t kn)
{
	uint32_t i, end = t->nodes[obj].next;

	for (i = obj + 1; i < end; i = t->nodes[i + 1].next) {
		const struct tape_node *key = &t->nodes[i];

		if (key->n == kn && memcmp(key->p, k, kn) == 0)
			return i + 1;
	}
	return 0;
}
