#include <ctype.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "codec.h"
#include "cosmos_sig.h"

static void
add_lower(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++)
		buf_addc(b, (char)tolower((unsigned char)*s));
}

int
cosmos_sig_compute(struct buf *out, const char *verb, const char *type,
    const char *link, const char *date, const char *key)
{
	struct buf k = BUF_INIT, msg = BUF_INIT;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	int rc = -1;

	if (base64_decode(&k, key, strlen(key)) != 0 || k.len == 0)
		goto out;
	add_lower(&msg, verb);
	buf_addc(&msg, '\n');
	add_lower(&msg, type);
	buf_addc(&msg, '\n');
	buf_adds(&msg, link);
	buf_addc(&msg, '\n');
	add_lower(&msg, date);
	buf_adds(&msg, "\n\n");
	if (HMAC(EVP_sha256(), k.p, (int)k.len, (unsigned char *)msg.p,
	    msg.len, mac, &maclen) == NULL)
		goto out;
	base64_encode(out, mac, maclen);
	rc = 0;
out:
	if (k.p != NULL)
		OPENSSL_cleanse(k.p, k.cap);
	buf_release(&k);
	buf_release(&msg);
	return rc;
}

int
cosmos_sig_header(struct buf *out, const char *verb, const char *type,
    const char *link, const char *date, const char *key)
{
	struct buf raw = BUF_INIT;
	int rc;

	buf_adds(&raw, "type=master&ver=1.0&sig=");
	rc = cosmos_sig_compute(&raw, verb, type, link, date, key);
	if (rc == 0)
		pct_encode(out, raw.p, raw.len);
	buf_release(&raw);
	return rc;
}

void
cosmos_sig_resource(struct buf *type, struct buf *link, char *const *seg,
    int nseg)
{
	int i, nlink;

	if (nseg <= 0) {
		buf_cstr(type);
		buf_cstr(link);
		return;
	}
	if (nseg % 2 == 0) {
		buf_adds(type, seg[nseg - 2]);
		nlink = nseg;
	} else {
		buf_adds(type, seg[nseg - 1]);
		nlink = nseg - 1;
	}
	for (i = 0; i < nlink; i++) {
		if (i > 0)
			buf_addc(link, '/');
		buf_adds(link, seg[i]);
	}
	buf_cstr(type);
	buf_cstr(link);
}

/* Find "name=" in a &-separated list; returns the value's length or -1. */
static int
kv_find(const char *s, const char *name, const char **val)
{
	size_t n = strlen(name);
	const char *p = s, *e;

	for (;;) {
		e = strchr(p, '&');
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			*val = p + n + 1;
			if (strcmp(name, "sig") == 0)	/* sig is last, may hold '&' */
				return (int)strlen(*val);
			return e != NULL ? (int)(e - *val) : (int)strlen(*val);
		}
		if (e == NULL)
			return -1;
		p = e + 1;
	}
}

enum cosmos_auth
cosmos_sig_verify(const char *header, const char *verb, const char *type,
    const char *link, const char *date, const char *key, char **token)
{
	struct buf dec = BUF_INIT, want = BUF_INIT;
	const char *v, *s;
	int n, rc = COSMOS_AUTH_BAD;

	*token = NULL;
	if (header == NULL || date == NULL)
		goto out;
	if (pct_decode(&dec, header, strlen(header)) != 0)
		goto out;
	buf_cstr(&dec);
	if ((n = kv_find(dec.p, "type", &v)) < 0)
		goto out;
	if (kv_find(dec.p, "sig", &s) < 0 || *s == '\0')
		goto out;
	if (n == 3 && strncmp(v, "aad", 3) == 0) {
		*token = xstrdup(s);
		rc = COSMOS_AUTH_AAD;
		goto out;
	}
	if (n != 6 || strncmp(v, "master", 6) != 0)
		goto out;
	if (cosmos_sig_compute(&want, verb, type, link, date, key) != 0)
		goto out;
	if (strlen(s) == want.len && CRYPTO_memcmp(s, want.p, want.len) == 0)
		rc = COSMOS_AUTH_OK;
out:
	buf_release(&dec);
	buf_release(&want);
	return rc;
}
