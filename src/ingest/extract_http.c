/*
 * extract_http.c - JSON pages over HTTP(S): GET one page at a time through
 * the shared engine (http.h: retries, backoff, Retry-After, rate limit),
 * emit the elements of the page's items array, follow the next page by a
 * field of the page (--next), a Link: rel="next" header, or offset/limit.
 */
#include "extract.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "codec.h"
#include "http.h"
#include "log.h"
#include "redact.h"
#include "stats.h"
#include "url.h"

struct page {
	const struct http_src_opts *o;
	struct auth *auth;
	int creds;		/* this page is on the credentials' origin */
	int reauth;		/* a 401 already made us refresh the token */
	int done;
	int ok;
	long status;
	struct buf body;
	struct buf link;
	struct buf why;
};

/* The scope to ask the chain for (a --token-file token has none). */
static const char *
scope_of(const struct page *pg)
{
	return pg->o->scope != NULL ? pg->o->scope : "static";
}

static int
prepare(struct http_req *r, void *user)
{
	struct page *pg = user;
	struct buf h = BUF_INIT, err = BUF_INIT;

	if (pg->auth == NULL || !pg->creds)
		return 0;
	if (auth_header(pg->auth, scope_of(pg), "Bearer ", &h, &err) < 0) {
		http_req_error(r, "no token: %s", buf_cstr(&err));
		buf_release(&h);
		buf_release(&err);
		return -1;
	}
	http_req_attempt_header(r, "Authorization", buf_cstr(&h));
	buf_release(&h);
	buf_release(&err);
	return 0;
}

static enum http_verdict
classify(const struct http_resp *resp, void *user)
{
	struct page *pg = user;

	if (resp->status == 401 && pg->auth != NULL && pg->creds &&
	    !pg->reauth) {
		pg->reauth = 1;	/* a revoked or expired token: once more */
		auth_invalidate(pg->auth, scope_of(pg));
		return HTTP_RETRY;
	}
	return http_classify_default(resp, NULL);
}

static void
done(struct http_req *r, enum http_verdict v, const struct http_resp *resp,
    void *user)
{
	struct page *pg = user;
	const char *link;

	(void)r;
	pg->done = 1;
	pg->ok = v == HTTP_OK;
	pg->status = resp->status;
	pg->body.len = 0;
	pg->link.len = 0;
	pg->why.len = 0;
	buf_add(&pg->body, resp->body, resp->body_len);
	if ((link = http_resp_header(resp, "link")) != NULL)
		buf_adds(&pg->link, link);
	if (resp->why != NULL)
		buf_adds(&pg->why, resp->why);
}

/* The URL of the Link header entry with rel="next", or NULL (malloc'd). */
static char *
link_next(const char *h)
{
	const char *p = h;

	while ((p = strchr(p, '<')) != NULL) {
		const char *e = strchr(p, '>'), *end;

		if (e == NULL)
			return NULL;
		end = strchr(e, ',');
		if (end == NULL)
			end = e + strlen(e);
		{
			size_t n = (size_t)(end - e);
			char *params = xmalloc(n + 1);
			int is_next;

			memcpy(params, e, n);
			params[n] = '\0';
			is_next = strstr(params, "rel=\"next\"") != NULL ||
			    strstr(params, "rel=next") != NULL;
			free(params);
			if (is_next) {
				char *u = xmalloc((size_t)(e - p));

				memcpy(u, p + 1, (size_t)(e - p - 1));
				u[e - p - 1] = '\0';
				return u;
			}
		}
		p = end;
	}
	return NULL;
}

/*
 * The origin of an http(s) URL, RFC 6454: "scheme://host:port" with the
 * scheme and host in lower case, the userinfo left out and the default
 * port (80, 443) made explicit. Appended to b.
 */
static void
origin(struct buf *b, const char *url)
{
	const char *h = strstr(url, "://"), *end, *at, *port = NULL, *s;
	int https;

	if (h == NULL) {
		buf_adds(b, url);
		return;
	}
	https = (size_t)(h - url) == 5;
	for (s = url; s < h; s++)
		buf_addc(b, (char)tolower((unsigned char)*s));
	buf_adds(b, "://");
	h += 3;
	end = h + strcspn(h, "/?#");
	at = NULL;
	for (s = h; s < end; s++)
		if (*s == '@')
			at = s;
	if (at != NULL)
		h = at + 1;
	for (s = end; s > h; s--)
		if (s[-1] == ':') {
			port = s;
			break;
		} else if (s[-1] == ']')
			break;
	for (s = h; s < (port != NULL ? port - 1 : end); s++)
		buf_addc(b, (char)tolower((unsigned char)*s));
	buf_addc(b, ':');
	if (port != NULL && port < end)
		buf_add(b, port, (size_t)(end - port));
	else
		buf_adds(b, https ? "443" : "80");
}

