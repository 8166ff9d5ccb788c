/*
 * test_ndjson.c - the bounded line reader (files and pipes, lines across
 * the 1 MiB read chunk, over-long lines, unterminated last line, CRLF,
 * blank lines, line numbers, stop flag, read errors), the buffered writer
 * and the dead-letter writer format.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "ndjson.h"
#include "tap.h"

#define MiB (1u << 20)

static char tmpdir[] = "/tmp/tp-test-ndjson.XXXXXX";

/* A temp file holding data[0..n), opened for reading. */
static int
file_fd(const void *data, size_t n)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/in", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data, n) != (ssize_t)n ||
	    lseek(fd, 0, SEEK_SET) != 0) {
		perror("temp file");
		exit(1);
	}
	unlink(path);
	return fd;
}

struct feeder {
	int fd;
	const char *p;
	size_t n;
	size_t chunk;	/* write this many bytes at a time (0: random) */
};

static void *
feed(void *arg)
{
	struct feeder *f = arg;
	size_t off = 0;
	unsigned seed = 12345;

	while (off < f->n) {
		size_t k = f->chunk ? f->chunk : (size_t)(rand_r(&seed) % 300000) + 1;
		ssize_t w;

		if (k > f->n - off)
			k = f->n - off;
		w = write(f->fd, f->p + off, k);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)w;
	}
	close(f->fd);
	return NULL;
}

/* A pipe fed by a thread with data[0..n) in chunks. */
static int
pipe_fd(struct feeder *f, pthread_t *t, const char *p, size_t n, size_t chunk)
{
	int fds[2];

	if (pipe(fds) != 0) {
		perror("pipe");
		exit(1);
	}
	f->fd = fds[1];
	f->p = p;
	f->n = n;
	f->chunk = chunk;
	pthread_create(t, NULL, feed, f);
	return fds[0];
}

struct got {
	char *p;
	size_t len;
	unsigned long long lineno;
	int too_long, unterminated;
};

/* Read every line; returns the count, -1 on a read error. */
static int
read_all(int fd, size_t max_line, struct got *g, int max)
{
	struct ndjson_reader *r = ndjson_reader_new(fd, "<test>", max_line,
	    NULL, NULL, NULL);
	struct ndjson_line l;
	int n = 0, rc;

	while ((rc = ndjson_read(r, &l)) == 1) {
		if (n < max) {
			g[n].p = xmalloc(l.len + 1);
			memcpy(g[n].p, l.p, l.len + 1);
			g[n].len = l.len;
			g[n].lineno = l.lineno;
			g[n].too_long = l.too_long;
			g[n].unterminated = l.unterminated;
		}
		if (l.p[l.len] != '\0')
			printf("# line %llu not NUL-terminated\n", l.lineno);
		n++;
	}
	ndjson_reader_free(r);
	return rc < 0 ? -1 : n;
}

static void
free_got(struct got *g, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(g[i].p);
}

static void
is_line(const struct got *g, const char *want, unsigned long long lineno,
    int too_long, int unterminated, const char *name)
{
	ok(g->len == strlen(want) && memcmp(g->p, want, g->len) == 0 &&
	    g->lineno == lineno && g->too_long == too_long &&
	    g->unterminated == unterminated,
	    "%s: '%s' line %llu too_long %d unterminated %d", name, want,
	    lineno, too_long, unterminated);
	if (!(g->len == strlen(want) && memcmp(g->p, want, g->len) == 0))
		printf("#   got '%.*s' (%zu bytes)\n", (int)(g->len > 80 ? 80 :
		    g->len), g->p, g->len);
	if (g->lineno != lineno || g->too_long != too_long ||
	    g->unterminated != unterminated)
		printf("#   got line %llu too_long %d unterminated %d\n",
		    g->lineno, g->too_long, g->unterminated);
}

