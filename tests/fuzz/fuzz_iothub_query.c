/*
 * fuzz_iothub_query.c - twin-emulator's IoT Hub query parser and WHERE
 * evaluator (src/emulator/iothub_query.c, compiled in here).
 *
 * Input: a query text. It is parsed; a parse error must say why; a parsed
 * query is evaluated against a fixed twin and a few odd values. Nothing
 * may crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "../../src/emulator/iothub_query.c"

static const char twin_text[] =
    "{\"deviceId\":\"d1\",\"version\":3,\"status\":\"enabled\","
    "\"tags\":{\"loc\":{\"city\":\"Oslo\",\"n\":2},\"a b\":[1,2]},"
    "\"properties\":{\"desired\":{\"x\":null,\"$version\":2},"
    "\"reported\":{\"fw\":\"1.0\",\"on\":true}}}";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iothub_query q;
	struct json_err je;
	char msg[300], *s;
	jv twin;

	if (size > 9000)
		return 0;
	s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	if (iothub_query_parse(s, &q, msg, sizeof(msg)) != 0) {
		if (msg[0] == '\0')
			abort();	/* a syntax error must say why */
	} else {
		if (json_parse(twin_text, sizeof(twin_text) - 1, &twin, NULL,
		    &je) != 0)
			abort();
		(void)iothub_query_match(&q, twin);
		(void)iothub_query_match(&q, jv_null());
		jv_free(twin);
		twin = jv_object();	/* match borrows */
		(void)iothub_query_match(&q, twin);
		jv_free(twin);
	}
	iothub_query_free(&q);
	free(s);
	return 0;
}
