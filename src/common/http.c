/*
 * http.c - the libcurl multi engine (see http.h).
 *
 * A request is in exactly one place at a time: the ready queue (waiting
 * for a window slot and a rate token), the inflight list (an easy handle
 * in the multi), or the delayed heap (waiting for its retry time). The
 * done callback ends its life.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http.h"
#include "buf.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "redact.h"
#include "stats.h"

struct http_req {
	struct http_req *prev, *next;	/* ready queue or inflight list */
	struct http_engine *e;
	char *method;
	char *url;
	struct curl_slist *headers;	/* every attempt */
	struct curl_slist *ahdrs;	/* this attempt (prepare) */
	struct curl_slist *sent;	/* what CURLOPT_HTTPHEADER points to */
	int has_ctype;
	char *body;
	size_t body_len;
	http_prepare_fn prepare;
	http_classify_fn classify;
	http_done_fn done;
	void *user;
	unsigned max_attempts;
	long max_total_ms;
	unsigned attempts;
	unsigned throttled;		/* 429s not counted in max_attempts */
	int64_t t_first;		/* ms, monotonic */
	int64_t due;			/* retry time, ms */
	long delay;			/* http_req_delay(), ms */
	uint64_t epoch;			/* AIMD epoch of the attempt */
	CURL *easy;
	struct buf rbody;
	struct buf rhdrs;		/* "name\0value\0" ... */
	size_t nhdrs;
	char *why;			/* http_req_error() */
	char errbuf[CURL_ERROR_SIZE];
};

struct http_list {
	struct http_req *head, *tail;
	size_t n;
};

struct http_engine {
	struct http_opts o;
	CURLM *multi;
	struct http_list ready;
	struct http_list inflight;
	struct http_req **delayed;	/* min-heap on due */
	size_t ndelayed, delayed_cap;
	size_t pending;
	unsigned window;
	unsigned successes;		/* since the last window change */
	uint64_t epoch;
	struct http_bucket bucket;	/* the rate limit */
	uint64_t rng;
	CURL **pool;
	size_t npool, pool_cap;
	struct http_stats st;
	uint64_t *c_requests, *c_retried, *c_throttled, *c_terr;
};

static int curl_ready;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- lists and the heap ---- */

static void
list_push(struct http_list *l, struct http_req *r, int at_head)
{
	if (at_head) {
		r->prev = NULL;
		r->next = l->head;
		if (l->head != NULL)
			l->head->prev = r;
		else
			l->tail = r;
		l->head = r;
	} else {
		r->next = NULL;
		r->prev = l->tail;
		if (l->tail != NULL)
			l->tail->next = r;
		else
			l->head = r;
		l->tail = r;
	}
	l->n++;
}

static void
list_remove(struct http_list *l, struct http_req *r)
{
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		l->head = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	else
		l->tail = r->prev;
	r->prev = r->next = NULL;
	l->n--;
}

static void
heap_push(struct http_engine *e, struct http_req *r)
{
	size_t i, p;

	if (e->ndelayed == e->delayed_cap) {
		e->delayed_cap = e->delayed_cap ? e->delayed_cap * 2 : 16;
		e->delayed = xrealloc(e->delayed,
		    e->delayed_cap * sizeof(*e->delayed));
	}
	i = e->ndelayed++;
	while (i > 0) {
		p = (i - 1) / 2;
		if (e->delayed[p]->due <= r->due)
			break;
		e->delayed[i] = e->delayed[p];
		i = p;
	}
	e->delayed[i] = r;
}

static struct http_req *
heap_pop(struct http_engine *e)
{
	struct http_req *top, *last;
	size_t i, c, n;

	top = e->delayed[0];
	last = e->delayed[--e->ndelayed];
	n = e->ndelayed;
	i = 0;
	while ((c = 2 * i + 1) < n) {
		if (c + 1 < n && e->delayed[c + 1]->due < e->delayed[c]->due)
			c++;
		if (last->due <= e->delayed[c]->due)
			break;
		e->delayed[i] = e->delayed[c];
		i = c;
	}
	if (n > 0)
		e->delayed[i] = last;
	return top;
}

