/*
 * cosmos_doc.c - the pure parts of push-cosmos (see cosmos_doc.h).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cosmos_doc.h"
#include "json.h"

static char *
dup_trim(const char *p, size_t n)
{
	char *s;

	while (n > 0 && isspace((unsigned char)*p)) {
		p++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)p[n - 1]))
		n--;
	s = xmalloc(n + 1);
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

int
cosmos_conn_parse(const char *s, char **endpoint, char **key)
{
	const char *p = s;

	*endpoint = NULL;
	*key = NULL;
	while (*p != '\0') {
		const char *end = strchr(p, ';'), *eq;
		size_t n;

		if (end == NULL)
			end = p + strlen(p);
		n = (size_t)(end - p);
		eq = memchr(p, '=', n);
		if (eq == NULL) {
			size_t i;

			for (i = 0; i < n; i++)
				if (!isspace((unsigned char)p[i]))
					goto bad;
		} else {
			const char *k = p;
			size_t kn = (size_t)(eq - p);
			char *kk = dup_trim(k, kn), **dst = NULL;

			if (strcasecmp(kk, "AccountEndpoint") == 0)
				dst = endpoint;
			else if (strcasecmp(kk, "AccountKey") == 0)
				dst = key;
			free(kk);
			if (dst != NULL) {
				free(*dst);
				*dst = dup_trim(eq + 1,
				    (size_t)(end - eq - 1));
			}
		}
		p = *end ? end + 1 : end;
	}
	return 0;
bad:
	free(*endpoint);
	free(*key);
	*endpoint = NULL;
	*key = NULL;
	return -1;
}

jv
cosmos_merge_patch(jv target, jv patch)
{
	int it;

	if (jv_get_kind(patch) != JV_KIND_OBJECT) {
		jv_free(target);
		return patch;
	}
	if (jv_get_kind(target) != JV_KIND_OBJECT) {
		jv_free(target);
		target = jv_object();
	}
	for (it = jv_object_iter(patch); jv_object_iter_valid(patch, it);
	    it = jv_object_iter_next(patch, it)) {
		jv k = jv_object_iter_key(patch, it);
		jv v = jv_object_iter_value(patch, it);

		if (jv_get_kind(v) == JV_KIND_NULL) {
			jv_free(v);
			target = jv_object_delete(target, k);
		} else {
			jv old = jv_object_has(jv_copy(target), jv_copy(k)) ?
			    jv_object_get(jv_copy(target), jv_copy(k)) :
			    jv_null();

			target = jv_object_set(target, k,
			    cosmos_merge_patch(old, v));
		}
	}
	jv_free(patch);
	return target;
}

jv
cosmos_pk_get(jv doc, const char *path)
{
	jv cur = jv_copy(doc);
	const char *p = path;

	if (*p != '/') {
		jv_free(cur);
		return jv_invalid();
	}
	while (*p == '/') {
		struct buf seg = BUF_INIT;
		const char *q = p + 1;

		while (*q != '\0' && *q != '/') {
			if (q[0] == '~' && q[1] == '0') {
				buf_addc(&seg, '~');
				q += 2;
			} else if (q[0] == '~' && q[1] == '1') {
				buf_addc(&seg, '/');
				q += 2;
			} else {
				buf_addc(&seg, *q++);
			}
		}
		buf_cstr(&seg);
		if (jv_get_kind(cur) != JV_KIND_OBJECT ||
		    !jv_object_has(jv_copy(cur), jv_string(seg.p ? seg.p :
		    ""))) {
			buf_release(&seg);
			jv_free(cur);
			return jv_invalid();
		}
		cur = jv_object_get(cur, jv_string(seg.p ? seg.p : ""));
		buf_release(&seg);
		p = q;
	}
	switch (jv_get_kind(cur)) {
	case JV_KIND_STRING:
	case JV_KIND_NUMBER:
	case JV_KIND_TRUE:
	case JV_KIND_FALSE:
	case JV_KIND_NULL:
		return cur;
	default:
		jv_free(cur);
		return jv_invalid();
	}
}

void
cosmos_pk_header(struct buf *b, jv pk)
{
	buf_addc(b, '[');
	json_write(b, pk, JSON_ASCII, NULL);
	buf_addc(b, ']');
}

int
cosmos_id_check(const char *id, size_t n, int encode, struct buf *out,
    const char **why)
{
	size_t i, start = out->len;

	if (n == 0) {
		*why = "empty id";
		return -1;
	}
	if ((n == 1 && id[0] == '.') || (n == 2 && id[0] == '.' &&
	    id[1] == '.')) {
		*why = n == 1 ? "id '.' is a dot segment, which no URL can "
		    "carry (it would name the collection)" : "id '..' is a "
		    "dot segment, which no URL can carry (it would name the "
		    "container)";
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];

		if (c == 0) {
			*why = "id contains a NUL character (\\u0000)";
			out->len = start;
			return -1;
		}

		if (c == '/' || c == '\\' || c == '?' || c == '#' ||
		    (encode && c == '%')) {
			if (!encode) {
				*why = "id contains '/', '\\', '?' or '#', "
				    "which Cosmos DB rejects (see "
				    "--encode-ids)";
				out->len = start;
				return -1;
			}
			buf_printf(out, "%%%02X", c);
		} else {
			buf_addc(out, (char)c);
		}
	}
	if (out->len - start > COSMOS_ID_MAX) {
		*why = "id longer than 1023 bytes";
		out->len = start;
		return -1;
	}
	buf_cstr(out);
	return 0;
}

jv
cosmos_doc_clean(jv doc, int sys)
{
	static const char *const reserved[] = { "$op", "$version", "$patch",
	    "$time", "_meta" };
	static const char *const system[] = { "_rid", "_self", "_etag",
	    "_attachments", "_ts", "_lsn", COSMOS_DELETED_KEY };
	size_t i;

	if (jv_get_kind(doc) != JV_KIND_OBJECT)
		return doc;
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		doc = jv_object_delete(doc, jv_string(reserved[i]));
	if (sys)
		for (i = 0; i < sizeof(system) / sizeof(system[0]); i++)
			doc = jv_object_delete(doc, jv_string(system[i]));
	return doc;
}

void
cosmos_number(struct buf *b, double d)
{
	if (d == floor(d) && fabs(d) < 9007199254740992.0)
		buf_printf(b, "%.0f", d);
	else
		json_write_number(b, d);
}

void
cosmos_lits_add(struct json_numlits *dst, const struct json_numlits *src)
{
	size_t i, j;

	for (i = 0; i < src->n; i++) {
		const struct json_numlit *e = &src->e[i];
		const char *t = src->text.p + e->off;

		for (j = 0; j < dst->n; j++) {
			struct json_numlit *d = &dst->e[j];

			if (d->v == e->v && signbit(d->v) == signbit(e->v)) {
				if (e->ambiguous || d->len != e->len ||
				    memcmp(dst->text.p + d->off, t, e->len) != 0)
					d->ambiguous = 1;
				break;
			}
		}
		if (j < dst->n)
			continue;
		if (dst->n == dst->cap) {
			dst->cap = dst->cap ? dst->cap * 2 : 8;
			dst->e = xrealloc(dst->e, dst->cap * sizeof(*dst->e));
		}
		dst->e[dst->n] = *e;
		dst->e[dst->n].off = (uint32_t)dst->text.len;
		dst->n++;
		buf_add(&dst->text, t, e->len);
	}
}

/* ---- leaf versions ---- */

