/*
 * token.c - the Entra ID token endpoints (client credentials, federated
 * token, IMDS and App Service managed identity) and the check of the
 * tokens they issue: HS256 JWTs signed with a key made at start-up, so a
 * token is only good for this process and until it expires.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "codec.h"
#include "emu.h"
#include "json.h"
#include "jwt.h"

static void
b64url(struct buf *out, const void *p, size_t n)
{
	size_t start = out->len, i;

	base64_encode(out, p, n);
	while (out->len > start && out->p[out->len - 1] == '=')
		out->len--;
	for (i = start; i < out->len; i++)
		out->p[i] = out->p[i] == '+' ? '-' : out->p[i] == '/' ? '_' :
		    out->p[i];
}

static int
b64url_decode(struct buf *out, const char *s, size_t n)
{
	struct buf t = BUF_INIT;
	size_t i;
	int rc;

	for (i = 0; i < n; i++)
		buf_addc(&t, s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i]);
	while (t.len % 4 != 0)
		buf_addc(&t, '=');
	rc = base64_decode(out, t.p ? t.p : "", t.len);
	buf_release(&t);
	return rc;
}

static void
sign(struct buf *out, const char *p, size_t n)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	HMAC(EVP_sha256(), emu.token_key, sizeof(emu.token_key),
	    (const unsigned char *)p, n, mac, &len);
	b64url(out, mac, len);
}

/* A new token for resource and client; *exp set. Returns malloc'd. */
static char *
token_issue(const char *resource, const char *client, const char *tenant,
    double *exp)
{
	struct buf t = BUF_INIT, pl = BUF_INIT;
	static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	double now = floor(emu_now());
	char oid[37];
	jv p;

	*exp = now + floor(emu.token_lifetime);
	emu_guid(oid);
	p = JV_OBJECT(jv_string("aud"), jv_string(resource),
	    jv_string("iss"), jv_string("https://twin-emulator/"),
	    jv_string("tid"), jv_string(tenant),
	    jv_string("appid"), jv_string(client),
	    jv_string("oid"), jv_string(oid),
	    jv_string("iat"), jv_number(now),
	    jv_string("nbf"), jv_number(now),
	    jv_string("exp"), jv_number(*exp));
	json_write(&pl, p, 0, NULL);
	jv_free(p);
	b64url(&t, hdr, strlen(hdr));
	buf_addc(&t, '.');
	b64url(&t, pl.p, pl.len);
	pl.len = 0;
	sign(&pl, t.p, t.len);
	buf_addc(&t, '.');
	buf_add(&t, pl.p, pl.len);
	buf_release(&pl);
	return buf_cstr(&t);
}

/* Tokens verified lately: a repeated token skips the HMAC and the parse. */
#define TOKEN_CACHE 16
static struct {
	char *tok;
	char *aud;
	double exp;
} tcache[TOKEN_CACHE];
static unsigned tcache_next;
static pthread_mutex_t tcache_mu = PTHREAD_MUTEX_INITIALIZER;

/* 1 good (its audience copied to aud), -1 expired, 0 not cached. */
static int
tcache_hit(const char *tok, char *aud, size_t audsz, double *exp)
{
	int i, r = 0;

	pthread_mutex_lock(&tcache_mu);
	for (i = 0; i < TOKEN_CACHE && r == 0; i++)
		if (tcache[i].tok != NULL && strcmp(tcache[i].tok, tok) == 0) {
			r = tcache[i].exp >= emu_now() ? 1 : -1;
			*exp = tcache[i].exp;
			snprintf(aud, audsz, "%s", tcache[i].aud);
		}
	pthread_mutex_unlock(&tcache_mu);
	return r;
}

static void
tcache_put(const char *tok, const char *aud, double exp)
{
	unsigned i;

	pthread_mutex_lock(&tcache_mu);
	i = tcache_next++ % TOKEN_CACHE;
	free(tcache[i].tok);
	free(tcache[i].aud);
	tcache[i].tok = xstrdup(tok);
	tcache[i].aud = xstrdup(aud);
	tcache[i].exp = exp;
	pthread_mutex_unlock(&tcache_mu);
}

void
token_release(void)
{
	int i;

	for (i = 0; i < TOKEN_CACHE; i++) {
		free(tcache[i].tok);
		free(tcache[i].aud);
		tcache[i].tok = tcache[i].aud = NULL;
	}
}

/*
 * Is aud one of the space-separated audiences of expected? A final '/' on
 * either side is ignored ("https://x.azure.net/" is "https://x.azure.net"),
 * case too, as Entra compares resource URIs.
 */
