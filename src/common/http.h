/*
 * http.h - the one HTTP client of twinpipe: a libcurl multi engine.
 *
 * A program creates one engine, submits requests and runs the engine's
 * loop; each request ends in exactly one call of its done callback. The
 * engine owns everything between: the concurrency cap, HTTP/2 multiplexing
 * and connection reuse, per-attempt timeouts, retries with exponential
 * backoff and full jitter, Retry-After, a per-request attempt and time
 * budget, an AIMD window on 429 and an optional request-rate limit. The
 * caller only says, per response, whether it was ok, worth a retry, or a
 * failure (Fluent Bit's FLB_OK / FLB_RETRY / FLB_ERROR split).
 *
 *	http_opts_init(&o);
 *	o.max_inflight = 32;
 *	e = http_engine_new(&o);
 *	while (!stop) {				// stop: set by SIGTERM
 *		if (http_full(e)) {		// backpressure
 *			http_poll(e, -1, -1, NULL);
 *			continue;
 *		}
 *		if (read_record(&rec) <= 0)	// may block: see below
 *			break;
 *		r = http_req_new("PUT", url);
 *		http_req_header(r, "Content-Type", "application/json");
 *		http_req_body(r, json, len);
 *		http_req_callbacks(r, prepare, NULL, done, rec);
 *		http_submit(e, r);
 *		http_poll(e, 0, -1, NULL);	// keep the engine moving
 *	}
 *	http_drain(e, 30000);			// finish, then cancel the rest
 *	http_engine_free(e);
 *
 * A program whose input can stall (a pipe from a slow producer) passes its
 * input fd to http_poll() and reads only once it is readable (or when its
 * reader still has buffered lines), so that responses are handled while
 * it waits.
 *
 * Per-attempt headers. The prepare callback runs before every attempt,
 * so that anything that must be fresh (a bearer token, a Cosmos signature
 * over a new x-ms-date) is computed for that attempt with
 * http_req_attempt_header(); those headers are dropped after the attempt.
 *
 * Ordering. The engine does not order requests: retries and concurrency
 * reorder them freely. A program that must keep the operations on one key
 * (a twin, a document) in input order submits a key's next operation only
 * from the done callback of the previous one; keyq.h does the bookkeeping.
 *
 * Throttling. Every 429 counts; the first 429 of a request started after
 * the last cut halves the in-flight window (so a burst of 429s from one
 * window of requests halves it once), and every aimd_increase successes
 * add one slot back, up to max_inflight. Retry-After, x-ms-retry-after-ms
 * and retry-after-ms delay only the request that got them. With rate set,
 * a token bucket also spaces the starts of attempts (retries included).
 *
 * Counters. Besides http_engine_stats(), the engine adds to the stats.h
 * counters "requests" (attempts), "retried", "throttled" (429s) and
 * "transport_errors", registered by http_engine_new() (after the
 * program's own, so the summary reads in / ok / failed / requests ...),
 * and every attempt's duration to the metrics.h histogram
 * twinpipe_http_request_duration_seconds{service,status} (status 0: no
 * answer), service from http_opts.service.
 *
 * Re-entrancy. Callbacks may call http_submit() (not http_poll() or
 * http_engine_free()). Single-threaded: one thread uses an engine.
 *
 * Logging. At debug level every attempt is logged with its URL and
 * headers; Authorization-like header values and SAS signatures are
 * redacted there (http_redact(), redact_url() of redact.h). Bodies are never
 * logged.
 */
#ifndef TP_HTTP_H
#define TP_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

/* What a response means to the caller; returned by classify callbacks. */
enum http_verdict {
	HTTP_OK = 0,		/* done, success */
	HTTP_RETRY = 1,		/* transient: try again if the budget allows */
	HTTP_FAIL = 2		/* done, failed (not worth a retry) */
};

