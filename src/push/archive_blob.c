/*
 * archive_blob.c - upload finished segments to Azure Blob Storage.
 *
 * One segment at a time, in name order: Put Blob when it fits in one
 * block, else Put Block (in parallel) and Put Block List; then its
 * manifest as a second blob. Every create carries If-None-Match: *, so
 * nothing is ever overwritten. A 409 (the blob exists: a retry of a
 * request whose answer was lost, or a re-run over the same spool) is
 * accepted only when the existing blob's x-ms-meta-sha256 equals the
 * segment's SHA-256; otherwise the upload fails (exit 3) and the segment
 * stays in the spool. A segment leaves the spool only once both blobs
 * exist.
 */
#include "archive.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zstd.h>

#include "auth.h"
#include "codec.h"
#include "http.h"
#include "log.h"
#include "ndjson.h"
#include "redact.h"
#include "url.h"

#define STORAGE_SCOPE "https://storage.azure.com/.default"
#define MAXH 8

enum kind { K_CONTAINER, K_PUT, K_BLOCK, K_LIST, K_HEAD, K_MANIFEST, K_GET };

struct qent {
	char *name;
	int own;		/* written by this run */
	struct qent *next;
};

struct up {
	struct up_opts o;
	char *spool;
	struct http_engine *e;
	struct auth *auth;
	struct qent *head, *tail;
	size_t nq;
	/* the segment being uploaded (head of the queue) */
	int busy;
	struct buf data, manifest;
	char sha[65];
	unsigned nblocks, blocks_done;
	int failed;
	struct buf ferr;
	uint64_t done, bytes, refused;
};

struct ureq {
	struct up *u;
	enum kind kind;
	size_t clen;
	size_t nh;
	char *hn[MAXH], *hv[MAXH];
	int keep;		/* synchronous: the caller frees it */
	int finished;
	enum http_verdict v;
	long status;
	struct buf body, why, meta_sha;
};

static void
ureq_free(struct ureq *q)
{
	size_t i;

	if (q == NULL)
		return;
	for (i = 0; i < q->nh; i++) {
		free(q->hn[i]);
		free(q->hv[i]);
	}
	buf_release(&q->body);
	buf_release(&q->why);
	buf_release(&q->meta_sha);
	free(q);
}

static int
prepare(struct http_req *r, void *user)
{
	struct ureq *q = user;
	struct up *u = q->u;
	struct blob_hdr h[MAXH];
	size_t i;

	for (i = 0; i < q->nh; i++) {
		h[i].name = q->hn[i];
		h[i].value = q->hv[i];
	}
	return blob_authorize(r, u->o.acct.name, u->o.auth == BA_KEY ?
	    u->o.acct.key : NULL, u->o.auth == BA_ENTRA ? u->auth : NULL,
	    q->clen, h, q->nh);
}

static enum http_verdict
classify(const struct http_resp *resp, void *user)
{
	(void)user;
	if (resp->status == 409)
		return HTTP_OK;	/* exists: the done callback decides */
	if (resp->status == 401 && resp->terr == HTTP_TE_NONE)
		return HTTP_FAIL;
	return http_classify_default(resp, user);
}

/*
 * "HTTP 403 AuthenticationFailed: Server failed to ..." (always
 * NUL-terminated). The code is the x-ms-error-code header's, else the
 * body's; the message is the body's (blob_error_parse()).
 */
static void
describe(struct buf *b, const struct http_resp *resp)
{
	const char *code = http_resp_header(resp, "x-ms-error-code");
	struct buf bc = BUF_INIT, bm = BUF_INIT;

	buf_adds(b, resp->why != NULL ? resp->why : "failed");
	if (resp->body != NULL && resp->body_len > 0)
		(void)blob_error_parse(resp->body, resp->body_len, &bc, &bm);
	if (code != NULL && *code != '\0')
		buf_printf(b, " %.*s", (int)strnlen(code, 128), code);
	else if (bc.len > 0)
		buf_printf(b, " %.*s", (int)bc.len, bc.p);
	if (bm.len > 0)
		buf_printf(b, ": %.*s", (int)bm.len, bm.p);
	if (resp->status == 403)
		buf_adds(b, " (check the account key, SAS token or role "
		    "assignment)");
	buf_cstr(b);
	buf_release(&bc);
	buf_release(&bm);
}