static void
test_small(void)
{
	struct got g[16];
	int n, fd;

	fd = file_fd("", 0);
	is_int(read_all(fd, 0, g, 16), 0, "empty input: no line");
	close(fd);

	fd = file_fd("{\"a\":1}\n{\"b\":2}\n", 16);
	n = read_all(fd, 0, g, 16);
	is_int(n, 2, "two lines");
	is_line(&g[0], "{\"a\":1}", 1, 0, 0, "two lines");
	is_line(&g[1], "{\"b\":2}", 2, 0, 0, "two lines");
	free_got(g, n);
	close(fd);

	fd = file_fd("a\nb", 3);
	n = read_all(fd, 0, g, 16);
	is_int(n, 2, "last line without newline");
	is_line(&g[0], "a", 1, 0, 0, "unterminated");
	is_line(&g[1], "b", 2, 0, 1, "unterminated");
	free_got(g, n);
	close(fd);

	fd = file_fd("\n\n  \n\tx\n\n", 9);
	n = read_all(fd, 0, g, 16);
	is_int(n, 5, "blank lines are returned");
	is_line(&g[0], "", 1, 0, 0, "blank");
	is_line(&g[1], "", 2, 0, 0, "blank");
	is_line(&g[2], "  ", 3, 0, 0, "blank");
	is_line(&g[3], "\tx", 4, 0, 0, "blank");
	is_line(&g[4], "", 5, 0, 0, "blank");
	free_got(g, n);
	close(fd);

	fd = file_fd("\n", 1);
	n = read_all(fd, 0, g, 16);
	is_int(n, 1, "a single newline is one blank line");
	free_got(g, n);
	close(fd);

	/* CRLF: the CR stays (it is JSON whitespace) */
	fd = file_fd("{\"a\":1}\r\n\r\n{\"b\":2}\r\n", 20);
	n = read_all(fd, 0, g, 16);
	is_int(n, 3, "CRLF lines");
	is_line(&g[0], "{\"a\":1}\r", 1, 0, 0, "CRLF");
	is_line(&g[1], "\r", 2, 0, 0, "CRLF");
	{
		jv v;

		ok(json_parse(g[0].p, g[0].len, &v, NULL, NULL) == 0,
		    "a CRLF line parses");
		jv_free(v);
	}
	ok(ndjson_blank(g[1].p, g[1].len), "a lone CR is blank");
	free_got(g, n);
	close(fd);

	/* NUL bytes inside a line are kept */
	fd = file_fd("a\0b\n", 4);
	n = read_all(fd, 0, g, 16);
	ok(n == 1 && g[0].len == 3 && memcmp(g[0].p, "a\0b", 3) == 0,
	    "NUL bytes kept in a line");
	free_got(g, n);
	close(fd);

	ok(ndjson_blank("", 0), "blank: empty");
	ok(ndjson_blank(" \t\r\n", 4), "blank: whitespace");
	ok(!ndjson_blank(" x ", 3), "blank: not");
	ok(!ndjson_blank("\f", 1), "blank: form feed is not JSON whitespace");
}

static void
test_limits(void)
{
	struct got g[16];
	int n, fd;

	/* exactly at the limit is fine, one more is too long */
	fd = file_fd("0123456789\n01234567890\nnext\n", 28);
	n = read_all(fd, 10, g, 16);
	is_int(n, 3, "limit 10: three lines");
	is_line(&g[0], "0123456789", 1, 0, 0, "exactly max_line");
	is_line(&g[1], "0123456789", 2, 1, 0, "max_line + 1 is too long");
	is_line(&g[2], "next", 3, 0, 0, "line after an over-long one");
	free_got(g, n);
	close(fd);

	/* unterminated last line at and over the limit */
	fd = file_fd("a\n0123456789", 12);
	n = read_all(fd, 10, g, 16);
	is_int(n, 2, "unterminated at the limit");
	is_line(&g[1], "0123456789", 2, 0, 1, "unterminated max_line");
	free_got(g, n);
	close(fd);
	fd = file_fd("a\n0123456789abc", 15);
	n = read_all(fd, 10, g, 16);
	is_int(n, 2, "unterminated over the limit: reported once");
	ok(n == 2 && g[1].too_long && g[1].len == 10 &&
	    memcmp(g[1].p, "0123456789", 10) == 0 && g[1].lineno == 2,
	    "unterminated over-long line: a prefix, too_long");
	free_got(g, n);
	close(fd);

	/* several over-long lines in a row, then normal ones */
	fd = file_fd("aaaaaaaaaaaaaaaaaaaa\nbbbbbbbbbbbbbbbbbbbbbbbbb\nc\n"
	    "dddddddddddd", 60);
	n = read_all(fd, 5, g, 16);
	is_int(n, 4, "over-long lines in a row");
	is_line(&g[0], "aaaaa", 1, 1, 0, "over-long 1");
	is_line(&g[1], "bbbbb", 2, 1, 0, "over-long 2");
	is_line(&g[2], "c", 3, 0, 0, "short after over-long");
	ok(g[3].too_long && g[3].lineno == 4 && g[3].len == 5,
	    "over-long last line without newline");
	free_got(g, n);
	close(fd);

	/* max_line 1 */
	fd = file_fd("a\nbb\n\nc", 7);
	n = read_all(fd, 1, g, 16);
	is_int(n, 4, "max_line 1");
	is_line(&g[0], "a", 1, 0, 0, "max_line 1");
	is_line(&g[1], "b", 2, 1, 0, "max_line 1");
	is_line(&g[2], "", 3, 0, 0, "max_line 1");
	is_line(&g[3], "c", 4, 0, 1, "max_line 1");
	free_got(g, n);
	close(fd);
}

