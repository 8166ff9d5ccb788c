/*
 * blob_call.c - one small Blob Storage request, run to its end: the URL
 * (every name segment percent-encoded), SharedKey, SAS or a Bearer token,
 * the ETag, Last-Modified, error code and wanted metadata of the answer.
 */
#include "blob.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "codec.h"
#include "http.h"

#define STORAGE_SCOPE "https://storage.azure.com/.default"
#define MAXH 10

struct call {
	const struct blob_where *w;
	const struct blob_hdr *h;
	size_t nh;
	size_t clen;
	const char *const *want;
	struct blob_reply *r;
	int finished, ok;
};

int
blob_authorize(struct http_req *rq, const char *account, const char *key,
    struct auth *entra, size_t clen, const struct blob_hdr *h, size_t nh)
{
	struct blob_hdr all[BLOB_SIGN_MAXH + 1];
	struct buf date = BUF_INIT, a = BUF_INIT, err = BUF_INIT;
	size_t i;
	int rc = 0;

	if (nh > BLOB_SIGN_MAXH) {
		http_req_error(rq, "internal error: %zu headers to sign", nh);
		return -1;
	}
	blob_http_date(&date, time(NULL));
	for (i = 0; i < nh; i++)
		all[i] = h[i];
	all[i].name = "x-ms-date";
	all[i++].value = buf_cstr(&date);
	http_req_attempt_header(rq, "x-ms-date", date.p);
	if (key != NULL)
		rc = blob_sharedkey(&a, account, key, http_req_method(rq),
		    http_req_url(rq), clen, all, i, &err);
	else if (entra != NULL)
		rc = auth_header(entra, STORAGE_SCOPE, "Bearer ", &a, &err);
	if (rc < 0)
		http_req_error(rq, "%s", buf_cstr(&err));
	else if (a.len > 0)
		http_req_attempt_header(rq, "Authorization", buf_cstr(&a));
	buf_release(&date);
	buf_release(&a);
	buf_release(&err);
	return rc < 0 ? -1 : 0;
}

static int
prepare(struct http_req *rq, void *user)
{
	struct call *c = user;
	const struct blob_account *acct = c->w->acct;
	struct blob_hdr h[MAXH + 1];
	size_t i;

	if (acct->sas == NULL && acct->key == NULL && c->w->entra == NULL) {
		http_req_error(rq, "no Storage credential (key, SAS or "
		    "Entra ID)");
		return -1;
	}
	for (i = 0; i < c->nh; i++)
		h[i] = c->h[i];
	h[i].name = "x-ms-version";
	h[i++].value = BLOB_API_VERSION;
	return blob_authorize(rq, acct->name, acct->sas != NULL ? NULL :
	    acct->key, acct->sas != NULL || acct->key != NULL ? NULL :
	    c->w->entra, c->clen, h, i);
}

static enum http_verdict
classify(const struct http_resp *resp, void *user)
{
	if (resp->terr == HTTP_TE_NONE && (resp->status == 404 ||
	    resp->status == 409 || resp->status == 412 ||
	    resp->status == 401 || resp->status == 403))
		return resp->status == 401 || resp->status == 403 ?
		    HTTP_FAIL : HTTP_OK;
	return http_classify_default(resp, user);
}

static void
done(struct http_req *rq, enum http_verdict v, const struct http_resp *resp,
    void *user)
{
	struct call *c = user;
	struct blob_reply *r = c->r;
	const char *s;
	size_t i;

	(void)rq;
	c->finished = 1;
	r->status = resp->terr == HTTP_TE_NONE ? resp->status : 0;
	if ((s = http_resp_header(resp, "ETag")) != NULL)
		snprintf(r->etag, sizeof(r->etag), "%s", s);
	if ((s = http_resp_header(resp, "Last-Modified")) == NULL ||
	    blob_http_date_parse(s, &r->mtime) < 0)
		r->mtime = -1;
	if ((s = http_resp_header(resp, "x-ms-error-code")) != NULL)
		snprintf(r->code, sizeof(r->code), "%s", s);
	for (i = 0; c->want != NULL && c->want[i] != NULL &&
	    i < BLOB_META_MAX; i++) {
		struct buf n = BUF_INIT;

		buf_printf(&n, "x-ms-meta-%s", c->want[i]);
		if ((s = http_resp_header(resp, n.p)) != NULL)
			r->meta[i] = xstrdup(s);
		buf_release(&n);
	}
	if (resp->body != NULL && resp->body_len > 0)
		buf_add(&r->body, resp->body, resp->body_len);
	c->ok = v == HTTP_OK && r->status >= 200 && r->status < 300;
	if (!c->ok) {
		struct buf bc = BUF_INIT, bm = BUF_INIT;

		buf_adds(&r->why, resp->why != NULL ? resp->why :
		    r->status ? "" : "no answer");
		if (r->status != 0 && resp->why == NULL)
			buf_printf(&r->why, "HTTP %ld", r->status);
		if (r->code[0] == '\0' && resp->body != NULL &&
		    resp->body_len > 0 && blob_error_parse(resp->body,
		    resp->body_len, &bc, &bm) == 0 && bc.len > 0)
			snprintf(r->code, sizeof(r->code), "%.*s",
			    (int)bc.len, bc.p);
		if (r->code[0] != '\0')
			buf_printf(&r->why, " %s", r->code);
		if (r->status == 403)
			buf_adds(&r->why, " (check the account key, SAS token "
			    "or role assignment)");
		buf_release(&bc);
		buf_release(&bm);
	}
	buf_cstr(&r->why);
}

