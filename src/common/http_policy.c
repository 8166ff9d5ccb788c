/*
 * http_policy.c - the HTTP client's retry policy (see http.h): backoff with
 * jitter, Retry-After (seconds, HTTP dates, the services' millisecond
 * headers), the default classification of an answer, transport errors by
 * kind, redaction of secret headers, and the token bucket of the rate
 * limit.
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

enum http_terr
http_terr_of(CURLcode rc)
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

const char *
http_terr_name(enum http_terr t)
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

/* ---- the rate limit ---- */

/*
 * The token bucket (http.h). The depth alone would cap the tokens while a
 * start waits too, and every wake-up that comes late (poll(2) counts whole
 * milliseconds) would lose what accrued past it: at depth 1 and 500/s,
 * waiting 3 ms a token delivered 64% of the rate asked. So the wait is
 * exact (rounded up) and a start that waited keeps up to BUCKET_CATCHUP
 * of lateness.
 */
#define BUCKET_CATCHUP 0.05	/* s of rate made up after a late wake-up */

void
http_bucket_refill(struct http_bucket *b, int64_t now_us)
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
		http_bucket_refill(b, now_us);
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
	http_bucket_refill(b, now_us);
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
