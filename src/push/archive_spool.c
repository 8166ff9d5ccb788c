/*
 * archive_spool.c - the spool of a blob archive: where it is, that it is
 * private, and that a segment in it is one archive wrote.
 *
 * A spool holds segments until they are uploaded with the user's
 * credentials, so whoever can write into it decides what is uploaded. The
 * default spool is under $XDG_STATE_HOME (or ~/.local/state), never a
 * name another user can create first; every directory of it that twinpipe
 * makes is 0700, and each is refused unless it is a real directory (not a
 * symbolic link) owned by this user that nobody else can write. A segment
 * is uploaded only when its manifest names it and carries its size and
 * SHA-256 (the bytes that are then uploaded are the bytes that were
 * hashed).
 */
#include "archive.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "codec.h"
#include "json.h"

/* a base directory from the environment: set, absolute */
static const char *
env_dir(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] == '/' ? v : NULL;
}

void
spool_default(struct buf *out, size_t *owned_from, const char *account,
    const char *container, const char *prefix)
{
	const char *xdg = env_dir("XDG_STATE_HOME"), *home = env_dir("HOME");

	if (xdg != NULL) {
		buf_adds(out, xdg);
		while (out->len > 1 && out->p[out->len - 1] == '/')
			out->len--;
		*owned_from = out->len;
		buf_adds(out, "/twinpipe/archive/");
	} else if (home != NULL) {
		buf_adds(out, home);
		while (out->len > 1 && out->p[out->len - 1] == '/')
			out->len--;
		*owned_from = out->len;
		buf_adds(out, "/.local/state/twinpipe/archive/");
	} else {
		const char *tmp = env_dir("TMPDIR");

		buf_adds(out, tmp != NULL ? tmp : "/tmp");
		while (out->len > 1 && out->p[out->len - 1] == '/')
			out->len--;
		*owned_from = out->len;
		buf_printf(out, "/twinpipe-%lu/archive/",
		    (unsigned long)geteuid());
	}
	/* one name per target, percent-encoded so that no two targets share
	 * a spool and no part of it is a path */
	pct_encode(out, account, strlen(account));
	buf_addc(out, '-');
	pct_encode(out, container, strlen(container));
	if (prefix[0] != '\0') {
		buf_addc(out, '-');
		pct_encode(out, prefix, strlen(prefix));
	}
	buf_cstr(out);
}

