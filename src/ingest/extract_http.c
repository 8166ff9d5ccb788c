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

int
extract_http(struct extract *x, const struct http_src_opts *o)
{
	struct http_opts ho;
	struct http_engine *e = NULL;
	struct page pg = { 0 };
	struct tape t = TAPE_INIT;
	struct keypath *next_kp = NULL;
	struct buf basic = BUF_INIT, tmp = BUF_INIT;
	char *url = NULL, msg[512];
	unsigned long long row = 0, offset = 0, page = 0;
	int rc = -1;

	pg.o = o;
	if (o->next != NULL && (next_kp = keypath_parse(o->next)) == NULL) {
		log_error("--next '%s': expected a path like "
		    ".[\"@odata.nextLink\"] or .next", o->next);
		return -1;
	}
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
		pg.auth = auth_new(&ao, &err);
		if (pg.auth == NULL) {
			log_error("credentials: %s", buf_cstr(&err));
			buf_release(&err);
			goto out;
		}
		buf_release(&err);
	}
	if (o->basic_user != NULL) {
		buf_printf(&tmp, "%s:%s", o->basic_user,
		    o->password != NULL ? o->password : "");
		buf_adds(&basic, "Basic ");
		base64_encode(&basic, tmp.p, tmp.len);
		log_secret(buf_cstr(&basic) + 6);
		explicit_bzero(tmp.p, tmp.len);
	}
	http_opts_init(&ho);
	ho.service = "source";
	ho.max_inflight = 1;
	ho.rate = o->rate;
	ho.insecure = o->insecure;
	ho.cacert = o->cacert;
	if (o->max_attempts > 0)
		ho.max_attempts = o->max_attempts;
	if ((e = http_engine_new(&ho)) == NULL)
		goto out;
	url = o->page_size > 0 ? with_offset(o, 0) : xstrdup(o->url);
	while (url != NULL) {
		struct http_req *r;
		struct json_err je;
		uint32_t arr, i;
		size_t nitems;
		char *next = NULL;

		if (*x->stop)
			break;	/* main reports the interruption */
		if (o->max_pages > 0 && page >= (unsigned long long)o->max_pages) {
			x->partial = 1;	/* more pages exist */
			break;
		}
		page++;
		x->page = page;
		/* credentials go only to the origin they were given for */
		pg.creds = same_origin(o->url, url);
		if (!pg.creds && !o->follow_foreign) {
			struct buf ob = BUF_INIT;

			tmp.len = 0;
			redact_url(&tmp, url);
			origin(&ob, o->url);
			log_error("page %llu: the next link %s is on another "
			    "origin than %s: refused (--follow-foreign-links "
			    "follows it without credentials)", page,
			    buf_cstr(&tmp), buf_cstr(&ob));
			buf_release(&ob);
			goto out;
		}
		if (!pg.creds)
			log_info("page %llu: another origin: no credentials "
			    "sent", page);
		r = http_req_new("GET", url);
		http_req_header(r, "Accept", "application/json");
		if (basic.len > 0 && pg.creds)
			http_req_header(r, "Authorization", buf_cstr(&basic));
		if (o->header_name != NULL && pg.creds)
			http_req_header(r, o->header_name,
			    o->header_value != NULL ? o->header_value : "");
		pg.done = 0;
		pg.reauth = 0;
		http_req_callbacks(r, prepare, classify, done, &pg);
		http_submit(e, r);
		while (!pg.done && !*x->stop)
			http_poll(e, 200, -1, NULL);
		if (!pg.done) {	/* stopped by a signal */
			http_drain(e, 0);
			break;
		}
		if (!pg.ok) {
			tmp.len = 0;
			redact_url(&tmp, url);
			if (pg.status == 401 || pg.status == 403)
				log_error("GET %s: authentication failed: %s",
				    buf_cstr(&tmp), buf_cstr(&pg.why));
			else
				log_error("GET %s: %s", buf_cstr(&tmp),
				    buf_cstr(&pg.why));
			goto out;
		}
		if (tape_parse(&t, pg.body.p, pg.body.len, &je) < 0) {
			log_error("page %llu: not JSON: %s at byte %zu", page,
			    je.msg, je.off);
			goto out;
		}
		if (o->items == NULL && t.nodes[0].type == TAPE_OBJECT &&
		    tape_lookup(&t, 0, "value", 5) != 0) {
			if (extract_items_find(".value", &t, &arr, msg,
			    sizeof(msg)) < 0) {
				log_error("page %llu: %s", page, msg);
				goto out;
			}
		} else if (extract_items_find(o->items, &t, &arr, msg,
		    sizeof(msg)) < 0) {
			log_error("page %llu: %s", page, msg);
			goto out;
		}
		nitems = t.nodes[arr].n;
		for (i = arr + 1; i < t.nodes[arr].next; i = t.nodes[i].next) {
			row++;
			x->in++;
			if (t.nodes[i].type != TAPE_OBJECT) {
				x->failed++;
				tmp.len = 0;
				canon_write(&x->canon, &tmp, &t, i, 0);
				if (extract_fail(x, row, tmp.p, tmp.len, 1,
				    "not_an_object", "page %llu element %llu "
				    "is not a JSON object", page, row) < 0)
					goto out;
				continue;
			}
			if (extract_emit_tape(x, &t, i, "row", row) < 0)
				goto out;
		}
		if (next_kp != NULL) {
			uint32_t k = keypath_eval(next_kp, &t);

			if (k != 0 && t.nodes[k].type == TAPE_STRING &&
			    t.nodes[k].n > 0) {
				char *ref = xmalloc(t.nodes[k].n + 1);

				memcpy(ref, t.nodes[k].p, t.nodes[k].n);
				ref[t.nodes[k].n] = '\0';
				next = resolve(url, ref);
				free(ref);
			}
		} else if (pg.link.len > 0) {
			char *ref = link_next(buf_cstr(&pg.link));

			if (ref != NULL) {
				next = resolve(url, ref);
				free(ref);
			}
		} else if (o->page_size > 0 && nitems >= (size_t)o->page_size) {
			offset += nitems;
			next = with_offset(o, offset);
		}
		if (next != NULL && strcmp(next, url) == 0) {
			log_error("page %llu links to itself as the next page",
			    page);
			free(next);
			goto out;
		}
		free(url);
		url = next;
	}
	rc = 0;
out:
	free(url);
	http_engine_free(e);
	auth_free(pg.auth);
	keypath_free(next_kp);
	tape_release(&t);
	buf_release(&pg.body);
	buf_release(&pg.link);
	buf_release(&pg.why);
	if (basic.p != NULL)
		explicit_bzero(basic.p, basic.len);
	buf_release(&basic);
	buf_release(&tmp);
	return rc;
}
