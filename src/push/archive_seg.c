/*
 * archive_seg.c - zstd segments: compress, hash, publish atomically.
 */
#include "archive.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zstd.h>

#include "clock.h"
#include "codec.h"
#include "log.h"
#include "ndjson.h"

#define Z_FLUSH_AT (1u << 20)

time_t
seg_now(void)
{
	const char *c = getenv("TWINPIPE_ARCHIVE_CLOCK");

	if (c != NULL && *c != '\0')
		return (time_t)strtoll(c, NULL, 10);
	return time(NULL);
}

void
seg_init(struct seg *s)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

void
seg_release(struct seg *s)
{
	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	free(s->tmp);
	free(s->name);
	s->tmp = s->name = NULL;
	buf_release(&s->first_src);
	buf_release(&s->last_src);
	buf_release(&s->z);
	ZSTD_freeCCtx(s->cz);
	s->cz = NULL;
	EVP_MD_CTX_free(s->sha);
	s->sha = NULL;
}

/* mkdir -p for the directories of root/rel (rel's last part excluded) */
static int
mkdirs(const char *root, const char *rel, struct buf *err)
{
	struct buf p = BUF_INIT;
	const char *s;
	int rc = 0;

	buf_adds(&p, root);
	for (s = rel; (s = strchr(s, '/')) != NULL; s++) {
		p.len = strlen(root);
		buf_addc(&p, '/');
		buf_add(&p, rel, (size_t)(s - rel));
		if (mkdir(buf_cstr(&p), 0777) < 0 && errno != EEXIST) {
			buf_printf(err, "cannot create directory '%s': %s",
			    p.p, strerror(errno));
			rc = -1;
			break;
		}
	}
	buf_release(&p);
	return rc;
}

static int
fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static int
dir_of(struct buf *b, const char *path)
{
	const char *sl = strrchr(path, '/');

	b->len = 0;
	if (sl == NULL)
		buf_addc(b, '.');
	else
		buf_add(b, path, (size_t)(sl - path));
	buf_cstr(b);
	return 0;
}