static void up_next_step(struct up *u, struct ureq *q,
    const struct http_resp *resp);

static void
done(struct http_req *r, enum http_verdict v, const struct http_resp *resp,
    void *user)
{
	struct ureq *q = user;
	const char *ms;

	(void)r;
	q->v = v;
	q->status = resp->status;
	q->finished = 1;
	if (resp->body != NULL)
		buf_add(&q->body, resp->body, resp->body_len);
	if ((ms = http_resp_header(resp, "x-ms-meta-sha256")) != NULL)
		buf_adds(&q->meta_sha, ms);
	if (v != HTTP_OK)
		describe(&q->why, resp);
	if (q->keep)
		return;
	up_next_step(q->u, q, resp);
	ureq_free(q);
}

/*
 * The URL of blob PREFIX/name (name NULL: the container) with query and
 * the SAS. The container, prefix and name go in through url.h, segment by
 * segment; returns 0, or -1 with *why when a name has an empty, "." or
 * ".." segment (the prefix was checked at start, names archive makes
 * cannot, a name listed by the service could).
 */
static int
blob_url(struct buf *b, const struct up *u, const char *name,
    const char *query, const char **why)
{
	size_t start = b->len;

	buf_adds(b, u->o.acct.endpoint);
	if (url_segment(b, u->o.container, strlen(u->o.container), why) < 0)
		goto fail;
	if (name != NULL) {
		if (u->o.prefix[0] != '\0' && url_path(b, u->o.prefix,
		    strlen(u->o.prefix), why) < 0)
			goto fail;
		if (url_path(b, name, strlen(name), why) < 0)
			goto fail;
	}
	url_query_raw(b, query);
	if (u->o.auth == BA_SAS)
		url_query_raw(b, u->o.acct.sas);
	return 0;
fail:
	b->len = start;
	return -1;
}

/* The URL of a blob whose name archive made itself (checked names). */
static void
own_url(struct buf *b, const struct up *u, const char *name,
    const char *query)
{
	const char *why;

	if (blob_url(b, u, name, query, &why) < 0)
		log_error("blob '%s': %s", name != NULL ? name : "", why);
}

static struct ureq *
submit(struct up *u, enum kind k, const char *method, const char *url,
    const void *body, size_t n, int keep, ...)
{
	struct ureq *q = xcalloc(1, sizeof(*q));
	struct http_req *r = http_req_new(method, url);
	const char *name;
	va_list ap;

	q->u = u;
	q->kind = k;
	q->keep = keep;
	q->clen = n;
	va_start(ap, keep);
	while ((name = va_arg(ap, const char *)) != NULL) {
		const char *val = va_arg(ap, const char *);

		if (q->nh == MAXH - 1)
			abort();
		q->hn[q->nh] = xstrdup(name);
		q->hv[q->nh++] = xstrdup(val);
		http_req_header(r, name, val);
	}
	va_end(ap);
	q->hn[q->nh] = xstrdup("x-ms-version");
	q->hv[q->nh++] = xstrdup(BLOB_API_VERSION);
	http_req_header(r, "x-ms-version", BLOB_API_VERSION);
	if (body != NULL || strcmp(method, "PUT") == 0)
		http_req_body(r, body != NULL ? body : "", n);
	http_req_callbacks(r, prepare, classify, done, q);
	http_req_limits(r, 0, u->o.retry_ms);
	http_submit(u->e, r);
	return q;
}

static void
fail_upload(struct up *u, const char *what, const struct buf *why)
{
	if (u->failed)
		return;
	u->failed = 1;
	/* why is a buf: its bytes, never past them */
	buf_printf(&u->ferr, "blob upload of '%s' failed: %s%s%.*s",
	    u->head != NULL ? u->head->name : "?", what,
	    why != NULL && why->len ? ": " : "",
	    why != NULL ? (int)why->len : 0, why != NULL && why->p != NULL ?
	    why->p : "");
}