/* One entry of the leaf map: a path (a JSON Pointer as stored) and the
 * version that last set or removed the value there. */
struct lv_ent {
	char *p;
	size_t n;
	double v;
};

/* A versioned write in progress: the leaf map sorted by path (so that the
 * paths under a path are one run), the write's version, the path of the
 * value being written, how many paths it set or removed. */
struct lv_apply {
	struct lv_ent *e;
	size_t n, cap;
	double v;
	struct buf path;
	unsigned applied;
};

/* Member k of o, both borrowed, owned; jv_invalid() when o is not an
 * object or has no k. */
static jv
member(jv o, jv k)
{
	if (jv_get_kind(o) != JV_KIND_OBJECT ||
	    !jv_object_has(jv_copy(o), jv_copy(k)))
		return jv_invalid();
	return jv_object_get(jv_copy(o), jv_copy(k));
}

static int
lv_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	size_t m = an < bn ? an : bn;
	int c = m > 0 ? memcmp(a, b, m) : 0;

	if (c != 0)
		return c;
	return an < bn ? -1 : an > bn;
}

/* The first entry not before path (p, n). */
static size_t
lv_lower(const struct lv_apply *a, const char *p, size_t n)
{
	size_t lo = 0, hi = a->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (lv_cmp(a->e[mid].p, a->e[mid].n, p, n) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The version recorded at the current path, or -inf. */
static double
lv_here(const struct lv_apply *a)
{
	size_t i = lv_lower(a, a->path.p, a->path.len);

	if (i < a->n && lv_cmp(a->e[i].p, a->e[i].n, a->path.p,
	    a->path.len) == 0)
		return a->e[i].v;
	return -INFINITY;
}

/* Record version v at path (p, n). */
static void
lv_put(struct lv_apply *a, const char *p, size_t n, double v)
{
	size_t i = lv_lower(a, p, n);

	if (i < a->n && lv_cmp(a->e[i].p, a->e[i].n, p, n) == 0) {
		a->e[i].v = v;
		return;
	}
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->e = xrealloc(a->e, a->cap * sizeof(*a->e));
	}
	memmove(a->e + i + 1, a->e + i, (a->n - i) * sizeof(*a->e));
	a->e[i].p = xmalloc(n + 1);
	if (n > 0)
		memcpy(a->e[i].p, p, n);
	a->e[i].p[n] = '\0';
	a->e[i].n = n;
	a->e[i].v = v;
	a->n++;
}

/* The entries strictly under the current path: [*lo, *hi), the paths
 * that start with path + "/" (those sort between path "/" and path "0"). */
static void
lv_under(struct lv_apply *a, size_t *lo, size_t *hi)
{
	size_t mark = a->path.len;

	buf_addc(&a->path, '/');
	*lo = lv_lower(a, a->path.p, a->path.len);
	a->path.p[mark] = '0';
	*hi = lv_lower(a, a->path.p, a->path.len);
	a->path.len = mark;
}

/* Descend into key k (a JSON string); returns the length to go back to. */
static size_t
lv_push(struct lv_apply *a, jv k)
{
	size_t mark = a->path.len;
	const char *s = jv_string_value(k);
	int i, n = jv_string_length_bytes(jv_copy(k));

	buf_addc(&a->path, '/');
	for (i = 0; i < n; i++) {
		if (s[i] == '~')
			buf_adds(&a->path, "~0");
		else if (s[i] == '/')
			buf_adds(&a->path, "~1");
		else
			buf_addc(&a->path, s[i]);
	}
	return mark;
}

/*
 * The value at the current path after a write at a->v that left x there
 * (invalid: nothing) and after the later writes recorded at or under the
 * path (versions >= a->v), whose results the stored value cur holds
 * (invalid: absent). x and cur consumed.
 */
static jv
lv_overlay(struct lv_apply *a, jv x, jv cur)
{
	size_t lo, hi, i;
	int later = 0, it;
	jv res, keys;

	if (lv_here(a) >= a->v) {
		jv_free(x);
		return cur;
	}
	lv_under(a, &lo, &hi);
	for (i = lo; i < hi && !later; i++)
		later = a->e[i].v >= a->v;
	if (!later) {
		jv_free(cur);
		return x;
	}
	/* a later merge below made an object of whatever x was */
	if (jv_get_kind(x) == JV_KIND_OBJECT) {
		res = x;
	} else {
		jv_free(x);
		res = jv_object();
	}
	keys = jv_array();
	for (it = jv_object_iter(res); jv_object_iter_valid(res, it);
	    it = jv_object_iter_next(res, it))
		keys = jv_array_append(keys, jv_object_iter_key(res, it));
	if (jv_get_kind(cur) == JV_KIND_OBJECT)
		for (it = jv_object_iter(cur); jv_object_iter_valid(cur, it);
		    it = jv_object_iter_next(cur, it)) {
			jv k = jv_object_iter_key(cur, it);

			if (jv_object_has(jv_copy(res), jv_copy(k)))
				jv_free(k);
			else
				keys = jv_array_append(keys, k);
		}
	jv_array_foreach(keys, j, k) {
		size_t mark = lv_push(a, k);
		jv xc = lv_overlay(a, member(res, k), member(cur, k));

		res = jv_is_valid(xc) ? jv_object_set(res, k, xc) :
		    jv_object_delete(res, k);
		a->path.len = mark;
	}
	jv_free(keys);
	jv_free(cur);
	return res;
}

/*
 * Set (x) or remove (x null) the value at the current path, cur (both
 * consumed), keeping what later writes did below it; record a->v there
 * in place of the older versions below.
 */
static jv
lv_set(struct lv_apply *a, jv cur, jv x)
{
	size_t lo, hi, i, j;
	jv res;

	if (jv_get_kind(x) == JV_KIND_NULL) {
		jv_free(x);
		x = jv_invalid();
	}
	res = lv_overlay(a, x, cur);
	lv_under(a, &lo, &hi);
	for (i = j = lo; i < hi; i++) {
		if (a->e[i].v >= a->v)
			a->e[j++] = a->e[i];
		else
			free(a->e[i].p);
	}
	if (j < hi) {
		memmove(a->e + j, a->e + hi, (a->n - hi) * sizeof(*a->e));
		a->n -= hi - j;
	}
	lv_put(a, a->path.p, a->path.len, a->v);
	a->applied++;
	return res;
}

/*
 * RFC 7396 at the current path, leaf by leaf: cur (the stored value,
 * invalid when absent) and the patch value x, both consumed. Returns the
 * new value (invalid: absent). A newer version recorded at an ancestor
 * stopped the descent there.
 */
static jv
lv_merge(struct lv_apply *a, jv cur, jv x)
{
	jv res;
	int conv, it;
	unsigned before = a->applied;

	if (lv_here(a) >= a->v) {
		jv_free(x);
		return cur;
	}
	if (jv_get_kind(x) != JV_KIND_OBJECT)
		return lv_set(a, cur, x);
	if (jv_object_length(jv_copy(x)) == 0) {
		/* {} changes an absent value or one that is not an object */
		jv_free(x);
		if (jv_get_kind(cur) == JV_KIND_OBJECT)
			return cur;
		if (!jv_is_valid(cur)) {
			a->applied++;
			return jv_object();
		}
		return lv_set(a, cur, jv_object());
	}
	conv = jv_get_kind(cur) != JV_KIND_OBJECT;
	if (conv) {
		res = jv_object();
	} else {
		res = cur;
		cur = jv_invalid();
	}
	for (it = jv_object_iter(x); jv_object_iter_valid(x, it);
	    it = jv_object_iter_next(x, it)) {
		jv k = jv_object_iter_key(x, it);
		size_t mark = lv_push(a, k);
		jv c = lv_merge(a, member(res, k),
		    jv_object_iter_value(x, it));

		res = jv_is_valid(c) ? jv_object_set(res, k, c) :
		    jv_object_delete(res, k);
		a->path.len = mark;
	}
	jv_free(x);
	if (conv && a->applied == before) {
		jv_free(res);
		return cur;
	}
	jv_free(cur);
	return res;
}

static int
lv_ent_cmp(const void *x, const void *y)
{
	const struct lv_ent *a = x, *b = y;

	return lv_cmp(a->p, a->n, b->p, b->n);
}

/* v (consumed) without what Cosmos DB and push-cosmos keep for themselves. */
static jv
doc_content(jv v)
{
	v = cosmos_doc_clean(v, 1);
	if (jv_get_kind(v) != JV_KIND_OBJECT)
		return v;
	v = jv_object_delete(v, jv_string(COSMOS_VERSION_KEY));
	v = jv_object_delete(v, jv_string(COSMOS_LEAVES_KEY));
	v = jv_object_delete(v, jv_string(COSMOS_DELETED_AT_KEY));
	return jv_object_delete(v, jv_string(COSMOS_GEN_KEY));
}

jv
cosmos_doc_apply(jv doc, jv x, int whole, double v, int *stale)
{
	struct lv_apply a = { NULL, 0, 0, v, BUF_INIT, 0 };
	double old = -INFINITY;
	jv t, lv = jv_invalid();
	int tomb, it;
	size_t i;

	if (jv_get_kind(doc) != JV_KIND_OBJECT) {
		jv_free(doc);
		doc = jv_object();
	}
	t = json_get(doc, COSMOS_VERSION_KEY);
	if (jv_get_kind(t) == JV_KIND_NUMBER && isfinite(jv_number_value(t)))
		old = jv_number_value(t);
	jv_free(t);
	t = json_get(doc, COSMOS_DELETED_KEY);
	tomb = jv_get_kind(t) == JV_KIND_TRUE;
	jv_free(t);
	if (!tomb)
		lv = json_get(doc, COSMOS_LEAVES_KEY);
	if (jv_get_kind(lv) == JV_KIND_OBJECT) {
		for (it = jv_object_iter(lv); jv_object_iter_valid(lv, it);
		    it = jv_object_iter_next(lv, it)) {
			jv k = jv_object_iter_key(lv, it);
			jv n = jv_object_iter_value(lv, it);

			if (jv_get_kind(n) == JV_KIND_NUMBER &&
			    isfinite(jv_number_value(n))) {
				if (a.n == a.cap) {
					a.cap = a.cap ? a.cap * 2 : 16;
					a.e = xrealloc(a.e, a.cap *
					    sizeof(*a.e));
				}
				a.e[a.n].n = (size_t)
				    jv_string_length_bytes(jv_copy(k));
				a.e[a.n].p = xmalloc(a.e[a.n].n + 1);
				memcpy(a.e[a.n].p, jv_string_value(k),
				    a.e[a.n].n + 1);
				a.e[a.n].v = jv_number_value(n);
				a.n++;
			}
			jv_free(k);
			jv_free(n);
		}
		qsort(a.e, a.n, sizeof(*a.e), lv_ent_cmp);
	} else if (isfinite(old)) {
		/* no map: written whole at _v (an upsert, a tombstone) */
		lv_put(&a, "", 0, old);
	}
	jv_free(lv);
	if (tomb) {
		jv_free(doc);
		doc = jv_object();
	} else {
		doc = doc_content(doc);
	}
	x = doc_content(x);
	if (!whole)
		doc = lv_merge(&a, doc, x);
	else if (lv_here(&a) < v)
		doc = lv_set(&a, doc, x);
	else
		jv_free(x);
	*stale = a.applied == 0 && !(v > old);
	if (v > old)
		old = v;
	if (isfinite(old))
		doc = jv_object_set(doc, jv_string(COSMOS_VERSION_KEY),
		    jv_number(old));
	if (!(a.n == 1 && a.e[0].n == 0 && a.e[0].v == old) &&
	    (a.n > 0 || isfinite(old))) {
		lv = jv_object();
		for (i = 0; i < a.n; i++)
			lv = jv_object_set(lv, jv_string_sized(a.e[i].p,
			    (int)a.e[i].n), jv_number(a.e[i].v));
		doc = jv_object_set(doc, jv_string(COSMOS_LEAVES_KEY), lv);
	}
	for (i = 0; i < a.n; i++)
		free(a.e[i].p);
	free(a.e);
	buf_release(&a.path);
	return doc;
}

/* ---- times and generations ---- */

/* The k-digit number at p, or -1. */
static int
digits(const char *p, int k)
{
	int v = 0;

	while (k-- > 0) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p++ - '0');
	}
	return v;
}

