/*
 * buf.h - a growable byte buffer.
 *
 * Allocation failure aborts the program (out of memory is not a record
 * error), so none of these functions report errors.
 */
#ifndef TP_BUF_H
#define TP_BUF_H

#include <stddef.h>
#include <string.h>

struct buf {
	char *p;
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

/* Make room for at least n more bytes. Aborts on out of memory. */
void buf_grow(struct buf *b, size_t n);
/* Release the memory; the buffer is empty and reusable afterwards. */
void buf_release(struct buf *b);
/* printf to the end of the buffer. */
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* NUL-terminate without counting the NUL in len; returns b->p. */
char *buf_cstr(struct buf *b);

static inline void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;	/* b->p may be NULL: memcpy(NULL, ...) is undefined */
	if (b->cap - b->len < n)
		buf_grow(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static inline void
buf_addc(struct buf *b, char c)
{
	if (b->cap == b->len)
		buf_grow(b, 1);
	b->p[b->len++] = c;
}

static inline void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/*
 * Append the whole file at path to b. Returns 0, or -1 with errno set (b
 * may then hold part of it).
 */
int buf_read_file(struct buf *b, const char *path);

/* Abort with a message if p is NULL (allocation failed); returns p. */
void *xalloc_check(void *p);
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

#endif