/* ---- policy pieces ---- */

static uint64_t
rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

long
http_backoff_ms(long base_ms, long cap_ms, unsigned n, uint64_t *rng)
{
	long ceil = base_ms;
	unsigned i;

	if (base_ms <= 0 || n == 0)
		return 0;
	for (i = 1; i < n && ceil < cap_ms; i++)
		ceil = ceil > LONG_MAX / 2 ? LONG_MAX : ceil * 2;
	if (ceil > cap_ms)
		ceil = cap_ms;
	if (*rng == 0)
		*rng = 0x9E3779B97F4A7C15ULL;
	return (long)(rng_next(rng) % ((uint64_t)ceil + 1));
}

long
http_parse_retry_after(const char *v, time_t now)
{
	const char *p;
	time_t t;

	if (v == NULL)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	for (p = v; isdigit((unsigned char)*p); p++)
		;
	if (p > v) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '\0' || p - v > 9)
			return -1;
		return strtol(v, NULL, 10) * 1000;
	}
	t = curl_getdate(v, NULL);
	if (t == -1)
		return -1;
	return t <= now ? 0 : (long)(t - now) * 1000;
}

static long
parse_ms(const char *v)
{
	char *end;
	double d;

	if (v == NULL)
		return -1;
	errno = 0;
	d = strtod(v, &end);
	if (end == v || errno != 0 || d < 0 || d > 86400000.0)
		return -1;
	while (*end == ' ' || *end == '\t')
		end++;
	return *end == '\0' ? (long)(d + 0.999) : -1;
}

long
http_retry_after_ms(const struct http_resp *resp, time_t now)
{
	long ms;

	if ((ms = parse_ms(http_resp_header(resp, "x-ms-retry-after-ms"))) >= 0)
		return ms;
	if ((ms = parse_ms(http_resp_header(resp, "retry-after-ms"))) >= 0)
		return ms;
	return http_parse_retry_after(http_resp_header(resp, "retry-after"),
	    now);
}

enum http_verdict
http_classify_default(const struct http_resp *resp, void *user)
{
	switch (resp->terr) {
	case HTTP_TE_NONE:
		break;
	case HTTP_TE_CONNECT:
	case HTTP_TE_TIMEOUT:
	case HTTP_TE_DROPPED:
		return HTTP_RETRY;
	default:
		return HTTP_FAIL;
	}
	if (resp->status >= 200 && resp->status < 300)
		return HTTP_OK;
	switch (resp->status) {
	case 408: case 429: case 500: case 502: case 503: case 504:
		return HTTP_RETRY;
	}
	return HTTP_FAIL;
}

static enum http_terr
terr_of(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return HTTP_TE_NONE;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return HTTP_TE_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTP_TE_TIMEOUT;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		return HTTP_TE_DROPPED;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_ENGINE_NOTFOUND:
		return HTTP_TE_TLS;
	default:
		return HTTP_TE_OTHER;
	}
}

static const char *
terr_name(enum http_terr t)
{
	static const char *const names[] = {
		"ok", "connect error", "timeout", "connection dropped",
		"TLS error", "cancelled", "transport error", "not sent"
	};

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ?
	    names[t] : "transport error";
}

void
http_redact(struct buf *b, const char *name, const char *value)
{
	static const char *const secret[] = {
		"authorization", "proxy-authorization", "x-identity-header",
		"cookie", "set-cookie", "api-key"
	};
	static const char *const suffix[] = { "-key", "-secret", "-token" };
	size_t i, nl = strlen(name), sl;
	int hide = 0;

	for (i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
		if (strcasecmp(name, secret[i]) == 0)
			hide = 1;
	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		sl = strlen(suffix[i]);
		if (nl >= sl && strcasecmp(name + nl - sl, suffix[i]) == 0)
			hide = 1;
	}
	buf_printf(b, "%s: %s", name, hide ? "***" : value);
}