void
blob_reply_release(struct blob_reply *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < BLOB_META_MAX; i++) {
		free(r->meta[i]);
		r->meta[i] = NULL;
	}
	buf_release(&r->why);
	buf_release(&r->body);
}

/*
 * Append name with each '/'-separated segment percent-encoded. Returns 0,
 * or -1 for an empty, "." or ".." segment (percent-encoding keeps dots,
 * and servers and proxies remove dot segments: the request would go to
 * another blob).
 */
static int
add_name(struct buf *b, const char *name)
{
	const char *p = name, *sl;
	size_t n;

	for (;;) {
		sl = strchr(p, '/');
		n = sl != NULL ? (size_t)(sl - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return -1;
		pct_encode(b, p, n);
		if (sl == NULL)
			break;
		buf_addc(b, '/');
		p = sl + 1;
	}
	return 0;
}

int
blob_call(struct http_engine *e, const struct blob_where *w,
    const char *method, const char *blob, const char *query,
    const struct blob_hdr *h, size_t nh, const void *body, size_t n,
    const char *const *want, struct blob_reply *r)
{
	struct call c;
	struct blob_hdr hh[MAXH];
	struct http_req *rq;
	struct buf url = BUF_INIT;
	size_t i;
	unsigned guard;

	memset(r, 0, sizeof(*r));
	r->mtime = -1;
	if (nh >= MAXH) {
		buf_adds(&r->why, "too many headers");
		return -1;
	}
	for (i = 0; i < nh; i++)
		hh[i] = h[i];
	for (i = 0; i < nh && strcasecmp(h[i].name, "Content-Type"); i++)
		;
	if (i == nh && (body != NULL || strcmp(method, "PUT") == 0)) {
		/* libcurl may add one: send and sign our own */
		hh[nh].name = "Content-Type";
		hh[nh++].value = "application/octet-stream";
	}
	h = hh;
	buf_printf(&url, "%s/", w->acct->endpoint);
	pct_encode(&url, w->container, strlen(w->container));
	if (blob != NULL) {
		buf_addc(&url, '/');
		if (add_name(&url, blob) < 0) {
			buf_printf(&r->why, "blob name '%s' has an empty, "
			    "'.' or '..' segment", blob);
			buf_release(&url);
			return -1;
		}
	}
	if (query != NULL)
		buf_printf(&url, "?%s", query);
	if (w->acct->sas != NULL)
		buf_printf(&url, "%c%s", query != NULL ? '&' : '?',
		    w->acct->sas);
	rq = http_req_new(method, buf_cstr(&url));
	buf_release(&url);
	for (i = 0; i < nh; i++)
		http_req_header(rq, h[i].name, h[i].value);
	http_req_header(rq, "x-ms-version", BLOB_API_VERSION);
	if (body != NULL || strcmp(method, "PUT") == 0)
		http_req_body(rq, body != NULL ? body : "", n);
	memset(&c, 0, sizeof(c));
	c.w = w;
	c.h = h;
	c.nh = nh;
	c.clen = n;
	c.want = want;
	c.r = r;
	http_req_callbacks(rq, prepare, classify, done, &c);
	if (w->max_ms > 0)
		http_req_limits(rq, 0, w->max_ms);
	http_submit(e, rq);
	/* bounded: the request's own time budget ends it; the guard only
	 * stops a loop that would never end */
	for (guard = 0; !c.finished && guard < 10000000; guard++)
		http_poll(e, 1000, -1, NULL);
	if (!c.finished) {
		http_drain(e, 0);
		buf_adds(&r->why, "cancelled");
		return -1;
	}
	if (c.ok)
		return 0;
	return r->status != 0 ? 1 : -1;
}