int
seg_open(struct seg *s, const struct seg_opts *o, const char *root,
    unsigned long seq, struct buf *err)
{
	struct buf b = BUF_INIT;
	struct tm tm;
	char ts[32];
	size_t r;

	s->opened = seg_now();
	s->opened_mono = clock_s();
	s->seq = seq;
	s->records = s->bytes_in = s->bytes_out = 0;
	s->first_src.len = s->last_src.len = 0;
	s->z.len = 0;
	gmtime_r(&s->opened, &tm);
	strftime(ts, sizeof(ts), "%Y/%m/%d/%H%M%S", &tm);
	buf_printf(&b, "%s-%s-%06lu" SEG_SUFFIX, ts, o->run, seq);
	free(s->name);
	s->name = buf_cstr(&b);
	b = (struct buf)BUF_INIT;
	buf_printf(&b, "%s/.tmp", root);
	if (mkdir(buf_cstr(&b), 0777) < 0 && errno != EEXIST) {
		buf_printf(err, "cannot create directory '%s': %s", b.p,
		    strerror(errno));
		buf_release(&b);
		return -1;
	}
	buf_printf(&b, "/%s-%06lu.tmp", o->run, seq);
	free(s->tmp);
	s->tmp = buf_cstr(&b);
	s->fd = open(s->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (s->fd < 0) {
		buf_printf(err, "cannot create '%s': %s", s->tmp,
		    strerror(errno));
		return -1;
	}
	(void)flock(s->fd, LOCK_EX | LOCK_NB);
	if (s->cz == NULL) {
		s->cz = ZSTD_createCCtx();
		if (s->cz == NULL)
			abort();
		r = ZSTD_CCtx_setParameter(s->cz, ZSTD_c_compressionLevel,
		    o->level);
		if (!ZSTD_isError(r))
			r = ZSTD_CCtx_setParameter(s->cz, ZSTD_c_checksumFlag,
			    1);
		if (!ZSTD_isError(r) && o->threads > 0)
			r = ZSTD_CCtx_setParameter(s->cz, ZSTD_c_nbWorkers,
			    o->threads);
		if (ZSTD_isError(r)) {
			buf_printf(err, "zstd: %s", ZSTD_getErrorName(r));
			return -1;
		}
	} else {
		ZSTD_CCtx_reset(s->cz, ZSTD_reset_session_only);
	}
	if (s->sha == NULL && (s->sha = EVP_MD_CTX_new()) == NULL)
		abort();
	EVP_DigestInit_ex(s->sha, EVP_sha256(), NULL);
	return 0;
}

static int
z_flush_out(struct seg *s, struct buf *err)
{
	if (s->z.len == 0)
		return 0;
	EVP_DigestUpdate(s->sha, s->z.p, s->z.len);
	if (fd_write_all(s->fd, s->z.p, s->z.len) < 0) {
		buf_printf(err, "write error on '%s': %s", s->tmp,
		    strerror(errno));
		return -1;
	}
	s->bytes_out += s->z.len;
	s->z.len = 0;
	return 0;
}

static int
z_run(struct seg *s, const void *p, size_t n, ZSTD_EndDirective mode,
    struct buf *err)
{
	ZSTD_inBuffer in = { p, n, 0 };

	for (;;) {
		ZSTD_outBuffer out;
		size_t left, room = ZSTD_CStreamOutSize();

		if (s->z.cap - s->z.len < room)
			buf_grow(&s->z, room);
		out.dst = s->z.p + s->z.len;
		out.size = s->z.cap - s->z.len;
		out.pos = 0;
		left = ZSTD_compressStream2(s->cz, &out, &in, mode);
		if (ZSTD_isError(left)) {
			buf_printf(err, "zstd: %s", ZSTD_getErrorName(left));
			return -1;
		}
		s->z.len += out.pos;
		if (s->z.len >= Z_FLUSH_AT && z_flush_out(s, err) < 0)
			return -1;
		if (mode == ZSTD_e_continue ? in.pos == in.size : left == 0)
			break;
	}
	return 0;
}

int
seg_write(struct seg *s, const void *p, size_t n, struct buf *err)
{
	s->bytes_in += n;
	return z_run(s, p, n, ZSTD_e_continue, err);
}

void
seg_manifest_name(struct buf *out, const char *seg_name)
{
	size_t n = strlen(seg_name), sl = strlen(SEG_SUFFIX);

	if (n > sl && strcmp(seg_name + n - sl, SEG_SUFFIX) == 0)
		n -= sl;
	buf_add(out, seg_name, n);
	buf_adds(out, MANIFEST_SUFFIX);
}

static void
iso(char *d, size_t n, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(d, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void
seg_manifest(const struct seg *s, const struct seg_opts *o,
    const char *sha_hex, struct buf *out)
{
	char t0[32], t1[32];

	iso(t0, sizeof(t0), s->opened);
	iso(t1, sizeof(t1), seg_now());
	buf_printf(out, "{\"segment\":\"%s\",\"run\":\"%s\",\"seq\":%lu,"
	    "\"records\":%llu,\"bytes_in\":%llu,\"bytes_out\":%llu,"
	    "\"first_src\":%s,\"last_src\":%s,\"sha256\":\"%s\","
	    "\"level\":%d,\"opened\":\"%s\",\"closed\":\"%s\"}",
	    s->name, o->run, s->seq,
	    (unsigned long long)s->records, (unsigned long long)s->bytes_in,
	    (unsigned long long)s->bytes_out,
	    s->first_src.len ? buf_cstr((struct buf *)&s->first_src) : "null",
	    s->last_src.len ? buf_cstr((struct buf *)&s->last_src) : "null",
	    sha_hex, o->level, t0, t1);
}

/* write path atomically: tmp, fsync, rename, fsync dir */
static int
publish(const char *tmp, int fd, const char *root, const char *name,
    struct buf *err)
{
	struct buf dst = BUF_INIT, dir = BUF_INIT;
	int rc = -1;

	if (fsync(fd) < 0) {
		buf_printf(err, "fsync '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (mkdirs(root, name, err) < 0)
		goto out;
	buf_printf(&dst, "%s/%s", root, name);
	if (rename(tmp, buf_cstr(&dst)) < 0) {
		buf_printf(err, "cannot rename '%s' to '%s': %s", tmp, dst.p,
		    strerror(errno));
		goto out;
	}
	dir_of(&dir, dst.p);
	if (fsync_dir(dir.p) < 0) {
		buf_printf(err, "fsync '%s': %s", dir.p, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	buf_release(&dst);
	buf_release(&dir);
	return rc;
}

int
seg_close(struct seg *s, const struct seg_opts *o, const char *root,
    struct buf *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int ml = 0;
	struct buf hex = BUF_INIT, man = BUF_INIT, mname = BUF_INIT,
	    mtmp = BUF_INIT;
	int mfd = -1, rc = -1;

	if (z_run(s, NULL, 0, ZSTD_e_end, err) < 0 || z_flush_out(s, err) < 0)
		goto out;
	EVP_DigestFinal_ex(s->sha, md, &ml);
	hex_encode(&hex, md, ml);
	if (publish(s->tmp, s->fd, root, s->name, err) < 0)
		goto out;
	close(s->fd);
	s->fd = -1;
	seg_manifest(s, o, buf_cstr(&hex), &man);
	buf_addc(&man, '\n');
	seg_manifest_name(&mname, s->name);
	buf_printf(&mtmp, "%s.m", s->tmp);
	mfd = open(buf_cstr(&mtmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644);
	if (mfd < 0 || fd_write_all(mfd, man.p, man.len) < 0) {
		buf_printf(err, "cannot write '%s': %s", mtmp.p,
		    strerror(errno));
		goto out;
	}
	if (publish(mtmp.p, mfd, root, buf_cstr(&mname), err) < 0)
		goto out;
	rc = 0;
out:
	if (mfd >= 0)
		close(mfd);
	buf_release(&hex);
	buf_release(&man);
	buf_release(&mname);
	buf_release(&mtmp);
	return rc;
}

unsigned
seg_report_stale(const char *root)
{
	struct buf p = BUF_INIT;
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	buf_printf(&p, "%s/.tmp", root);
	d = opendir(buf_cstr(&p));
	if (d == NULL) {
		buf_release(&p);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		p.len = strlen(root) + 5;
		buf_printf(&p, "/%s", de->d_name);
		fd = open(p.p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_SH | LOCK_NB) < 0) {
			close(fd);	/* a live run is writing it */
			continue;
		}
		if (fstat(fd, &st) == 0)
			log_warn("'%s' (%lld bytes) was left by an interrupted "
			    "run: its records were passed on but never "
			    "archived in a finished segment; 'zstdcat' reads "
			    "what it holds, then remove it", p.p,
			    (long long)st.st_size);
		close(fd);
		n++;
	}
	closedir(d);
	buf_release(&p);
	return n;
}

/* nftw has no user pointer: one listing at a time */
static struct {
	char **v;
	size_t n;
	size_t rootlen;
} walk;

static int
walk_fn(const char *path, const struct stat *st, int type, struct FTW *f)
{
	size_t n = strlen(path), sl = strlen(SEG_SUFFIX);

	(void)st;
	(void)f;
	if (n <= sl || strcmp(path + n - sl, SEG_SUFFIX) != 0)
		return 0;
	if (type != FTW_F) {
		/* never followed: a link can point at anything */
		log_warn("'%s' is %s: skipped", path, type == FTW_SL ||
		    type == FTW_SLN ? "a symbolic link" : "not a file");
		return 0;
	}
	if (strstr(path + walk.rootlen, "/.") != NULL)
		return 0;	/* .tmp and other hidden parts */
	walk.v = xrealloc(walk.v, (walk.n + 2) * sizeof(*walk.v));
	walk.v[walk.n++] = xstrdup(path + walk.rootlen + 1);
	walk.v[walk.n] = NULL;
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **
seg_list_dir(const char *root, struct buf *err)
{
	char **v;

	walk.v = xcalloc(1, sizeof(*walk.v));
	walk.n = 0;
	walk.rootlen = strlen(root);
	while (walk.rootlen > 1 && root[walk.rootlen - 1] == '/')
		walk.rootlen--;
	if (nftw(root, walk_fn, 16, FTW_PHYS) < 0) {
		buf_printf(err, "cannot read '%s': %s", root, strerror(errno));
		seg_names_free(walk.v);
		walk.v = NULL;
		return NULL;
	}
	qsort(walk.v, walk.n, sizeof(*walk.v), name_cmp);
	v = walk.v;
	walk.v = NULL;
	return v;
}

void
seg_names_free(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

int
seg_cat(ZSTD_DCtx *dz, const void *p, size_t n, const char *name,
    size_t *last, struct buf *err)
{
	ZSTD_inBuffer in = { p, n, 0 };
	size_t outn = ZSTD_DStreamOutSize();
	char *ob = xmalloc(outn);
	int rc = 0;

	while (rc == 0 && in.pos < in.size) {
		ZSTD_outBuffer o = { ob, outn, 0 };

		*last = ZSTD_decompressStream(dz, &o, &in);
		if (ZSTD_isError(*last)) {
			buf_printf(err, "'%s': %s", name,
			    ZSTD_getErrorName(*last));
			rc = -1;
		} else if (fd_write_all(1, ob, o.pos) < 0) {
			buf_printf(err, "write error on standard output: %s",
			    strerror(errno));
			rc = -1;
		}
	}
	free(ob);
	return rc;
}

const char *
seg_manifest_sha(struct buf *man)
{
	const char *sha;

	while (man->len > 0 && man->p[man->len - 1] == '\n')
		man->len--;
	sha = strstr(buf_cstr(man), "\"sha256\":\"");
	return sha != NULL ? sha + 10 : NULL;
}