/* ---- requests ---- */

struct http_req *
http_req_new(const char *method, const char *url)
{
	struct http_req *r = xcalloc(1, sizeof(*r));

	r->method = xstrdup(method);
	r->url = xstrdup(url);
	return r;
}

static void
resp_reset(struct http_req *r)
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

/* ---- libcurl callbacks ---- */

static size_t
on_body(char *p, size_t size, size_t n, void *ud)
{
	struct http_req *r = ud;

	buf_add(&r->rbody, p, size * n);
	return size * n;
}

static size_t
on_header(char *p, size_t size, size_t n, void *ud)
{
	struct http_req *r = ud;
	size_t len = size * n, nl;
	const char *colon, *v, *end = p + len;

	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue or a redirect) */
		r->rhdrs.len = 0;
		r->nhdrs = 0;
		return len;
	}
	while (end > p && (end[-1] == '\n' || end[-1] == '\r' ||
	    end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if ((colon = memchr(p, ':', (size_t)(end - p))) == NULL)
		return len;
	nl = (size_t)(colon - p);
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	buf_add(&r->rhdrs, p, nl);
	buf_addc(&r->rhdrs, '\0');
	buf_add(&r->rhdrs, v, (size_t)(end - v));
	buf_addc(&r->rhdrs, '\0');
	r->nhdrs++;
	return len;
}

/* ---- the engine ---- */

void
http_opts_init(struct http_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_inflight = 16;
	o->connect_timeout_ms = 10000;
	o->timeout_ms = 60000;
	o->max_attempts = 10;
	o->max_total_ms = 300000;
	o->backoff_base_ms = 500;
	o->backoff_cap_ms = 30000;
	o->retry_after_max_ms = 60000;
	o->aimd_increase = 8;
	o->burst = 1;
}

struct http_engine *
http_engine_new(const struct http_opts *o)
{
	struct http_engine *e;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			log_error("http: cannot initialize libcurl");
			return NULL;
		}
		curl_ready = 1;
	}
	e = xcalloc(1, sizeof(*e));
	e->o = *o;
	if (e->o.max_inflight == 0)
		e->o.max_inflight = 1;
	if (e->o.max_attempts == 0)
		e->o.max_attempts = 1;
	if (e->o.burst < 1)
		e->o.burst = 1;
	if ((e->multi = curl_multi_init()) == NULL) {
		log_error("http: cannot create a libcurl multi handle");
		free(e);
		return NULL;
	}
	curl_multi_setopt(e->multi, CURLMOPT_PIPELINING,
	    (long)CURLPIPE_MULTIPLEX);
	curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS,
	    (long)e->o.max_inflight + 4);
	e->window = e->o.max_inflight;
	e->st.window = e->window;
	http_bucket_init(&e->bucket, e->o.rate, e->o.burst, now_us());
	e->rng = o->seed ? o->seed :
	    ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^
	    (uint64_t)now_ms();
	if (e->rng == 0)
		e->rng = 1;
	if (!e->o.no_stats) {
		e->c_requests = stats_counter("requests");
		e->c_retried = stats_counter("retried");
		e->c_throttled = stats_counter("throttled");
		e->c_terr = stats_counter("transport_errors");
	}
	return e;
}

static void
count(uint64_t *c)
{
	if (c != NULL)
		(*c)++;
}

static void
easy_release(struct http_engine *e, struct http_req *r)
{
	if (r->easy == NULL)
		return;
	if (e->npool == e->pool_cap) {
		e->pool_cap = e->pool_cap ? e->pool_cap * 2 : 16;
		e->pool = xrealloc(e->pool, e->pool_cap * sizeof(*e->pool));
	}
	e->pool[e->npool++] = r->easy;
	r->easy = NULL;
}

