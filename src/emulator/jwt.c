/*
 * jwt.c - compact JWS verification (RS256 via OpenSSL, HS256) for the
 * client assertions of the token endpoint. Bounded: at most 16 KiB of
 * token, header and payload must be JSON objects.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "codec.h"
#include "json.h"
#include "jwt.h"

#define JWT_MAX (16u << 10)

int
jwt_b64url_decode(struct buf *out, const char *s, size_t n)
{
	struct buf t = BUF_INIT;
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		if (s[i] == '+' || s[i] == '/' || s[i] == '=') {
			buf_release(&t);
			return -1;
		}
		buf_addc(&t, s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i]);
	}
	/* canonical only: the unused low bits of the last character are 0,
	 * so that no two texts decode to the same bytes */
	if (n % 4 == 1 || (n % 4 != 0 && (base64_value((unsigned char)
	    t.p[n - 1]) & (n % 4 == 2 ? 0x0f : 0x03)) != 0)) {
		buf_release(&t);
		return -1;
	}
	while (t.len % 4 != 0)
		buf_addc(&t, '=');
	rc = base64_decode(out, t.p ? t.p : "", t.len);
	buf_release(&t);
	return rc;
}

/* Decode a base64url JSON object; 0 or -1. */
static int
part_json(const char *s, size_t n, jv *out)
{
	struct buf b = BUF_INIT;
	struct json_err je;
	int rc = -1;

	*out = jv_invalid();
	if (jwt_b64url_decode(&b, s, n) == 0 && b.len > 0 &&
	    json_parse(b.p, b.len, out, NULL, &je) == 0) {
		if (jv_get_kind(*out) == JV_KIND_OBJECT)
			rc = 0;
		else {
			jv_free(*out);
			*out = jv_invalid();
		}
	}
	buf_release(&b);
	return rc;
}

static int
sig_ok(const struct jwt_key *k, const char *alg, const char *in, size_t n,
    const struct buf *sig)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_MD_CTX *md;
	int ok;

	if (k->pkey != NULL) {
		if (strcmp(alg, "RS256") != 0)
			return 0;
		if ((md = EVP_MD_CTX_new()) == NULL)
			return 0;
		ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL,
		    k->pkey) == 1 && EVP_DigestVerify(md,
		    (const unsigned char *)sig->p, sig->len,
		    (const unsigned char *)in, n) == 1;
		EVP_MD_CTX_free(md);
		return ok;
	}
	if (strcmp(alg, "HS256") != 0 || k->secret == NULL || k->secret_len == 0)
		return 0;
	HMAC(EVP_sha256(), k->secret, (int)k->secret_len,
	    (const unsigned char *)in, n, mac, &len);
	return sig->len == len && CRYPTO_memcmp(sig->p, mac, len) == 0;
}

int
jwt_verify(const char *jwt, const struct jwt_key *k, jv *claims, char *msg,
    size_t msgsz)
{
	const char *d1, *d2;
	struct buf sig = BUF_INIT;
	jv hdr = jv_invalid(), alg = jv_invalid();
	size_t n = strlen(jwt);
	int rc = -1;

	*claims = jv_invalid();
	if (n > JWT_MAX || (d1 = strchr(jwt, '.')) == NULL ||
	    (d2 = strchr(d1 + 1, '.')) == NULL || strchr(d2 + 1, '.') != NULL ||
	    part_json(jwt, (size_t)(d1 - jwt), &hdr) != 0 ||
	    part_json(d1 + 1, (size_t)(d2 - d1 - 1), claims) != 0 ||
	    jwt_b64url_decode(&sig, d2 + 1, strlen(d2 + 1)) != 0) {
		snprintf(msg, msgsz, "the client assertion is not a signed JWT "
		    "(header.payload.signature, base64url JSON)");
		goto out;
	}
	alg = json_get(hdr, "alg");
	if (jv_get_kind(alg) != JV_KIND_STRING) {
		snprintf(msg, msgsz, "the client assertion has no 'alg'");
		goto out;
	}
	if (!sig_ok(k, jv_string_value(alg), jwt, (size_t)(d2 - jwt), &sig)) {
		rc = -2;
		snprintf(msg, msgsz, "the client assertion's signature (alg "
		    "'%.20s') does not verify with the configured %s",
		    jv_string_value(alg), k->pkey != NULL ?
		    "RS256 public key" : "HS256 secret");
		goto out;
	}
	rc = 0;
out:
	if (rc != 0) {
		jv_free(*claims);
		*claims = jv_invalid();
	}
	jv_free(hdr);
	jv_free(alg);
	buf_release(&sig);
	return rc;
}
