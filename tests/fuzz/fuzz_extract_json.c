/*
 * fuzz_extract_json.c - extract-lob's streaming JSON scanner
 * (src/ingest/extract_json.c, compiled in here with the emitter).
 *
 * Input: an --items path, a newline, then a JSON document. The document is
 * streamed through extract_json(); nothing may crash or leak, and every
 * line written must be a valid JSON object. When the whole document parses
 * with the strict parser and its items array holds only objects, the
 * stream must succeed and write exactly those elements.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "tape.h"
#include "../../src/ingest/extract_emit.c"
#include "../../src/ingest/extract_json.c"

static int
memfd_with(const void *p, size_t n)
{
	int fd = memfd_create("fuzz", 0);

	if (fd < 0)
		abort();
	if (n > 0 && write(fd, p, n) != (ssize_t)n)
		abort();
	lseek(fd, 0, SEEK_SET);
	return fd;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static volatile sig_atomic_t stop;
	struct extract x = { 0 };
	struct ndjson_writer w;
	struct tape whole = TAPE_INIT, line = TAPE_INIT;
	struct json_err je;
	const char *nl;
	char *items, msg[256];
	int in, out, rc, all_objects = 0;
	uint32_t arr = 0, i;
	off_t len;
	char *text;
	size_t k, start, nlines = 0;

	if (size > 4096)
		return 0;
	nl = memchr(data, '\n', size);
	if (nl == NULL)
		return 0;
	items = strndup((const char *)data, (size_t)(nl - (const char *)data));
	if (extract_items_check(items, msg, sizeof(msg)) < 0) {
		free(items);
		return 0;
	}
	log_level = LV_QUIET;
	in = memfd_with(nl + 1, size - (size_t)(nl + 1 - (const char *)data));
	out = memfd_with(NULL, 0);
	ndjson_writer_init(&w, out);
	x.source = "json:fuzz";
	x.file = "fuzz";
	x.run = "r";
	x.w = &w;
	x.max_record = 1024;
	x.stop = &stop;
	x.shard_n = 1;
	rc = extract_json(&x, in, items);
	ndjson_writer_release(&w);

	len = lseek(out, 0, SEEK_END);
	text = malloc((size_t)len + 1);
	pread(out, text, (size_t)len, 0);
	for (start = 0, k = 0; k < (size_t)len; k++) {
		if (text[k] != '\n')
			continue;
		if (tape_parse(&line, text + start, k - start, &je) < 0 ||
		    line.nodes[0].type != TAPE_OBJECT)
			abort();	/* wrote something that is not an object */
		nlines++;
		start = k + 1;
	}
	if (start != (size_t)len)
		abort();		/* an unterminated line */

	/* the whole document: the strict parser's view must agree */
	if (tape_parse(&whole, nl + 1, size - (size_t)(nl + 1 -
	    (const char *)data), &je) == 0 && whole.nodes[0].type ==
	    TAPE_ARRAY && extract_items_find(items, &whole, &arr, msg,
	    sizeof(msg)) == 0) {
		all_objects = 1;
		for (i = arr + 1; i < whole.nodes[arr].next;
		    i = whole.nodes[i].next)
			if (whole.nodes[i].type != TAPE_OBJECT ||
			    (whole.nodes[i].flags & TAPE_DUPS))
				all_objects = 0;
		if (all_objects && (rc != 0 || x.failed != 0 ||
		    nlines != whole.nodes[arr].n))
			abort();
	}
	free(text);
	close(in);
	close(out);
	tape_release(&whole);
	tape_release(&line);
	tape_release(&x.t);
	canon_release(&x.canon);
	json_numlits_release(&x.lits);
	buf_release(&x.rec);
	buf_release(&x.tmp);
	free(items);
	return 0;
}
