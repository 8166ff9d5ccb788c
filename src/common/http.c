/*
 * http.c - the libcurl multi engine (see http.h); requests are built in
 * http_req.c, the retry policy is http_policy.c (see http_impl.h).
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

#include "clock.h"
#include "http_impl.h"
#include "buf.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "redact.h"
#include "stats.h"

static int curl_ready;

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
	http_bucket_init(&e->bucket, e->o.rate, e->o.burst, clock_us());
	e->rng = o->seed ? o->seed :
	    ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^
	    (uint64_t)clock_ms();
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
		buf_adds(b, http_terr_name(resp->terr));
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

	resp_fill(r, &resp, 0, terr, why, clock_ms());
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
		r->due = clock_ms() + r->delay;
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
	http_resp_reset(r);
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

static long
dispatch(struct http_engine *e)
{
	int64_t now = clock_ms(), t_us = clock_us(), w_us;
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
		http_bucket_refill(&e->bucket, t_us);
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
	int64_t now = clock_ms();
	long status = 0;

	curl_multi_remove_handle(e->multi, r->easy);
	list_remove(&e->inflight, r);
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	resp_fill(r, &resp, status, http_terr_of(rc), rc == CURLE_OK ? NULL :
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
	int64_t deadline = clock_ms() + max_ms, now;

	while (e->pending > 0) {
		now = clock_ms();
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
	http_bucket_set(&e->bucket, e->o.rate, e->o.burst, clock_us());
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