static void
put_manifest(struct up *u)
{
	struct buf url = BUF_INIT, mn = BUF_INIT;

	seg_manifest_name(&mn, u->head->name);
	own_url(&url, u, buf_cstr(&mn), NULL);
	submit(u, K_MANIFEST, "PUT", buf_cstr(&url), u->manifest.p,
	    u->manifest.len, 0, "Content-Type", "application/json",
	    "If-None-Match", "*", "x-ms-blob-type", "BlockBlob", NULL);
	buf_release(&url);
	buf_release(&mn);
}

static void
put_block_list(struct up *u)
{
	struct buf url = BUF_INIT, x = BUF_INIT;
	unsigned i;

	buf_adds(&x, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
	for (i = 0; i < u->nblocks; i++) {
		char id[16];

		snprintf(id, sizeof(id), "blk-%08u", i);
		buf_adds(&x, "<Latest>");
		base64_encode(&x, id, strlen(id));
		buf_adds(&x, "</Latest>");
	}
	buf_adds(&x, "</BlockList>");
	own_url(&url, u, u->head->name, "comp=blocklist");
	submit(u, K_LIST, "PUT", buf_cstr(&url), x.p, x.len, 0,
	    "Content-Type", "application/xml", "If-None-Match", "*",
	    "x-ms-blob-content-type", "application/zstd",
	    "x-ms-meta-sha256", u->sha, NULL);
	buf_release(&url);
	buf_release(&x);
}

/* drop the head of the queue without touching its files */
static void
drop_head(struct up *u)
{
	struct qent *e = u->head;

	u->head = e->next;
	if (u->head == NULL)
		u->tail = NULL;
	u->nq--;
	free(e->name);
	free(e);
}

static void
finish_segment(struct up *u)
{
	struct qent *e = u->head;
	struct buf p = BUF_INIT;

	buf_printf(&p, "%s/%s", u->spool, e->name);
	if (unlink(buf_cstr(&p)) < 0 && errno != ENOENT)
		log_warn("cannot remove '%s' from the spool: %s", p.p,
		    strerror(errno));
	p.len = 0;
	buf_printf(&p, "%s/", u->spool);
	seg_manifest_name(&p, e->name);
	if (unlink(buf_cstr(&p)) < 0 && errno != ENOENT)
		log_warn("cannot remove '%s' from the spool: %s", p.p,
		    strerror(errno));
	buf_release(&p);
	log_info("uploaded %s (%zu bytes, %u block%s)", e->name, u->data.len,
	    u->nblocks, u->nblocks == 1 ? "" : "s");
	u->done++;
	u->bytes += u->data.len;
	drop_head(u);
	u->busy = 0;
	u->data.len = 0;
	u->manifest.len = 0;
}

static void
up_next_step(struct up *u, struct ureq *q, const struct http_resp *resp)
{
	struct buf url = BUF_INIT;

	if (u->failed)
		return;
	if (q->v != HTTP_OK) {
		fail_upload(u, q->kind == K_MANIFEST ? "manifest" :
		    q->kind == K_HEAD ? "checking the existing blob" :
		    q->kind == K_BLOCK ? "Put Block" : q->kind == K_LIST ?
		    "Put Block List" : "Put Blob", &q->why);
		return;
	}
	switch (q->kind) {
	case K_BLOCK:
		if (++u->blocks_done == u->nblocks)
			put_block_list(u);
		break;
	case K_PUT:
	case K_LIST:
		if (resp->status == 409) {
			/* there already: ours only if the hash matches */
			own_url(&url, u, u->head->name, NULL);
			submit(u, K_HEAD, "HEAD", buf_cstr(&url), NULL, 0, 0,
			    "Content-Type", "application/octet-stream", NULL);
			break;
		}
		put_manifest(u);
		break;
	case K_HEAD:
		if (strcmp(buf_cstr(&q->meta_sha), u->sha) != 0) {
			struct buf w = BUF_INIT;

			buf_printf(&w, "the blob exists with other content "
			    "(sha256 %s, ours %s): not overwritten",
			    q->meta_sha.len ? q->meta_sha.p : "unknown",
			    u->sha);
			fail_upload(u, "409 BlobAlreadyExists", &w);
			buf_release(&w);
			break;
		}
		log_info("%s is already archived with the same SHA-256",
		    u->head->name);
		put_manifest(u);
		break;
	case K_MANIFEST:
		finish_segment(u);
		break;
	default:
		break;
	}
	buf_release(&url);
}

/*
 * start uploading the head of the queue (its bytes as verified against
 * its manifest); -1 on a local error or an own segment that fails the check
 */
static int
start_segment(struct up *u)
{
	struct buf url = BUF_INIT, why = BUF_INIT;
	int rc = -1;

	for (;;) {
		why.len = 0;
		if (spool_read_segment(u->spool, u->head->name, &u->data,
		    &u->manifest, u->sha, &why) == 0)
			break;
		if (u->head->own) {
			buf_printf(&u->ferr, "segment '%s' of this run fails "
			    "its check: %.*s", u->head->name, (int)why.len,
			    why.p);
			goto out;
		}
		log_error("spool: '%s' refused: %.*s; not uploaded, left "
		    "in '%s'", u->head->name, (int)why.len, why.p, u->spool);
		u->refused++;
		drop_head(u);
		if (u->head == NULL) {
			rc = 0;
			goto out;
		}
	}
	u->busy = 1;
	u->blocks_done = 0;
	u->nblocks = u->data.len <= u->o.block_size ? 1 :
	    (unsigned)((u->data.len + u->o.block_size - 1) / u->o.block_size);
	if (u->nblocks == 1 && u->data.len <= u->o.block_size) {
		own_url(&url, u, u->head->name, NULL);
		submit(u, K_PUT, "PUT", buf_cstr(&url), u->data.p,
		    u->data.len, 0, "Content-Type", "application/zstd",
		    "If-None-Match", "*", "x-ms-blob-type", "BlockBlob",
		    "x-ms-meta-sha256", u->sha, NULL);
	} else {
		unsigned i;

		for (i = 0; i < u->nblocks; i++) {
			struct buf q = BUF_INIT, id = BUF_INIT;
			char raw[16];
			size_t off = (size_t)i * u->o.block_size;
			size_t n = u->data.len - off < u->o.block_size ?
			    u->data.len - off : u->o.block_size;

			snprintf(raw, sizeof(raw), "blk-%08u", i);
			base64_encode(&id, raw, strlen(raw));
			buf_adds(&q, "comp=block&blockid=");
			pct_encode(&q, id.p, id.len);
			url.len = 0;
			own_url(&url, u, u->head->name, buf_cstr(&q));
			submit(u, K_BLOCK, "PUT", buf_cstr(&url),
			    u->data.p + off, n, 0, "Content-Type",
			    "application/octet-stream", NULL);
			buf_release(&q);
			buf_release(&id);
		}
	}
	rc = 0;
out:
	buf_release(&why);
	buf_release(&url);
	if (rc < 0)
		u->failed = 1;
	return rc;
}

struct up *
up_new(const struct up_opts *o, const char *spool, struct buf *err)
{
	struct up *u = xcalloc(1, sizeof(*u));
	struct http_opts ho;

	u->o = *o;
	u->spool = xstrdup(spool);
	if (o->auth == BA_ENTRA) {
		struct auth_opts ao;

		auth_opts_init(&ao);
		ao.insecure = o->insecure;
		ao.cacert = o->cacert;
		u->auth = auth_new(&ao, err);
		if (u->auth == NULL) {
			up_free(u);
			return NULL;
		}
	}
	http_opts_init(&ho);
	ho.service = "blob";
	ho.max_inflight = o->concurrency;
	ho.insecure = o->insecure;
	ho.cacert = o->cacert;
	ho.max_total_ms = o->retry_ms;
	ho.timeout_ms = 300000;	/* a block of up to --block-size */
	u->e = http_engine_new(&ho);
	if (u->e == NULL) {
		buf_printf(err, "cannot start the HTTP engine");
		up_free(u);
		return NULL;
	}
	return u;
}

void
up_free(struct up *u)
{
	struct qent *e, *n;

	if (u == NULL)
		return;
	http_engine_free(u->e);
	auth_free(u->auth);
	for (e = u->head; e != NULL; e = n) {
		n = e->next;
		free(e->name);
		free(e);
	}
	buf_release(&u->data);
	buf_release(&u->manifest);
	buf_release(&u->ferr);
	free(u->spool);
	free(u);
}

/* run one synchronous request; the caller frees q */
static struct ureq *
run_sync(struct up *u, struct ureq *q)
{
	while (!q->finished)
		http_poll(u->e, -1, -1, NULL);
	return q;
}

int
up_start(struct up *u, struct buf *err)
{
	struct buf url = BUF_INIT;
	struct ureq *q;
	int rc = 0;

	own_url(&url, u, NULL, "restype=container");
	q = run_sync(u, submit(u, K_CONTAINER, "PUT", buf_cstr(&url), NULL, 0,
	    1, "Content-Type", "application/octet-stream", NULL));
	if (q->v != HTTP_OK && !(q->status == 403 && u->o.auth == BA_SAS)) {
		buf_printf(err, "blob container '%s' at ", u->o.container);
		redact_url(err, u->o.acct.endpoint);
		buf_printf(err, ": %s", buf_cstr(&q->why));
		rc = -1;
	}
	ureq_free(q);
	buf_release(&url);
	return rc;
}

void
up_enqueue(struct up *u, const char *name, int own)
{
	struct qent *e = xcalloc(1, sizeof(*e));

	e->name = xstrdup(name);
	e->own = own;
	if (u->tail != NULL)
		u->tail->next = e;
	else
		u->head = e;
	u->tail = e;
	u->nq++;
}

size_t
up_pending(const struct up *u)
{
	return u->nq;
}

int
up_poll(struct up *u, long timeout_ms, int fd, int *fd_ready,
    struct buf *err)
{
	if (!u->failed && !u->busy && u->head != NULL)
		start_segment(u);
	if (!u->failed)
		http_poll(u->e, timeout_ms, fd, fd_ready);
	if (!u->failed && !u->busy && u->head != NULL)
		start_segment(u);
	if (u->failed) {
		if (u->ferr.len > 0) {
			buf_add(err, u->ferr.p, u->ferr.len);
			buf_adds(err, " (the segment stays in the spool '");
			buf_adds(err, u->spool);
			buf_adds(err, "' for the next run)");
			u->ferr.len = 0;
		}
		return -1;
	}
	return 0;
}

uint64_t
up_done(const struct up *u)
{
	return u->done;
}

uint64_t
up_refused(const struct up *u)
{
	return u->refused;
}

uint64_t
up_bytes(const struct up *u)
{
	return u->bytes;
}

/* ---- reading back ---- */

static int
get_blob(struct up *u, const char *name, struct buf *out, struct buf *err)
{
	struct buf url = BUF_INIT;
	struct ureq *q;
	const char *why;
	int rc = 0;

	if (blob_url(&url, u, name, NULL, &why) < 0) {
		buf_printf(err, "blob '%s': %s", name, why);
		return -1;
	}
	q = run_sync(u, submit(u, K_GET, "GET", buf_cstr(&url), NULL, 0, 1,
	    "Content-Type", "application/octet-stream", NULL));
	if (q->v != HTTP_OK || q->status == 409) {
		buf_printf(err, "GET '%s': %s", name, buf_cstr(&q->why));
		rc = -1;
	} else {
		buf_add(out, q->body.p, q->body.len);
	}
	ureq_free(q);
	buf_release(&url);
	return rc;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
out_all(const char *p, size_t n, struct buf *err)
{
	if (fd_write_all(1, p, n) < 0) {
		buf_printf(err, "write error on standard output: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* The segments of a listing page (blob_list_parse's callback). */
struct seg_names {
	char **v;
	size_t nv;
	size_t skip;	/* the prefix and its '/' */
};

static int
seg_name(void *ctx, const struct blob_item *it)
{
	struct seg_names *sn = ctx;
	size_t sl = strlen(SEG_SUFFIX);

	if (it->namelen > sn->skip + sl &&
	    strcmp(it->name + it->namelen - sl, SEG_SUFFIX) == 0) {
		sn->v = xrealloc(sn->v, (sn->nv + 1) * sizeof(*sn->v));
		sn->v[sn->nv++] = xstrdup(it->name + sn->skip);
	}
	return 0;
}

static int
cat_mem(const char *name, const struct buf *z, const char *want_sha,
    struct buf *err)
{
	ZSTD_DCtx *dz = ZSTD_createDCtx();
	size_t last = 0;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int ml = 0;
	struct buf hex = BUF_INIT;
	int rc = -1;

	EVP_Digest(z->p, z->len, md, &ml, EVP_sha256(), NULL);
	hex_encode(&hex, md, ml);
	if (want_sha != NULL && strncmp(buf_cstr(&hex), want_sha, 64) != 0) {
		buf_printf(err, "'%s': SHA-256 differs from its manifest",
		    name);
		goto out;
	}
	if (seg_cat(dz, z->p, z->len, name, &last, err) < 0)
		goto out;
	if (last != 0) {
		buf_printf(err, "'%s': truncated zstd frame", name);
		goto out;
	}
	rc = 0;
out:
	buf_release(&hex);
	ZSTD_freeDCtx(dz);
	return rc;
}

int
up_read_back(struct up *u, int cat, struct buf *err)
{
	size_t i, plen = strlen(u->o.prefix);
	struct seg_names sn = { NULL, 0, plen > 0 ? plen + 1 : 0 };
	struct buf marker = BUF_INIT, url = BUF_INIT, q = BUF_INIT;
	int rc = -1;

	for (;;) {
		struct ureq *r;

		q.len = 0;
		buf_adds(&q, "restype=container&comp=list");
		if (plen > 0) {
			buf_adds(&q, "&prefix=");
			pct_encode(&q, u->o.prefix, plen);
			pct_encode(&q, "/", 1);
		}
		if (marker.len > 0) {
			buf_adds(&q, "&marker=");
			pct_encode(&q, marker.p, marker.len);
		}
		url.len = 0;
		own_url(&url, u, NULL, buf_cstr(&q));
		r = run_sync(u, submit(u, K_GET, "GET", buf_cstr(&url), NULL,
		    0, 1, "Content-Type", "application/octet-stream", NULL));
		if (r->v != HTTP_OK || r->status == 409) {
			buf_printf(err, "listing container '%s': %s",
			    u->o.container, buf_cstr(&r->why));
			ureq_free(r);
			goto out;
		}
		marker.len = 0;
		if (blob_list_parse(r->body.p, r->body.len, &marker, seg_name,
		    &sn, err) < 0) {
			buf_printf(err, " (listing container '%s')",
			    u->o.container);
			ureq_free(r);
			goto out;
		}
		ureq_free(r);
		if (marker.len == 0)
			break;
	}
	if (sn.nv > 1)
		qsort(sn.v, sn.nv, sizeof(*sn.v), name_cmp);
	for (i = 0; i < sn.nv; i++) {
		struct buf mn = BUF_INIT, man = BUF_INIT, z = BUF_INIT;
		const char *sha = NULL;
		int r2 = 0;

		seg_manifest_name(&mn, sn.v[i]);
		if (get_blob(u, buf_cstr(&mn), &man, err) == 0) {
			sha = seg_manifest_sha(&man);
		} else {
			log_warn("%s", buf_cstr(err));
			err->len = 0;
			man.len = 0;
			buf_printf(&man, "{\"segment\":\"%s\",\"manifest\":"
			    "null}", sn.v[i]);
		}
		if (cat) {
			r2 = get_blob(u, sn.v[i], &z, err);
			if (r2 == 0)
				r2 = cat_mem(sn.v[i], &z, sha, err);
		} else {
			buf_addc(&man, '\n');
			r2 = out_all(man.p, man.len, err);
		}
		buf_release(&mn);
		buf_release(&man);
		buf_release(&z);
		if (r2 < 0)
			goto out;
	}
	rc = 0;
out:
	for (i = 0; i < sn.nv; i++)
		free(sn.v[i]);
	free(sn.v);
	buf_release(&marker);
	buf_release(&url);
	buf_release(&q);
	return rc;
}