static void
resp_fill(struct http_req *r, struct http_resp *resp, long status,
    enum http_terr terr, const char *error, int64_t now)
{
	memset(resp, 0, sizeof(*resp));
	resp->status = status;
	resp->terr = terr;
	resp->error = error;
	resp->body = r->rbody.p != NULL ? buf_cstr(&r->rbody) : "";
	resp->body_len = r->rbody.len;
	resp->attempts = r->attempts;
	resp->throttled = r->throttled;
	resp->elapsed_ms = r->attempts ? (long)(now - r->t_first) : 0;
	resp->hdrs_ = r->rhdrs.p;
	resp->nhdrs_ = r->nhdrs;
}

static void
describe(struct buf *b, const struct http_resp *resp)
{
	if (resp->terr != HTTP_TE_NONE) {
		buf_adds(b, terr_name(resp->terr));
		if (resp->error != NULL && *resp->error != '\0')
			buf_printf(b, ": %s", resp->error);
	} else
		buf_printf(b, "HTTP %ld", resp->status);
}

/* End r's life: the done callback, then free. */
static void
finish(struct http_engine *e, struct http_req *r, enum http_verdict v,
    struct http_resp *resp)
{
	e->pending--;
	if (v == HTTP_OK)
		e->st.ok++;
	else
		e->st.failed++;
	if (log_enabled(LV_DEBUG)) {
		struct buf u = BUF_INIT;

		redact_url(&u, r->url);
		log_debug("http: %s %s: %s after %u attempt(s)", r->method,
		    buf_cstr(&u), v == HTTP_OK ? "ok" : resp->why,
		    r->attempts);
		buf_release(&u);
	}
	if (r->done != NULL)
		r->done(r, v, resp, r->user);
	easy_release(e, r);
	http_req_free(r);
}

static void
finish_msg(struct http_engine *e, struct http_req *r, enum http_terr terr,
    const char *why)
{
	struct http_resp resp;

	resp_fill(r, &resp, 0, terr, why, now_ms());
	resp.why = why;
	finish(e, r, HTTP_FAIL, &resp);
}

void
http_submit(struct http_engine *e, struct http_req *r)
{
	r->e = e;
	if (r->max_attempts == 0)
		r->max_attempts = e->o.max_attempts;
	if (r->max_total_ms == 0)
		r->max_total_ms = e->o.max_total_ms;
	e->pending++;
	e->st.submitted++;
	if (r->delay > 0) {
		r->due = now_ms() + r->delay;
		heap_push(e, r);
	} else
		list_push(&e->ready, r, 0);
}

static void
log_attempt(const struct http_req *r)
{
	const struct curl_slist *h;
	struct buf b = BUF_INIT;
	const char *colon;
	char *name;

	buf_printf(&b, "http: > %s ", r->method);
	redact_url(&b, r->url);
	buf_printf(&b, " (attempt %u)", r->attempts);
	for (h = r->sent; h != NULL; h = h->next) {
		if ((colon = strchr(h->data, ':')) == NULL)
			continue;
		name = xmalloc((size_t)(colon - h->data) + 1);
		memcpy(name, h->data, (size_t)(colon - h->data));
		name[colon - h->data] = '\0';
		buf_adds(&b, "\n  ");
		http_redact(&b, name, colon[1] == ' ' ? colon + 2 : colon + 1);
		free(name);
	}
	log_debug("%s", buf_cstr(&b));
	buf_release(&b);
}

/*
 * r's attempt asked for a retry: schedule it after Retry-After or a jittered
 * backoff, unless that breaks its attempt or time budget (then it fails).
 */
static void
retry_or_fail(struct http_engine *e, struct http_req *r,
    struct http_resp *resp, int64_t now)
{
	struct buf why = BUF_INIT;
	long delay, ra;

