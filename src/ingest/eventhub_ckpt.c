/*
 * eventhub_ckpt.c - the checkpoint store: local-directory checkpoints in
 * the SDK's layout, and the dispatch to the blob store
 * (eventhub_ckptblob.c).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "eventhub_ckpt.h"
#include "json.h"
#include "ndjson.h"

struct eh_ckpt_dir {
	char *path;	/* DIR/ns/hub/group/checkpoint, or NULL: blob */
	struct eh_ckpt_blob *blob;
	char *base;	/* blob: "ns/hub/group", lower-cased */
};

static void
add_low(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++)
		buf_addc(b, (char)tolower((unsigned char)*s));
}

static void
add_seg(struct buf *b, const char *s)
{
	struct buf low = BUF_INIT;
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		buf_addc(&low, (char)tolower((unsigned char)s[i]));
	buf_addc(b, '/');
	pct_encode(b, low.p ? low.p : "", low.len);
	buf_release(&low);
}

static int
mkdir_p(char *p)
{
	char *s;

	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0777) < 0 && errno != EEXIST) {
			*s = '/';
			return -1;
		}
		*s = '/';
	}
	return mkdir(p, 0777) < 0 && errno != EEXIST ? -1 : 0;
}

/* A namespace, hub or group that cannot be a name segment: "", ".", "..". */
static int
bad_names(const char *ns, const char *hub, const char *group,
    struct buf *err)
{
	const char *v[3] = { ns, hub, group }, *what[3] = { "namespace",
	    "event hub", "consumer group" };
	int i;

	for (i = 0; i < 3; i++)
		if (v[i][0] == '\0' || strcmp(v[i], ".") == 0 ||
		    strcmp(v[i], "..") == 0) {
			buf_printf(err, "the %s name '%s' cannot name a "
			    "checkpoint", what[i], v[i]);
			return 1;
		}
	return 0;
}

struct eh_ckpt_dir *
eh_ckpt_dir_open(const char *dir, const char *ns, const char *hub,
    const char *group, struct buf *err)
{
	struct buf b = BUF_INIT;
	struct eh_ckpt_dir *d;

	if (bad_names(ns, hub, group, err))
		return NULL;
	buf_adds(&b, dir);
	add_seg(&b, ns);
	add_seg(&b, hub);
	add_seg(&b, group);
	buf_adds(&b, "/checkpoint");
	if (mkdir_p(buf_cstr(&b)) < 0) {
		buf_printf(err, "cannot create checkpoint directory '%s': %s",
		    b.p, strerror(errno));
		buf_release(&b);
		return NULL;
	}
	d = xcalloc(1, sizeof(*d));
	d->path = b.p;
	return d;
}

struct eh_ckpt_dir *
eh_ckpt_blob_open(const char *spec, const char *cs, const char *key,
    const char *sas, struct auth *entra, const char *cacert, const char *ns,
    const char *hub, const char *group, struct buf *err)
{
	struct eh_ckpt_blob *bl;
	struct eh_ckpt_dir *d;
	struct buf b = BUF_INIT;

	if (bad_names(ns, hub, group, err))
		return NULL;
	bl = eh_ckptblob_open(spec, cs, key, sas, entra, cacert, err);
	if (bl == NULL)
		return NULL;
	add_low(&b, ns);
	buf_addc(&b, '/');
	add_low(&b, hub);
	buf_addc(&b, '/');
	add_low(&b, group);
	d = xcalloc(1, sizeof(*d));
	d->blob = bl;
	d->base = buf_cstr(&b);
	return d;
}

int
eh_ckpt_shared(const struct eh_ckpt_dir *d)
{
	return d->blob != NULL;
}

int
eh_own_get(struct eh_ckpt_dir *d, struct eh_own *o, struct buf *err)
{
	if (d->blob == NULL) {
		o->owner[0] = o->etag[0] = '\0';
		o->mtime = -1;
		return 0;
	}
	return eh_ckptblob_own_get(d->blob, d->base, o, err);
}

int
eh_own_set(struct eh_ckpt_dir *d, struct eh_own *o, const char *owner,
    struct buf *err)
{
	if (d->blob == NULL)
		return 1;
	return eh_ckptblob_own_set(d->blob, d->base, o, owner, err);
}

void
eh_ckpt_dir_close(struct eh_ckpt_dir *d)
{
	if (d == NULL)
		return;
	eh_ckptblob_close(d->blob);
	free(d->base);
	free(d->path);
	free(d);
}

int
eh_ckpt_get(struct eh_ckpt_dir *d, int32_t p, struct eh_ckpt *c,
    struct buf *err)
{
	struct buf path = BUF_INIT, body = BUF_INIT;
	struct json_err je;
	jv v = jv_invalid(), s, o;
	int rc = -1;

	if (d->blob != NULL)
		return eh_ckptblob_get(d->blob, d->base, p, c, err);
	buf_printf(&path, "%s/%d", d->path, (int)p);
	if (buf_read_file(&body, buf_cstr(&path)) < 0) {
		if (errno == ENOENT)
			rc = 0;
		else
			buf_printf(err, "cannot read checkpoint '%s': %s",
			    path.p, strerror(errno));
		goto out;
	}
	if (json_parse(body.p ? body.p : "", body.len, &v, NULL, &je) < 0 ||
	    jv_get_kind(v) != JV_KIND_OBJECT) {
		buf_printf(err, "checkpoint '%s' is not a JSON object", path.p);
		goto out;
	}
	s = json_get(v, "sequencenumber");
	o = json_get(v, "offset");
	memset(c, 0, sizeof(*c));
	if (jv_get_kind(s) != JV_KIND_NUMBER || jv_number_value(s) < 0) {
		buf_printf(err, "checkpoint '%s' has no sequencenumber",
		    path.p);
	} else {
		c->seq = (int64_t)jv_number_value(s);
		if (jv_get_kind(o) == JV_KIND_STRING)
			snprintf(c->offset, sizeof(c->offset), "%s",
			    jv_string_value(o));
		rc = 1;
	}
	jv_free(s);
	jv_free(o);
out:
	jv_free(v);
	buf_release(&path);
	buf_release(&body);
	return rc;
}

int
eh_ckpt_put(struct eh_ckpt_dir *d, int32_t p, const struct eh_ckpt *c,
    struct buf *err)
{
	struct buf path = BUF_INIT, tmp = BUF_INIT, body = BUF_INIT;
	int fd = -1, rc = -1;

	if (d->blob != NULL)
		return eh_ckptblob_put(d->blob, d->base, p, c, err);
	buf_printf(&path, "%s/%d", d->path, (int)p);
	buf_printf(&tmp, "%s/.%d.tmp", d->path, (int)p);
	buf_adds(&body, "{\"offset\":");
	json_write_string(&body, c->offset, strlen(c->offset), 0);
	buf_printf(&body, ",\"sequencenumber\":%lld}\n", (long long)c->seq);
	fd = open(buf_cstr(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0666);
	if (fd < 0 || fd_write_all(fd, body.p, body.len) < 0 ||
	    fsync(fd) < 0) {
		buf_printf(err, "cannot write checkpoint '%s': %s", tmp.p,
		    strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		buf_printf(err, "cannot write checkpoint '%s': %s", tmp.p,
		    strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp.p, buf_cstr(&path)) < 0) {
		buf_printf(err, "cannot rename checkpoint into '%s': %s",
		    path.p, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	buf_release(&path);
	buf_release(&tmp);
	buf_release(&body);
	return rc;
}