/* Why no HTTP response arrived (http_resp.terr). */
enum http_terr {
	HTTP_TE_NONE = 0,
	HTTP_TE_CONNECT,	/* refused, unreachable, could not resolve */
	HTTP_TE_TIMEOUT,	/* connect or attempt timeout */
	HTTP_TE_DROPPED,	/* reset, closed, partial response, h2 stream */
	HTTP_TE_TLS,		/* certificate or handshake failure */
	HTTP_TE_CANCELLED,	/* ended by http_drain() / http_engine_free() */
	HTTP_TE_OTHER,		/* anything else libcurl reports */
	HTTP_TE_PREPARE		/* the prepare callback failed (not sent) */
};

struct http_opts {
	unsigned max_inflight;		/* concurrency cap (default 16) */
	long connect_timeout_ms;	/* default 10000 */
	long timeout_ms;		/* whole attempt (default 60000) */
	unsigned max_attempts;		/* per request (default 10); a 429
					   with Retry-After does not count
					   when max_total_ms bounds it */
	long max_total_ms;		/* per request from its first attempt,
					   0 = no limit (default 300000) */
	long backoff_base_ms;		/* default 500 */
	long backoff_cap_ms;		/* default 30000 */
	long retry_after_max_ms;	/* Retry-After is clamped to this
					   (default 60000) */
	unsigned aimd_increase;		/* window +1 after this many successes
					   (default 8); 0 = no AIMD */
	double rate;			/* requests/s started, 0 = unlimited */
	double burst;			/* token bucket depth (default 1) */
	const char *cacert;		/* CA bundle file, NULL = system */
	int insecure;			/* 1: no TLS verification (--insecure) */
	int http1;			/* 1: no HTTP/2 */
	int no_stats;			/* 1: do not feed stats.h counters
					   nor metrics.h */
	const char *service;		/* metrics label: "adt", "cosmos",
					   "blob"; NULL = "http" */
	uint64_t seed;			/* jitter seed, 0 = from time and pid */
};

/* Counters of one engine (http_engine_stats()). */
struct http_stats {
	uint64_t submitted;		/* requests submitted */
	uint64_t attempts;		/* HTTP attempts started ("requests") */
	uint64_t retries;		/* attempts that were retries */
	uint64_t throttled;		/* 429 answers seen */
	uint64_t transport_errors;	/* attempts without an HTTP answer */
	uint64_t ok, failed;		/* requests finished either way */
	uint64_t window_cuts;		/* AIMD halvings */
	unsigned window;		/* current in-flight limit */
	unsigned max_inflight_seen;	/* highest concurrency reached */
	uint64_t status[600];		/* answers per HTTP status (0..599) */
};

/* One attempt's outcome, as classify and done callbacks see it. */
struct http_resp {
	long status;		/* HTTP status, 0 if none arrived */
	enum http_terr terr;	/* HTTP_TE_NONE if the exchange completed */
	const char *error;	/* transport error text, or NULL */
	const char *body;	/* NUL-terminated (not counted in body_len) */
	size_t body_len;
	unsigned attempts;	/* attempts made so far, this one included */
	unsigned throttled;	/* of the earlier ones, 429s that did not
				   count against max_attempts */
	long elapsed_ms;	/* since the first attempt started */
	const char *why;	/* done only: NULL on success, else why the
				   request failed ("HTTP 404", "gave up after
				   10 attempts: HTTP 503", ...) */
	/* private */
	const char *hdrs_;
	size_t nhdrs_;
};

struct http_engine;
struct http_req;

/*
 * Called before every attempt, the first included. Returns 0 to go on; -1
 * to fail the request; 1 to count this as a failed attempt and retry after
 * the backoff, within the request's budget (e.g. a token endpoint that is
 * briefly unreachable). Before -1 or 1, http_req_error() says why: it
 * becomes http_resp.error and http_resp.why (terr HTTP_TE_PREPARE).
 */
typedef int (*http_prepare_fn)(struct http_req *r, void *user);
/* Decide what a response means; NULL means http_classify_default. */
typedef enum http_verdict (*http_classify_fn)(const struct http_resp *resp,
    void *user);