/* Do a and b have the same origin (scheme, host and port)? */
static int
same_origin(const char *a, const char *b)
{
	struct buf oa = BUF_INIT, ob = BUF_INIT;
	int same;

	origin(&oa, a);
	origin(&ob, b);
	same = strcmp(buf_cstr(&oa), buf_cstr(&ob)) == 0;
	buf_release(&oa);
	buf_release(&ob);
	return same;
}

/*
 * Resolve ref against base (RFC 3986 5.2, url.h): absolute, network-path,
 * root-relative or relative, with the dot segments of the result removed
 * (5.2.4), so the next page's URL is canonical.
 */
static char *
resolve(const char *base, const char *ref)
{
	char *u = url_resolve(base, ref);

	return u != NULL ? u : xstrdup(ref);
}

static char *
with_offset(const struct http_src_opts *o, unsigned long long offset)
{
	struct buf b = BUF_INIT;

	buf_adds(&b, o->url);
	buf_addc(&b, strchr(o->url, '?') != NULL ? '&' : '?');
	buf_printf(&b, "%s=%llu&%s=%ld", o->offset_param, offset,
	    o->limit_param, o->page_size);
	return buf_cstr(&b);
}

/* The state of a walk through the pages. */
struct walk {
	struct extract *x;
	const struct http_src_opts *o;
	struct http_engine *e;
	struct page pg;
	struct tape t;		/* the page, parsed */
	struct keypath *next_kp;	/* --next, or NULL */
	struct buf basic;	/* the Basic authorization value, or empty */
	struct buf tmp;
	unsigned long long row, offset, page;
	size_t nitems;		/* elements on the page */
};

/* The bearer token's chain and the Basic value. Returns 0, or -1
 * (reported). */
static int
credentials(struct walk *w)
{
	const struct http_src_opts *o = w->o;

	if (o->scope != NULL || o->token != NULL) {
		struct auth_opts ao;
		struct buf err = BUF_INIT;

		auth_opts_init(&ao);
		ao.insecure = o->insecure;
		ao.cacert = o->cacert;
		if (o->token != NULL) {
			ao.chain = "static";
			ao.static_token = o->token;
		}
		if ((w->pg.auth = auth_new(&ao, &err)) == NULL) {
			log_error("credentials: %s", buf_cstr(&err));
			buf_release(&err);
			return -1;
		}
		buf_release(&err);
	}
	if (o->basic_user != NULL) {
		w->tmp.len = 0;
		buf_printf(&w->tmp, "%s:%s", o->basic_user,
		    o->password != NULL ? o->password : "");
		buf_adds(&w->basic, "Basic ");
		base64_encode(&w->basic, w->tmp.p, w->tmp.len);
		log_secret(buf_cstr(&w->basic) + 6);
		explicit_bzero(w->tmp.p, w->tmp.len);
	}
	return 0;
}

/* Credentials go only to the origin they were given for: a page on
 * another origin is refused, or read without them. Returns 0, or -1
 * (reported). */
static int
check_origin(struct walk *w, const char *url)
{
	struct buf ob = BUF_INIT;

	w->pg.creds = same_origin(w->o->url, url);
	if (w->pg.creds)
		return 0;
	if (w->o->follow_foreign) {
		log_info("page %llu: another origin: no credentials sent",
		    w->page);
		return 0;
	}
	w->tmp.len = 0;
	redact_url(&w->tmp, url);
	origin(&ob, w->o->url);
	log_error("page %llu: the next link %s is on another origin than %s: "
	    "refused (--follow-foreign-links follows it without "
	    "credentials)", w->page, buf_cstr(&w->tmp), buf_cstr(&ob));
	buf_release(&ob);
	return -1;
}

/* GET one page. Returns 0, 1 when a signal stopped it, -1 on an error
 * (reported). */
static int
fetch(struct walk *w, const char *url)
{
	const struct http_src_opts *o = w->o;
	struct http_req *r = http_req_new("GET", url);

	http_req_header(r, "Accept", "application/json");
	if (w->basic.len > 0 && w->pg.creds)
		http_req_header(r, "Authorization", buf_cstr(&w->basic));
	if (o->header_name != NULL && w->pg.creds)
		http_req_header(r, o->header_name, o->header_value != NULL ?
		    o->header_value : "");
	w->pg.done = 0;
	w->pg.reauth = 0;
	http_req_callbacks(r, prepare, classify, done, &w->pg);
	http_submit(w->e, r);
	while (!w->pg.done && !*w->x->stop)
		http_poll(w->e, 200, -1, NULL);
	if (!w->pg.done) {
		http_drain(w->e, 0);
		return 1;
	}
	if (w->pg.ok)
		return 0;
	w->tmp.len = 0;
	redact_url(&w->tmp, url);
	if (w->pg.status == 401 || w->pg.status == 403)
		log_error("GET %s: authentication failed: %s",
		    buf_cstr(&w->tmp), buf_cstr(&w->pg.why));
	else
		log_error("GET %s: %s", buf_cstr(&w->tmp),
		    buf_cstr(&w->pg.why));
	return -1;
}

