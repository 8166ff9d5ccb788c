/*
 * ndjson.c - bounded line reader, buffered writer, dead-letter writer.
 */
#include "ndjson.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "json.h"
#include "log.h"

#define READ_CHUNK (1u << 20)

struct ndjson_reader {
	int fd;
	char *name;
	size_t max_line;
	char *buf;
	size_t cap;		/* allocated */
	size_t start;		/* first unconsumed byte */
	size_t end;		/* end of valid data */
	size_t scan;		/* no '\n' in [start, scan) */
	int eof;
	int stopped;
	int skipping;		/* discarding the rest of an over-long line */
	unsigned long long lineno;
	void (*before_block)(void *);
	void *ctx;
	volatile sig_atomic_t *stop;
};

struct ndjson_reader *
ndjson_reader_new(int fd, const char *name, size_t max_line,
    void (*before_block)(void *), void *ctx, volatile sig_atomic_t *stop)
{
	struct ndjson_reader *r = xcalloc(1, sizeof(*r));

	r->fd = fd;
	r->name = xstrdup(name);
	r->max_line = max_line ? max_line : NDJSON_DEFAULT_MAX_LINE;
	r->cap = READ_CHUNK + 1;
	r->buf = xmalloc(r->cap);
	r->before_block = before_block;
	r->ctx = ctx;
	r->stop = stop;
	return r;
}

void
ndjson_reader_free(struct ndjson_reader *r)
{
	if (r == NULL)
		return;
	free(r->name);
	free(r->buf);
	free(r);
}

const char *
ndjson_reader_name(const struct ndjson_reader *r)
{
	return r->name;
}

int
ndjson_reader_buffered(const struct ndjson_reader *r)
{
	return r->end > r->start || r->eof;
}

int
ndjson_reader_stopped(const struct ndjson_reader *r)
{
	return r->stopped;
}

/* Read more data into the buffer. Returns 1 on data, 0 on EOF, -1 error. */
static int
fill(struct ndjson_reader *r)
{
	ssize_t n;

	if (r->start > 0 && (r->start == r->end ||
	    r->cap - 1 - r->end < READ_CHUNK / 4)) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->scan -= r->start;
		r->start = 0;
	}
	if (r->cap - 1 - r->end < READ_CHUNK / 4) {
		size_t ncap = (r->cap - 1) * 2 + 1;

		r->buf = xrealloc(r->buf, ncap);
		r->cap = ncap;
	}
	if (r->before_block != NULL)
		r->before_block(r->ctx);
	for (;;) {
		if (r->stop != NULL && *r->stop) {
			r->stopped = 1;
			return 0;
		}
		n = read(r->fd, r->buf + r->end, r->cap - 1 - r->end);
		if (n >= 0)
			break;
		if (errno != EINTR)
			return -1;
	}
	if (n == 0)
		return 0;
	r->end += (size_t)n;
	return 1;
}

int
ndjson_read(struct ndjson_reader *r, struct ndjson_line *line)
{
	char *nl;
	int rc;

	for (;;) {
		if (r->stopped)
			return 0;
		nl = memchr(r->buf + r->scan, '\n', r->end - r->scan);
		if (nl != NULL) {
			size_t len = (size_t)(nl - (r->buf + r->start));

			if (r->skipping) {
				r->skipping = 0;
				r->start = r->scan = (size_t)(nl - r->buf) + 1;
				continue;
			}
			*nl = '\0';
			line->p = r->buf + r->start;
			line->len = len;
			line->lineno = ++r->lineno;
			line->too_long = len > r->max_line;
			line->unterminated = 0;
			r->start = r->scan = (size_t)(nl - r->buf) + 1;
			if (line->too_long) {
				line->len = r->max_line;
				line->p[line->len] = '\0';
			}
			return 1;
		}
		r->scan = r->end;
		if (r->skipping) {
			r->start = r->scan = r->end;
		} else if (r->end - r->start > r->max_line) {
			/* over-long: report it now with a prefix, skip rest */
			line->p = r->buf + r->start;
			line->len = r->max_line;
			line->lineno = ++r->lineno;
			line->too_long = 1;
			line->unterminated = 0;
			/* keep the prefix valid until next call: copy out */
			r->skipping = 1;
			r->start = r->scan = r->end;
			line->p[line->len] = '\0';
			return 1;
		}
		if (r->eof)
			break;
		rc = fill(r);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			if (r->stopped)
				return 0;
			r->eof = 1;
		}
	}
	/* end of input: a last line without '\n' */
	if (r->skipping || r->end == r->start)
		return 0;
	r->buf[r->end] = '\0';
	line->p = r->buf + r->start;
	line->len = r->end - r->start;
	line->lineno = ++r->lineno;
	line->too_long = 0;
	line->unterminated = 1;
	r->start = r->scan = r->end;
	return 1;
}

int
ndjson_blank(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return 0;
	return 1;
}

int
ndjson_record(const struct ndjson_line *l, jv *out,
    struct json_numlits *lits, const char **code, struct buf *msg,
    int *is_json)
{
	struct json_err je;

	*out = jv_invalid();
	*is_json = 0;
	if (l->too_long) {
		*code = "line_too_long";
		buf_printf(msg, "line longer than --max-line (%zu bytes)",
		    l->len);
		return -1;
	}
	if (ndjson_blank(l->p, l->len))
		return 0;
	if (json_parse(l->p, l->len, out, lits, &je) < 0) {
		*code = "invalid_json";
		buf_printf(msg, "invalid JSON at column %zu: %s", je.off + 1,
		    je.msg);
		return -1;
	}
	if (jv_get_kind(*out) != JV_KIND_OBJECT) {
		jv_free(*out);
		*out = jv_invalid();
		*is_json = 1;
		*code = "not_an_object";
		buf_adds(msg, "record is not a JSON object");
		return -1;
	}
	return 1;
}

