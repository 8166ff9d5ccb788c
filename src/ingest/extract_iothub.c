/*
 * extract_iothub.c - every device twin (and module twin) of an IoT Hub,
 * read through the registry's twin query: POST /devices/query with
 * "SELECT * FROM devices [WHERE ...]", one page at a time (x-ms-max-item-
 * count, x-ms-continuation), through the shared engine (http.h: retries,
 * backoff, 429 with Retry-After, the --rate budget). One page is held in
 * memory at a time.
 *
 * Credentials: a shared access policy key (IOTHUB_KEY or --iothub-key-
 * file, with --policy) or an IoT Hub connection string
 * (HostName=...;SharedAccessKeyName=...;SharedAccessKey=..., from
 * IOTHUB_CONNECTION_STRING or --connection-string-file) give a SAS token,
 * signed afresh before it expires; without either, an Entra ID token for
 * https://iothubs.azure.net/.default from the credential chain (auth.h).
 *
 * Every twin is one record, the twin as the hub returned it, with
 * _meta.src.read: the hub's time of the page (its Date header less one
 * second, RFC 3339), which pipelines/iothub-to-cosmos.jq turns into the
 * "$time" of a versioned upsert. The first page's time is the read's
 * start, "started" in the snapshot-complete control record.
 */
#include "extract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "codec.h"
#include "http.h"
#include "log.h"
#include "sas.h"

#define IOTHUB_API "2021-04-12"
#define IOTHUB_SCOPE "https://iothubs.azure.net/.default"
#define SAS_LIFETIME 3600	/* s */
#define SAS_MARGIN 300		/* re-sign this long before expiry */

struct hub {
	const struct iothub_src_opts *o;
	char *base;		/* https://HOST or the URL given */
	char *sr;		/* the SAS resource: the hub's host name */
	char *policy;
	char *key;		/* base64 policy key (secret), or NULL */
	struct buf sas;		/* the current token */
	int64_t sas_exp;
	struct auth *auth;	/* Entra, when there is no key */
	int reauth;
	/* the page being fetched */
	int done, ok;
	long status;
	struct buf body, cont, why, date;
};

/* Split "HostName=...;SharedAccessKeyName=...;SharedAccessKey=...". */
static int
conn_parse(struct hub *h, const char *cs, char *msg, size_t msglen)
{
	const char *p = cs;

	while (*p != '\0') {
		const char *semi = strchr(p, ';'), *eq;
		size_t n = semi != NULL ? (size_t)(semi - p) : strlen(p);
		char **dst = NULL;

		eq = memchr(p, '=', n);
		if (n == 0) {
			p += 1;
			continue;
		}
		if (eq == NULL) {
			snprintf(msg, msglen, "the connection string has a "
			    "part without '='");
			return -1;
		}
#define K(s) ((size_t)(eq - p) == strlen(s) && strncasecmp(p, s, strlen(s)) == 0)
		if (K("HostName"))
			dst = &h->sr;
		else if (K("SharedAccessKeyName"))
			dst = &h->policy;
		else if (K("SharedAccessKey"))
			dst = &h->key;
#undef K
		if (dst != NULL) {
			size_t vl = n - (size_t)(eq + 1 - p);

			free(*dst);
			*dst = xmalloc(vl + 1);
			memcpy(*dst, eq + 1, vl);
			(*dst)[vl] = '\0';
		}
		p += n;
		if (*p == ';')
			p++;
	}
	if (h->sr == NULL || h->sr[0] == '\0' || h->key == NULL ||
	    h->key[0] == '\0') {
		snprintf(msg, msglen, "the connection string needs HostName "
		    "and SharedAccessKey");
		return -1;
	}
	log_secret(h->key);
	return 0;
}

int
iothub_sas_token(struct buf *out, const char *sr, const char *policy,
    const char *key, int64_t expiry)
{
	struct buf k = BUF_INIT;
	int rc = -1;

	/* IoT Hub signs with the bytes of the base64 policy key */
	if (base64_decode(&k, key, strlen(key)) == 0 && k.len > 0)
		rc = sas_token(out, sr, policy, k.p, k.len, expiry);
	if (k.p != NULL)
		explicit_bzero(k.p, k.len);
	buf_release(&k);
	return rc;
}