/* deterministic content for line i (length len) */
static void
fill_line(char *p, size_t len, size_t i)
{
	size_t j;

	for (j = 0; j < len; j++)
		p[j] = (char)('a' + (i * 7 + j) % 26);
}

static int
check_line(const char *p, size_t len, size_t i)
{
	size_t j;

	for (j = 0; j < len; j++)
		if (p[j] != (char)('a' + (i * 7 + j) % 26))
			return 0;
	return 1;
}

/* lines near the 1 MiB read chunk, through a pipe and through a file */
static void
test_big(void)
{
	static const size_t lens[] = {
		10, MiB - 2, MiB - 1, MiB, MiB + 1, 3, 0, MiB / 2, MiB / 2 - 1,
		MiB / 2 + 1, MiB / 4 * 3, 2 * MiB - 7, 1, 2 * MiB, 5, MiB + 100,
	};
	size_t nl = sizeof(lens) / sizeof(lens[0]), total = 0, i, off;
	char *data;
	int pass, round;

	for (i = 0; i < nl; i++)
		total += lens[i] + 1;
	data = xmalloc(total);
	for (i = 0, off = 0; i < nl; i++) {
		fill_line(data + off, lens[i], i);
		off += lens[i];
		data[off++] = '\n';
	}
	for (round = 0; round < 4; round++) {
		struct feeder f;
		pthread_t t;
		int fd;
		size_t chunk = round == 1 ? 4096 : round == 2 ? MiB + 1 : 0;
		struct ndjson_reader *r;
		struct ndjson_line l;
		const char *how = round == 0 ? "pipe, random chunks" :
		    round == 1 ? "pipe, 4 KiB chunks" :
		    round == 2 ? "pipe, 1 MiB + 1 chunks" : "file";
		size_t n = 0, bad = 0;

		fd = round == 3 ? file_fd(data, total) :
		    pipe_fd(&f, &t, data, total, chunk);
		r = ndjson_reader_new(fd, "<pipe>", 2 * MiB, NULL, NULL, NULL);
		while (ndjson_read(r, &l) == 1) {
			pass = n < nl && l.len == lens[n] && !l.too_long &&
			    !l.unterminated && l.lineno == n + 1 &&
			    check_line(l.p, l.len, n) && l.p[l.len] == '\0';
			if (!pass && bad++ < 5)
				printf("#   %s: line %zu len %zu (want %zu) "
				    "too_long %d\n", how, n + 1, l.len,
				    n < nl ? lens[n] : 0, l.too_long);
			n++;
		}
		ok(n == nl && bad == 0, "%s: %zu lines near 1 MiB read "
		    "intact (%zu bad)", how, n, bad);
		ndjson_reader_free(r);
		if (round != 3)
			pthread_join(t, NULL);
		close(fd);
	}

	/* the same with max_line 1 MiB: the longer ones are too long */
	{
		int fd = file_fd(data, total);
		struct ndjson_reader *r = ndjson_reader_new(fd, "<f>", MiB,
		    NULL, NULL, NULL);
		struct ndjson_line l;
		size_t n = 0, bad = 0;

		while (ndjson_read(r, &l) == 1) {
			int tl = n < nl && lens[n] > MiB;

			pass = n < nl && l.too_long == tl && l.lineno == n + 1 &&
			    l.len == (tl ? MiB : lens[n]) &&
			    check_line(l.p, l.len, n);
			if (!pass && bad++ < 5)
				printf("#   line %zu len %zu too_long %d\n",
				    n + 1, l.len, l.too_long);
			n++;
		}
		ok(n == nl && bad == 0, "max_line 1 MiB: over-long lines cut, "
		    "the others intact (%zu lines, %zu bad)", n, bad);
		ndjson_reader_free(r);
		close(fd);
	}
	free(data);

	/* one huge line (many reads) with a small limit, then a short one */
	{
		size_t big = 5 * MiB;
		char *d = xmalloc(big + 4);
		struct feeder f;
		pthread_t t;
		struct got g[4];
		int n, fd;

		memset(d, 'x', big);
		memcpy(d + big, "\nok\n", 4);
		fd = pipe_fd(&f, &t, d, big + 4, 0);
		n = read_all(fd, 100, g, 4);
		pthread_join(t, NULL);
		is_int(n, 2, "a 5 MiB line with max_line 100: two lines");
		ok(n == 2 && g[0].too_long && g[0].len == 100 &&
		    g[0].lineno == 1, "the 5 MiB line is too long, cut at 100");
		if (n == 2)
			is_line(&g[1], "ok", 2, 0, 0, "after the huge line");
		free_got(g, n < 4 ? n : 4);
		close(fd);
		free(d);
	}
}