	ra = http_retry_after_ms(resp, time(NULL));
	if (ra >= 0)
		delay = ra < e->o.retry_after_max_ms ? ra :
		    e->o.retry_after_max_ms;
	else
		delay = http_backoff_ms(e->o.backoff_base_ms,
		    e->o.backoff_cap_ms, r->attempts, &e->rng);
	/* a 429 that says when to come back is not the request's fault:
	   the time budget bounds those, not the attempt budget */
	if (resp->status == 429 && ra >= 0 && r->max_total_ms > 0)
		r->throttled++;
	if (r->attempts - r->throttled >= r->max_attempts) {
		buf_printf(&why, "gave up after %u attempts", r->attempts);
		if (r->throttled > 0)
			buf_printf(&why, " (%u of them 429s)", r->throttled);
		buf_adds(&why, ": ");
	} else if (r->max_total_ms > 0 &&
	    now + delay - r->t_first >= r->max_total_ms) {
		buf_printf(&why, "gave up after %u attempts (time limit "
		    "%ldms): ", r->attempts, r->max_total_ms);
	} else {
		if (log_enabled(LV_DEBUG)) {
			struct buf u = BUF_INIT;

			describe(&why, resp);
			redact_url(&u, r->url);
			log_debug("http: %s %s: %s, retry in %ldms",
			    r->method, buf_cstr(&u), buf_cstr(&why), delay);
			buf_release(&u);
			buf_release(&why);
		}
		easy_release(e, r);
		r->due = now + delay;
		heap_push(e, r);
		return;
	}
	describe(&why, resp);
	resp->why = buf_cstr(&why);
	finish(e, r, HTTP_FAIL, resp);
	buf_release(&why);
}

/* Start the next attempt of r; it ends in the inflight list or finished. */
static void
start(struct http_engine *e, struct http_req *r, int64_t now)
{
	const struct curl_slist *h;
	long tmo;
	CURL *c;
	int rc;

	if (r->attempts++ == 0)
		r->t_first = now;
	else {
		e->st.retries++;
		count(e->c_retried);
	}
	curl_slist_free_all(r->ahdrs);
	r->ahdrs = NULL;
	resp_reset(r);
	if (r->prepare != NULL && (rc = r->prepare(r, r->user)) != 0) {
		const char *why = r->why != NULL ? r->why :
		    "request preparation failed";
		struct http_resp resp;

		if (rc < 0) {
			finish_msg(e, r, HTTP_TE_PREPARE, why);
			return;
		}
		resp_fill(r, &resp, 0, HTTP_TE_PREPARE, why, now);
		retry_or_fail(e, r, &resp, now);
		return;
	}
	curl_slist_free_all(r->sent);
	r->sent = NULL;
	for (h = r->headers; h != NULL; h = h->next)
		r->sent = xalloc_check(curl_slist_append(r->sent, h->data));
	for (h = r->ahdrs; h != NULL; h = h->next)
		r->sent = xalloc_check(curl_slist_append(r->sent, h->data));
	if (!r->has_ctype)	/* or libcurl adds a form type to bodies */
		r->sent = xalloc_check(curl_slist_append(r->sent,
		    "Content-Type:"));
	r->sent = xalloc_check(curl_slist_append(r->sent, "Expect:"));

	tmo = e->o.timeout_ms;
	if (r->max_total_ms > 0) {
		long left = r->max_total_ms - (long)(now - r->t_first);

		if (left < 1)
			left = 1;
		if (tmo <= 0 || left < tmo)
			tmo = left;
	}
	if (e->npool > 0) {
		c = e->pool[--e->npool];
		curl_easy_reset(c);
	} else if ((c = curl_easy_init()) == NULL) {
		finish_msg(e, r, HTTP_TE_OTHER, "cannot create a curl handle");
		return;
	}
	r->easy = c;
	curl_easy_setopt(c, CURLOPT_URL, r->url);
	/* send the path as url.h built it: no dot segment removal */
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_PRIVATE, r);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->sent);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, e->o.connect_timeout_ms);
	if (tmo > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, tmo);
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, e->o.http1 ?
	    (long)CURL_HTTP_VERSION_1_1 : (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (e->o.cacert != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, e->o.cacert);
	if (e->o.insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (strcmp(r->method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(r->method, "GET") != 0 || r->body != NULL) {
		if (strcmp(r->method, "POST") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
		if (r->body != NULL || strcmp(r->method, "POST") == 0 ||
		    strcmp(r->method, "PUT") == 0 ||
		    strcmp(r->method, "PATCH") == 0) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
			    (curl_off_t)r->body_len);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS,
			    r->body != NULL ? r->body : "");
		}
	}
	r->epoch = e->epoch;
	if (log_enabled(LV_DEBUG))
		log_attempt(r);
	if (curl_multi_add_handle(e->multi, c) != CURLM_OK) {
		finish_msg(e, r, HTTP_TE_OTHER, "cannot add a curl handle");
		return;
	}
	list_push(&e->inflight, r, 0);
	if (e->inflight.n > e->st.max_inflight_seen)
		e->st.max_inflight_seen = (unsigned)e->inflight.n;
	e->st.attempts++;
	count(e->c_requests);
}

