/*
 * http_req.c - one HTTP request (see http.h): method, URL, headers and body
 * as the caller builds it, its callbacks and limits, and the headers of its
 * answer.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_impl.h"
#include "log.h"
#include "redact.h"

/* ---- requests ---- */

struct http_req *
http_req_new(const char *method, const char *url)
{
	struct http_req *r = xcalloc(1, sizeof(*r));

	r->method = xstrdup(method);
	r->url = xstrdup(url);
	return r;
}

void
http_resp_reset(struct http_req *r)
{
	r->rbody.len = 0;
	r->rhdrs.len = 0;
	r->nhdrs = 0;
	r->errbuf[0] = '\0';
}

void
http_req_free(struct http_req *r)
{
	if (r == NULL)
		return;
	curl_slist_free_all(r->headers);
	curl_slist_free_all(r->ahdrs);
	curl_slist_free_all(r->sent);
	free(r->method);
	free(r->url);
	free(r->body);
	free(r->why);
	buf_release(&r->rbody);
	buf_release(&r->rhdrs);
	if (r->easy != NULL)
		curl_easy_cleanup(r->easy);
	free(r);
}

static struct curl_slist *
slist_add(struct curl_slist *l, const char *name, const char *value)
{
	struct buf b = BUF_INIT;
	struct curl_slist *n;

	/* "Name;" is curl's way to send a header with an empty value */
	if (*value == '\0')
		buf_printf(&b, "%s;", name);
	else
		buf_printf(&b, "%s: %s", name, value);
	n = xalloc_check(curl_slist_append(l, buf_cstr(&b)));
	buf_release(&b);
	return n;
}

void
http_req_header(struct http_req *r, const char *name, const char *value)
{
	if (strcasecmp(name, "content-type") == 0)
		r->has_ctype = 1;
	r->headers = slist_add(r->headers, name, value);
}

void
http_req_attempt_header(struct http_req *r, const char *name,
    const char *value)
{
	r->ahdrs = slist_add(r->ahdrs, name, value);
}

void
http_req_body(struct http_req *r, const void *p, size_t n)
{
	free(r->body);
	r->body = xmalloc(n + 1);
	memcpy(r->body, p, n);
	r->body[n] = '\0';
	r->body_len = n;
}

void
http_req_body_buf(struct http_req *r, struct buf *b)
{
	free(r->body);
	r->body_len = b->len;
	r->body = b->p != NULL ? b->p : xstrdup("");
	b->p = NULL;
	b->len = b->cap = 0;
}

void
http_req_callbacks(struct http_req *r, http_prepare_fn prepare,
    http_classify_fn classify, http_done_fn done, void *user)
{
	r->prepare = prepare;
	r->classify = classify;
	r->done = done;
	r->user = user;
}

void
http_req_limits(struct http_req *r, unsigned max_attempts, long max_total_ms)
{
	r->max_attempts = max_attempts;
	r->max_total_ms = max_total_ms;
}

void
http_req_delay(struct http_req *r, long ms)
{
	r->delay = ms > 0 ? ms : 0;
}

void
http_req_error(struct http_req *r, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_grow(&b, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(b.p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	free(r->why);
	r->why = b.p;
}

const char *
http_req_url(const struct http_req *r)
{
	return r->url;
}

const char *
http_req_method(const struct http_req *r)
{
	return r->method;
}

void *
http_req_user(const struct http_req *r)
{
	return r->user;
}

const char *
http_resp_header(const struct http_resp *resp, const char *name)
{
	const char *p = resp->hdrs_, *v;
	size_t i;

	for (i = 0; i < resp->nhdrs_; i++) {
		v = p + strlen(p) + 1;
		if (strcasecmp(p, name) == 0)
			return v;
		p = v + strlen(v) + 1;
	}
	return NULL;
}