/*
 * Called exactly once per request with HTTP_OK or HTTP_FAIL and the last
 * attempt's response (valid during the call only). The request is freed
 * when the callback returns.
 */
typedef void (*http_done_fn)(struct http_req *r, enum http_verdict v,
    const struct http_resp *resp, void *user);

/* Fill o with the defaults above. This function can't fail. */
void http_opts_init(struct http_opts *o);

/*
 * Create an engine. Calls curl_global_init() once per process. Returns
 * NULL (after logging why) if libcurl cannot be initialized.
 */
struct http_engine *http_engine_new(const struct http_opts *o);
/*
 * Cancel whatever is still queued or in flight (their done callbacks run
 * with HTTP_FAIL, HTTP_TE_CANCELLED) and free the engine. NULL is a no-op.
 */
void http_engine_free(struct http_engine *e);

/*
 * A new request. method is any HTTP method ("GET", "PUT", "PATCH", ...);
 * url is copied. Aborts on out of memory, otherwise can't fail.
 */
struct http_req *http_req_new(const char *method, const char *url);
/*
 * Free a request that was never submitted. NULL is a no-op. Submitted
 * requests belong to the engine.
 */
void http_req_free(struct http_req *r);
/* Add a header sent on every attempt (copied). */
void http_req_header(struct http_req *r, const char *name, const char *value);
/* Add a header for the coming attempt only; for prepare callbacks. */
void http_req_attempt_header(struct http_req *r, const char *name,
    const char *value);
/* Set the body to a copy of p[0..n). */
void http_req_body(struct http_req *r, const void *p, size_t n);
/* Set the body to b's bytes; b is emptied (its memory moves). */
void http_req_body_buf(struct http_req *r, struct buf *b);
/* Callbacks and the user pointer they get; any but done may be NULL. */
void http_req_callbacks(struct http_req *r, http_prepare_fn prepare,
    http_classify_fn classify, http_done_fn done, void *user);
/* Override the engine's max_attempts / max_total_ms for this request
 * (0 keeps the engine's value). */
void http_req_limits(struct http_req *r, unsigned max_attempts,
    long max_total_ms);
/*
 * Let the first attempt start no earlier than ms after http_submit() (e.g.
 * when the service said that the resource is busy until then); the time
 * budget counts from that attempt. 0: at once (the default).
 */