/*
 * The token bucket (http.h). The depth alone would cap the tokens while a
 * start waits too, and every wake-up that comes late (poll(2) counts whole
 * milliseconds) would lose what accrued past it: at depth 1 and 500/s,
 * waiting 3 ms a token delivered 64% of the rate asked. So the wait is
 * exact (rounded up) and a start that waited keeps up to BUCKET_CATCHUP
 * of lateness.
 */
#define BUCKET_CATCHUP 0.05	/* s of rate made up after a late wake-up */

static void
bucket_refill(struct http_bucket *b, int64_t now_us)
{
	double cap = b->burst;

	if (now_us > b->t_us && b->rate > 0) {
		b->tokens += (double)(now_us - b->t_us) * b->rate / 1e6;
		if (b->starved)
			cap += b->rate * BUCKET_CATCHUP;
		if (b->tokens > cap)
			b->tokens = cap;
	}
	if (now_us > b->t_us)
		b->t_us = now_us;
}

void
http_bucket_init(struct http_bucket *b, double rate, double burst,
    int64_t now_us)
{
	b->rate = rate > 0 ? rate : 0;
	b->burst = burst >= 1 ? burst : 1;
	b->tokens = b->burst;
	b->t_us = now_us;
	b->starved = 0;
}

void
http_bucket_set(struct http_bucket *b, double rate, double burst,
    int64_t now_us)
{
	if (b->rate > 0)
		bucket_refill(b, now_us);
	else {
		b->tokens = burst;
		b->starved = 0;
	}
	b->t_us = now_us;
	b->rate = rate > 0 ? rate : 0;
	b->burst = burst >= 1 ? burst : 1;
	if (b->tokens > b->burst)
		b->tokens = b->burst;
}

int
http_bucket_take(struct http_bucket *b, int64_t now_us, int64_t *wait_us)
{
	if (b->rate <= 0)
		return 1;
	bucket_refill(b, now_us);
	if (b->tokens >= 1) {
		b->tokens -= 1;
		b->starved = 0;
		return 1;
	}
	b->starved = 1;
	*wait_us = (int64_t)ceil((1 - b->tokens) * 1e6 / b->rate);
	if (*wait_us < 1)
		*wait_us = 1;
	return 0;
}

/* Start what may start; returns ms until a blocked start may go, or -1. */
static long
dispatch(struct http_engine *e)
{
	int64_t now = now_ms(), t_us = now_us(), w_us;
	struct http_req *r;
	long wait = -1;

	while (e->ndelayed > 0 && e->delayed[0]->due <= now)
		list_push(&e->ready, heap_pop(e), 1);
	while (e->ready.head != NULL && e->inflight.n < e->window) {
		if (!http_bucket_take(&e->bucket, t_us, &w_us)) {
			wait = (long)((w_us + 999) / 1000);
			break;
		}
		r = e->ready.head;
		list_remove(&e->ready, r);
		start(e, r, now);
	}
	if (wait < 0 && e->bucket.starved) {
		/* nothing waits for a token any more (window, empty queue) */
		bucket_refill(&e->bucket, t_us);
		e->bucket.starved = 0;
	}
	if (e->ndelayed > 0) {
		long d = (long)(e->delayed[0]->due - now);

		if (wait < 0 || d < wait)
			wait = d < 0 ? 0 : d;
	}
	return wait;
}

