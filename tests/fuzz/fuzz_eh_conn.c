/*
 * fuzz_eh_conn.c - Event Hubs connection string parser
 * (src/ingest/eventhub_conn.c, compiled in here). Any input: no crash; a
 * failure says why; a success has a host, a port and a credential.
 */
#include <stdint.h>
#include <stdlib.h>

#include "../../src/ingest/eventhub_conn.c"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eh_conn c;
	struct buf e = BUF_INIT;

	if (eh_conn_parse((const char *)data, size, &c, &e) == 0) {
		if (c.host == NULL || c.host[0] == '\0' || c.port < 1 ||
		    c.port > 65535 || (c.sas == NULL && c.key == NULL))
			abort();
		eh_conn_release(&c);
	} else if (e.len == 0) {
		abort();
	}
	buf_release(&e);
	return 0;
}
