/*
 * fuzz_extract_types.c - extract-lob's CSV --types: the list parser and
 * the conversion of one field to JSON (src/ingest/extract_types.c,
 * compiled in here).
 *
 * Input: a type selector byte, then the field's bytes; or, when the
 * selector is 'L', a --types list. A converted value must be exactly one
 * valid JSON value; int and number keep the field's text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tape.h"
#include "../../src/ingest/extract_types.c"

static int
count(void *ctx, const char *name, size_t n, enum csv_type ty)
{
	(void)name;
	(void)ty;
	if (n == 0)
		abort();	/* "=int" must have been refused */
	++*(int *)ctx;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tape t, check;
	static struct canon c;
	struct buf out = BUF_INIT;
	struct json_err je;
	char msg[256];
	enum csv_type ty;
	int n = 0;

	if (size < 1 || size > 4096)
		return 0;
	if (data[0] == 'L') {
		char *s = strndup((const char *)data + 1, size - 1);

		extract_types_each(s, msg, sizeof(msg), count, &n);
		free(s);
		return 0;
	}
	ty = (enum csv_type)(data[0] % 6);
	if (extract_csv_convert(ty, (const char *)data + 1, size - 1, &out,
	    &t, &c, msg, sizeof(msg)) == 0) {
		if (tape_parse(&check, out.p, out.len, &je) < 0)
			abort();	/* not one JSON value */
		if ((ty == CT_INT || ty == CT_NUMBER) && size > 1 &&
		    (out.len != size - 1 || memcmp(out.p, data + 1, out.len)))
			abort();	/* the digits changed */
		if (ty == CT_DATETIME && size > 1 &&
		    check.nodes[0].type != TAPE_STRING)
			abort();
	}
	buf_release(&out);
	return 0;
}
