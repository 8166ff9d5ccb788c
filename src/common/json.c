/*
 * json.c - strict JSON parser to jv, jq-compatible fast writer.
 */
#include "json.h"

#include "tape.h"
#include "utf8.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
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

static double
clamp(double v)
{
	return v > DBL_MAX ? DBL_MAX : v < -DBL_MAX ? -DBL_MAX : v;
}

static void
numlits_add(struct json_numlits *l, double v, const char *t, size_t len)
{
	size_t i;

	v = clamp(v);
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

	v = clamp(v);
	for (i = 0; i < l->n; i++)
		if (l->e[i].v == v && signbit(l->e[i].v) == signbit(v))
			return l->e[i].ambiguous ? NULL : &l->e[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* UTF-8                                                               */


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

/* ------------------------------------------------------------------ */
/* parser: a tape (tape.c) turned into jv                              */

/* Does the canonical print of d equal t[0..n)? */
static int
number_canonical(double d, const char *t, size_t n)
{
	char tmp[40];
	struct buf b = { tmp, 0, sizeof(tmp) };

	json_write_number(&b, d);
	return b.p == tmp && b.len == n && memcmp(tmp, t, n) == 0;
}

/* The jv of the value at node i; *i is moved past it. */
static jv
tape_jv(const struct tape *t, uint32_t *i, struct json_numlits *lits)
{
	const struct tape_node *nd = &t->nodes[*i];
	uint32_t k, end;
	jv v;

	switch (nd->type) {
	case TAPE_NULL:
		(*i)++;
		return jv_null();
	case TAPE_TRUE:
		(*i)++;
		return jv_true();
	case TAPE_FALSE:
		(*i)++;
		return jv_false();
	case TAPE_NUMBER:
		(*i)++;
		return jv_number(tape_number(nd));
	case TAPE_STRING:
		(*i)++;
		return jv_string_sized(nd->p, (int)nd->n);
	case TAPE_ARRAY:
		end = nd->next;
		v = jv_array_sized((int)nd->n);
		k = 0;
		for ((*i)++; *i < end;)
			v = jv_array_set(v, (int)k++, tape_jv(t, i, lits));
		return v;
	default:
		end = nd->next;
		v = jv_object();
		for ((*i)++; *i < end;) {
			const struct tape_node *key = &t->nodes[*i];
			jv kv = jv_string_sized(key->p, (int)key->n);

			(*i)++;
			v = jv_object_set(v, kv, tape_jv(t, i, lits));
		}
		return v;
	}
}

void
json_numlits_from_tape(const struct tape *t, struct json_numlits *lits)
{
	size_t i;

	json_numlits_reset(lits);
	for (i = 0; i < t->len; i++) {
		const struct tape_node *nd = &t->nodes[i];
		double d;

		if (nd->type != TAPE_NUMBER || (nd->flags & TAPE_SMALL_INT))
			continue;
		d = tape_number(nd);
		if (!number_canonical(d, nd->p, nd->n))
			numlits_add(lits, d, nd->p, nd->n);
	}
	if (lits->n == 0)
		return;
	/* a canonical literal of the same value makes an entry ambiguous */
	for (i = 0; i < t->len; i++) {
		const struct tape_node *nd = &t->nodes[i];

		double d;
		size_t k;

		if (nd->type != TAPE_NUMBER)
			continue;
		d = clamp(tape_number(nd));
		for (k = 0; k < lits->n; k++) {
			struct json_numlit *e = &lits->e[k];

			if (e->v == d && signbit(e->v) == signbit(d) &&
			    (e->len != nd->n || memcmp(lits->text.p + e->off,
			    nd->p, nd->n) != 0))
				e->ambiguous = 1;
		}
	}
}

jv
json_from_tape(const struct tape *t, uint32_t i, struct json_numlits *lits)
{
	if (lits != NULL)
		json_numlits_from_tape(t, lits);
	return tape_jv(t, &i, NULL);
}

/* one scratch tape per thread, freed when the thread exits */
static pthread_key_t tape_key;
static pthread_once_t tape_once = PTHREAD_ONCE_INIT;

static void
tape_free_thread(void *p)
{
	tape_release(p);
	free(p);
}

static void
tape_key_init(void)
{
	(void)pthread_key_create(&tape_key, tape_free_thread);
}

static struct tape *
thread_tape(void)
{
	struct tape *t;

	pthread_once(&tape_once, tape_key_init);
	if ((t = pthread_getspecific(tape_key)) == NULL) {
		t = xcalloc(1, sizeof(*t));
		(void)pthread_setspecific(tape_key, t);
	}
	return t;
}

int
json_parse(const char *p, size_t n, jv *out, struct json_numlits *lits,
    struct json_err *err)
{
	struct tape *tp = thread_tape();
	struct json_err dummy;

	if (err == NULL)
		err = &dummy;
	if (lits != NULL)
		json_numlits_reset(lits);
	*out = jv_invalid();
	if (tape_parse(tp, p, n, err) < 0)
		return -1;
	*out = json_from_tape(tp, 0, lits);
	if (tp->cap > (1u << 16) || tp->strings.cap > (1u << 20))
		tape_release(tp);	/* don't keep a huge one around */
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

/*
 * Add one unit in the last mantissa digit of "[-]D.DDDe[+-]XX". Returns 0
 * on a carry out of the first digit (s is then unusable).
 */
static int
decimal_up(char *s)
{
	char *e = strchr(s, 'e'), *q;

	for (q = e - 1; q >= s && *q != '-'; q--) {
		if (*q == '.')
			continue;
		if (*q != '9') {
			(*q)++;
			return 1;
		}
		*q = '0';
	}
	return 0;
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
	/*
	 * Fast path: the shortest decimal with at most 15 significant digits
	 * in jq's fixed-point range. Since 15 digits are exact in a double,
	 * the first k for which round(d * 10^k) / 10^k gives d back is the
	 * shortest round trip (and the closest one of that length).
	 */
	{
		static const double p10[] = { 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6,
			1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
			1e16, 1e17, 1e18 };
		double a = fabs(d);
		int k;

		for (k = 1; a >= 1e-4 && a < 1e15 && k <= 18; k++) {
			double sc = a * p10[k];
			long long nn;

			if (sc >= 1e15)
				break;
			nn = llround(sc);
			if ((double)nn / p10[k] == a) {
				int ip;

				q = tmp + sizeof(tmp);
				for (ip = 0; ip < k; ip++) {
					*--q = (char)('0' + nn % 10);
					nn /= 10;
				}
				*--q = '.';
				if (nn == 0)
					*--q = '0';
				while (nn > 0) {
					*--q = (char)('0' + nn % 10);
					nn /= 10;
				}
				if (d < 0)
					*--q = '-';
				buf_add(b, q, (size_t)(tmp + sizeof(tmp) - q));
				return;
			}
		}
	}
	/* shortest round trip: 15, 16 or 17 significant digits */
	/* (denormals have fewer digits of precision: try them all) */
	for (prec = fabs(d) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (prec == 17 || strtod(tmp, NULL) == d)
			break;
		/*
		 * Just below a power of two the round-trip interval is half
		 * as wide below d as above: the nearest 16-digit decimal can
		 * miss while the next one up round-trips (Gay's mode 0).
		 */
		{
			int e2;

			if (prec == 16 && fabs(frexp(d, &e2)) == 0.5 &&
			    decimal_up(tmp) && strtod(tmp, NULL) == d)
				break;
		}
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
