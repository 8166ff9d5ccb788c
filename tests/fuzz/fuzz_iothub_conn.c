/*
 * fuzz_iothub_conn.c - extract-lob's IoT Hub connection string parser and
 * the Date header parser of its pages (src/ingest/extract_iothub.c,
 * compiled in here). Any input: no crash; a parsed string has a host name
 * and a key, a failure says why; a page time is always RFC 3339.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/ingest/extract_emit.c"
#include "../../src/ingest/extract_iothub.c"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hub h;
	char msg[256], when[64], *s;

	if (size > 4096 || memchr(data, '\0', size) != NULL)
		return 0;
	s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	memset(&h, 0, sizeof(h));
	msg[0] = '\0';
	if (conn_parse(&h, s, msg, sizeof(msg)) == 0) {
		if (h.sr == NULL || h.sr[0] == '\0' || h.key == NULL ||
		    h.key[0] == '\0')
			abort();
	} else if (msg[0] == '\0') {
		abort();
	}
	free(h.sr);
	free(h.policy);
	free(h.key);
	h.date = (struct buf)BUF_INIT;
	buf_add(&h.date, s, size);
	buf_cstr(&h.date);
	page_time(&h, when, sizeof(when));
	if (strlen(when) != 28 || when[10] != 'T' || when[27] != 'Z')
		abort();
	buf_release(&h.date);
	free(s);
	return 0;
}
