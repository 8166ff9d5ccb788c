/*
 * fuzz_ndjson.c - arbitrary bytes through the line reader (small max_line,
 * via a temp file), every line through json_parse and an in-memory
 * dead-letter writer whose output must be one valid JSON line per letter.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "ndjson.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct ndjson_reader *r;
	struct ndjson_line line;
	struct dlq *d;
	struct buf *b;
	size_t max_line, total = 0, off;
	unsigned long long want = 0;
	int rc;

	if (fd < 0) {
		FILE *f = tmpfile();

		if (f == NULL)
			abort();
		fd = dup(fileno(f));
		fclose(f);
	}
	/* the first byte picks the line limit: 1..64 */
	max_line = size > 0 ? (size_t)(data[0] % 64) + 1 : 8;
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	r = ndjson_reader_new(fd, "<fuzz>", max_line, NULL, NULL, NULL);
	d = dlq_new_mem("fuzz");
	while ((rc = ndjson_read(r, &line)) == 1) {
		jv v;
		struct json_err err;
		int ok;

		if (line.lineno != ++want || line.len > max_line ||
		    line.p[line.len] != '\0')
			abort();
		if (memchr(line.p, '\n', line.len) != NULL)
			abort();
		if (line.too_long && line.len != max_line)
			abort();
		total += line.len;
		if (ndjson_blank(line.p, line.len))
			continue;
		ok = !line.too_long &&
		    json_parse(line.p, line.len, &v, NULL, &err) == 0;
		if (ok) {
			jv_free(v);
			dlq_write(d, "<fuzz>", line.lineno, line.p, line.len, 1,
			    "test", "a valid record", jv_null());
		} else {
			jv extra = jv_object_set(jv_object(),
			    jv_string("offset"), jv_number((double)err.off));

			dlq_write(d, "<fuzz>", line.lineno, line.p, line.len, 0,
			    line.too_long ? "too_long" : "parse",
			    line.too_long ? "line too long" : err.msg, extra);
		}
	}
	if (rc != 0 || total > size)
		abort();
	/* every dead letter is one valid JSON object line */
	b = dlq_buffer(d);
	for (off = 0; off < b->len;) {
		char *nl = memchr(b->p + off, '\n', b->len - off);
		jv v;

		if (nl == NULL)
			abort();
		if (json_parse(b->p + off, (size_t)(nl - (b->p + off)), &v,
		    NULL, NULL) != 0 || jv_get_kind(v) != JV_KIND_OBJECT)
			abort();
		jv_free(v);
		off = (size_t)(nl - b->p) + 1;
	}
	dlq_close(d);
	ndjson_reader_free(r);
	return 0;
}