void http_req_delay(struct http_req *r, long ms);
/* Record why a prepare callback fails the request (printf style). */
void http_req_error(struct http_req *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Borrowed accessors. */
const char *http_req_url(const struct http_req *r);
const char *http_req_method(const struct http_req *r);
void *http_req_user(const struct http_req *r);

/*
 * Queue r; the engine owns it from now on. Can be called from callbacks.
 * This function can't fail.
 */
void http_submit(struct http_engine *e, struct http_req *r);

/*
 * Do all work that is due, then wait at most timeout_ms (-1: until
 * something happens) for network activity, a retry timer, or fd becoming
 * readable (fd < 0: none); then do the work that became due. Callbacks run
 * inside. When that first round finished requests (done callbacks ran),
 * it does not wait, so that the caller acts at once on what they left it
 * (a key's next operation). *fd_ready (may be NULL) is set to 1 if fd is
 * readable.
 * Returns the number of unfinished requests (queued, waiting for a retry
 * or in flight). With nothing unfinished and no fd, returns 0 at once.
 */
size_t http_poll(struct http_engine *e, long timeout_ms, int fd,
    int *fd_ready);
/* http_poll() until no request is unfinished. */
void http_run(struct http_engine *e);
/*
 * Graceful drain: stop nothing, run until every request has finished or
 * max_ms passed (-1: no limit); then cancel the rest (done callbacks with
 * HTTP_FAIL, HTTP_TE_CANCELLED, why "cancelled"). Returns the number
 * cancelled.
 */
size_t http_drain(struct http_engine *e, long max_ms);

/*
 * Change the request-rate limit (requests/s, 0 = none) and its burst while
 * running, e.g. from a request-unit budget (x-ms-request-charge). Can't
 * fail.
 */
void http_set_rate(struct http_engine *e, double rate, double burst);
/* Unfinished requests: all, and those in flight right now. */
size_t http_pending(const struct http_engine *e);
size_t http_inflight(const struct http_engine *e);
/*
 * Backpressure for readers: 1 if at least window requests wait to start,
 * so the caller should stop reading input and poll.
 */
int http_full(const struct http_engine *e);
/* The engine's counters (borrowed, live). */
const struct http_stats *http_engine_stats(const struct http_engine *e);

/*
 * The default classification: 2xx ok; 408, 429, 500, 502, 503, 504 and the
 * transport errors CONNECT, TIMEOUT and DROPPED retry; everything else
 * fails.
 */
enum http_verdict http_classify_default(const struct http_resp *resp,
    void *user);
/* Value of response header name (case-insensitive), or NULL. Borrowed. */
const char *http_resp_header(const struct http_resp *resp, const char *name);
/*
 * An Azure error answer as a code and a message for a result line: the
 * body's {"code","message"} — inside member `inner` when not NULL (ADT's
 * {"error":{...}}) — else "http_STATUS"; the engine's why (attempts,
 * transport errors) is added when the service's message lacks it. Appends
 * to code and msg. Can't fail.
 */
void http_error_text(const struct http_resp *resp, const char *inner,
    struct buf *code, struct buf *msg);

/* ---- pieces of the policy, exported for tests and other loops ---- */

/*
 * The full-jitter delay before retry number n (n >= 1): uniform in
 * [0, min(cap, base * 2^(n-1))] ms. *rng is the generator state (nonzero).
 */
long http_backoff_ms(long base_ms, long cap_ms, unsigned n, uint64_t *rng);
/*
 * The server's wait request in ms, from x-ms-retry-after-ms, retry-after-ms
 * or Retry-After (delta seconds or an HTTP date, relative to now), in that
 * order; -1 if none is present or parseable.
 */
long http_retry_after_ms(const struct http_resp *resp, time_t now);
/* Parse one Retry-After value; ms, or -1. */
long http_parse_retry_after(const char *v, time_t now);

/*
 * The token bucket behind the rate limit (times in microseconds,
 * monotonic). Tokens accrue at rate per second up to burst; a start takes
 * one. While a start is waiting for a token (the last take failed), the
 * tokens that accrue past the depth are kept, up to 50 ms of rate more:
 * a late wake-up (poll(2) counts milliseconds, the CPU may be busy) is
 * made up for instead of lost, so the rate asked for is the rate got even
 * at depth 1.
 */
struct http_bucket {
	double rate;		/* tokens/s, 0 = no limit */
	double burst;		/* depth, >= 1 */
	double tokens;
	int64_t t_us;		/* last refill */
	int starved;		/* the last take failed: a start waits */
};

/* A full bucket. This function can't fail. */
void http_bucket_init(struct http_bucket *b, double rate, double burst,
    int64_t now_us);
/* Change rate (0: none) and depth; what accrued so far counts at the old
 * rate. This function can't fail. */
void http_bucket_set(struct http_bucket *b, double rate, double burst,
    int64_t now_us);
/*
 * Take a token: 1 if there was one (or no limit); else 0 and *wait_us, the
 * time until there is one. This function can't fail.
 */
int http_bucket_take(struct http_bucket *b, int64_t now_us, int64_t *wait_us);
/*
 * Append "Name: value" to b, with the value replaced by "***" for
 * Authorization, Proxy-Authorization, X-IDENTITY-HEADER, Cookie and names
 * ending in -key, -secret or -token. For debug output (log_msg() also
 * removes every registered log_secret()). This function can't fail.
 */
void http_redact(struct buf *b, const char *name, const char *value);

#endif