int
cosmos_time_parse(const char *s, int64_t *ns)
{
	int y, mo, d, h, mi, sec, k;
	int64_t days, frac = 0, scale = 100000000, off = 0;

	if ((y = digits(s, 4)) < 1900 || y > 2200 || s[4] != '-' ||
	    (mo = digits(s + 5, 2)) < 1 || mo > 12 || s[7] != '-' ||
	    (d = digits(s + 8, 2)) < 1 || d > 31 ||
	    (s[10] != 'T' && s[10] != 't') ||
	    (h = digits(s + 11, 2)) < 0 || h > 23 || s[13] != ':' ||
	    (mi = digits(s + 14, 2)) < 0 || mi > 59 || s[16] != ':' ||
	    (sec = digits(s + 17, 2)) < 0 || sec > 60)
		return -1;
	s += 19;
	if (*s == '.') {
		for (k = 0, s++; *s >= '0' && *s <= '9'; s++, k++)
			if (scale > 0) {
				frac += (*s - '0') * scale;
				scale /= 10;
			}
		if (k == 0)
			return -1;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int oh = digits(s + 1, 2), om = s[3] == ':' ?
		    digits(s + 4, 2) : -1;

		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return -1;
		off = (*s == '-' ? -1 : 1) * (int64_t)(oh * 60 + om) * 60;
		s += 6;
	} else {
		return -1;
	}
	if (*s != '\0')
		return -1;
	/* days from 1970-01-01 (Howard Hinnant's days_from_civil) */
	{
		int yy = y - (mo <= 2), era = yy / 400, yoe = yy - era * 400;
		int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
		int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

		days = (int64_t)era * 146097 + doe - 719468;
	}
	*ns = ((days * 86400 + h * 3600 + mi * 60 + sec) - off) *
	    1000000000 + frac;
	return 0;
}

