/*
 * fuzz_url.c - the URL builder and resolver (src/common/url.c).
 *
 * Input: BASE '\n' REF '\n' SEGMENT (SEGMENT may hold any byte, NUL
 * included). Properties checked:
 * - url_segment() either refuses (empty, ".", "..") or appends "/" and
 *   only unreserved characters and %XX, which decode to SEGMENT;
 * - url_path() appends segments none of which is empty, "." or "..", each
 *   decoding to its part of SEGMENT;
 * - an accepted tenant id has only letters, digits, '-' and '.';
 * - url_remove_dot_segments() of a path starting with '/' has no "." or
 *   ".." segment and is a fixed point;
 * - url_resolve() of an absolute base gives a URL that resolves to itself
 *   (with "" as reference: fragment aside), i.e. it is canonical.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "url.h"

static void
check(int cond)
{
	if (!cond)
		abort();
}

static int
is_unres(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

/* p[0..n) is unreserved characters and %XX only, decoding to s[0..sn) */
static void
check_encoded(const char *p, size_t n, const char *s, size_t sn)
{
	struct buf d = BUF_INIT;
	size_t i;

	for (i = 0; i < n; i++)
		check(is_unres((unsigned char)p[i]) || p[i] == '%');
	check(pct_decode(&d, p, n) == 0);
	check(d.len == sn && (sn == 0 || memcmp(d.p, s, sn) == 0));
	buf_release(&d);
}

static int
dot_seg(const char *p, size_t n)
{
	return (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' &&
	    p[1] == '.');
}

/* no segment of the path p[0..n) is "." or ".." */
static void
check_no_dots(const char *p, size_t n)
{
	size_t i = 0, j;

	while (i <= n) {
		for (j = i; j < n && p[j] != '/'; j++)
			;
		check(!dot_seg(p + i, j - i));
		i = j + 1;
	}
}

static void
check_segment(const char *s, size_t n)
{
	struct buf b = BUF_INIT;
	const char *why = NULL;

	buf_adds(&b, "x");
	if (url_segment(&b, s, n, &why) < 0) {
		check(why != NULL && b.len == 1);
		check(n == 0 || dot_seg(s, n));
	} else {
		check(n > 0 && !dot_seg(s, n));
		check(b.p[1] == '/');
		check_encoded(b.p + 2, b.len - 2, s, n);
	}
	buf_release(&b);
}

static void
check_path(const char *s, size_t n)
{
	struct buf b = BUF_INIT;
	const char *why = NULL;
	size_t i, j, k, si = 0;
	int rc = url_path(&b, s, n, &why);

	check(rc == url_path_check(s, n, &why));
	if (rc < 0) {
		check(b.len == 0);
		buf_release(&b);
		return;
	}
	/* each "/"-separated part decodes to the matching part of s */
	for (i = 0; i < b.len; i = j) {
		check(b.p[i] == '/');
		for (j = i + 1; j < b.len && b.p[j] != '/'; j++)
			;
		for (k = si; k < n && s[k] != '/'; k++)
			;
		check(k > si && !dot_seg(s + si, k - si));
		check_encoded(b.p + i + 1, j - i - 1, s + si, k - si);
		si = k + 1;
	}
	check(si == n + 1);
	buf_release(&b);
}

static void
check_tenant(const char *s, size_t n)
{
	const char *why;
	size_t i;

	if (memchr(s, '\0', n) != NULL)
		return;
	if (url_tenant_check(s, &why) == 0)
		for (i = 0; i < n; i++)
			check(s[i] == '-' || s[i] == '.' ||
			    (s[i] >= '0' && s[i] <= '9') ||
			    (s[i] >= 'a' && s[i] <= 'z') ||
			    (s[i] >= 'A' && s[i] <= 'Z'));
}

static void
check_rds(const char *p, size_t n)
{
	struct buf a = BUF_INIT, b = BUF_INIT;

	url_remove_dot_segments(&a, p, n);
	if (n > 0 && p[0] == '/') {
		check(a.len > 0 && a.p[0] == '/');
		check_no_dots(a.p, a.len);
		url_remove_dot_segments(&b, a.p, a.len);
		check(b.len == a.len && memcmp(a.p, b.p, a.len) == 0);
	}
	buf_release(&a);
	buf_release(&b);
}

static void
check_resolve(const char *base, const char *ref)
{
	char *u = url_resolve(base, ref), *v, *hash;

	if (u == NULL)
		return;
	hash = strchr(u, '#');
	if (hash != NULL)
		*hash = '\0';
	v = url_resolve(u, "");
	check(v != NULL && strcmp(u, v) == 0);
	free(u);
	free(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *nl1, *nl2;
	char *base, *ref;
	size_t bn, rn;

	nl1 = memchr(p, '\n', size);
	if (nl1 == NULL)
		nl1 = p + size;
	bn = (size_t)(nl1 - p);
	nl2 = nl1 < p + size ? memchr(nl1 + 1, '\n', size - bn - 1) : NULL;
	if (nl2 == NULL)
		nl2 = p + size;
	rn = nl1 < p + size ? (size_t)(nl2 - nl1 - 1) : 0;
	base = strndup(p, bn);
	ref = strndup(nl1 < p + size ? nl1 + 1 : "", rn);
	check(base != NULL && ref != NULL);
	check_resolve(base, ref);
	check_rds(base, strlen(base));
	check_rds(ref, strlen(ref));
	check_tenant(ref, strlen(ref));
	if (nl2 < p + size) {
		size_t sn = size - (size_t)(nl2 + 1 - p);
		char *seg = malloc(sn + 1);

		check(seg != NULL);
		memcpy(seg, nl2 + 1, sn);
		seg[sn] = '\0';
		check_segment(seg, sn);
		check_path(seg, sn);
		check_tenant(seg, sn);
		free(seg);
	} else {
		check_segment(ref, strlen(ref));
		check_path(ref, strlen(ref));
	}
	free(base);
	free(ref);
	return 0;
}