static int
aud_match(const char *aud, const char *expected)
{
	size_t an = strlen(aud), en;
	const char *e = expected;

	if (an > 0 && aud[an - 1] == '/')
		an--;
	while (an > 0 && *e != '\0') {
		en = strcspn(e, " ");
		if (en > 0 && (en - (e[en - 1] == '/')) == an &&
		    strncasecmp(aud, e, an) == 0)
			return 1;
		e += en;
		e += strspn(e, " ");
	}
	return 0;
}

int
token_check(const char *tok, const char *expected_aud, char *msg,
    size_t msgsz)
{
	double exp;

	return token_check_exp(tok, expected_aud, &exp, msg, msgsz);
}

int
token_check_exp(const char *tok, const char *expected_aud, double *exp_at,
    char *msg, size_t msgsz)
{
	const char *d1, *d2;
	struct buf s = BUF_INIT, pl = BUF_INIT;
	struct json_err je;
	jv p = jv_invalid(), e;
	char aud[256];
	int rc = -1;

	aud[0] = '\0';
	if (tok != NULL && (rc = tcache_hit(tok, aud, sizeof(aud), exp_at)) != 0) {
		if (rc < 0) {
			snprintf(msg, msgsz, "the access token has expired");
			return -1;
		}
		goto audience;
	}
	rc = -1;
	if (tok == NULL || (d1 = strchr(tok, '.')) == NULL ||
	    (d2 = strchr(d1 + 1, '.')) == NULL) {
		snprintf(msg, msgsz, "the access token is malformed");
		goto out;
	}
	sign(&s, tok, (size_t)(d2 - tok));
	if (strlen(d2 + 1) != s.len || CRYPTO_memcmp(d2 + 1, s.p, s.len) != 0) {
		snprintf(msg, msgsz, "the access token signature is invalid");
		goto out;
	}
	if (b64url_decode(&pl, d1 + 1, (size_t)(d2 - d1 - 1)) != 0 ||
	    json_parse(pl.p, pl.len, &p, NULL, &je) != 0) {
		snprintf(msg, msgsz, "the access token is malformed");
		goto out;
	}
	e = json_get(p, "exp");
	if (jv_get_kind(e) != JV_KIND_NUMBER || jv_number_value(e) < emu_now()) {
		jv_free(e);
		snprintf(msg, msgsz, "the access token has expired");
		goto out;
	}
	{
		jv a = json_get(p, "aud");

		if (jv_get_kind(a) == JV_KIND_STRING)
			snprintf(aud, sizeof(aud), "%s", jv_string_value(a));
		jv_free(a);
	}
	tcache_put(tok, aud, jv_number_value(e));
	*exp_at = jv_number_value(e);
	jv_free(e);
audience:
	if (expected_aud != NULL && !aud_match(aud, expected_aud)) {
		snprintf(msg, msgsz, "the access token's audience '%.100s' is "
		    "not valid for this resource (expected %.120s)", aud,
		    expected_aud);
		rc = -1;
		goto out;
	}
	rc = 0;
out:
	jv_free(p);
	buf_release(&s);
	buf_release(&pl);
	return rc;
}

/* Value of a form field (x-www-form-urlencoded), malloc'd, or NULL. */
static char *
form_get(const struct buf *body, const char *name)
{
	const char *p = body->p, *end = body->p + body->len, *amp, *eq;
	size_t n = strlen(name);
	struct buf v = BUF_INIT;
	size_t i;

	while (p != NULL && p < end) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq != NULL && (size_t)(eq - p) == n && memcmp(p, name, n) == 0) {
			if (pct_decode(&v, eq + 1, (size_t)(amp - eq - 1)) != 0) {
				buf_release(&v);
				return NULL;
			}
			buf_cstr(&v);
			for (i = 0; i < v.len; i++)
				if (v.p[i] == '+')
					v.p[i] = ' ';
			return v.p;
		}
		p = amp + 1;
	}
	return NULL;
}

static void
aad_error(struct resp *rs, int status, const char *err, int code,
    const char *desc)
{
	char trace[37], text[512];

	emu_guid(trace);
	snprintf(text, sizeof(text), "AADSTS%d: %s Trace ID: %s", code, desc,
	    trace);
	resp_json(rs, status, JV_OBJECT(jv_string("error"), jv_string(err),
	    jv_string("error_description"), jv_string(text),
	    jv_string("error_codes"), JV_ARRAY(jv_number(code)),
	    jv_string("trace_id"), jv_string(trace)));
}

