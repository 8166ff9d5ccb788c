/*
 * url.h - the one place where ids and names go into URLs.
 *
 * Every program builds its request URLs from a trusted base (an endpoint
 * given by the user) and untrusted pieces (a twin id from a record, a
 * document id, a blob name, a tenant id from the environment). The pieces
 * go in through these functions only:
 *
 *	buf_adds(&u, endpoint);
 *	buf_adds(&u, "/digitaltwins");
 *	if (url_segment(&u, id, strlen(id), &why) < 0)
 *		refuse the record: why
 *	url_query(&u, "api-version", api, strlen(api));
 *
 * A segment is percent-encoded (RFC 3986 unreserved ALPHA / DIGIT / "-" /
 * "." / "_" / "~" kept, every other byte %XX in uppercase hex), so '/',
 * '?', '#', '%', NUL and non-ASCII cannot change the URL's structure. A
 * segment that is exactly "." or ".." is refused rather than encoded: RFC
 * 3986 treats "%2E" as ".", and libcurl, proxies and servers remove dot
 * segments, so `/digitaltwins/victim/relationships/..` would become a
 * request on the twin victim. The HTTP client also sets
 * CURLOPT_PATH_AS_IS, so that what is built here is what is sent.
 *
 * The resolver (url_resolve()) is RFC 3986 section 5.2 with its dot
 * segment removal (5.2.4): a link a server hands back (a next page) is
 * made absolute and canonical before it is requested.
 */
#ifndef TP_URL_H
#define TP_URL_H

#include <stddef.h>

#include "buf.h"

/*
 * Check s[0..n) as one path segment: 0, or -1 with *why (a static string)
 * when it is empty, "." or "..". Can't fail otherwise.
 */
int url_segment_check(const char *s, size_t n, const char **why);

/*
 * Append "/" and s[0..n) percent-encoded as one path segment. Returns 0,
 * or -1 with *why set by url_segment_check() and b unchanged.
 */
int url_segment(struct buf *b, const char *s, size_t n, const char **why);

/*
 * Check s[0..n) as a path of segments separated by '/' (a blob name, a
 * prefix): 0, or -1 with *why when a segment is empty (a leading,
 * trailing or double '/'), "." or "..". An empty path (n == 0) is
 * refused too.
 */
int url_path_check(const char *s, size_t n, const char **why);

/*
 * Append "/" and the path s[0..n): each segment percent-encoded, the '/'
 * between them kept. Returns 0, or -1 with *why (url_path_check()) and b
 * unchanged.
 */
int url_path(struct buf *b, const char *s, size_t n, const char **why);

/*
 * Append s[0..n) percent-encoded (unreserved kept), for a query value or
 * name. Can't fail.
 */
void url_encode(struct buf *b, const char *s, size_t n);

/*
 * Append the query parameter name=value: '?' first if b has no '?' yet,
 * else '&'. name (NUL-terminated) and value[0..n) are percent-encoded.
 * Can't fail.
 */
void url_query(struct buf *b, const char *name, const char *value, size_t n);

/*
 * Append q, a query string that is already encoded (a SAS token, "comp=
 * blocklist"), after '?' or '&' as url_query() does. q may start with
 * '?' (skipped). NULL or "" appends nothing. Can't fail.
 */
void url_query_raw(struct buf *b, const char *q);

/*
 * Check an Entra tenant id before it goes into the token URL path: a GUID
 * (8-4-4-4-12 hex digits) or a DNS-like name ("contoso.onmicrosoft.com",
 * "organizations": labels of letters, digits and inner '-', separated by
 * single dots, at most 253 bytes). Returns 0, or -1 with *why.
 */
int url_tenant_check(const char *t, const char **why);

/*
 * Append to out the path p[0..n) with its dot segments removed (RFC 3986
 * 5.2.4): "/a/b/c/./../../g" -> "/a/g". Can't fail.
 */
void url_remove_dot_segments(struct buf *out, const char *p, size_t n);

/*
 * Resolve the reference ref against the absolute URL base (RFC 3986 5.2.2,
 * strict: a ref with a scheme is used as is) and remove the dot segments
 * of the result's path; "%2E"/"%2e" in the path count as "." (RFC 3986
 * 6.2.2.2 normalisation). Returns a malloc'd URL, or NULL when base has
 * no scheme.
 */
char *url_resolve(const char *base, const char *ref);

#endif