static void
aimd_throttled(struct http_engine *e, const struct http_req *r)
{
	if (e->o.aimd_increase == 0 || r->epoch != e->epoch)
		return;
	e->window = e->window > 1 ? e->window / 2 : 1;
	e->epoch++;
	e->successes = 0;
	e->st.window_cuts++;
	e->st.window = e->window;
}

static void
aimd_ok(struct http_engine *e)
{
	if (e->o.aimd_increase == 0 || e->window >= e->o.max_inflight)
		return;
	if (++e->successes >= e->o.aimd_increase) {
		e->window++;
		e->successes = 0;
		e->st.window = e->window;
	}
}

/* The attempt's latency into the histogram by service and status. */
static void
observe(struct http_engine *e, struct http_req *r, long status)
{
	curl_off_t us = 0;
	char labels[96];

	curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME_T, &us);
	snprintf(labels, sizeof(labels), "service=\"%s\",status=\"%ld\"",
	    e->o.service != NULL ? e->o.service : "http", status);
	metrics_observe("twinpipe_http_request_duration_seconds", labels,
	    (double)us / 1e6);
}

/* One attempt of r ended with rc. */
static void
complete(struct http_engine *e, struct http_req *r, CURLcode rc)
{
	struct http_resp resp;
	struct buf why = BUF_INIT;
	enum http_verdict v;
	http_classify_fn classify;
	int64_t now = now_ms();
	long status = 0;

	curl_multi_remove_handle(e->multi, r->easy);
	list_remove(&e->inflight, r);
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	resp_fill(r, &resp, status, terr_of(rc), rc == CURLE_OK ? NULL :
	    (r->errbuf[0] != '\0' ? r->errbuf : curl_easy_strerror(rc)), now);
	if (resp.terr != HTTP_TE_NONE) {
		e->st.transport_errors++;
		count(e->c_terr);
	}
	if (status >= 0 && status < 600)
		e->st.status[status]++;
	if (!e->o.no_stats)
		observe(e, r, status);
	if (status == 429) {
		e->st.throttled++;
		count(e->c_throttled);
		aimd_throttled(e, r);
	}
	classify = r->classify != NULL ? r->classify : http_classify_default;
	v = classify(&resp, r->user);
	if (v == HTTP_OK) {
		aimd_ok(e);
		finish(e, r, v, &resp);
		return;
	}
	if (v != HTTP_RETRY) {
		describe(&why, &resp);
		resp.why = buf_cstr(&why);
		finish(e, r, HTTP_FAIL, &resp);
		buf_release(&why);
		return;
	}
	retry_or_fail(e, r, &resp, now);
}

/* Run libcurl and handle completions until nothing more is due now. */
static long
work(struct http_engine *e)
{
	struct http_req *r;
	CURLMsg *m;
	long wait;
	int running, left, done;

	do {
		wait = dispatch(e);
		curl_multi_perform(e->multi, &running);
		done = 0;
		while ((m = curl_multi_info_read(e->multi, &left)) != NULL) {
			if (m->msg != CURLMSG_DONE)
				continue;
			r = NULL;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
			    (char **)&r);
			complete(e, r, m->data.result);
			done++;
		}
	} while (done > 0);
	return wait;
}

size_t
http_poll(struct http_engine *e, long timeout_ms, int fd, int *fd_ready)
{
	struct curl_waitfd wfd;
	uint64_t finished = e->st.ok + e->st.failed;
	long wait;

	if (fd_ready != NULL)
		*fd_ready = 0;
	wait = work(e);
	if (e->pending == 0 && fd < 0)
		return 0;
	/* done callbacks ran: the caller may have work they made (a key's
	   next operation); waiting here would hold it until the next
	   answer or timer, when throttled up to a Retry-After later */
	if (e->st.ok + e->st.failed != finished)
		timeout_ms = 0;
	if (timeout_ms < 0 || timeout_ms > INT_MAX)
		timeout_ms = INT_MAX;
	if (wait >= 0 && wait < timeout_ms)
		timeout_ms = wait;
	memset(&wfd, 0, sizeof(wfd));
	wfd.fd = fd;
	wfd.events = CURL_WAIT_POLLIN;
	curl_multi_poll(e->multi, fd >= 0 ? &wfd : NULL, fd >= 0 ? 1 : 0,
	    (int)timeout_ms, NULL);
	if (fd >= 0 && fd_ready != NULL && wfd.revents != 0)
		*fd_ready = 1;
	work(e);
	return e->pending;
}