static int
prepare(struct http_req *r, void *user)
{
	struct hub *h = user;
	struct buf err = BUF_INIT;
	int64_t now = (int64_t)time(NULL);

	if (h->key != NULL) {
		if (h->sas.len == 0 || h->sas_exp - now < SAS_MARGIN) {
			h->sas.len = 0;
			h->sas_exp = now + SAS_LIFETIME;
			if (iothub_sas_token(&h->sas, h->sr, h->policy, h->key,
			    h->sas_exp) < 0) {
				http_req_error(r, "the shared access key is "
				    "not base64");
				return -1;
			}
			log_secret(buf_cstr(&h->sas));
		}
		http_req_attempt_header(r, "Authorization", buf_cstr(&h->sas));
		return 0;
	}
	{
		struct buf hd = BUF_INIT;

		if (auth_header(h->auth, IOTHUB_SCOPE, "Bearer ", &hd,
		    &err) < 0) {
			http_req_error(r, "no token: %s", buf_cstr(&err));
			buf_release(&hd);
			buf_release(&err);
			return -1;
		}
		http_req_attempt_header(r, "Authorization", buf_cstr(&hd));
		buf_release(&hd);
	}
	buf_release(&err);
	return 0;
}

static enum http_verdict
classify(const struct http_resp *resp, void *user)
{
	struct hub *h = user;

	if (resp->status == 401 && h->auth != NULL && !h->reauth) {
		h->reauth = 1;	/* an expired or revoked token: once more */
		auth_invalidate(h->auth, IOTHUB_SCOPE);
		return HTTP_RETRY;
	}
	return http_classify_default(resp, NULL);
}

static void
done(struct http_req *r, enum http_verdict v, const struct http_resp *resp,
    void *user)
{
	struct hub *h = user;
	const char *s;

	(void)r;
	h->done = 1;
	h->ok = v == HTTP_OK;
	h->status = resp->status;
	h->body.len = h->cont.len = h->why.len = h->date.len = 0;
	buf_add(&h->body, resp->body, resp->body_len);
	if ((s = http_resp_header(resp, "x-ms-continuation")) != NULL)
		buf_adds(&h->cont, s);
	if ((s = http_resp_header(resp, "date")) != NULL)
		buf_adds(&h->date, s);
	if (resp->why != NULL)
		buf_adds(&h->why, resp->why);
	if (!h->ok && resp->body_len > 0) {
		/* IoT Hub's {"Message":"ErrorCode:...;text",...} */
		struct json_err je;
		jv o = jv_invalid();
		const char *m;

		if (json_parse(resp->body, resp->body_len, &o, NULL, &je) == 0 &&
		    jv_get_kind(o) == JV_KIND_OBJECT &&
		    (m = json_get_str(o, "Message")) != NULL)
			buf_printf(&h->why, ": %.300s", m);
		jv_free(o);
	}
}

/* The hub's time of a page: its Date header less one second (so that it
 * is not later than the read, whose second it truncates), else ours. */
static void
page_time(const struct hub *h, char *out, size_t outlen)
{
	struct tm tm;
	time_t t = 0;

	memset(&tm, 0, sizeof(tm));
	if (h->date.len > 0) {
		const char *e = strptime(h->date.p, "%a, %d %b %Y %H:%M:%S",
		    &tm);

		if (e != NULL)
			t = timegm(&tm);
	}
	if (t <= 0)
		t = time(NULL);
	t -= 1;
	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%S.0000000Z", &tm);
}

/* One string member of the twin at node i, or 0. */
static uint32_t
str_member(const struct tape *t, uint32_t i, const char *k)
{
	uint32_t v = tape_lookup(t, i, k, strlen(k));

	return v != 0 && t->nodes[v].type == TAPE_STRING &&
	    t->nodes[v].n > 0 ? v : 0;
}

