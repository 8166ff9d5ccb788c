/*
 * extract_blob.c - a Blob Storage container (or a prefix of it) as one
 * source: List Blobs page by page (by marker, in the service's name
 * order), each blob read with a GET (a window of them in flight, emitted
 * in name order) and parsed as extract_one_file() does.
 */
#include "extract.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "auth.h"
#include "blob.h"
#include "cli.h"
#include "codec.h"
#include "http.h"
#include "log.h"
#include "url.h"

#define STORAGE_SCOPE "https://storage.azure.com/.default"

struct bsrc {
	struct blob_account acct;
	char *container, *prefix;
	enum blob_auth auth;
	struct auth *entra;
	struct http_engine *e;
};

/* one request: a listing page or a blob */
struct breq {
	struct bsrc *s;
	char *name;		/* the blob's name (NULL: a listing) */
	char wm[64];
	long long size;
	int done, ok;
	long status;
	struct buf body, why;
};

static int
prepare(struct http_req *r, void *user)
{
	struct breq *q = user;
	struct bsrc *s = q->s;
	struct buf date = BUF_INIT, a = BUF_INIT, err = BUF_INIT;
	struct blob_hdr h[2];
	int rc = 0;

	blob_http_date(&date, time(NULL));
	http_req_attempt_header(r, "x-ms-date", buf_cstr(&date));
	h[0].name = "x-ms-date";
	h[0].value = date.p;
	h[1].name = "x-ms-version";
	h[1].value = BLOB_API_VERSION;
	if (s->auth == BA_KEY) {
		if (blob_sharedkey(&a, s->acct.name, s->acct.key,
		    http_req_method(r), http_req_url(r), 0, h, 2, &err) < 0)
			rc = -1;
	} else if (s->auth == BA_ENTRA) {
		if (auth_header(s->entra, STORAGE_SCOPE, "Bearer ", &a,
		    &err) < 0)
			rc = -1;
	}
	if (rc < 0)
		http_req_error(r, "%s", buf_cstr(&err));
	else if (a.len > 0)
		http_req_attempt_header(r, "Authorization", buf_cstr(&a));
	buf_release(&date);
	buf_release(&a);
	buf_release(&err);
	return rc;
}

static void
done(struct http_req *r, enum http_verdict v, const struct http_resp *resp,
    void *user)
{
	struct breq *q = user;

	(void)r;
	q->done = 1;
	q->ok = v == HTTP_OK;
	q->status = resp->status;
	if (q->ok) {
		buf_add(&q->body, resp->body, resp->body_len);
	} else {
		struct buf code = BUF_INIT, msg = BUF_INIT;
		const char *hc = http_resp_header(resp, "x-ms-error-code");

		if (resp->body_len > 0)
			(void)blob_error_parse(resp->body, resp->body_len,
			    &code, &msg);
		if (code.len == 0 && hc != NULL)
			buf_adds(&code, hc);
		buf_printf(&q->why, "%s", resp->why != NULL ? resp->why :
		    "failed");
		if (code.len > 0)
			buf_printf(&q->why, " %s", buf_cstr(&code));
		if (msg.len > 0)
			buf_printf(&q->why, ": %s", buf_cstr(&msg));
		buf_release(&code);
		buf_release(&msg);
	}
}

/*
 * The URL of the container (name NULL) or a blob, with query and SAS; the
 * name's segments go in through url.h. Returns 0, or -1 with *why when
 * the name has an empty, "." or ".." segment (no URL reaches that blob).
 */
static int
make_url(struct buf *b, const struct bsrc *s, const char *name,
    const char *query, const char **why)
{
	size_t start = b->len;

	buf_adds(b, s->acct.endpoint);
	if (url_segment(b, s->container, strlen(s->container), why) < 0 ||
	    (name != NULL && url_path(b, name, strlen(name), why) < 0)) {
		b->len = start;
		return -1;
	}
	url_query_raw(b, query);
	if (s->auth == BA_SAS)
		url_query_raw(b, s->acct.sas);
	return 0;
}

static struct breq *
submit(struct bsrc *s, const char *url, const char *name)
{
	struct breq *q = xcalloc(1, sizeof(*q));
	struct http_req *r = http_req_new("GET", url);

	q->s = s;
	q->name = name != NULL ? xstrdup(name) : NULL;
	http_req_header(r, "x-ms-version", BLOB_API_VERSION);
	http_req_callbacks(r, prepare, NULL, done, q);
	http_submit(s->e, r);
	return q;
}

static void
breq_free(struct breq *q)
{
	if (q == NULL)
		return;
	free(q->name);
	buf_release(&q->body);
	buf_release(&q->why);
	free(q);
}

