/*
 * eventhub_ckptblob.c - the Blob Storage checkpoint store: checkpoints and
 * ownership as empty block blobs with metadata, written and read as
 * Microsoft's BlobCheckpointStore does (Set Blob Metadata, Put Blob when
 * the blob does not exist yet; Get Blob Properties to read one).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "blob.h"
#include "eventhub_ckpt.h"
#include "http.h"
#include "log.h"

struct eh_ckpt_blob {
	struct blob_account acct;
	char *container;
	struct auth *own_auth;		/* the chain made here, or NULL */
	struct http_engine *e;
	struct blob_where w;
};

void
eh_ckptblob_close(struct eh_ckpt_blob *b)
{
	if (b == NULL)
		return;
	http_engine_free(b->e);
	auth_free(b->own_auth);
	blob_account_release(&b->acct);
	free(b->container);
	free(b);
}

static int
container_name_ok(const char *c)
{
	size_t i, n = strlen(c);

	if (n < 3 || n > 63 || c[0] == '-' || c[n - 1] == '-' ||
	    strstr(c, "--") != NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (!((c[i] >= 'a' && c[i] <= 'z') ||
		    (c[i] >= '0' && c[i] <= '9') || c[i] == '-'))
			return 0;
	return 1;
}

struct eh_ckpt_blob *
eh_ckptblob_open(const char *spec, const char *cs, const char *key,
    const char *sas, struct auth *entra, const char *cacert,
    struct buf *err)
{
	struct eh_ckpt_blob *b = xcalloc(1, sizeof(*b));
	struct http_opts ho;
	struct blob_reply r;
	char *acct = NULL, *ep = NULL, *prefix = NULL;
	int k;

	if (cs != NULL && blob_conn_parse(&b->acct, cs, err) < 0)
		goto fail;
	if (strncmp(spec, "http://", 7) == 0 ||
	    strncmp(spec, "https://", 8) == 0) {
		if (blob_url_parse(spec, &acct, &ep, &b->container, &prefix,
		    err) < 0)
			goto fail;
		if (prefix[0] != '\0') {
			buf_printf(err, "--checkpoint-store '%s': a container "
			    "URL without a path below the container (the "
			    "SDKs' layout starts at the container)", spec);
			goto fail;
		}
		free(b->acct.name);
		free(b->acct.endpoint);
		b->acct.name = acct;
		b->acct.endpoint = ep;
		acct = ep = NULL;
	} else {
		if (b->acct.endpoint == NULL) {
			buf_printf(err, "--checkpoint-store '%s' is not a URL "
			    "and no Storage connection string is set "
			    "(AZURE_STORAGE_CONNECTION_STRING)", spec);
			goto fail;
		}
		b->container = xstrdup(spec);
	}
	if (!container_name_ok(b->container)) {
		buf_printf(err, "container name '%s': 3-63 lowercase letters, "
		    "digits and single hyphens", b->container);
		goto fail;
	}
	if (key != NULL) {
		free(b->acct.key);
		b->acct.key = xstrdup(key);
	}
	if (sas != NULL) {
		free(b->acct.sas);
		b->acct.sas = xstrdup(sas[0] == '?' ? sas + 1 : sas);
	}
	if (b->acct.key != NULL)
		log_secret(b->acct.key);
	if (b->acct.sas != NULL)
		log_secret(b->acct.sas);
	if (b->acct.key == NULL && b->acct.sas == NULL && entra == NULL) {
		struct auth_opts ao;

		auth_opts_init(&ao);
		ao.cacert = cacert;
		b->own_auth = auth_new(&ao, err);
		if (b->own_auth == NULL)
			goto fail;
		entra = b->own_auth;
	}
	http_opts_init(&ho);
	ho.max_inflight = 4;
	ho.cacert = cacert;
	ho.no_stats = 1;
	ho.timeout_ms = 15000;
	b->e = http_engine_new(&ho);
	if (b->e == NULL) {
		buf_adds(err, "cannot start the HTTP client");
		goto fail;
	}
	b->w.acct = &b->acct;
	b->w.container = b->container;
	b->w.entra = b->acct.key == NULL && b->acct.sas == NULL ? entra :
	    NULL;
	b->w.max_ms = 30000;
	/* the container must be there and listable (a SAS needs "l", as
	 * the SDKs' store needs it): made when missing */
	k = blob_call(b->e, &b->w, "GET", NULL,
	    "restype=container&comp=list&maxresults=1", NULL, 0, NULL, 0,
	    NULL, &r);
	if (k == 1 && r.status == 404) {
		blob_reply_release(&r);
		k = blob_call(b->e, &b->w, "PUT", NULL, "restype=container",
		    NULL, 0, NULL, 0, NULL, &r);
		if (k == 1 && r.status == 409)
			k = 0;
	}
	if (k != 0) {
		buf_printf(err, "checkpoint store %s/%s: %s", b->acct.endpoint,
		    b->container, buf_cstr(&r.why));
		blob_reply_release(&r);
		goto fail;
	}
	blob_reply_release(&r);
	free(prefix);
	return b;
fail:
	free(acct);
	free(ep);
	free(prefix);
	eh_ckptblob_close(b);
	return NULL;
}

static void
name_of(struct buf *n, const char *base, const char *kind, int32_t p)
{
	n->len = 0;
	buf_printf(n, "%s/%s/%d", base, kind, (int)p);
}

/* A decimal int64 in s, or -1 with *ok 0. */
static int64_t
num(const char *s, int *ok)
{
	char *end;
	long long v;

	errno = 0;
	v = s != NULL ? strtoll(s, &end, 10) : 0;
	*ok = s != NULL && *s != '\0' && *end == '\0' && errno == 0 &&
	    v >= 0;
	return *ok ? v : -1;
}

int
eh_ckptblob_get(struct eh_ckpt_blob *b, const char *base, int32_t p,
    struct eh_ckpt *c, struct buf *err)
{
	static const char *const want[] = { "offset", "sequencenumber", NULL };
	struct buf n = BUF_INIT;
	struct blob_reply r;
	int k, ok, rc = -1;

	name_of(&n, base, "checkpoint", p);
	k = blob_call(b->e, &b->w, "HEAD", buf_cstr(&n), NULL, NULL, 0, NULL,
	    0, want, &r);
	if (k == 1 && r.status == 404) {
		rc = 0;
	} else if (k != 0) {
		buf_printf(err, "cannot read checkpoint blob '%s': %s", n.p,
		    buf_cstr(&r.why));
	} else {
		memset(c, 0, sizeof(*c));
		c->seq = num(r.meta[1], &ok);
		if (!ok)
			buf_printf(err, "checkpoint blob '%s': metadata "
			    "sequencenumber is %s", n.p, r.meta[1] == NULL ?
			    "missing" : "not a number");
		else if (r.meta[0] != NULL &&
		    strlen(r.meta[0]) >= sizeof(c->offset))
			buf_printf(err, "checkpoint blob '%s': metadata "
			    "offset is too long", n.p);
		else {
			snprintf(c->offset, sizeof(c->offset), "%s",
			    r.meta[0] != NULL ? r.meta[0] : "");
			rc = 1;
		}
	}
	blob_reply_release(&r);
	buf_release(&n);
	return rc;
}

int
eh_ckptblob_put(struct eh_ckpt_blob *b, const char *base, int32_t p,
    const struct eh_ckpt *c, struct buf *err)
{
	struct blob_hdr h[3];
	struct buf n = BUF_INIT;
	struct blob_reply r;
	char seq[24];
	int k;

	snprintf(seq, sizeof(seq), "%lld", (long long)c->seq);
	name_of(&n, base, "checkpoint", p);
	h[0].name = "x-ms-meta-sequencenumber";
	h[0].value = seq;
	h[1].name = "x-ms-meta-offset";
	h[1].value = c->offset;
	k = blob_call(b->e, &b->w, "PUT", buf_cstr(&n), "comp=metadata", h, 2,
	    NULL, 0, NULL, &r);
	if (k == 1 && r.status == 404) {	/* the first one: make it */
		blob_reply_release(&r);
		h[2].name = "x-ms-blob-type";
		h[2].value = "BlockBlob";
		k = blob_call(b->e, &b->w, "PUT", n.p, NULL, h, 3, NULL, 0,
		    NULL, &r);
	}
	if (k != 0)
		buf_printf(err, "cannot write checkpoint blob '%s': %s", n.p,
		    buf_cstr(&r.why));
	blob_reply_release(&r);
	buf_release(&n);
	return k == 0 ? 0 : -1;
}

int
eh_ckptblob_own_get(struct eh_ckpt_blob *b, const char *base,
    struct eh_own *o, struct buf *err)
{
	static const char *const want[] = { "ownerid", NULL };
	struct buf n = BUF_INIT;
	struct blob_reply r;
	int k, rc = 0;

	name_of(&n, base, "ownership", o->partition);
	k = blob_call(b->e, &b->w, "HEAD", buf_cstr(&n), NULL, NULL, 0, NULL,
	    0, want, &r);
	o->owner[0] = o->etag[0] = '\0';
	o->mtime = -1;
	if (k == 0) {
		snprintf(o->owner, sizeof(o->owner), "%s",
		    r.meta[0] != NULL ? r.meta[0] : "");
		snprintf(o->etag, sizeof(o->etag), "%s", r.etag);
		o->mtime = r.mtime;
	} else if (!(k == 1 && r.status == 404)) {
		buf_printf(err, "cannot read ownership blob '%s': %s", n.p,
		    buf_cstr(&r.why));
		rc = -1;
	}
	blob_reply_release(&r);
	buf_release(&n);
	return rc;
}

int
eh_ckptblob_own_set(struct eh_ckpt_blob *b, const char *base,
    struct eh_own *o, const char *owner, struct buf *err)
{
	struct blob_hdr h[3];
	struct buf n = BUF_INIT;
	struct blob_reply r;
	int k, rc;

	name_of(&n, base, "ownership", o->partition);
	h[0].name = "x-ms-meta-ownerid";
	h[0].value = owner;
	if (o->etag[0] != '\0') {
		h[1].name = "If-Match";
		h[1].value = o->etag;
		k = blob_call(b->e, &b->w, "PUT", buf_cstr(&n),
		    "comp=metadata", h, 2, NULL, 0, NULL, &r);
	} else {
		h[1].name = "If-None-Match";
		h[1].value = "*";
		h[2].name = "x-ms-blob-type";
		h[2].value = "BlockBlob";
		k = blob_call(b->e, &b->w, "PUT", buf_cstr(&n), NULL, h, 3,
		    NULL, 0, NULL, &r);
	}
	if (k == 0) {
		snprintf(o->etag, sizeof(o->etag), "%s", r.etag);
		snprintf(o->owner, sizeof(o->owner), "%s", owner);
		o->mtime = r.mtime;
		rc = 1;
	} else if (k == 1 && (r.status == 412 || r.status == 409 ||
	    r.status == 404)) {
		rc = 0;
	} else {
		buf_printf(err, "cannot write ownership blob '%s': %s", n.p,
		    buf_cstr(&r.why));
		rc = -1;
	}
	blob_reply_release(&r);
	buf_release(&n);
	return rc;
}
