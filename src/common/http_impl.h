/*
 * http_impl.h - what the parts of the HTTP client share (http.h is its
 * interface): a request, the engine, and the helpers one part gives the
 * others.
 *
 *   http.c         the libcurl multi engine: queues, the window, dispatch,
 *                  completion, retries
 *   http_req.c     building a request and reading its answer's headers
 *   http_policy.c  the retry policy: backoff, Retry-After, the default
 *                  classification, transport errors, the rate bucket
 */
#ifndef TP_HTTP_IMPL_H
#define TP_HTTP_IMPL_H

#include <stdint.h>

#include <curl/curl.h>

#include "buf.h"
#include "http.h"

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

/* http_policy.c */
enum http_terr http_terr_of(CURLcode rc);
const char * http_terr_name(enum http_terr t);
void http_resp_reset(struct http_req *r);
void http_bucket_refill(struct http_bucket *b, int64_t now_us);

#endif