/* resolve account, container, prefix and credentials; -1 logged */
static int
configure(struct bsrc *s, const struct blob_src_opts *bo)
{
	struct buf err = BUF_INIT;
	char *cs, *key, *sas, *acct = NULL, *ep = NULL;
	int failed = 0, rc = -1;

	cs = cli_secret("AZURE_STORAGE_CONNECTION_STRING", NULL, &failed);
	if (failed)
		goto out;
	if (cs != NULL && blob_conn_parse(&s->acct, cs, &err) < 0) {
		free(cs);
		goto out;
	}
	free(cs);
	if (strncmp(bo->url, "http://", 7) == 0 ||
	    strncmp(bo->url, "https://", 8) == 0) {
		if (blob_url_parse(bo->url, &acct, &ep, &s->container,
		    &s->prefix, &err) < 0)
			goto out;
		free(s->acct.name);
		free(s->acct.endpoint);
		s->acct.name = acct;
		s->acct.endpoint = ep;
	} else {
		const char *sl = strchr(bo->url, '/');

		if (s->acct.endpoint == NULL) {
			buf_printf(&err, "blob:%s is not a URL and no "
			    "connection string is set "
			    "(AZURE_STORAGE_CONNECTION_STRING)", bo->url);
			goto out;
		}
		s->container = sl != NULL ? strndup(bo->url,
		    (size_t)(sl - bo->url)) : xstrdup(bo->url);
		s->prefix = xstrdup(sl != NULL ? sl + 1 : "");
		while (s->prefix[0] != '\0' &&
		    s->prefix[strlen(s->prefix) - 1] == '/')
			s->prefix[strlen(s->prefix) - 1] = '\0';
	}
	if (s->container[0] == '\0') {
		buf_printf(&err, "blob:%s names no container", bo->url);
		goto out;
	}
	key = cli_secret("AZURE_STORAGE_KEY", NULL, &failed);
	if (failed)
		goto out;
	if (key != NULL) {
		free(s->acct.key);
		s->acct.key = key;
	}
	sas = cli_secret("AZURE_STORAGE_SAS_TOKEN", NULL, &failed);
	if (failed)
		goto out;
	if (sas != NULL) {
		free(s->acct.sas);
		s->acct.sas = xstrdup(sas[0] == '?' ? sas + 1 : sas);
		log_secret(s->acct.sas);
		free(sas);
	}
	if (s->acct.key != NULL)
		log_secret(s->acct.key);
	s->auth = s->acct.sas != NULL ? BA_SAS : s->acct.key != NULL ?
	    BA_KEY : BA_ENTRA;
	if (s->auth == BA_ENTRA) {
		struct auth_opts ao;

		auth_opts_init(&ao);
		ao.insecure = bo->insecure;
		ao.cacert = bo->cacert;
		if ((s->entra = auth_new(&ao, &err)) == NULL)
			goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		log_error("%s", buf_cstr(&err));
	buf_release(&err);
	return rc;
}

/* the listed blobs of one page that are to be read */
struct page {
	struct breq **v;
	size_t n, cap;
	const char *since;
	struct bsrc *s;
	uint64_t skipped;
};

static int
on_item(void *ctx, const struct blob_item *it)
{
	struct page *p = ctx;
	struct breq *q;
	char wm[64];

	if (it->size == 0 || it->name[it->namelen - 1] == '/') {
		p->skipped++;	/* empty blobs, folder markers */
		return 0;
	}
	if (it->mtime >= 0)
		extract_wm_text(wm, sizeof(wm), it->mtime, 0);
	else
		snprintf(wm, sizeof(wm), "\"0000\"");
	if (p->since != NULL && strcmp(wm, p->since) < 0)
		return 0;
	q = xcalloc(1, sizeof(*q));
	q->s = p->s;
	q->name = xstrdup(it->name);
	q->size = it->size;
	memcpy(q->wm, wm, sizeof(wm));
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 256;
		p->v = xrealloc(p->v, p->cap * sizeof(*p->v));
	}
	p->v[p->n++] = q;
	return 0;
}

static int
lines_name(const char *name)
{
	size_t n = strlen(name);

	return (n > 7 && strcmp(name + n - 7, ".ndjson") == 0) ||
	    (n > 6 && strcmp(name + n - 6, ".jsonl") == 0);
}