/*
 * A federated client assertion, when a key is configured: signature, then
 * aud, iss, sub, exp and nbf (60 s of clock skew) as Entra checks them
 * against the app's federated identity credential. Returns 0, or -1 with
 * the AADSTS code and text in *code and desc.
 */
static int
assertion_check(const char *jwt, int *code, char *desc, size_t descsz)
{
	struct jwt_key k = { emu.fed_pkey, (const unsigned char *)emu.fed_secret,
	    emu.fed_secret != NULL ? strlen(emu.fed_secret) : 0 };
	char msg[200];
	const char *iss, *sub, *aud;
	jv c, e, nbf;
	double now = emu_now();
	int rc = -1;

	if ((rc = jwt_verify(jwt, &k, &c, msg, sizeof(msg))) != 0) {
		*code = rc == -2 ? 700027 : 50027;
		snprintf(desc, descsz, "Client assertion failed signature "
		    "validation: %s.", msg);
		return -1;
	}
	rc = -1;
	iss = json_get_str(c, "iss");
	sub = json_get_str(c, "sub");
	aud = json_get_str(c, "aud");
	e = json_get(c, "exp");
	nbf = json_get(c, "nbf");
	if (aud == NULL || strcmp(aud, FEDERATED_AUDIENCE) != 0) {
		*code = 700212;
		snprintf(desc, descsz, "No matching federated identity record "
		    "found for presented assertion audience '%.80s' (expected "
		    "'%s').", aud != NULL ? aud : "", FEDERATED_AUDIENCE);
	} else if (iss == NULL || *iss == '\0' || (emu.fed_issuer != NULL &&
	    strcmp(iss, emu.fed_issuer) != 0)) {
		*code = 700211;
		snprintf(desc, descsz, "No matching federated identity record "
		    "found for presented assertion issuer '%.120s'.",
		    iss != NULL ? iss : "");
	} else if (sub == NULL || *sub == '\0' || (emu.fed_subject != NULL &&
	    strcmp(sub, emu.fed_subject) != 0)) {
		*code = 700213;
		snprintf(desc, descsz, "No matching federated identity record "
		    "found for presented assertion subject '%.120s'.",
		    sub != NULL ? sub : "");
	} else if (jv_get_kind(e) != JV_KIND_NUMBER ||
	    jv_number_value(e) + 60 < now || (jv_get_kind(nbf) ==
	    JV_KIND_NUMBER && jv_number_value(nbf) - 60 > now)) {
		*code = 700024;
		snprintf(desc, descsz, "Client assertion is not within its "
		    "valid time range (exp and nbf).");
	} else
		rc = 0;
	jv_free(e);
	jv_free(nbf);
	jv_free(c);
	return rc;
}