/* Run one query (devices or devices.modules) to its last page. */
static int
run_query(struct extract *x, struct hub *h, struct http_engine *e,
    int modules, unsigned long long *row, unsigned long long *page,
    char *started, size_t startedlen)
{
	const struct iothub_src_opts *o = h->o;
	struct tape t = TAPE_INIT;
	struct buf q = BUF_INIT, body = BUF_INIT, url = BUF_INIT,
	    cont = BUF_INIT, tmp = BUF_INIT;
	char when[64], srcx[96];
	int rc = -1, first = 1;

	buf_adds(&q, modules ? "SELECT * FROM devices.modules" :
	    "SELECT * FROM devices");
	if (o->where != NULL)
		buf_printf(&q, " WHERE %s", o->where);
	buf_adds(&body, "{\"query\":");
	json_write_string(&body, q.p, q.len, 0);
	buf_addc(&body, '}');
	buf_printf(&url, "%s/devices/query?api-version=" IOTHUB_API, h->base);
	while (first || cont.len > 0) {
		struct http_req *r;
		struct json_err je;
		uint32_t i;

		first = 0;
		if (*x->stop)
			break;	/* main reports the interruption */
		if (o->max_pages > 0 && *page >= (unsigned long long)o->max_pages) {
			x->partial = 1;	/* more pages exist */
			break;
		}
		(*page)++;
		x->page = *page;
		r = http_req_new("POST", buf_cstr(&url));
		http_req_header(r, "Accept", "application/json");
		http_req_header(r, "Content-Type", "application/json");
		if (o->page_size > 0) {
			char n[32];

			snprintf(n, sizeof(n), "%ld", o->page_size);
			http_req_header(r, "x-ms-max-item-count", n);
		}
		if (cont.len > 0)
			http_req_header(r, "x-ms-continuation", buf_cstr(&cont));
		http_req_body(r, body.p, body.len);
		h->done = 0;
		h->reauth = 0;
		http_req_callbacks(r, prepare, classify, done, h);
		http_submit(e, r);
		while (!h->done && !*x->stop)
			http_poll(e, 200, -1, NULL);
		if (!h->done) {	/* stopped by a signal */
			http_drain(e, 0);
			break;
		}
		if (!h->ok) {
			if (h->status == 401 || h->status == 403)
				log_error("%s: query '%s': authentication "
				    "failed: %s", h->base, buf_cstr(&q),
				    buf_cstr(&h->why));
			else
				log_error("%s: query '%s': %s", h->base,
				    buf_cstr(&q), buf_cstr(&h->why));
			goto out;
		}
		page_time(h, when, sizeof(when));
		if (started[0] == '\0')
			snprintf(started, startedlen, "%s", when);
		if (tape_parse(&t, h->body.p, h->body.len, &je) < 0) {
			log_error("query page %llu: not JSON: %s at byte %zu",
			    *page, je.msg, je.off);
			goto out;
		}
		if (t.nodes[0].type != TAPE_ARRAY) {
			log_error("query page %llu: not a JSON array of twins",
			    *page);
			goto out;
		}
		snprintf(srcx, sizeof(srcx), ",\"read\":\"%s\"", when);
		x->src_extra = srcx;
		for (i = 1; i < t.nodes[0].next; i = t.nodes[i].next) {
			const char *why = NULL;

			(*row)++;
			x->in++;
			if (t.nodes[i].type != TAPE_OBJECT)
				why = "is not a JSON object";
			else if (t.nodes[i].flags & TAPE_DUPS)
				why = "has duplicate keys";
			else if (str_member(&t, i, "deviceId") == 0)
				why = "has no deviceId string";
			else if ((modules || tape_lookup(&t, i, "moduleId",
			    8) != 0) && str_member(&t, i, "moduleId") == 0)
				why = "has no moduleId string";
			if (why != NULL) {
				x->failed++;
				tmp.len = 0;
				canon_write(&x->canon, &tmp, &t, i, 0);
				if (extract_fail(x, *row, tmp.p, tmp.len, 1,
				    "bad_twin", "page %llu twin %llu %s",
				    *page, *row, why) < 0)
					goto out;
				continue;
			}
			if (extract_emit_tape(x, &t, i, "twin", *row) < 0)
				goto out;
		}
		x->src_extra = NULL;
		if (h->cont.len > 0 && cont.len > 0 &&
		    strcmp(h->cont.p, cont.p) == 0) {
			log_error("query page %llu gives its own continuation "
			    "again", *page);
			goto out;
		}
		cont.len = 0;
		if (h->cont.len > 0)
			buf_add(&cont, h->cont.p, h->cont.len);
	}
	rc = 0;
out:
	x->src_extra = NULL;
	tape_release(&t);
	buf_release(&q);
	buf_release(&body);
	buf_release(&url);
	buf_release(&cont);
	buf_release(&tmp);
	return rc;
}

