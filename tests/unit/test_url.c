/*
 * test_url.c - url.h: segment and path encoding, dot segment refusal,
 * query encoding, tenant ids, RFC 3986 5.2.4 remove_dot_segments and the
 * 5.4 reference resolution examples.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "url.h"

static void
seg_ok(const char *s, size_t n, const char *want)
{
	struct buf b = BUF_INIT;
	const char *why = NULL;

	buf_adds(&b, "http://h/x");
	is_int(url_segment(&b, s, n, &why), 0, "segment '%.*s' accepted",
	    (int)n, s);
	is_str(buf_cstr(&b), want, "segment '%.*s' encoded", (int)n, s);
	buf_release(&b);
}

static void
seg_refused(const char *s, size_t n)
{
	struct buf b = BUF_INIT;
	const char *why = NULL;

	buf_adds(&b, "http://h/x");
	is_int(url_segment(&b, s, n, &why), -1, "segment '%.*s' refused",
	    (int)n, s);
	ok(why != NULL && why[0] != '\0', "segment '%.*s': a reason (%s)",
	    (int)n, s, why ? why : "");
	is_str(buf_cstr(&b), "http://h/x", "segment '%.*s': buffer unchanged",
	    (int)n, s);
	buf_release(&b);
}

static void
path_case(const char *s, const char *want)
{
	struct buf b = BUF_INIT;
	const char *why = NULL;
	int rc = url_path(&b, s, strlen(s), &why);

	if (want == NULL) {
		is_int(rc, -1, "path '%s' refused", s);
		ok(b.len == 0, "path '%s': nothing appended", s);
		is_int(url_path_check(s, strlen(s), &why), -1,
		    "path_check '%s' refused", s);
	} else {
		is_int(rc, 0, "path '%s' accepted", s);
		is_str(buf_cstr(&b), want, "path '%s' encoded", s);
		is_int(url_path_check(s, strlen(s), &why), 0,
		    "path_check '%s' accepted", s);
	}
	buf_release(&b);
}

static void
tenant(const char *t, int want)
{
	const char *why = NULL;

	is_int(url_tenant_check(t, &why), want, "tenant '%s' %s", t,
	    want == 0 ? "accepted" : "refused");
}

static void
rds(const char *in, const char *want)
{
	struct buf b = BUF_INIT;

	url_remove_dot_segments(&b, in, strlen(in));
	is_str(buf_cstr(&b), want, "remove_dot_segments '%s'", in);
	buf_release(&b);
}

static void
res(const char *base, const char *ref, const char *want)
{
	char *got = url_resolve(base, ref);

	is_str(got, want, "resolve '%s' against '%s'", ref, base);
	free(got);
}

int
main(void)
{
	static const char *const rfc_base = "http://a/b/c/d;p?q";
	struct buf b = BUF_INIT;
	const char *why;

	/* segments */
	seg_ok("victim", 6, "http://h/x/victim");
	seg_ok("a/b", 3, "http://h/x/a%2Fb");
	seg_ok("a?b#c", 5, "http://h/x/a%3Fb%23c");
	seg_ok("100%", 4, "http://h/x/100%25");
	seg_ok("sp ace", 6, "http://h/x/sp%20ace");
	seg_ok("a\\b", 3, "http://h/x/a%5Cb");
	seg_ok("a\0b", 3, "http://h/x/a%00b");
	seg_ok("\xc3\xa9t\xc3\xa9", 5, "http://h/x/%C3%A9t%C3%A9");
	seg_ok("-._~AZaz09", 10, "http://h/x/-._~AZaz09");
	seg_ok("...", 3, "http://h/x/...");
	seg_ok(".a", 2, "http://h/x/.a");
	seg_ok("a.", 2, "http://h/x/a.");
	seg_ok("%2E%2E", 6, "http://h/x/%252E%252E");
	seg_ok("+&=;:@!$'()*,", 13,
	    "http://h/x/%2B%26%3D%3B%3A%40%21%24%27%28%29%2A%2C");
	seg_refused(".", 1);
	seg_refused("..", 2);
	seg_refused("", 0);
	why = NULL;
	ok(url_segment_check("..", 2, &why) == -1 && why != NULL &&
	    strstr(why, "..") != NULL, "the reason names '..'");
	is_int(url_segment_check("...", 3, &why), 0, "'...' is no dot segment");

	/* paths of segments (blob names, prefixes) */
	path_case("a", "/a");
	path_case("a/b/c.tp.zst", "/a/b/c.tp.zst");
	path_case("p 1/x?y", "/p%201/x%3Fy");
	path_case("..a/b..", "/..a/b..");
	path_case("", NULL);
	path_case(".", NULL);
	path_case("..", NULL);
	path_case("a/..", NULL);
	path_case("../a", NULL);
	path_case("a/./b", NULL);
	path_case("a//b", NULL);
	path_case("/a", NULL);
	path_case("a/", NULL);

	/* queries */
	b.len = 0;
	buf_adds(&b, "http://h/p");
	url_query(&b, "api-version", "2023-10-31", 10);
	url_query(&b, "q", "a b&c=d/e?f#g", 13);
	url_query(&b, "k y", "", 0);
	is_str(buf_cstr(&b), "http://h/p?api-version=2023-10-31"
	    "&q=a%20b%26c%3Dd%2Fe%3Ff%23g&k%20y=", "query parameters encoded");
	b.len = 0;
	buf_adds(&b, "http://h/p");
	url_query_raw(&b, "?sv=1&sig=a%2Bb");
	url_query_raw(&b, "comp=list");
	url_query_raw(&b, "");
	url_query_raw(&b, NULL);
	is_str(buf_cstr(&b), "http://h/p?sv=1&sig=a%2Bb&comp=list",
	    "raw query strings joined");
	b.len = 0;
	url_encode(&b, "a\0/", 3);
	is_str(buf_cstr(&b), "a%00%2F", "url_encode: NUL and '/'");
	buf_release(&b);

	/* tenants */
	tenant("72f988bf-86f1-41af-91ab-2d7cd011db47", 0);
	tenant("72F988BF-86F1-41AF-91AB-2D7CD011DB47", 0);
	tenant("contoso.onmicrosoft.com", 0);
	tenant("organizations", 0);
	tenant("t1", 0);
	tenant("my-tenant.example", 0);
	tenant("", -1);
	tenant(".", -1);
	tenant("..", -1);
	tenant("a..b", -1);
	tenant(".a", -1);
	tenant("a.", -1);
	tenant("-a", -1);
	tenant("a-", -1);
	tenant("a/b", -1);
	tenant("../../evil", -1);
	tenant("a b", -1);
	tenant("a%2Fb", -1);
	tenant("a?b", -1);
	tenant("a#b", -1);
	tenant("a@b", -1);
	tenant("{72f988bf-86f1-41af-91ab-2d7cd011db47}", -1);
	{
		char big[300];

		memset(big, 'a', 64);
		big[64] = '\0';
		tenant(big, -1);		/* a label over 63 */
		memset(big, 'a', sizeof(big));
		for (int i = 50; i < 299; i += 51)
			big[i] = '.';
		big[299] = '\0';
		tenant(big, -1);		/* over 253 */
	}

	/* RFC 3986 5.2.4 */
	rds("/a/b/c/./../../g", "/a/g");
	rds("mid/content=5/../6", "mid/6");
	rds("/./a", "/a");
	rds("/../a", "/a");
	rds("/a/..", "/");
	rds("/a/.", "/a/");
	rds("/a/b/..", "/a/");
	rds("../x", "x");
	rds("./x", "x");
	rds(".", "");
	rds("..", "");
	rds("/", "/");
	rds("", "");
	rds("/a//../b", "/a/b");
	rds("/a/b/c/../../../../../d", "/d");
	rds("/.../x", "/.../x");

	/* RFC 3986 5.4.1 normal examples */
	res(rfc_base, "g:h", "g:h");
	res(rfc_base, "g", "http://a/b/c/g");
	res(rfc_base, "./g", "http://a/b/c/g");
	res(rfc_base, "g/", "http://a/b/c/g/");
	res(rfc_base, "/g", "http://a/g");
	res(rfc_base, "//g", "http://g");
	res(rfc_base, "?y", "http://a/b/c/d;p?y");
	res(rfc_base, "g?y", "http://a/b/c/g?y");
	res(rfc_base, "#s", "http://a/b/c/d;p?q#s");
	res(rfc_base, "g#s", "http://a/b/c/g#s");
	res(rfc_base, "g?y#s", "http://a/b/c/g?y#s");
	res(rfc_base, ";x", "http://a/b/c/;x");
	res(rfc_base, "g;x", "http://a/b/c/g;x");
	res(rfc_base, "g;x?y#s", "http://a/b/c/g;x?y#s");
	res(rfc_base, "", "http://a/b/c/d;p?q");
	res(rfc_base, ".", "http://a/b/c/");
	res(rfc_base, "./", "http://a/b/c/");
	res(rfc_base, "..", "http://a/b/");
	res(rfc_base, "../", "http://a/b/");
	res(rfc_base, "../g", "http://a/b/g");
	res(rfc_base, "../..", "http://a/");
	res(rfc_base, "../../", "http://a/");
	res(rfc_base, "../../g", "http://a/g");

	/* RFC 3986 5.4.2 abnormal examples */
	res(rfc_base, "../../../g", "http://a/g");
	res(rfc_base, "../../../../g", "http://a/g");
	res(rfc_base, "/./g", "http://a/g");
	res(rfc_base, "/../g", "http://a/g");
	res(rfc_base, "g.", "http://a/b/c/g.");
	res(rfc_base, ".g", "http://a/b/c/.g");
	res(rfc_base, "g..", "http://a/b/c/g..");
	res(rfc_base, "..g", "http://a/b/c/..g");
	res(rfc_base, "./../g", "http://a/b/g");
	res(rfc_base, "./g/.", "http://a/b/c/g/");
	res(rfc_base, "g/./h", "http://a/b/c/g/h");
	res(rfc_base, "g/../h", "http://a/b/c/h");
	res(rfc_base, "g;x=1/./y", "http://a/b/c/g;x=1/y");
	res(rfc_base, "g;x=1/../y", "http://a/b/c/y");
	res(rfc_base, "g?y/./x", "http://a/b/c/g?y/./x");
	res(rfc_base, "g?y/../x", "http://a/b/c/g?y/../x");
	res(rfc_base, "g#s/./x", "http://a/b/c/g#s/./x");
	res(rfc_base, "g#s/../x", "http://a/b/c/g#s/../x");
	res(rfc_base, "http:g", "http:g");

	/* what extract-lob meets: next links */
	res("https://h:8443/api/v1/items?page=1", "?page=2",
	    "https://h:8443/api/v1/items?page=2");
	res("https://h/api/v1/items?page=1", "items?page=2",
	    "https://h/api/v1/items?page=2");
	res("https://h/api/v1/items", "/api/v1/../../admin/drop",
	    "https://h/admin/drop");
	res("https://h/api/v1/items", "https://h/a/./b/../c?x=/../",
	    "https://h/a/c?x=/../");
	res("https://h/api/v1/items", "%2E%2E/%2e%2e/x", "https://h/x");
	res("https://h", "next", "https://h/next");
	res("https://h", "?p=2", "https://h?p=2");
	res("a:/b", "..//x", "a:/.//x");	/* no authority: "//x" is no host */
	res("a:/.//x", "", "a:/.//x");
	ok(url_resolve("no-scheme/x", "y") == NULL, "a base without a scheme");
	return tap_done();
}
