/*
 * fuzz_redact.c - redact_url() (src/common/redact.c) over any bytes: the
 * input up to its first NUL is the URL; a first line "+NAME" adds NAME as
 * a --redact-param for that input.
 *
 * Properties checked:
 * - it never crashes and reads only the string;
 * - redacting twice changes nothing more (idempotent);
 * - the authority of a scheme://authority URL keeps no userinfo but
 *   "***";
 * - every query or fragment parameter whose name is a secret has the value
 *   REDACTED in the output;
 * - a string with no "://", '?' or '#' comes out unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "redact.h"

static void
check_params(const char *p, const char *end)
{
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp != NULL ? amp : end, *eq;

		eq = memchr(p, '=', (size_t)(e - p));
		if (eq != NULL && redact_param_is_secret(p, (size_t)(eq - p)) &&
		    ((size_t)(e - eq - 1) != strlen(REDACT_VALUE) ||
		    memcmp(eq + 1, REDACT_VALUE, strlen(REDACT_VALUE)) != 0))
			abort();
		if (amp == NULL)
			break;
		p = amp + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1), *url, *r1, *r2, *q, *h, *end;
	const char *a;

	if (in == NULL)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	url = in;
	if (in[0] == '+' && (q = strchr(in, '\n')) != NULL) {
		*q = '\0';
		redact_add_param(in + 1);
		url = q + 1;
	}
	r1 = redact_url_dup(url);
	r2 = redact_url_dup(r1);
	if (strcmp(r1, r2) != 0)
		abort();
	if (strstr(url, "://") == NULL && strpbrk(url, "?#") == NULL &&
	    strcmp(url, r1) != 0)
		abort();
	if ((a = strstr(r1, "://")) != NULL && a > r1 &&
	    strcspn(r1, "/?#") >= (size_t)(a - r1)) {
		const char *auth = a + 3, *aend = auth + strcspn(auth, "/?#");
		const char *at = memchr(auth, '@', (size_t)(aend - auth));

		if (at != NULL && (at != auth + 3 ||
		    strncmp(auth, "***", 3) != 0))
			abort();
	}
	end = r1 + strlen(r1);
	q = strchr(r1, '?');
	h = strchr(r1, '#');
	if (q != NULL && h != NULL && h < q)
		q = NULL;
	if (q != NULL)
		check_params(q + 1, h != NULL ? h : end);
	if (h != NULL)
		check_params(h + 1, end);
	free(r1);
	free(r2);
	free(in);
	redact_reset();
	return 0;
}
