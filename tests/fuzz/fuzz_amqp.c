/*
 * fuzz_amqp.c - decoding of AMQP-encoded Kafka header values
 * (src/ingest/eventhub_amqp.c, compiled in here).
 *
 * Input: a header name, a NUL byte, then the value bytes (no NUL: the name
 * is "x"). The value is decoded and written as JSON; the output must be
 * one valid JSON value, and a value parsed as AMQP must account for every
 * input byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "../../src/ingest/eventhub_amqp.c"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eh_amqp_value v;
	struct buf b = BUF_INIT, name = BUF_INIT;
	const uint8_t *val = data, *z;
	size_t n = size;
	struct json_err je;
	jv j;

	z = memchr(data, 0, size);
	if (z != NULL) {
		buf_add(&name, data, (size_t)(z - data));
		val = z + 1;
		n = size - (size_t)(z - data) - 1;
	} else {
		buf_adds(&name, "x");
	}
	eh_amqp_decode(buf_cstr(&name), val, n, &v);
	eh_amqp_write_json(&b, &v);
	if (json_parse(b.p, b.len, &j, NULL, &je) < 0)
		abort();
	jv_free(j);
	if (eh_amqp_parse(val, n, &v) == 0 && v.kind >= EHA_UUID &&
	    v.kind <= EHA_SYMBOL && (v.p < val || v.p + v.n != val + n))
		abort();
	buf_release(&b);
	buf_release(&name);
	return 0;
}