/* parse one fetched blob; -1 fatal */
static int
emit_blob(struct extract *x, struct breq *q, const struct files_opts *o)
{
	struct files_opts fo = *o;
	int fd, rc;
	size_t off = 0;

	if (!q->ok) {
		x->in++;
		x->failed++;
		return extract_fail(x, 0, q->name, strlen(q->name), 0,
		    "blob_read_failed", "blob '%s': %s", q->name,
		    buf_cstr(&q->why));
	}
	if (q->body.len > x->max_record) {
		x->in++;
		x->failed++;
		return extract_fail(x, 0, q->name, strlen(q->name), 0,
		    "too_large", "blob '%s': %zu bytes, more than "
		    "--max-record", q->name, q->body.len);
	}
	fd = memfd_create("blob", MFD_CLOEXEC);
	if (fd < 0) {
		log_error("memfd_create: %s", strerror(errno));
		return -1;
	}
	while (off < q->body.len) {
		ssize_t w = write(fd, q->body.p + off, q->body.len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			log_error("memfd write: %s", strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	lseek(fd, 0, SEEK_SET);
	fo.lines = o->lines || lines_name(q->name);
	if (o->wm_since != NULL) {
		x->file_wm = q->wm;
		x->file_wmlen = strlen(q->wm);
	}
	rc = extract_one_file(x, fd, q->name, &fo);
	x->file_wm = NULL;
	close(fd);
	return rc;
}

static void
bsrc_release(struct bsrc *s)
{
	http_engine_free(s->e);
	auth_free(s->entra);
	blob_account_release(&s->acct);
	free(s->container);
	free(s->prefix);
}

int
extract_blob(struct extract *x, const struct blob_src_opts *bo,
    const struct files_opts *o)
{
	struct bsrc s = { 0 };
	struct http_opts ho;
	struct buf marker = BUF_INIT, url = BUF_INIT, qs = BUF_INIT;
	struct buf err = BUF_INIT;
	const char *why;
	unsigned window = bo->concurrency > 0 ? bo->concurrency : 16;
	const char *pe = getenv("EXTRACT_BLOB_PAGE_SIZE");
	long page_size = pe != NULL ? strtol(pe, NULL, 10) : 5000;
	uint64_t pages = 0, listed = 0;
	int rc = -1;

	if (page_size < 1 || page_size > 5000) {
		log_error("EXTRACT_BLOB_PAGE_SIZE must be between 1 and 5000");
		return -1;
	}
	if (configure(&s, bo) < 0)
		goto out;
	http_opts_init(&ho);
	ho.service = "blob";
	ho.max_inflight = window;
	ho.insecure = bo->insecure;
	ho.cacert = bo->cacert;
	if ((s.e = http_engine_new(&ho)) == NULL)
		goto out;
	do {
		struct page p = { 0 };
		struct breq *lq;
		size_t head = 0, sub = 0, i;

		qs.len = 0;
		buf_printf(&qs, "restype=container&comp=list&maxresults=%ld",
		    page_size);
		if (s.prefix[0] != '\0') {
			buf_adds(&qs, "&prefix=");
			pct_encode(&qs, s.prefix, strlen(s.prefix));
			pct_encode(&qs, "/", 1);
		}
		if (marker.len > 0) {
			buf_adds(&qs, "&marker=");
			pct_encode(&qs, marker.p, marker.len);
		}
		url.len = 0;
		if (make_url(&url, &s, NULL, buf_cstr(&qs), &why) < 0) {
			log_error("container '%s': %s", s.container, why);
			goto out;
		}
		lq = submit(&s, buf_cstr(&url), NULL);
		while (!lq->done)
			http_poll(s.e, -1, -1, NULL);
		if (!lq->ok) {
			log_error("listing container '%s': %s", s.container,
			    buf_cstr(&lq->why));
			breq_free(lq);
			goto out;
		}
		p.since = o->wm_since;
		p.s = &s;
		err.len = 0;
		if (blob_list_parse(lq->body.p, lq->body.len, &marker,
		    on_item, &p, &err) < 0) {
			log_error("listing container '%s': %s", s.container,
			    buf_cstr(&err));
			breq_free(lq);
			for (i = 0; i < p.n; i++)
				breq_free(p.v[i]);
			free(p.v);
			goto out;
		}
		breq_free(lq);
		pages++;
		listed += p.n;
		x->blank += p.skipped;
		/* read the page's blobs, a window at a time, in order */
		while (head < p.n) {
			if (*x->stop)
				break;
			if (sub < p.n && sub - head < window) {
				struct breq *q = p.v[sub++];
				struct breq *nq;

				url.len = 0;
				if (make_url(&url, &s, q->name, NULL,
				    &why) < 0) {
					/* a record error, in its turn */
					q->done = 1;
					q->ok = 0;
					buf_adds(&q->why, why);
					continue;
				}
				nq = submit(&s, buf_cstr(&url), q->name);
				nq->size = q->size;
				memcpy(nq->wm, q->wm, sizeof(q->wm));
				breq_free(q);
				p.v[sub - 1] = nq;
				continue;
			}
			if (!p.v[head]->done) {
				http_poll(s.e, -1, -1, NULL);
				continue;
			}
			if (emit_blob(x, p.v[head], o) < 0)
				break;
			breq_free(p.v[head]);
			p.v[head++] = NULL;
		}
		if (head < p.n) {
			/* stopped or fatal: cancel what is in flight (its
			 * done callbacks run now), then free */
			http_drain(s.e, 0);
			for (i = head; i < p.n; i++)
				breq_free(p.v[i]);
			free(p.v);
			if (*x->stop)
				rc = 0;	/* the caller reports the stop */
			goto out;
		}
		free(p.v);
	} while (marker.len > 0 && !*x->stop);
	log_debug("listed %llu pages, %llu blobs to read",
	    (unsigned long long)pages, (unsigned long long)listed);
	rc = 0;
out:
	bsrc_release(&s);
	buf_release(&marker);
	buf_release(&url);
	buf_release(&qs);
	buf_release(&err);
	return rc;
}