static int blocks;

static void
before_block(void *ctx)
{
	(*(int *)ctx)++;
}

static void
test_stop_error(void)
{
	volatile sig_atomic_t stop = 0;
	struct ndjson_reader *r;
	struct ndjson_line l;
	int fd;

	fd = file_fd("a\nb\n", 4);
	r = ndjson_reader_new(fd, "name.ndjson", 0, before_block, &blocks,
	    &stop);
	is_str(ndjson_reader_name(r), "name.ndjson", "reader name");
	is_int(ndjson_read(r, &l), 1, "read with a stop flag");
	ok(blocks >= 1, "before_block called before reading (%d)", blocks);
	stop = 1;
	is_int(ndjson_read(r, &l), 1, "buffered line still returned");
	is_int(ndjson_read(r, &l), 0, "stopped: end of input");
	ok(ndjson_reader_stopped(r), "ndjson_reader_stopped");
	ndjson_reader_free(r);
	close(fd);

	fd = file_fd("a\n", 2);
	r = ndjson_reader_new(fd, "x", 0, NULL, NULL, NULL);
	ok(ndjson_read(r, &l) == 1 && ndjson_read(r, &l) == 0 &&
	    !ndjson_reader_stopped(r), "not stopped at end of file");
	is_int(ndjson_read(r, &l), 0, "end of file again");
	ndjson_reader_free(r);
	close(fd);
	ndjson_reader_free(NULL);

	fd = open("/", O_RDONLY | O_DIRECTORY);
	r = ndjson_reader_new(fd, "/", 0, NULL, NULL, NULL);
	errno = 0;
	{
		int rc = ndjson_read(r, &l), e = errno;

		ok(rc == -1 && e == EISDIR,
		    "read error returns -1 with errno (%s)", strerror(e));
	}
	ndjson_reader_free(r);
	close(fd);
}

static char *
slurp(int fd, size_t *n)
{
	struct buf b = BUF_INIT;
	char tmp[4096];
	ssize_t k;

	lseek(fd, 0, SEEK_SET);
	while ((k = read(fd, tmp, sizeof(tmp))) > 0)
		buf_add(&b, tmp, (size_t)k);
	*n = b.len;
	return buf_cstr(&b);
}

static void
test_writer(void)
{
	struct ndjson_writer w;
	char path[256], *s;
	size_t n, i, lines = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/out", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ndjson_writer_init(&w, fd);
	is_int(ndjson_write_line(&w, "{\"a\":1}", 7), 0, "write_line");
	buf_adds(&w.b, "{\"b\":2}");
	is_int(ndjson_writer_commit(&w), 0, "commit");
	s = slurp(fd, &n);
	is_int(n, 0, "nothing written before a flush");
	free(s);
	is_int(ndjson_writer_flush(&w), 0, "flush");
	s = slurp(fd, &n);
	ok(n == 16 && memcmp(s, "{\"a\":1}\n{\"b\":2}\n", 16) == 0,
	    "flushed lines with newlines");
	free(s);
	/* a full buffer is flushed by commit */
	for (i = 0; i < 10000; i++) {
		buf_printf(&w.b, "{\"i\":%zu}", i);
		ndjson_writer_commit(&w);
		lines++;
	}
	s = slurp(fd, &n);
	ok(n > 16 && n < 16 + 10000 * 12 && s[n - 1] == '\n',
	    "a full buffer is flushed on commit (%zu bytes out)", n);
	free(s);
	is_int(ndjson_writer_release(&w), 0, "release flushes");
	s = slurp(fd, &n);
	{
		size_t nl = 0;

		for (i = 0; i < n; i++)
			nl += s[i] == '\n';
		is_int(nl, lines + 2, "every line written once");
	}
	free(s);
	close(fd);

	/* a failing write is sticky */
	fd = open("/dev/full", O_WRONLY);
	if (fd >= 0) {
		ndjson_writer_init(&w, fd);
		ndjson_write_line(&w, "x", 1);
		is_int(ndjson_writer_flush(&w), -1, "flush to /dev/full fails");
		is_int(w.err, ENOSPC, "w->err is ENOSPC");
		is_int(ndjson_write_line(&w, "y", 1), -1,
		    "write_line after a failure returns -1");
		is_int(ndjson_writer_commit(&w), -1, "commit after a failure");
		is_int(ndjson_writer_release(&w), -1, "release after failure");
		close(fd);
	} else {
		ok(1, "# SKIP no /dev/full");
	}
}

