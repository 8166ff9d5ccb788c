/*
 * extract_files.c - many files as one source: a directory or a glob of
 * per-record JSON files (the reference design's one file per twin) or of
 * NDJSON files, read one after the other in name order.
 */
#include "extract.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

void
extract_wm_text(char *out, size_t outlen, time_t t, long nsec)
{
	struct tm tm;
	char d[32];

	gmtime_r(&t, &tm);
	strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "\"%s.%09ldZ\"", d, nsec);
}

int
extract_one_file(struct extract *x, int fd, const char *name,
    const struct files_opts *o)
{
	int rc;

	x->file = name;
	rc = o->lines ? extract_ndjson(x, fd, o->max_line) :
	    extract_json(x, fd, o->items);
	if (x->w->err)
		return -1;
	if (rc < 0 && !*x->stop) {
		/* extract_json logged why; the file is this record's failure */
		x->in++;
		x->failed++;
		if (extract_fail(x, 0, name, strlen(name), 0, "invalid_file",
		    "file '%s' skipped: not a complete JSON %s", name,
		    o->lines ? "lines file" : "document") < 0)
			return -1;
	}
	return 0;
}

int
extract_files_is_multi(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0)
		return S_ISDIR(st.st_mode);
	return strpbrk(path, "*?[") != NULL;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the paths of the source, sorted; -1 on error (logged) */
static int
list_paths(const char *path, char ***out, size_t *nout)
{
	struct stat st;
	char **v = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	*nout = 0;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;
		size_t pl = strlen(path);

		if (d == NULL) {
			log_error("cannot open directory '%s': %s", path,
			    strerror(errno));
			return -1;
		}
		while (pl > 1 && path[pl - 1] == '/')
			pl--;
		errno = 0;
		while ((e = readdir(d)) != NULL) {
			struct buf b = BUF_INIT;

			if (e->d_name[0] == '.')
				continue;
			if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN &&
			    e->d_type != DT_LNK)
				continue;
			buf_add(&b, path, pl);
			buf_addc(&b, '/');
			buf_adds(&b, e->d_name);
			if (n == cap) {
				cap = cap ? 2 * cap : 1024;
				v = xrealloc(v, cap * sizeof(*v));
			}
			v[n++] = buf_cstr(&b);
		}
		if (errno != 0) {
			log_error("reading directory '%s': %s", path,
			    strerror(errno));
			closedir(d);
			goto fail;
		}
		closedir(d);
	} else {
		glob_t g;
		int r = glob(path, GLOB_ERR | GLOB_NOSORT, NULL, &g);
		size_t i;

		if (r == GLOB_NOMATCH) {
			log_error("no file matches '%s'", path);
			return -1;
		}
		if (r != 0) {
			log_error("cannot expand '%s': %s", path,
			    r == GLOB_NOSPACE ? "out of memory" :
			    strerror(errno));
			globfree(&g);
			return -1;
		}
		v = xcalloc(g.gl_pathc + 1, sizeof(*v));
		for (i = 0; i < g.gl_pathc; i++)
			v[n++] = xstrdup(g.gl_pathv[i]);
		globfree(&g);
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), name_cmp);
	*out = v;
	*nout = n;
	return 0;
fail:
	while (n > 0)
		free(v[--n]);
	free(v);
	return -1;
}

int
extract_files(struct extract *x, const char *path,
    const struct files_opts *o)
{
	char **v = NULL;
	size_t n = 0, i;
	const char *since = NULL;
	int rc = -1;

	if (list_paths(path, &v, &n) < 0)
		return -1;
	if (n == 0)
		log_warn("'%s' holds no files", path);
	since = o->wm_since;
	for (i = 0; i < n && !*x->stop; i++) {
		char wm[64];
		struct stat st;
		int fd = open(v[i], O_RDONLY | O_CLOEXEC);

		if (fd < 0 || fstat(fd, &st) < 0) {
			/* gone since the listing, or unreadable */
			x->in++;
			x->failed++;
			if (extract_fail(x, 0, v[i], strlen(v[i]), 0,
			    "unreadable_file", "cannot open '%s': %s", v[i],
			    strerror(errno)) < 0)
				goto out;
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (!S_ISREG(st.st_mode) || st.st_size == 0) {
			x->blank += S_ISREG(st.st_mode);
			close(fd);
			continue;
		}
		extract_wm_text(wm, sizeof(wm), st.st_mtim.tv_sec,
		    st.st_mtim.tv_nsec);
		/* fixed width: the text order is the time order; a file of
		 * the watermark's own time is read again (at-least-once) */
		if (since != NULL && strcmp(wm, since) < 0) {
			close(fd);
			continue;
		}
		if (o->wm_since != NULL) {
			x->file_wm = wm;
			x->file_wmlen = strlen(wm);
		}
		if (extract_one_file(x, fd, v[i], o) < 0) {
			close(fd);
			goto out;
		}
		close(fd);
		x->file_wm = NULL;
	}
	rc = 0;
out:
	x->file_wm = NULL;
	x->file = NULL;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return rc;
}