/* check one directory of the spool; 0, or -1 with err */
static int
check_dir(const char *path, int last, int strict, struct buf *err)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno != ENOENT) {
			buf_printf(err, "spool: '%s': %s", path,
			    strerror(errno));
			return -1;
		}
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			buf_printf(err, "spool: cannot create directory '%s': "
			    "%s", path, strerror(errno));
			return -1;
		}
		if (lstat(path, &st) < 0) {
			buf_printf(err, "spool: '%s': %s", path,
			    strerror(errno));
			return -1;
		}
	}
	if (S_ISLNK(st.st_mode)) {
		buf_printf(err, "spool '%s' is a symbolic link: refused (a "
		    "link can send the upload's files anywhere; give a "
		    "directory of your own, mode 0700, with --spool)", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		buf_printf(err, "spool '%s' is not a directory: refused", path);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		buf_printf(err, "spool '%s' belongs to uid %lu, not to you "
		    "(uid %lu): refused (another user may have made it to have "
		    "their files uploaded with your credentials)", path,
		    (unsigned long)st.st_uid, (unsigned long)geteuid());
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		buf_printf(err, "spool '%s' is writable by %s (mode %04o): "
		    "refused (anyone who can write there decides what is "
		    "uploaded with your credentials; chmod 700 it)", path,
		    (st.st_mode & S_IWOTH) ? "others" : "its group",
		    (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if (last && strict && (st.st_mode & 077)) {
		buf_printf(err, "spool '%s' can be read by others (mode %04o): "
		    "refused (the default spool is private, 0700; chmod 700 "
		    "it)", path, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

int
spool_prepare(const char *path, size_t owned_from, int strict,
    struct buf *err)
{
	struct buf p = BUF_INIT;
	size_t i, n = strlen(path);
	int rc = 0;

	while (n > 1 && path[n - 1] == '/')
		n--;
	if (strict && owned_from > 0) {
		/* the base (e.g. $XDG_STATE_HOME) must exist: make it 0700 */
		buf_add(&p, path, owned_from);
		if (mkdir(buf_cstr(&p), 0700) < 0 && errno != EEXIST) {
			buf_printf(err, "spool: cannot create directory '%s': "
			    "%s", p.p, strerror(errno));
			buf_release(&p);
			return -1;
		}
	}
	for (i = owned_from + 1; i <= n && rc == 0; i++) {
		if (i < n && path[i] != '/')
			continue;
		if (path[i - 1] == '/')
			continue;	/* "//" */
		p.len = 0;
		buf_add(&p, path, i);
		rc = check_dir(buf_cstr(&p), i == n, strict, err);
	}
	buf_release(&p);
	return rc;
}

/* read a regular file of ours, with one link, not through a symlink */
static int
read_own(const char *path, struct buf *out, struct buf *why)
{
	struct stat st;
	char tmp[65536];
	ssize_t r;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		if (errno == ELOOP)
			buf_printf(why, "'%s' is a symbolic link", path);
		else if (errno == ENOENT)
			buf_printf(why, "'%s' is missing", path);
		else
			buf_printf(why, "cannot open '%s': %s", path,
			    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		buf_printf(why, "'%s' is not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_uid != geteuid() || st.st_nlink != 1) {
		buf_printf(why, "'%s' %s", path, st.st_uid != geteuid() ?
		    "belongs to another user" : "has other hard links");
		close(fd);
		return -1;
	}
	while ((r = read(fd, tmp, sizeof(tmp))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			buf_printf(why, "cannot read '%s': %s", path,
			    strerror(errno));
			close(fd);
			return -1;
		}
		buf_add(out, tmp, (size_t)r);
	}
	close(fd);
	return 0;
}

/* "YYYY/MM/DD/HHMMSS-RUN-SEQ.ndjson.zst": RUN and SEQ */
static int
name_parts(const char *name, struct buf *run, unsigned long *seq)
{
	const char *b = strrchr(name, '/'), *d1, *d2;
	char *end;

	b = b != NULL ? b + 1 : name;
	d1 = strchr(b, '-');
	d2 = strrchr(b, '-');
	if (d1 == NULL || d2 == NULL || d2 <= d1 + 1)
		return -1;
	buf_add(run, d1 + 1, (size_t)(d2 - d1 - 1));
	errno = 0;
	*seq = strtoul(d2 + 1, &end, 10);
	if (errno != 0 || end == d2 + 1 || strcmp(end, SEG_SUFFIX) != 0)
		return -1;
	buf_cstr(run);
	return 0;
}

int
spool_read_segment(const char *spool, const char *name, struct buf *data,
    struct buf *manifest, char sha[65], struct buf *why)
{
	struct buf p = BUF_INIT, run = BUF_INIT, hex = BUF_INIT;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int ml = 0;
	unsigned long seq = 0;
	struct json_err je;
	const char *ms, *mr, *mh;
	jv m = jv_invalid(), v;
	int rc = -1;

	data->len = manifest->len = 0;
	if (strstr(name, "..") != NULL || name[0] == '/' ||
	    name_parts(name, &run, &seq) < 0) {
		buf_printf(why, "'%s' is not a segment name archive makes",
		    name);
		goto out;
	}
	buf_printf(&p, "%s/", spool);
	seg_manifest_name(&p, name);
	if (read_own(buf_cstr(&p), manifest, why) < 0) {
		buf_adds(why, " (archive writes a manifest with every "
		    "segment)");
		goto out;
	}
	if (json_parse(manifest->p, manifest->len, &m, NULL, &je) < 0 ||
	    jv_get_kind(m) != JV_KIND_OBJECT) {
		buf_printf(why, "its manifest '%s' is not a JSON object", p.p);
		goto out;
	}
	ms = json_get_str(m, "segment");
	mr = json_get_str(m, "run");
	mh = json_get_str(m, "sha256");
	if (ms == NULL || strcmp(ms, name) != 0 || mr == NULL ||
	    strcmp(mr, run.p) != 0) {
		buf_printf(why, "its manifest names another segment or run");
		goto out;
	}
	v = json_get(m, "seq");
	if (jv_get_kind(v) != JV_KIND_NUMBER ||
	    jv_number_value(v) != (double)seq) {
		jv_free(v);
		buf_printf(why, "its manifest has another sequence number");
		goto out;
	}
	jv_free(v);
	if (mh == NULL || strlen(mh) != 64) {
		buf_printf(why, "its manifest has no SHA-256");
		goto out;
	}
	p.len = 0;
	buf_printf(&p, "%s/%s", spool, name);
	if (read_own(buf_cstr(&p), data, why) < 0)
		goto out;
	v = json_get(m, "bytes_out");
	if (jv_get_kind(v) != JV_KIND_NUMBER ||
	    jv_number_value(v) != (double)data->len) {
		jv_free(v);
		buf_printf(why, "its size (%zu bytes) is not its manifest's",
		    data->len);
		goto out;
	}
	jv_free(v);
	EVP_Digest(data->p != NULL ? data->p : "", data->len, md, &ml,
	    EVP_sha256(), NULL);
	hex_encode(&hex, md, ml);
	if (strcmp(buf_cstr(&hex), mh) != 0) {
		buf_printf(why, "its SHA-256 (%s) is not its manifest's (%s): "
		    "altered since archive wrote it", hex.p, mh);
		goto out;
	}
	memcpy(sha, hex.p, 64);
	sha[64] = '\0';
	rc = 0;
out:
	if (rc < 0) {
		data->len = 0;
		manifest->len = 0;
	}
	jv_free(m);
	buf_release(&p);
	buf_release(&run);
	buf_release(&hex);
	return rc;
}