static void
entra_token(struct req *r, struct resp *rs, const char *tenant)
{
	char *grant = form_get(&r->body, "grant_type");
	char *client = form_get(&r->body, "client_id");
	char *secret = form_get(&r->body, "client_secret");
	char *atype = form_get(&r->body, "client_assertion_type");
	char *assertion = form_get(&r->body, "client_assertion");
	char *scope = form_get(&r->body, "scope");
	char *tok = NULL;
	double exp;
	size_t n;
	const char *ct = req_header(r, "Content-Type");

	if (strcmp(r->method, "POST") != 0) {
		aad_error(rs, 405, "invalid_request", 900561,
		    "The endpoint only accepts POST requests.");
		goto out;
	}
	if (ct == NULL || strncmp(ct, "application/x-www-form-urlencoded", 33)) {
		aad_error(rs, 400, "invalid_request", 900144,
		    "The request body must be application/x-www-form-urlencoded.");
		goto out;
	}
	if (grant == NULL || strcmp(grant, "client_credentials") != 0) {
		aad_error(rs, 400, "unsupported_grant_type", 70003,
		    "The app requested an unsupported grant type.");
		goto out;
	}
	if (client == NULL || *client == '\0' || scope == NULL || *scope == '\0') {
		aad_error(rs, 400, "invalid_request", 900144,
		    "The request body must contain the parameters 'client_id' "
		    "and 'scope'.");
		goto out;
	}
	if (assertion != NULL) {
		if (atype == NULL || strcmp(atype,
		    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") != 0 ||
		    *assertion == '\0') {
			aad_error(rs, 400, "invalid_request", 50027,
			    "Invalid JWT token: bad client_assertion or "
			    "client_assertion_type.");
			goto out;
		}
		if (emu.fed_pkey != NULL || emu.fed_secret != NULL) {
			char desc[400];
			int code;

			if (assertion_check(assertion, &code, desc,
			    sizeof(desc)) != 0) {
				aad_error(rs, 401, "invalid_client", code, desc);
				goto out;
			}
		} else if (emu.client_secret != NULL) {
			/* a secret is required: an assertion nobody can check
			 * must not be a way around it */
			aad_error(rs, 401, "invalid_client", 700211,
			    "No matching federated identity record found for "
			    "presented assertion: twin-emulator has no "
			    "--federated-key.");
			goto out;
		}
	} else if (secret == NULL || *secret == '\0' ||
	    (emu.client_secret != NULL && strcmp(secret, emu.client_secret))) {
		aad_error(rs, 401, "invalid_client", 7000215,
		    "Invalid client secret provided.");
		goto out;
	}
	n = strlen(scope);
	if (n > 9 && strcmp(scope + n - 9, "/.default") == 0)
		scope[n - 9] = '\0';
	tok = token_issue(scope, client, tenant, &exp);
	resp_json(rs, 200, JV_OBJECT(jv_string("token_type"), jv_string("Bearer"),
	    jv_string("expires_in"), jv_number(floor(emu.token_lifetime)),
	    jv_string("ext_expires_in"), jv_number(floor(emu.token_lifetime)),
	    jv_string("access_token"), jv_string(tok)));
	resp_header(rs, "Cache-Control", "no-store, no-cache");
out:
	free(grant);
	free(client);
	free(secret);
	free(atype);
	free(assertion);
	free(scope);
	free(tok);
}

static void
mi_token(struct req *r, struct resp *rs, int app_service)
{
	const char *res = req_query(r, "resource");
	const char *cid = req_query(r, "client_id");
	const char *h;
	char *tok, sexp[32], sin[32], snow[32];
	double exp, now = floor(emu_now());

	if (app_service) {
		h = req_header(r, "X-IDENTITY-HEADER");
		if (h == NULL || *h == '\0' || (emu.identity_header != NULL &&
		    strcmp(h, emu.identity_header) != 0)) {
			resp_json(rs, 401, JV_OBJECT(jv_string("error"),
			    jv_string("invalid_request"),
			    jv_string("error_description"),
			    jv_string("missing or wrong X-IDENTITY-HEADER")));
			return;
		}
	} else {
		h = req_header(r, "Metadata");
		if (h == NULL || strcmp(h, "true") != 0) {
			resp_json(rs, 400, JV_OBJECT(jv_string("error"),
			    jv_string("invalid_request"),
			    jv_string("error_description"),
			    jv_string("Required metadata header not specified")));
			return;
		}
	}
	if (req_query(r, "api-version") == NULL || res == NULL || *res == '\0') {
		resp_json(rs, 400, JV_OBJECT(jv_string("error"),
		    jv_string("invalid_request"), jv_string("error_description"),
		    jv_string("api-version and resource are required")));
		return;
	}
	if (cid == NULL)
		cid = "00000000-0000-0000-0000-00000000beef";
	tok = token_issue(res, cid, "managed-identity", &exp);
	snprintf(sexp, sizeof(sexp), "%.0f", exp);
	snprintf(sin, sizeof(sin), "%.0f", exp - now);
	snprintf(snow, sizeof(snow), "%.0f", now);
	resp_json(rs, 200, JV_OBJECT(jv_string("access_token"), jv_string(tok),
	    jv_string("client_id"), jv_string(cid),
	    jv_string("expires_in"), jv_string(sin),
	    jv_string("expires_on"), jv_string(sexp),
	    jv_string("ext_expires_in"), jv_string(sin),
	    jv_string("not_before"), jv_string(snow),
	    jv_string("resource"), jv_string(res),
	    jv_string("token_type"), jv_string("Bearer")));
	free(tok);
}

int
token_handle(struct req *r, struct resp *rs)
{
	if (r->nseg == 4 && strcmp(r->seg[1], "oauth2") == 0 &&
	    strcmp(r->seg[2], "v2.0") == 0 && strcmp(r->seg[3], "token") == 0) {
		entra_token(r, rs, r->seg[0]);
		return 1;
	}
	if (r->nseg == 4 && strcmp(r->seg[0], "metadata") == 0 &&
	    strcmp(r->seg[1], "identity") == 0 &&
	    strcmp(r->seg[2], "oauth2") == 0 && strcmp(r->seg[3], "token") == 0) {
		mi_token(r, rs, 0);
		return 1;
	}
	if (r->nseg == 2 && strcmp(r->seg[0], "msi") == 0 &&
	    strcmp(r->seg[1], "token") == 0) {
		mi_token(r, rs, 1);
		return 1;
	}
	return 0;
}
