/*
 * redact.c - secrets out of URLs: the userinfo of the authority and the
 * values of secret query parameters (see redact.h for the names).
 */
#include "redact.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec.h"

static const char *const builtin[] = {
	"access_token", "api-key", "api_key", "apikey", "client_assertion",
	"client_secret", "code", "id_token", "key", "passwd", "password",
	"pwd", "refresh_token", "secret", "sig", "signature",
	"subscription-key", "token"
};

static char **extra;
static size_t nextra;

void
redact_add_param(const char *name)
{
	extra = xrealloc(extra, (nextra + 1) * sizeof(*extra));
	extra[nextra++] = xstrdup(name);
}

void
redact_reset(void)
{
	size_t i;

	for (i = 0; i < nextra; i++)
		free(extra[i]);
	free(extra);
	extra = NULL;
	nextra = 0;
}

int
redact_param_is_secret(const char *name, size_t n)
{
	char dec[64];
	size_t i, k = 0;

	/* percent-decode ('+' is a space in a form): "si%67" is "sig" */
	for (i = 0; i < n; i++) {
		int c = (unsigned char)name[i];

		if (c == '%' && i + 2 < n && hex_value(name[i + 1]) >= 0 &&
		    hex_value(name[i + 2]) >= 0) {
			c = hex_value(name[i + 1]) * 16 + hex_value(name[i + 2]);
			i += 2;
		} else if (c == '+')
			c = ' ';
		if (k + 1 >= sizeof(dec))
			return 0;	/* longer than any secret name */
		dec[k++] = (char)c;
	}
	dec[k] = '\0';	/* "sig%00x" compares as "sig": redacted */
	for (i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (strcasecmp(dec, builtin[i]) == 0)
			return 1;
	for (i = 0; i < nextra; i++)
		if (strcasecmp(dec, extra[i]) == 0)
			return 1;
	return 0;
}

/* Parameters "a=1&b=2" of a query or fragment, from p up to end. */
static void
params(struct buf *b, const char *p, const char *end)
{
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp != NULL ? amp : end, *eq;

		eq = memchr(p, '=', (size_t)(e - p));
		if (eq != NULL && redact_param_is_secret(p, (size_t)(eq - p))) {
			buf_add(b, p, (size_t)(eq - p + 1));
			buf_adds(b, REDACT_VALUE);
		} else
			buf_add(b, p, (size_t)(e - p));
		if (amp == NULL)
			break;
		buf_addc(b, '&');
		p = amp + 1;
	}
}

void
redact_url(struct buf *b, const char *url)
{
	const char *p = url, *auth, *aend, *at, *q, *h, *end;

	if (url == NULL)
		return;
	end = url + strlen(url);
	/* scheme "://" authority: drop the userinfo */
	auth = strstr(url, "://");
	if (auth != NULL && auth > url &&
	    strcspn(url, "/?#") >= (size_t)(auth - url)) {
		auth += 3;
		aend = auth + strcspn(auth, "/?#");
		at = NULL;
		for (const char *s = auth; s < aend; s++)
			if (*s == '@')
				at = s;
		buf_add(b, url, (size_t)(auth - url));
		if (at != NULL) {
			buf_adds(b, "***");
			p = at;
		} else
			p = auth;
	}
	q = strchr(p, '?');
	h = strchr(p, '#');
	if (q != NULL && h != NULL && h < q)
		q = NULL;
	if (q == NULL && h == NULL) {
		buf_add(b, p, (size_t)(end - p));
		return;
	}
	if (q != NULL) {
		buf_add(b, p, (size_t)(q + 1 - p));
		params(b, q + 1, h != NULL ? h : end);
	} else
		buf_add(b, p, (size_t)(h - p));
	if (h != NULL) {
		/* a fragment may carry a token too (#access_token=...) */
		buf_addc(b, '#');
		params(b, h + 1, end);
	}
}

char *
redact_url_dup(const char *url)
{
	struct buf b = BUF_INIT;

	redact_url(&b, url);
	return buf_cstr(&b);
}