/* ---- writer ---- */

void
ndjson_writer_init(struct ndjson_writer *w, int fd)
{
	w->fd = fd;
	w->b.p = NULL;
	w->b.len = w->b.cap = 0;
	w->flush_at = 64u << 10;
	w->err = 0;
}

int
fd_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t k = write(fd, c, n);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

int
ndjson_writer_flush(struct ndjson_writer *w)
{
	if (w->err) {
		w->b.len = 0;
		return -1;
	}
	if (fd_write_all(w->fd, w->b.p, w->b.len) < 0) {
		w->err = errno;
		w->b.len = 0;
		return -1;
	}
	w->b.len = 0;
	return 0;
}

int
ndjson_writer_release(struct ndjson_writer *w)
{
	int rc = ndjson_writer_flush(w);

	buf_release(&w->b);
	return rc;
}

int
ndjson_writer_commit(struct ndjson_writer *w)
{
	buf_addc(&w->b, '\n');
	if (w->b.len >= w->flush_at)
		return ndjson_writer_flush(w);
	return w->err ? -1 : 0;
}

int
ndjson_write_line(struct ndjson_writer *w, const char *p, size_t n)
{
	buf_add(&w->b, p, n);
	return ndjson_writer_commit(w);
}

/* ---- dead letters ---- */

struct dlq {
	struct ndjson_writer w;
	char *prog;
};

struct dlq *
dlq_open(const char *path, const char *prog)
{
	struct dlq *d;
	int fd;

	if (strcmp(path, "-") == 0) {
		errno = EINVAL;
		return NULL;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	d = xcalloc(1, sizeof(*d));
	ndjson_writer_init(&d->w, fd);
	d->prog = xstrdup(prog);
	return d;
}

struct dlq *
dlq_new_mem(const char *prog)
{
	struct dlq *d = xcalloc(1, sizeof(*d));

	ndjson_writer_init(&d->w, -1);
	d->w.flush_at = (size_t)-1;
	d->prog = xstrdup(prog);
	return d;
}

struct buf *
dlq_buffer(struct dlq *d)
{
	return &d->w.b;
}

int
dlq_flush(struct dlq *d)
{
	if (d == NULL || d->w.fd < 0)
		return 0;
	return ndjson_writer_flush(&d->w);
}

int
dlq_close(struct dlq *d)
{
	int rc;

	if (d == NULL)
		return 0;
	if (d->w.fd < 0) {
		buf_release(&d->w.b);
		rc = 0;
	} else {
		rc = ndjson_writer_release(&d->w);
		if (close(d->w.fd) < 0)
			rc = -1;
	}
	free(d->prog);
	free(d);
	return rc;
}

int
dlq_write(struct dlq *d, const char *src, unsigned long long lineno,
    const char *line, size_t len, int is_json, const char *code,
    const char *msg, jv extra)
{
	struct buf *b;

	if (d == NULL) {
		jv_free(extra);
		return 0;
	}
	b = &d->w.b;
	buf_adds(b, "{\"error\":{\"code\":");
	json_write_string(b, code, strlen(code), 0);
	buf_adds(b, ",\"message\":");
	json_write_string(b, msg, strlen(msg), 0);
	buf_adds(b, ",\"program\":");
	json_write_string(b, d->prog, strlen(d->prog), 0);
	buf_adds(b, ",\"source\":");
	json_write_string(b, src, strlen(src), 0);
	buf_printf(b, ",\"line\":%llu", lineno);
	if (jv_get_kind(extra) == JV_KIND_OBJECT) {
		int it;

		for (it = jv_object_iter(extra); jv_object_iter_valid(extra, it);
		    it = jv_object_iter_next(extra, it)) {
			jv k = jv_object_iter_key(extra, it);
			jv v = jv_object_iter_value(extra, it);

			buf_addc(b, ',');
			json_write(b, k, 0, NULL);
			buf_addc(b, ':');
			json_write(b, v, 0, NULL);
			jv_free(k);
			jv_free(v);
		}
	}
	jv_free(extra);
	buf_addc(b, '}');
	if (is_json) {
		size_t s = 0, e = len;

		/* trim JSON whitespace (a CR of a CRLF line) */
		while (s < e && (line[s] == ' ' || line[s] == '\t' ||
		    line[s] == '\r'))
			s++;
		while (e > s && (line[e - 1] == ' ' || line[e - 1] == '\t' ||
		    line[e - 1] == '\r'))
			e--;
		buf_adds(b, ",\"record\":");
		buf_add(b, line + s, e - s);
	} else if (json_utf8_valid(line, len)) {
		buf_adds(b, ",\"raw\":");
		json_write_string(b, line, len, 0);
	} else {
		buf_adds(b, ",\"raw_base64\":\"");
		base64_encode(b, line, len);
		buf_addc(b, '"');
	}
	buf_addc(b, '}');
	return ndjson_writer_commit(&d->w);
}

int
dlq_vfail(struct dlq *d, const char *src, const struct ndjson_line *l,
    int is_json, const char *code, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_at(LV_ERROR, src, l->lineno, "%s", msg);
	if (dlq_write(d, src, l->lineno, l->p, l->len, is_json, code, msg,
	    l->too_long ? jv_object_set(jv_object(), jv_string("truncated"),
	    jv_true()) : jv_invalid()) < 0) {
		log_error("cannot write the dead-letter file: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
dlq_fail(struct dlq *d, const char *src, const struct ndjson_line *l,
    int is_json, const char *code, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = dlq_vfail(d, src, l, is_json, code, fmt, ap);
	va_end(ap);
	return rc;
}
