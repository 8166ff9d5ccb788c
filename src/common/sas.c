/*
 * sas.c - shared access signatures (see sas.h).
 */
#include "sas.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "codec.h"

int
sas_token(struct buf *out, const char *resource, const char *key_name,
    const void *key, size_t keylen, int64_t expiry)
{
	struct buf sr = BUF_INIT, sts = BUF_INIT, sig = BUF_INIT;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int ml = 0;
	int rc = -1;

	pct_encode(&sr, resource, strlen(resource));
	buf_add(&sts, sr.p, sr.len);
	buf_printf(&sts, "\n%lld", (long long)expiry);
	if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)sts.p,
	    sts.len, mac, &ml) == NULL)
		goto out;
	base64_encode(&sig, mac, ml);
	buf_adds(out, "SharedAccessSignature sr=");
	buf_add(out, sr.p, sr.len);
	buf_adds(out, "&sig=");
	pct_encode(out, sig.p, sig.len);
	buf_printf(out, "&se=%lld&skn=", (long long)expiry);
	pct_encode(out, key_name, strlen(key_name));
	rc = 0;
out:
	buf_release(&sr);
	buf_release(&sts);
	buf_release(&sig);
	return rc;
}
