/*
 * fuzz_blob_error.c - the Blob Storage error body reader
 * (blob_error_parse(), src/common/blob.c): libxml2 over untrusted,
 * possibly truncated answers.
 *
 * Properties checked:
 * - it never crashes, reads only body[0..size) (the input is copied to a
 *   buffer of exactly that size, not NUL-terminated);
 * - code and message are at most BLOB_ERROR_MAX bytes, hold no control
 *   character, are valid UTF-8, never start or end with a blank, and are
 *   empty on -1;
 * - the same holds for the first half of the input (a truncated answer).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "json.h"

static void
check(const char *p, size_t n)
{
	struct buf c = BUF_INIT, m = BUF_INIT;
	const struct buf *b[2] = { &c, &m };
	int rc = blob_error_parse(p, n, &c, &m);
	size_t i, k;

	if (rc < 0 && (c.len != 0 || m.len != 0))
		abort();
	if (rc == 0 && c.len == 0 && m.len == 0)
		abort();
	for (k = 0; k < 2; k++) {
		if (b[k]->len > BLOB_ERROR_MAX)
			abort();
		for (i = 0; i < b[k]->len; i++)
			if ((unsigned char)b[k]->p[i] < 0x20 ||
			    b[k]->p[i] == 0x7f)
				abort();
		if (b[k]->len > 0 && !json_utf8_valid(b[k]->p, b[k]->len))
			abort();
		if (b[k]->len > 0 && (b[k]->p[0] == ' ' ||
		    b[k]->p[b[k]->len - 1] == ' '))
			abort();
	}
	buf_release(&c);
	buf_release(&m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *p = malloc(size ? size : 1);

	if (p == NULL)
		return 0;
	memcpy(p, data, size);
	check(p, size);
	/* a truncated answer: half of it */
	check(p, size / 2);
	free(p);
	return 0;
}
