/*
 * fuzz_blob_list.c - the List Blobs answer reader (blob_list_parse(),
 * src/common/blob_list.c): libxml2 over untrusted, possibly truncated
 * listings.
 *
 * Properties checked:
 * - it never crashes and reads only body[0..size) (a copy of exactly that
 *   size, not NUL-terminated);
 * - every item has a non-empty NUL-free name whose length is namelen, a
 *   size of -1 or more, a Last-Modified of -1 or more;
 * - on -1 there is a message;
 * - a callback that refuses stops the walk with -1;
 * - blob_http_date_parse() of any prefix never crashes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"

static int
item(void *ctx, const struct blob_item *it)
{
	int *n = ctx;

	if (it->name == NULL || it->namelen == 0 ||
	    strlen(it->name) != it->namelen || it->size < -1 ||
	    it->mtime < -1)
		abort();
	++*n;
	return 0;
}

static int
refuse(void *ctx, const struct blob_item *it)
{
	(void)ctx;
	(void)it;
	return -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf next = BUF_INIT, err = BUF_INIT;
	char *p, *s;
	int n = 0, rc;
	time_t t;

	if (size > 65536)
		return 0;
	p = malloc(size ? size : 1);
	memcpy(p, data, size);
	rc = blob_list_parse(p, size, &next, item, &n, &err);
	if (rc < 0 && err.len == 0)
		abort();
	if (n > 0) {
		err.len = 0;
		if (blob_list_parse(p, size, &next, refuse, NULL, &err) != -1)
			abort();
	}
	s = strndup(p, size < 64 ? size : 64);
	(void)blob_http_date_parse(s, &t);
	free(s);
	buf_release(&next);
	buf_release(&err);
	free(p);
	return 0;
}