static void
is_dlq_line(struct buf *b, const char *want, const char *name)
{
	char *nl = b->len ? memchr(b->p, '\n', b->len) : NULL;
	size_t n = nl ? (size_t)(nl - b->p) : 0;
	char *line = xmalloc(n + 1);
	jv v;

	memcpy(line, b->p, n);
	line[n] = '\0';
	is_str(line, want, "dead letter: %s", name);
	ok(nl != NULL && nl == b->p + b->len - 1, "dead letter %s: one line",
	    name);
	ok(json_parse(line, n, &v, NULL, NULL) == 0 &&
	    jv_get_kind(v) == JV_KIND_OBJECT, "dead letter %s is JSON", name);
	jv_free(v);
	free(line);
	b->len = 0;
}

static void
test_dlq(void)
{
	struct dlq *d = dlq_new_mem("transform");
	struct buf *b = dlq_buffer(d);
	char path[256], *s;
	size_t n;
	struct stat st;
	int fd;

	dlq_write(d, "in.ndjson", 3, "{\"a\": 1}", 8, 1, "jq_error",
	    "boom", jv_invalid());
	is_dlq_line(b, "{\"error\":{\"code\":\"jq_error\",\"message\":\"boom\","
	    "\"program\":\"transform\",\"source\":\"in.ndjson\",\"line\":3},"
	    "\"record\":{\"a\": 1}}", "record spliced unchanged");
	dlq_write(d, "<stdin>", 1, " \t{\"a\":1}\r", 10, 1, "c", "m",
	    jv_invalid());
	is_dlq_line(b, "{\"error\":{\"code\":\"c\",\"message\":\"m\","
	    "\"program\":\"transform\",\"source\":\"<stdin>\",\"line\":1},"
	    "\"record\":{\"a\":1}}", "CR and blanks trimmed from a record");
	dlq_write(d, "<stdin>", 2, "not \"json\"\t\x01", 12, 0, "parse",
	    "invalid literal", jv_invalid());
	is_dlq_line(b, "{\"error\":{\"code\":\"parse\",\"message\":"
	    "\"invalid literal\",\"program\":\"transform\",\"source\":"
	    "\"<stdin>\",\"line\":2},\"raw\":\"not \\\"json\\\"\\t\\u0001\"}",
	    "raw string for a line that is not JSON");
	dlq_write(d, "f", 4, "{\"a\":\"\xff\xfe\"}", 10, 0, "parse",
	    "invalid UTF-8", jv_invalid());
	is_dlq_line(b, "{\"error\":{\"code\":\"parse\",\"message\":"
	    "\"invalid UTF-8\",\"program\":\"transform\",\"source\":\"f\","
	    "\"line\":4},\"raw_base64\":\"eyJhIjoi//4ifQ==\"}",
	    "raw_base64 for invalid UTF-8");
	dlq_write(d, "f", 5, "{\"caf\xc3", 6, 0, "too_long",
	    "line longer than 6 bytes",
	    jv_object_set(jv_object(), jv_string("truncated"), jv_true()));
	is_dlq_line(b, "{\"error\":{\"code\":\"too_long\",\"message\":"
	    "\"line longer than 6 bytes\",\"program\":\"transform\",\"source\":"
	    "\"f\",\"line\":5,\"truncated\":true},\"raw_base64\":\"eyJjYWbD\"}",
	    "a truncated prefix cut inside a UTF-8 sequence");
	dlq_write(d, "f", 6, "", 0, 0, "empty", "m", jv_invalid());
	is_dlq_line(b, "{\"error\":{\"code\":\"empty\",\"message\":\"m\","
	    "\"program\":\"transform\",\"source\":\"f\",\"line\":6},"
	    "\"raw\":\"\"}", "an empty raw line");
	dlq_write(d, "f\"\n", 7, "[1]", 3, 1, "http", "status \"409\"\n",
	    jv_object_set(jv_object_set(jv_object(), jv_string("status"),
	    jv_number(409)), jv_string("body"),
	    JV_OBJECT(jv_string("x"), jv_string("\xc3\xa9"))));
	is_dlq_line(b, "{\"error\":{\"code\":\"http\",\"message\":"
	    "\"status \\\"409\\\"\\n\",\"program\":\"transform\",\"source\":"
	    "\"f\\\"\\n\",\"line\":7,\"status\":409,\"body\":{\"x\":"
	    "\"\xc3\xa9\"}},\"record\":[1]}", "extra fields and escaping");
	dlq_write(d, "f", 8, "1", 1, 1, "c", "m", jv_string("not an object"));
	is_dlq_line(b, "{\"error\":{\"code\":\"c\",\"message\":\"m\","
	    "\"program\":\"transform\",\"source\":\"f\",\"line\":8},"
	    "\"record\":1}", "a non-object extra is ignored");
	/* several letters accumulate in memory */
	dlq_write(d, "f", 9, "1", 1, 1, "c", "m", jv_invalid());
	dlq_write(d, "f", 10, "2", 1, 1, "c", "m", jv_invalid());
	ok(b->len > 0 && memchr(b->p, '\n', b->len) != b->p + b->len - 1,
	    "memory dead letters accumulate");
	is_int(dlq_flush(d), 0, "dlq_flush in memory mode");
	is_int(dlq_close(d), 0, "dlq_close in memory mode");
	is_int(dlq_close(NULL), 0, "dlq_close(NULL)");
	is_int(dlq_write(NULL, "f", 1, "x", 1, 0, "c", "m", jv_object()), 0,
	    "dlq_write(NULL) does nothing");

	errno = 0;
	ok(dlq_open("-", "p") == NULL && errno == EINVAL, "dlq_open(\"-\")");
	ok(dlq_open("/nonexistent/dir/dlq", "p") == NULL && errno == ENOENT,
	    "dlq_open of a bad path");
	snprintf(path, sizeof(path), "%s/dlq.ndjson", tmpdir);
	d = dlq_open(path, "push-adt");
	ok(d != NULL, "dlq_open");
	dlq_write(d, "a", 1, "{}", 2, 1, "c", "m", jv_invalid());
	is_int(dlq_close(d), 0, "dlq_close");
	memset(&st, 0, sizeof(st));
	n = (size_t)stat(path, &st);
	ok(n == 0 && (st.st_mode & 0777) == 0600,
	    "dead-letter file mode 0600 (%o)", (unsigned)(st.st_mode & 0777));
	d = dlq_open(path, "push-adt");
	dlq_write(d, "a", 2, "[]", 2, 1, "c", "m", jv_invalid());
	is_int(dlq_flush(d), 0, "dlq_flush");
	is_int(dlq_close(d), 0, "dlq_close again");
	fd = open(path, O_RDONLY);
	s = slurp(fd, &n);
	close(fd);
	is_str(s, "{\"error\":{\"code\":\"c\",\"message\":\"m\",\"program\":"
	    "\"push-adt\",\"source\":\"a\",\"line\":1},\"record\":{}}\n"
	    "{\"error\":{\"code\":\"c\",\"message\":\"m\",\"program\":"
	    "\"push-adt\",\"source\":\"a\",\"line\":2},\"record\":[]}\n",
	    "dlq_open appends");
	free(s);
	/* `jq -c .record` re-drives */
	{
		char cmd[600];
		FILE *p;
		char out[64] = "";

		snprintf(cmd, sizeof(cmd), "jq -c .record '%s' 2>&1", path);
		p = popen(cmd, "r");
		n = p ? fread(out, 1, sizeof(out) - 1, p) : 0;
		out[n] = '\0';
		if (p)
			pclose(p);
		is_str(out, "{}\n[]\n", "jq -c .record re-drives the records");
	}
}

int
main(void)
{
	char cmd[300];

	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_small();
	test_limits();
	test_big();
	test_stop_error();
	test_writer();
	test_dlq();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	return tap_done();
}
