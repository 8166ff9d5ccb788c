/*
 * url.c - URL building for untrusted ids and names, tenant ids, and RFC
 * 3986 reference resolution with dot segment removal.
 */
#include "url.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"

void
url_encode(struct buf *b, const char *s, size_t n)
{
	pct_encode(b, s, n);	/* the unreserved characters kept */
}

int
url_segment_check(const char *s, size_t n, const char **why)
{
	if (n == 0) {
		*why = "empty path segment";
		return -1;
	}
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' &&
	    s[1] == '.')) {
		*why = n == 1 ? "path segment '.' (a dot segment: URLs drop "
		    "it)" : "path segment '..' (a dot segment: URLs resolve "
		    "it to the parent)";
		return -1;
	}
	return 0;
}

int
url_segment(struct buf *b, const char *s, size_t n, const char **why)
{
	if (url_segment_check(s, n, why) < 0)
		return -1;
	buf_addc(b, '/');
	url_encode(b, s, n);
	return 0;
}

int
url_path_check(const char *s, size_t n, const char **why)
{
	size_t i = 0, j;

	if (n == 0) {
		*why = "empty path";
		return -1;
	}
	for (;;) {
		for (j = i; j < n && s[j] != '/'; j++)
			;
		if (url_segment_check(s + i, j - i, why) < 0)
			return -1;
		if (j == n)
			return 0;
		i = j + 1;
	}
}

int
url_path(struct buf *b, const char *s, size_t n, const char **why)
{
	size_t i = 0, j;

	if (url_path_check(s, n, why) < 0)
		return -1;
	for (;;) {
		for (j = i; j < n && s[j] != '/'; j++)
			;
		buf_addc(b, '/');
		url_encode(b, s + i, j - i);
		if (j == n)
			return 0;
		i = j + 1;
	}
}

static void
query_sep(struct buf *b)
{
	buf_addc(b, b->len > 0 && memchr(b->p, '?', b->len) != NULL ? '&' :
	    '?');
}

void
url_query(struct buf *b, const char *name, const char *value, size_t n)
{
	query_sep(b);
	url_encode(b, name, strlen(name));
	buf_addc(b, '=');
	url_encode(b, value, n);
}

void
url_query_raw(struct buf *b, const char *q)
{
	if (q != NULL && q[0] == '?')
		q++;
	if (q == NULL || q[0] == '\0')
		return;
	query_sep(b);
	buf_adds(b, q);
}

static int
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

static int
is_guid(const char *t, size_t n)
{
	size_t i;

	if (n != 36)
		return 0;
	for (i = 0; i < n; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (t[i] != '-')
				return 0;
		} else if (!is_hex((unsigned char)t[i]))
			return 0;
	}
	return 1;
}

int
url_tenant_check(const char *t, const char **why)
{
	size_t n = strlen(t), i, label = 0;

	if (is_guid(t, n))
		return 0;
	*why = "the tenant id is neither a GUID nor a domain name (letters, "
	    "digits, inner '-' and single dots)";
	if (n == 0 || n > 253)
		return -1;
	for (i = 0; i <= n; i++) {
		unsigned char c = i < n ? (unsigned char)t[i] : '.';

		if (c == '.') {
			if (label == 0 || label > 63 || t[i - 1] == '-')
				return -1;
			label = 0;
		} else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || (c == '-' && label > 0)) {
			label++;
		} else {
			return -1;
		}
	}
	return 0;
}

/* Drop the last segment of out and its preceding '/' (5.2.4 C). */
static void
pop_segment(struct buf *out, size_t floor)
{
	size_t i = out->len;

	while (i > floor && out->p[i - 1] != '/')
		i--;
	if (i > floor)
		i--;
	out->len = i;
}

static int
at(const char *in, size_t i, size_t n, const char *lit)
{
	size_t k = strlen(lit);

	return n - i >= k && memcmp(in + i, lit, k) == 0;
}

static int
is_rest(const char *in, size_t i, size_t n, const char *lit)
{
	size_t k = strlen(lit);

	return n - i == k && memcmp(in + i, lit, k) == 0;
}

void
url_remove_dot_segments(struct buf *out, const char *p, size_t n)
{
	char *in = xmalloc(n + 1);
	size_t i = 0, floor = out->len;

	memcpy(in, p, n);
	in[n] = '\0';
	while (i < n) {
		if (at(in, i, n, "../"))
			i += 3;				/* A */
		else if (at(in, i, n, "./"))
			i += 2;
		else if (at(in, i, n, "/./"))
			i += 2;				/* B */
		else if (is_rest(in, i, n, "/.")) {
			i += 1;
			in[i] = '/';
		} else if (at(in, i, n, "/../")) {
			i += 3;				/* C */
			pop_segment(out, floor);
		} else if (is_rest(in, i, n, "/..")) {
			i += 2;
			in[i] = '/';
			pop_segment(out, floor);
		} else if (is_rest(in, i, n, ".") || is_rest(in, i, n, "..")) {
			i = n;				/* D */
		} else {
			size_t j = i + 1;		/* E */

			while (j < n && in[j] != '/')
				j++;
			buf_add(out, in + i, j - i);
			i = j;
		}
	}
	free(in);
	buf_cstr(out);
}

