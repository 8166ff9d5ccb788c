/*
 * fuzz_adt_state.c - push-adt's readers of its own files: the bulk state
 * file (adt_bulk_state_parse) and the spool's frames (adt_spool_unframe),
 * src/push/adt_bulk.c and adt_op.c compiled in here.
 *
 * Input: any bytes, read as a state file (what it accepts must write back
 * and read back the same) and as a spool (frames walked to the end: each
 * one inside the input, NUL-terminated). Nothing may crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/push/adt_op.c"
#include "../../src/push/adt_bulk.c"

static int
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL &&
	    strcmp(a, b) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct adt_bulk_state s, t;
	struct buf err = BUF_INIT, w = BUF_INIT;
	struct ndjson_line l;
	char *copy = malloc(size + 1);
	size_t off = 0;
	long n;

	if (adt_bulk_state_parse((const char *)data, size, &s, &err) == 0) {
		if (s.job_id == NULL || s.job_id[0] == '\0')
			abort();
		adt_bulk_state_write(&w, &s);
		if (adt_bulk_state_parse(w.p, w.len, &t, &err) < 0 ||
		    !same(s.job_id, t.job_id) ||
		    !same(s.input_blob, t.input_blob) ||
		    !same(s.output_url, t.output_url))
			abort();
		adt_bulk_state_release(&t);
		adt_bulk_state_release(&s);
	}
	memcpy(copy, data, size);
	while ((n = adt_spool_unframe(copy + off, size - off, &l)) > 0) {
		if ((size_t)n > size - off || l.p < copy + off ||
		    l.p + l.len >= copy + off + (size_t)n || l.p[l.len] != '\0')
			abort();
		off += (size_t)n;
	}
	free(copy);
	buf_release(&err);
	buf_release(&w);
	return 0;
}