int
extract_iothub(struct extract *x, const struct iothub_src_opts *o)
{
	struct hub h = { 0 };
	struct http_opts ho;
	struct http_engine *e = NULL;
	unsigned long long row = 0, page = 0;
	char msg[256], started[64] = "";
	const char *host = o->host;
	int rc = -1;

	h.o = o;
	if (o->conn != NULL && conn_parse(&h, o->conn, msg, sizeof(msg)) < 0) {
		log_error("IoT Hub connection string: %s", msg);
		goto out;
	}
	if (o->key != NULL && h.key == NULL)
		h.key = xstrdup(o->key);
	if (h.policy == NULL)
		h.policy = xstrdup(o->policy != NULL ? o->policy :
		    "iothubowner");
	if (host == NULL || host[0] == '\0')
		host = h.sr;
	if (host == NULL || host[0] == '\0') {
		log_error("iothub: needs a host name (iothub:HUB.azure-"
		    "devices.net) or a connection string with HostName");
		goto out;
	}
	if (strncmp(host, "https://", 8) == 0 ||
	    strncmp(host, "http://", 7) == 0) {
		size_t n = strlen(host);

		while (n > 0 && host[n - 1] == '/')
			n--;
		h.base = xmalloc(n + 1);
		memcpy(h.base, host, n);
		h.base[n] = '\0';
		if (h.sr == NULL) {
			const char *p = strstr(h.base, "://") + 3;

			h.sr = xstrdup(p);
		}
	} else {
		struct buf b = BUF_INIT;

		buf_printf(&b, "https://%s", host);
		h.base = buf_cstr(&b);
		if (h.sr == NULL)
			h.sr = xstrdup(host);
	}
	if (h.key == NULL) {
		struct auth_opts ao;
		struct buf err = BUF_INIT;

		auth_opts_init(&ao);
		ao.insecure = o->insecure;
		h.auth = auth_new(&ao, &err);
		if (h.auth == NULL) {
			log_error("credentials: %s", buf_cstr(&err));
			buf_release(&err);
			goto out;
		}
		buf_release(&err);
	} else {
		struct buf probe = BUF_INIT;

		/* a key that is not base64 is a configuration error */
		if (base64_decode(&probe, h.key, strlen(h.key)) < 0 ||
		    probe.len == 0) {
			log_error("the IoT Hub shared access key is not base64");
			buf_release(&probe);
			goto out;
		}
		explicit_bzero(probe.p, probe.len);
		buf_release(&probe);
		log_secret(h.key);
	}
	http_opts_init(&ho);
	ho.max_inflight = 1;
	ho.rate = o->rate;
	ho.insecure = o->insecure;
	if (o->max_attempts > 0)
		ho.max_attempts = o->max_attempts;
	if ((e = http_engine_new(&ho)) == NULL)
		goto out;
	if (run_query(x, &h, e, 0, &row, &page, started, sizeof(started)) < 0)
		goto out;
	if (o->modules && !*x->stop && !x->partial &&
	    run_query(x, &h, e, 1, &row, &page, started, sizeof(started)) < 0)
		goto out;
	if (started[0] != '\0') {
		struct buf b = BUF_INIT;

		buf_printf(&b, ",\"started\":\"%s\",\"modules\":%s", started,
		    o->modules ? "true" : "false");
		if (o->where != NULL) {
			buf_adds(&b, ",\"where\":");
			json_write_string(&b, o->where, strlen(o->where), 0);
		}
		free(x->control_extra);
		x->control_extra = buf_cstr(&b);
	}
	rc = 0;
out:
	http_engine_free(e);
	auth_free(h.auth);
	free(h.base);
	free(h.sr);
	free(h.policy);
	if (h.key != NULL)
		explicit_bzero(h.key, strlen(h.key));
	free(h.key);
	if (h.sas.p != NULL)
		explicit_bzero(h.sas.p, h.sas.len);
	buf_release(&h.sas);
	buf_release(&h.body);
	buf_release(&h.cont);
	buf_release(&h.why);
	buf_release(&h.date);
	return rc;
}