/* The components of a URI reference (RFC 3986 appendix B). */
struct parts {
	const char *scheme, *auth, *path, *query, *frag;
	size_t scheme_n, auth_n, path_n, query_n, frag_n;
	int has_scheme, has_auth, has_query, has_frag;
};

static void
split(const char *s, struct parts *p)
{
	size_t i, n = strlen(s);

	memset(p, 0, sizeof(*p));
	i = strcspn(s, ":/?#");
	if (i > 0 && s[i] == ':') {
		p->has_scheme = 1;
		p->scheme = s;
		p->scheme_n = i;
		s += i + 1;
		n -= i + 1;
	}
	if (n >= 2 && s[0] == '/' && s[1] == '/') {
		p->has_auth = 1;
		p->auth = s + 2;
		p->auth_n = strcspn(s + 2, "/?#");
		s += 2 + p->auth_n;
		n -= 2 + p->auth_n;
	}
	p->path = s;
	p->path_n = strcspn(s, "?#");
	s += p->path_n;
	if (*s == '?') {
		p->has_query = 1;
		p->query = s + 1;
		p->query_n = strcspn(s + 1, "#");
		s += 1 + p->query_n;
	}
	if (*s == '#') {
		p->has_frag = 1;
		p->frag = s + 1;
		p->frag_n = strlen(s + 1);
	}
}

/* Remove the dot segments of p[0..n) into out, "%2E" counting as "." */
static void
clean_path(struct buf *out, const char *p, size_t n)
{
	struct buf d = BUF_INIT;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '%' && i + 2 < n && p[i + 1] == '2' &&
		    (p[i + 2] == 'E' || p[i + 2] == 'e')) {
			buf_addc(&d, '.');
			i += 2;
		} else {
			buf_addc(&d, p[i]);
		}
	}
	url_remove_dot_segments(out, d.p != NULL ? d.p : "", d.len);
	buf_release(&d);
}

/*
 * clean_path() into t, for a URL with (has_auth) or without an authority:
 * without one, a path that would start with "//" would read as an
 * authority, so it gets "/." in front (as WHATWG URL does).
 */
static void
put_path(struct buf *t, const char *p, size_t n, int has_auth)
{
	size_t start = t->len;

	clean_path(t, p, n);
	if (!has_auth && t->len - start >= 2 && t->p[start] == '/' &&
	    t->p[start + 1] == '/') {
		buf_grow(t, 2);
		memmove(t->p + start + 2, t->p + start, t->len - start);
		t->p[start] = '/';
		t->p[start + 1] = '.';
		t->len += 2;
	}
}

char *
url_resolve(const char *base, const char *ref)
{
	struct parts b, r;
	struct buf t = BUF_INIT, m = BUF_INIT;
	const char *auth, *query;
	size_t auth_n, query_n;
	int has_auth, has_query;

	split(base, &b);
	split(ref, &r);
	if (!b.has_scheme)
		return NULL;
	if (r.has_scheme) {
		buf_add(&t, r.scheme, r.scheme_n);
		buf_addc(&t, ':');
		if (r.has_auth) {
			buf_adds(&t, "//");
			buf_add(&t, r.auth, r.auth_n);
		}
		put_path(&t, r.path, r.path_n, r.has_auth);
		if (r.has_query) {
			buf_addc(&t, '?');
			buf_add(&t, r.query, r.query_n);
		}
		goto frag;
	}
	buf_add(&t, b.scheme, b.scheme_n);
	buf_addc(&t, ':');
	has_auth = r.has_auth ? 1 : b.has_auth;
	auth = r.has_auth ? r.auth : b.auth;
	auth_n = r.has_auth ? r.auth_n : b.auth_n;
	if (has_auth) {
		buf_adds(&t, "//");
		buf_add(&t, auth, auth_n);
	}
	has_query = r.has_query;
	query = r.query;
	query_n = r.query_n;
	if (r.has_auth || (r.path_n > 0 && r.path[0] == '/')) {
		put_path(&t, r.path, r.path_n, has_auth);
	} else if (r.path_n == 0) {
		put_path(&t, b.path, b.path_n, has_auth);
		if (!r.has_query) {
			has_query = b.has_query;
			query = b.query;
			query_n = b.query_n;
		}
	} else {
		/* 5.2.3 merge */
		if (b.has_auth && b.path_n == 0) {
			buf_addc(&m, '/');
		} else {
			size_t k = b.path_n;

			while (k > 0 && b.path[k - 1] != '/')
				k--;
			buf_add(&m, b.path, k);
		}
		buf_add(&m, r.path, r.path_n);
		put_path(&t, m.p, m.len, has_auth);
	}
	if (has_query) {
		buf_addc(&t, '?');
		buf_add(&t, query, query_n);
	}
frag:
	if (r.has_frag) {
		buf_addc(&t, '#');
		buf_add(&t, r.frag, r.frag_n);
	}
	buf_release(&m);
	return buf_cstr(&t);
}