/* The page's records: the elements of its array (--items, an OData
 * "value", or the page itself). Returns 0, or -1 (reported). */
static int
emit_page(struct walk *w)
{
	struct extract *x = w->x;
	struct tape *t = &w->t;
	struct json_err je;
	char msg[512];
	uint32_t arr, i;

	if (tape_parse(t, w->pg.body.p, w->pg.body.len, &je) < 0) {
		log_error("page %llu: not JSON: %s at byte %zu", w->page,
		    je.msg, je.off);
		return -1;
	}
	if (extract_items_find(w->o->items == NULL &&
	    t->nodes[0].type == TAPE_OBJECT &&
	    tape_lookup(t, 0, "value", 5) != 0 ? ".value" : w->o->items, t,
	    &arr, msg, sizeof(msg)) < 0) {
		log_error("page %llu: %s", w->page, msg);
		return -1;
	}
	w->nitems = t->nodes[arr].n;
	for (i = arr + 1; i < t->nodes[arr].next; i = t->nodes[i].next) {
		w->row++;
		x->in++;
		if (t->nodes[i].type == TAPE_OBJECT) {
			if (extract_emit_tape(x, t, i, "row", w->row) < 0)
				return -1;
			continue;
		}
		x->failed++;
		w->tmp.len = 0;
		canon_write(&x->canon, &w->tmp, t, i, 0);
		if (extract_fail(x, w->row, w->tmp.p, w->tmp.len, 1,
		    "not_an_object", "page %llu element %llu is not a JSON "
		    "object", w->page, w->row) < 0)
			return -1;
	}
	return 0;
}

/* The next page's URL (--next, the Link header, or the next offset), or
 * NULL at the end. */
static char *
next_url(struct walk *w, const char *url)
{
	char *ref = NULL, *next = NULL;

	if (w->next_kp != NULL) {
		uint32_t k = keypath_eval(w->next_kp, &w->t);

		if (k != 0 && w->t.nodes[k].type == TAPE_STRING &&
		    w->t.nodes[k].n > 0) {
			ref = xmalloc(w->t.nodes[k].n + 1);
			memcpy(ref, w->t.nodes[k].p, w->t.nodes[k].n);
			ref[w->t.nodes[k].n] = '\0';
		}
	} else if (w->pg.link.len > 0) {
		ref = link_next(buf_cstr(&w->pg.link));
	} else if (w->o->page_size > 0 &&
	    w->nitems >= (size_t)w->o->page_size) {
		w->offset += w->nitems;
		return with_offset(w->o, w->offset);
	}
	if (ref != NULL) {
		next = resolve(url, ref);
		free(ref);
	}
	return next;
}

int
extract_http(struct extract *x, const struct http_src_opts *o)
{
	struct walk w = { 0 };
	struct http_opts ho;
	char *url = NULL, *next;
	int rc = -1, k;

	w.x = x;
	w.o = o;
	w.pg.o = o;
	w.t = (struct tape)TAPE_INIT;
	if (o->next != NULL && (w.next_kp = keypath_parse(o->next)) == NULL) {
		log_error("--next '%s': expected a path like "
		    ".[\"@odata.nextLink\"] or .next", o->next);
		return -1;
	}
	if (credentials(&w) < 0)
		goto out;
	http_opts_init(&ho);
	ho.service = "source";
	ho.max_inflight = 1;
	ho.rate = o->rate;
	ho.insecure = o->insecure;
	ho.cacert = o->cacert;
	if (o->max_attempts > 0)
		ho.max_attempts = o->max_attempts;
	if ((w.e = http_engine_new(&ho)) == NULL)
		goto out;
	url = o->page_size > 0 ? with_offset(o, 0) : xstrdup(o->url);
	rc = 0;
	while (url != NULL && !*x->stop) {	/* main reports a stop */
		if (o->max_pages > 0 &&
		    w.page >= (unsigned long long)o->max_pages) {
			x->partial = 1;	/* more pages exist */
			break;
		}
		x->page = ++w.page;
		if (check_origin(&w, url) < 0 || (k = fetch(&w, url)) < 0 ||
		    (k == 0 && emit_page(&w) < 0)) {
			rc = -1;
			break;
		}
		if (k > 0)
			break;	/* a signal */
		if ((next = next_url(&w, url)) != NULL &&
		    strcmp(next, url) == 0) {
			log_error("page %llu links to itself as the next page",
			    w.page);
			free(next);
			rc = -1;
			break;
		}
		free(url);
		url = next;
	}
out:
	free(url);
	http_engine_free(w.e);
	auth_free(w.pg.auth);
	keypath_free(w.next_kp);
	tape_release(&w.t);
	buf_release(&w.pg.body);
	buf_release(&w.pg.link);
	buf_release(&w.pg.why);
	if (w.basic.p != NULL)
		explicit_bzero(w.basic.p, w.basic.len);
	buf_release(&w.basic);
	buf_release(&w.tmp);
	return rc;
}
