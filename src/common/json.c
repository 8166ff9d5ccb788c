/*
 * json.c - strict JSON parser to jv, jq-compatible fast writer.
 */
#include "json.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* number literals                                                     */

void
json_numlits_reset(struct json_numlits *l)
{
	l->n = 0;
	l->text.len = 0;
}

void
json_numlits_release(struct json_numlits *l)
{
	if (l == NULL)
		return;
	free(l->e);
	buf_release(&l->text);
	l->e = NULL;
	l->n = l->cap = 0;
}

static void
numlits_add(struct json_numlits *l, double v, const char *t, size_t len)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		struct json_numlit *e = &l->e[i];

		if (e->v == v && signbit(e->v) == signbit(v)) {
			if (e->len != len ||
			    memcmp(l->text.p + e->off, t, len) != 0)
				e->ambiguous = 1;
			return;
		}
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->e = xrealloc(l->e, l->cap * sizeof(*l->e));
	}
	l->e[l->n].v = v;
	l->e[l->n].off = (uint32_t)l->text.len;
	l->e[l->n].len = (uint32_t)len;
	l->e[l->n].ambiguous = 0;
	l->n++;
	buf_add(&l->text, t, len);
}

static const struct json_numlit *
numlits_find(const struct json_numlits *l, double v)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->e[i].v == v && signbit(l->e[i].v) == signbit(v))
			return l->e[i].ambiguous ? NULL : &l->e[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* UTF-8                                                               */

/*
 * Length of the valid UTF-8 sequence at s (s < e, *s >= 0x80), or 0 when
 * it is not valid (overlong, surrogate, > U+10FFFF, truncated).
 */
static size_t
utf8_seq(const unsigned char *s, const unsigned char *e)
{
	unsigned c = s[0];

	if (c >= 0xc2 && c <= 0xdf) {
		if (e - s < 2 || (s[1] & 0xc0) != 0x80)
			return 0;
		return 2;
	}
	if (c >= 0xe0 && c <= 0xef) {
		if (e - s < 3 || (s[1] & 0xc0) != 0x80 ||
		    (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0;	/* overlong */
		if (c == 0xed && s[1] >= 0xa0)
			return 0;	/* surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (e - s < 4 || (s[1] & 0xc0) != 0x80 ||
		    (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0;	/* overlong */
		if (c == 0xf4 && s[1] >= 0x90)
			return 0;	/* > U+10FFFF */
		return 4;
	}
	return 0;
}

int
json_utf8_valid(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p, *e = s + n;

	while (s < e) {
		size_t k;

		if (*s < 0x80) {
			s++;
			continue;
		}
		if ((k = utf8_seq(s, e)) == 0)
			return 0;
		s += k;
	}
	return 1;
}

static size_t
utf8_put(char *d, unsigned cp)
{
	if (cp < 0x80) {
		d[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (char)(0xc0 | (cp >> 6));
		d[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (char)(0xe0 | (cp >> 12));
		d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		d[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (char)(0xf0 | (cp >> 18));
	d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	d[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* ------------------------------------------------------------------ */
/* parser                                                              */

struct parser {
	const unsigned char *start, *p, *end;
	struct json_numlits *lits;
	struct json_err *err;
	struct buf *sbuf;
	int depth;
};

static int
perr(struct parser *ps, const unsigned char *at, const char *msg)
{
	if (ps->err->msg[0] == '\0') {
		ps->err->off = (size_t)(at - ps->start);
		snprintf(ps->err->msg, sizeof(ps->err->msg), "%s", msg);
	}
	return -1;
}

static inline void
skip_ws(struct parser *ps)
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
 * Scan a string whose opening quote is at ps->p. On success *sp and *sn hold
 * the decoded bytes (pointing into the input when there were no escapes,
 * else into ps->sbuf) and ps->p is past the closing quote.
 */
static int
parse_str(struct parser *ps, const char **sp, size_t *sn)
{
	const unsigned char *p = ps->p + 1, *e = ps->end, *run;
	struct buf *b = ps->sbuf;
	int copied = 0;

	run = p;
	for (;;) {
		unsigned c;

		/* fast run of plain ASCII */
		while (p < e && *p >= 0x20 && *p < 0x80 && *p != '"' &&
		    *p != '\\')
			p++;
		if (p >= e)
			return perr(ps, ps->p, "unterminated string");
		c = *p;
		if (c == '"')
			break;
		if (c >= 0x80) {
			size_t k = utf8_seq(p, e);

			if (k == 0)
				return perr(ps, p, "invalid UTF-8 in string");
			p += k;
			continue;
		}
		if (c < 0x20)
			return perr(ps, p,
			    "unescaped control character in string");
		/* backslash */
		if (!copied) {
			b->len = 0;
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
	if (copied) {
		buf_add(b, run, (size_t)(p - run));
		*sp = b->p;
		*sn = b->len;
	} else {
		*sp = (const char *)run;
		*sn = (size_t)(p - run);
	}
	ps->p = p + 1;
	return 0;
}

/* Does the canonical print of d equal t[0..n)? */
static int
number_canonical(double d, const unsigned char *t, size_t n)
{
	char tmp[40];
	struct buf b = { tmp, 0, sizeof(tmp) };

	json_write_number(&b, d);
	return b.p == tmp && b.len == n && memcmp(tmp, t, n) == 0;
}

static int
parse_number(struct parser *ps, jv *out)
{
	const unsigned char *s = ps->p, *p = s, *e = ps->end;
	int simple = 1, ndig = 0;
	double d;

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
	if (simple && ndig <= 15) {
		const unsigned char *q = s;
		long long v = 0;
		int neg = 0;

		if (*q == '-') {
			neg = 1;
			q++;
		}
		for (; q < p; q++)
			v = v * 10 + (*q - '0');
		d = neg ? -(double)v : (double)v;
		/* "-0" prints as -0: canonical, nothing to record */
	} else {
		char tmp[64], *heap = NULL, *t = tmp;
		size_t n = (size_t)(p - s);

		if (n >= sizeof(tmp))
			t = heap = xmalloc(n + 1);
		memcpy(t, s, n);
		t[n] = '\0';
		d = strtod(t, NULL);
		free(heap);
		if (ps->lits != NULL && !number_canonical(d, s, n))
			numlits_add(ps->lits, d, (const char *)s, n);
	}
	ps->p = p;
	*out = jv_number(d);
	return 0;
}

static int parse_value(struct parser *ps, jv *out);

static int
parse_array(struct parser *ps, jv *out)
{
	jv a = jv_array(), v;
	int i = 0;

	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		*out = a;
		return 0;
	}
	for (;;) {
		if (parse_value(ps, &v) < 0)
			goto fail;
		a = jv_array_set(a, i++, v);
		skip_ws(ps);
		if (ps->p >= ps->end) {
			perr(ps, ps->p, "unterminated array");
			goto fail;
		}
		if (*ps->p == ',') {
			ps->p++;
			skip_ws(ps);
			continue;
		}
		if (*ps->p == ']') {
			ps->p++;
			*out = a;
			return 0;
		}
		perr(ps, ps->p, "expected ',' or ']' in array");
		goto fail;
	}
fail:
	jv_free(a);
	return -1;
}

static int
parse_object(struct parser *ps, jv *out)
{
	jv o = jv_object(), k, v;

	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		*out = o;
		return 0;
	}
	for (;;) {
		const char *s;
		size_t n;

		if (ps->p >= ps->end || *ps->p != '"') {
			perr(ps, ps->p, "expected a string key in object");
			goto fail;
		}
		if (parse_str(ps, &s, &n) < 0)
			goto fail;
		k = jv_string_sized(s, (int)n);
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != ':') {
			jv_free(k);
			perr(ps, ps->p, "expected ':' after object key");
			goto fail;
		}
		ps->p++;
		skip_ws(ps);
		if (parse_value(ps, &v) < 0) {
			jv_free(k);
			goto fail;
		}
		o = jv_object_set(o, k, v);
		skip_ws(ps);
		if (ps->p >= ps->end) {
			perr(ps, ps->p, "unterminated object");
			goto fail;
		}
		if (*ps->p == ',') {
			ps->p++;
			skip_ws(ps);
			continue;
		}
		if (*ps->p == '}') {
			ps->p++;
			*out = o;
			return 0;
		}
		perr(ps, ps->p, "expected ',' or '}' in object");
		goto fail;
	}
fail:
	jv_free(o);
	return -1;
}

static int
parse_lit(struct parser *ps, const char *word, size_t n, jv v, jv *out)
{
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return perr(ps, ps->p, "invalid literal");
	ps->p += n;
	*out = v;
	return 0;
}

static int
parse_value(struct parser *ps, jv *out)
{
	int r;

	if (ps->p >= ps->end)
		return perr(ps, ps->p, "unexpected end of input");
	switch (*ps->p) {
	case '{':
	case '[':
		if (++ps->depth > JSON_MAX_DEPTH)
			return perr(ps, ps->p, "nesting too deep");
		r = *ps->p == '{' ? parse_object(ps, out) :
		    parse_array(ps, out);
		ps->depth--;
		return r;
	case '"': {
		const char *s;
		size_t n;

		if (parse_str(ps, &s, &n) < 0)
			return -1;
		*out = jv_string_sized(s, (int)n);
		return 0;
	}
	case 't':
		return parse_lit(ps, "true", 4, jv_true(), out);
	case 'f':
		return parse_lit(ps, "false", 5, jv_false(), out);
	case 'n':
		return parse_lit(ps, "null", 4, jv_null(), out);
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return parse_number(ps, out);
		return perr(ps, ps->p, "unexpected character");
	}
}

int
json_parse(const char *p, size_t n, jv *out, struct json_numlits *lits,
    struct json_err *err)
{
	static __thread struct buf sbuf;
	struct json_err dummy;
	struct parser ps;

	if (err == NULL)
		err = &dummy;
	err->msg[0] = '\0';
	err->off = 0;
	if (lits != NULL)
		json_numlits_reset(lits);
	ps.start = ps.p = (const unsigned char *)p;
	ps.end = ps.p + n;
	ps.lits = lits;
	ps.err = err;
	ps.sbuf = &sbuf;
	ps.depth = 0;
	*out = jv_invalid();
	skip_ws(&ps);
	if (ps.p >= ps.end) {
		perr(&ps, ps.p, "empty input, a JSON value expected");
		return -1;
	}
	if (parse_value(&ps, out) < 0) {
		*out = jv_invalid();
		return -1;
	}
	skip_ws(&ps);
	if (ps.p < ps.end) {
		jv_free(*out);
		*out = jv_invalid();
		perr(&ps, ps.p, "trailing characters after the JSON value");
		return -1;
	}
	if (sbuf.cap > (1u << 20)) {
		/* don't keep a huge scratch buffer after one huge string */
		buf_release(&sbuf);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* writer                                                              */

static const char hexd[] = "0123456789abcdef";

void
json_write_string(struct buf *b, const char *str, size_t n, int flags)
{
	const unsigned char *s = (const unsigned char *)str, *e = s + n, *run;

	if (b->cap - b->len < n + 2)
		buf_grow(b, n + 2);
	b->p[b->len++] = '"';
	run = s;
	while (s < e) {
		unsigned c = *s;
		char esc[16];
		size_t en;

		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f &&
		    (c < 0x80 || !(flags & JSON_ASCII))) {
			s++;
			continue;
		}
		buf_add(b, run, (size_t)(s - run));
		if (c >= 0x80) {
			size_t k = utf8_seq(s, e);
			unsigned cp;

			if (k == 0) {
				cp = 0xfffd;
				k = 1;
			} else if (k == 2) {
				cp = (c & 0x1f) << 6 | (s[1] & 0x3f);
			} else if (k == 3) {
				cp = (c & 0x0f) << 12 | (s[1] & 0x3f) << 6 |
				    (s[2] & 0x3f);
			} else {
				cp = (c & 0x07) << 18 | (s[1] & 0x3f) << 12 |
				    (s[2] & 0x3f) << 6 | (s[3] & 0x3f);
			}
			s += k;
			if (cp >= 0x10000) {
				unsigned hi = 0xd800 + ((cp - 0x10000) >> 10);
				unsigned lo = 0xdc00 + ((cp - 0x10000) & 0x3ff);

				snprintf(esc, sizeof(esc), "\\u%04x\\u%04x",
				    hi, lo);
				buf_add(b, esc, 12);
			} else {
				snprintf(esc, sizeof(esc), "\\u%04x", cp);
				buf_add(b, esc, 6);
			}
			run = s;
			continue;
		}
		en = 2;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hexd[c >> 4];
			esc[5] = hexd[c & 15];
			en = 6;
		}
		buf_add(b, esc, en);
		s++;
		run = s;
	}
	buf_add(b, run, (size_t)(s - run));
	buf_addc(b, '"');
}

void
json_write_number(struct buf *b, double d)
{
	char tmp[40], digits[24];
	int prec, ndig, decpt, i;
	char *q;
	size_t n;

	if (d != d) {
		buf_add(b, "null", 4);
		return;
	}
	if (d > DBL_MAX)
		d = DBL_MAX;
	if (d < -DBL_MAX)
		d = -DBL_MAX;
	if (b->cap - b->len < 32)
		buf_grow(b, 32);
	if (d == 0) {
		if (signbit(d))
			buf_add(b, "-0", 2);
		else
			buf_addc(b, '0');
		return;
	}
	if (fabs(d) < 1e16 && d == (double)(long long)d) {
		long long v = (long long)d;
		unsigned long long u = v < 0 ? -(unsigned long long)v :
		    (unsigned long long)v;

		q = tmp + sizeof(tmp);
		while (u) {
			*--q = (char)('0' + u % 10);
			u /= 10;
		}
		if (v < 0)
			*--q = '-';
		buf_add(b, q, (size_t)(tmp + sizeof(tmp) - q));
		return;
	}
	/* shortest round trip: 15, 16 or 17 significant digits */
	for (prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (prec == 17 || strtod(tmp, NULL) == d)
			break;
	}
	/* tmp = [-]D.DDDDe[+-]XX */
	q = tmp;
	if (*q == '-') {
		buf_addc(b, '-');
		q++;
	}
	ndig = 0;
	for (; *q != 'e'; q++)
		if (*q != '.')
			digits[ndig++] = *q;
	decpt = atoi(q + 1) + 1;
	while (ndig > 1 && digits[ndig - 1] == '0')
		ndig--;
	n = 0;
	if (decpt <= -4 || decpt > ndig + 15) {
		int x = decpt - 1, ax = x < 0 ? -x : x;

		tmp[n++] = digits[0];
		if (ndig > 1) {
			tmp[n++] = '.';
			for (i = 1; i < ndig; i++)
				tmp[n++] = digits[i];
		}
		n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "e%c%02d",
		    x < 0 ? '-' : '+', ax);
	} else if (decpt <= 0) {
		tmp[n++] = '0';
		tmp[n++] = '.';
		for (i = decpt; i < 0; i++)
			tmp[n++] = '0';
		for (i = 0; i < ndig; i++)
			tmp[n++] = digits[i];
	} else if (decpt >= ndig) {
		for (i = 0; i < ndig; i++)
			tmp[n++] = digits[i];
		for (i = ndig; i < decpt; i++)
			tmp[n++] = '0';
	} else {
		for (i = 0; i < decpt; i++)
			tmp[n++] = digits[i];
		tmp[n++] = '.';
		for (; i < ndig; i++)
			tmp[n++] = digits[i];
	}
	buf_add(b, tmp, n);
}

static void
write_value(struct buf *b, jv v, int flags, const struct json_numlits *lits)
{
	switch (jv_get_kind(v)) {
	case JV_KIND_NULL:
	case JV_KIND_INVALID:
		buf_add(b, "null", 4);
		break;
	case JV_KIND_TRUE:
		buf_add(b, "true", 4);
		break;
	case JV_KIND_FALSE:
		buf_add(b, "false", 5);
		break;
	case JV_KIND_NUMBER: {
		double d = jv_number_value(v);
		const struct json_numlit *l;

		if (lits != NULL && lits->n > 0 &&
		    (l = numlits_find(lits, d)) != NULL)
			buf_add(b, lits->text.p + l->off, l->len);
		else
			json_write_number(b, d);
		break;
	}
	case JV_KIND_STRING:
		json_write_string(b, jv_string_value(v),
		    (size_t)jv_string_length_bytes(jv_copy(v)), flags);
		break;
	case JV_KIND_ARRAY: {
		int i, n = jv_array_length(jv_copy(v));

		buf_addc(b, '[');
		for (i = 0; i < n; i++) {
			jv e = jv_array_get(jv_copy(v), i);

			if (i > 0)
				buf_addc(b, ',');
			write_value(b, e, flags, lits);
			jv_free(e);
		}
		buf_addc(b, ']');
		break;
	}
	case JV_KIND_OBJECT: {
		int first = 1;

		buf_addc(b, '{');
		if (flags & JSON_SORTED) {
			jv keys = jv_keys(jv_copy(v));
			int i, n = jv_array_length(jv_copy(keys));

			for (i = 0; i < n; i++) {
				jv k = jv_array_get(jv_copy(keys), i);
				jv e = jv_object_get(jv_copy(v), jv_copy(k));

				if (i > 0)
					buf_addc(b, ',');
				write_value(b, k, flags, lits);
				buf_addc(b, ':');
				write_value(b, e, flags, lits);
				jv_free(k);
				jv_free(e);
			}
			jv_free(keys);
		} else {
			int it;

			for (it = jv_object_iter(v); jv_object_iter_valid(v, it);
			    it = jv_object_iter_next(v, it)) {
				jv k = jv_object_iter_key(v, it);
				jv e = jv_object_iter_value(v, it);

				if (!first)
					buf_addc(b, ',');
				first = 0;
				json_write_string(b, jv_string_value(k),
				    (size_t)jv_string_length_bytes(jv_copy(k)),
				    flags);
				buf_addc(b, ':');
				write_value(b, e, flags, lits);
				jv_free(k);
				jv_free(e);
			}
		}
		buf_addc(b, '}');
		break;
	}
	default:
		buf_add(b, "null", 4);
	}
}

void
json_write(struct buf *b, jv v, int flags, const struct json_numlits *lits)
{
	write_value(b, v, flags, lits);
}

char *
json_dump(jv v, int flags)
{
	struct buf b = BUF_INIT;

	json_write(&b, v, flags, NULL);
	return buf_cstr(&b);
}

/* ------------------------------------------------------------------ */
/* record contract                                                     */

jv
json_get(jv o, const char *k)
{
	if (jv_get_kind(o) != JV_KIND_OBJECT)
		return jv_invalid();
	return jv_object_get(jv_copy(o), jv_string(k));
}

const char *
json_get_str(jv o, const char *k)
{
	jv v = json_get(o, k);
	const char *s = NULL;

	if (jv_get_kind(v) == JV_KIND_STRING)
		s = jv_string_value(v);
	jv_free(v);
	return s;
}

jv
json_meta_carry(jv out, jv in_meta)
{
	jv om;

	if (jv_get_kind(out) != JV_KIND_OBJECT ||
	    jv_get_kind(in_meta) != JV_KIND_OBJECT)
		return out;
	om = json_get(out, "_meta");
	if (jv_get_kind(om) == JV_KIND_OBJECT) {
		if (jv_equal(jv_copy(om), jv_copy(in_meta))) {
			jv_free(om);
			return out;
		}
		om = jv_object_merge(jv_copy(in_meta), om);
	} else {
		jv_free(om);
		om = jv_copy(in_meta);
	}
	return jv_object_set(out, jv_string("_meta"), om);
}

int
json_is_control(jv v)
{
	jv m;
	int r;

	if (jv_get_kind(v) != JV_KIND_OBJECT ||
	    jv_object_length(jv_copy(v)) != 1)
		return 0;
	m = json_get(v, "_meta");
	r = jv_get_kind(m) == JV_KIND_OBJECT &&
	    json_get_str(m, "control") != NULL;
	jv_free(m);
	return r;
}
