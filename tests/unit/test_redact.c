/*
 * test_redact.c - redact_url(): userinfo, secret query and fragment
 * parameters (any case, percent-encoded names), the SAS fields that stay,
 * --redact-param names, and inputs that are not quite URLs.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "redact.h"
#include "tap.h"

static void
check(const char *in, const char *want, const char *what)
{
	char *got = redact_url_dup(in);

	is_str(got, want, "%s", what);
	free(got);
}

int
main(void)
{
	struct buf b = BUF_INIT;

	check("https://h/p", "https://h/p", "nothing to hide");
	check("https://h", "https://h", "no path");
	check("", "", "empty");
	check("https://user:PASS@h:8443/p?x=1",
	    "https://***@h:8443/p?x=1", "userinfo with a password");
	check("https://user@h/p", "https://***@h/p", "userinfo without one");
	check("https://a:b@c@h/p", "https://***@h/p", "the last @ ends it");
	check("https://h/p@q?x=1", "https://h/p@q?x=1", "@ in the path stays");
	check("https://h/p?u=a@b", "https://h/p?u=a@b", "@ in the query stays");
	check("http://u:p@[::1]:80/", "http://***@[::1]:80/", "IPv6 host");
	check("https://a.blob/c/b?sv=2022&sig=abc%2B&se=1#f",
	    "https://a.blob/c/b?sv=2022&sig=REDACTED&se=1#f",
	    "SAS signature; sv and se stay");
	check("https://a/c?sv=1&ss=b&srt=co&sp=rl&se=2&st=1&spr=https&sig=X",
	    "https://a/c?sv=1&ss=b&srt=co&sp=rl&se=2&st=1&spr=https"
	    "&sig=REDACTED", "account SAS: only sig");
	check("http://h/p?SIG=x", "http://h/p?SIG=REDACTED", "any case");
	check("http://h/p?signal=1&sig", "http://h/p?signal=1&sig",
	    "only whole names; a name without value stays");
	check("http://h/p?sig=", "http://h/p?sig=REDACTED", "empty value");
	check("http://h/p?code=a&x=1&Code=b",
	    "http://h/p?code=REDACTED&x=1&Code=REDACTED", "every occurrence");
	check("http://h/p?api-key=1&apikey=2&api_key=3&key=4",
	    "http://h/p?api-key=REDACTED&apikey=REDACTED&api_key=REDACTED"
	    "&key=REDACTED", "api keys");
	check("http://h/p?token=1&access_token=2&refresh_token=3&id_token=4",
	    "http://h/p?token=REDACTED&access_token=REDACTED"
	    "&refresh_token=REDACTED&id_token=REDACTED", "tokens");
	check("http://h/p?secret=1&client_secret=2&client_assertion=3",
	    "http://h/p?secret=REDACTED&client_secret=REDACTED"
	    "&client_assertion=REDACTED", "client secrets");
	check("http://h/p?password=1&passwd=2&pwd=3&signature=4",
	    "http://h/p?password=REDACTED&passwd=REDACTED&pwd=REDACTED"
	    "&signature=REDACTED", "passwords and signatures");
	check("http://h/p?subscription-key=1",
	    "http://h/p?subscription-key=REDACTED", "API Management key");
	check("http://h/p?si%67=x&%73ig=y&%4B%45%59=z",
	    "http://h/p?si%67=REDACTED&%73ig=REDACTED&%4B%45%59=REDACTED",
	    "percent-encoded names are decoded");
	check("http://h/p?si%6=x&sig%=y", "http://h/p?si%6=x&sig%=y",
	    "bad percent-encoding is another name");
	check("http://h/p?sig%00x=1", "http://h/p?sig%00x=REDACTED",
	    "a NUL in the name: hidden (safer)");
	check("http://h/p?se=2030&sp=r&sv=2022&sr=c&x=1",
	    "http://h/p?se=2030&sp=r&sv=2022&sr=c&x=1", "no secret here");
	check("http://h/cb#access_token=T&state=s",
	    "http://h/cb#access_token=REDACTED&state=s", "fragment tokens");
	check("http://h/cb?x=1#code=C", "http://h/cb?x=1#code=REDACTED",
	    "query and fragment");
	check("http://h/cb#x?sig=1", "http://h/cb#x?sig=1",
	    "a ? in the fragment is no query");
	check("http://h/p?&&sig=1&", "http://h/p?&&sig=REDACTED&",
	    "empty parameters");
	check("http://h/p?x=a=b&sig=c=d", "http://h/p?x=a=b&sig=REDACTED",
	    "= in values");
	check("/p?sig=1", "/p?sig=REDACTED", "a relative reference");
	check("h/p@x?sig=1", "h/p@x?sig=REDACTED", "no scheme: no userinfo");
	check("odbc:DSN=x?sig=1", "odbc:DSN=x?sig=REDACTED", "not a URL");
	check("mailto:a@b", "mailto:a@b", "no authority");
	check("http://u:p@h", "http://***@h", "userinfo, no path");
	check("http://u:p@h?sig=1", "http://***@h?sig=REDACTED",
	    "userinfo, then a query");
	check("http://h/p?x=1", "http://h/p?x=1", "x before --redact-param");
	redact_add_param("x");
	redact_add_param("X-Other");
	check("http://h/p?x=1&X=2&x-other=3&y=4",
	    "http://h/p?x=REDACTED&X=REDACTED&x-other=REDACTED&y=4",
	    "--redact-param names, any case");
	ok(redact_param_is_secret("X", 1), "redact_param_is_secret");
	ok(!redact_param_is_secret("y", 1), "not a secret");
	ok(!redact_param_is_secret("", 0), "empty name");
	{
		char longname[200];

		memset(longname, 'k', sizeof(longname));
		ok(!redact_param_is_secret(longname, sizeof(longname)),
		    "a long name is no secret name");
	}
	redact_reset();
	check("http://h/p?x=1", "http://h/p?x=1", "redact_reset");
	buf_adds(&b, "GET ");
	redact_url(&b, "http://u:p@h/?sig=1");
	is_str(buf_cstr(&b), "GET http://***@h/?sig=REDACTED", "appends");
	redact_url(&b, NULL);
	is_str(buf_cstr(&b), "GET http://***@h/?sig=REDACTED", "NULL: nothing");
	buf_release(&b);
	return tap_done();
}