/* The time at key k of doc (borrowed) into *ns; -1 if none or bad. */
static int
doc_time(jv doc, const char *k, int64_t *ns)
{
	const char *s = json_get_str(doc, k);

	return s != NULL ? cosmos_time_parse(s, ns) : -1;
}

void
cosmos_time_format(struct buf *b, int64_t ns)
{
	int64_t s = ns / 1000000000, f = ns % 1000000000, days, sod;
	int y, mo, d;

	if (f < 0) {
		f += 1000000000;
		s--;
	}
	days = s / 86400;
	sod = s % 86400;
	if (sod < 0) {
		sod += 86400;
		days--;
	}
	/* Howard Hinnant's civil_from_days */
	{
		int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) /
		    146097, doe = z - era * 146097, yoe = (doe - doe / 1460 +
		    doe / 36524 - doe / 146096) / 365, doy = doe - (365 * yoe +
		    yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;

		d = (int)(doy - (153 * mp + 2) / 5 + 1);
		mo = (int)(mp < 10 ? mp + 3 : mp - 9);
		y = (int)(yoe + era * 400 + (mo <= 2));
	}
	buf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02d.%09dZ", y, mo, d,
	    (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (int)f);
}

enum cosmos_gen
cosmos_doc_gen(jv doc, int64_t t, int64_t *start)
{
	jv x = json_get(doc, COSMOS_DELETED_KEY);
	int tomb = jv_get_kind(x) == JV_KIND_TRUE;
	int64_t at;

	jv_free(x);
	if (tomb) {
		if (doc_time(doc, COSMOS_DELETED_AT_KEY, &at) < 0)
			return COSMOS_GEN_SAME;
		if (t <= at)
			return COSMOS_GEN_STALE;
		*start = at + 1;
		return COSMOS_GEN_NEW;
	}
	if (doc_time(doc, COSMOS_GEN_KEY, &at) == 0 && t < at)
		return COSMOS_GEN_STALE;
	return COSMOS_GEN_SAME;
}