void
http_run(struct http_engine *e)
{
	while (http_poll(e, -1, -1, NULL) > 0)
		;
}

static size_t
cancel_all(struct http_engine *e)
{
	struct http_req *r;
	size_t n = 0;

	while (e->pending > 0) {
		if ((r = e->inflight.head) != NULL) {
			curl_multi_remove_handle(e->multi, r->easy);
			list_remove(&e->inflight, r);
		} else if ((r = e->ready.head) != NULL)
			list_remove(&e->ready, r);
		else if (e->ndelayed > 0)
			r = heap_pop(e);
		else
			break;
		finish_msg(e, r, HTTP_TE_CANCELLED, "cancelled");
		n++;
	}
	return n;
}

size_t
http_drain(struct http_engine *e, long max_ms)
{
	int64_t deadline = now_ms() + max_ms, now;

	while (e->pending > 0) {
		now = now_ms();
		if (max_ms >= 0 && now >= deadline)
			break;
		http_poll(e, max_ms < 0 ? -1 : (long)(deadline - now), -1,
		    NULL);
	}
	return cancel_all(e);
}

void
http_engine_free(struct http_engine *e)
{
	size_t i;

	if (e == NULL)
		return;
	cancel_all(e);
	for (i = 0; i < e->npool; i++)
		curl_easy_cleanup(e->pool[i]);
	free(e->pool);
	free(e->delayed);
	curl_multi_cleanup(e->multi);
	free(e);
}

void
http_set_rate(struct http_engine *e, double rate, double burst)
{
	e->o.rate = rate > 0 ? rate : 0;
	e->o.burst = burst >= 1 ? burst : 1;
	http_bucket_set(&e->bucket, e->o.rate, e->o.burst, now_us());
}

size_t
http_pending(const struct http_engine *e)
{
	return e->pending;
}

size_t
http_inflight(const struct http_engine *e)
{
	return e->inflight.n;
}

int
http_full(const struct http_engine *e)
{
	return e->ready.n >= e->window;
}

const struct http_stats *
http_engine_stats(const struct http_engine *e)
{
	return &e->st;
}

void
http_error_text(const struct http_resp *resp, const char *inner,
    struct buf *code, struct buf *msg)
{
	jv v = jv_invalid(), e = jv_invalid();
	struct json_err je;
	const char *cs, *ms;

	if (resp->body_len > 0 && json_parse(resp->body, resp->body_len, &v,
	    NULL, &je) == 0) {
		e = inner != NULL ? json_get(v, inner) : jv_copy(v);
		cs = json_get_str(e, "code");
		ms = json_get_str(e, "message");
		if (cs != NULL)
			buf_adds(code, cs);
		if (ms != NULL)
			buf_adds(msg, ms);
	}
	jv_free(e);
	jv_free(v);
	if (code->len == 0)
		buf_printf(code, "http_%ld", resp->status);
	/* resp->why adds what the service's message lacks: retries, transport */
	if (resp->why != NULL && (msg->len == 0 ||
	    strncmp(resp->why, "HTTP ", 5) != 0)) {
		if (msg->len > 0)
			buf_adds(msg, " (");
		buf_adds(msg, resp->why);
		if (msg->len > strlen(resp->why))
			buf_addc(msg, ')');
	} else if (msg->len == 0) {
		buf_printf(msg, "HTTP %ld", resp->status);
	}
}
