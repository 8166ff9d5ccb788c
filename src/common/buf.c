#include "buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void *
xalloc_check(void *p)
{
	static const char msg[] = "twinpipe: fatal: out of memory\n";

	if (p == NULL) {
		(void)!write(2, msg, sizeof(msg) - 1);
		abort();
	}
	return p;
}

void *
xmalloc(size_t n)
{
	return xalloc_check(malloc(n ? n : 1));
}

void *
xcalloc(size_t n, size_t m)
{
	return xalloc_check(calloc(n ? n : 1, m ? m : 1));
}

void *
xrealloc(void *p, size_t n)
{
	return xalloc_check(realloc(p, n ? n : 1));
}

char *
xstrdup(const char *s)
{
	return xalloc_check(strdup(s));
}

void
buf_grow(struct buf *b, size_t n)
{
	size_t want = b->len + n, cap = b->cap ? b->cap : 256;

	if (want < b->len)
		xalloc_check(NULL);
	while (cap < want + 1)
		cap *= 2;
	if (cap != b->cap) {
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
}

void
buf_release(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->p ? b->p + b->len : NULL, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		buf_grow(b, (size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

char *
buf_cstr(struct buf *b)
{
	if (b->cap == b->len)
		buf_grow(b, 1);
	b->p[b->len] = '\0';
	return b->p;
}

int
buf_read_file(struct buf *b, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), e;
	ssize_t n;

	if (fd < 0)
		return -1;
	for (;;) {
		buf_grow(b, 65536);
		n = read(fd, b->p + b->len, b->cap - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		b->len += (size_t)n;
	}
	e = errno;
	close(fd);
	errno = e;
	return n < 0 ? -1 : 0;
}
