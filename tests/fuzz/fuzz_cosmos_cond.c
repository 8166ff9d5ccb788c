/*
 * fuzz_cosmos_cond.c - twin-emulator's Cosmos patch condition parser and
 * JSON Pointer edits (src/emulator/jpatch.c, compiled in here).
 *
 * Input: a condition ("from c where ..."), then optionally a newline and a
 * JSON Pointer. The condition is evaluated against a fixed document, the
 * pointer is used by every edit operation. Nothing may crash or leak, and
 * a failed edit must say why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "../../src/emulator/jpatch.c"

static const char doc_text[] =
    "{\"id\":\"d1\",\"v\":3,\"s\":\"x\",\"a\":[1,{\"b\":null}],"
    "\"o\":{\"p\":{\"q\":true}},\"a b\":1,\"m~n/\":2}";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_err je;
	char msg[300], *s, *nl;
	jv doc, r;
	int op, rc;

	if (size > 4096)
		return 0;
	s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	if (json_parse(doc_text, sizeof(doc_text) - 1, &doc, NULL, &je) != 0)
		abort();
	nl = strchr(s, '\n');
	if (nl != NULL)
		*nl = '\0';
	rc = jpatch_cond(s, doc, msg, sizeof(msg));
	if (rc < 0 && msg[0] == '\0')
		abort();	/* a syntax error must say why */
	if (nl != NULL) {
		for (op = JP_ADD; op <= JP_MOVE; op++) {
			r = jpatch_apply(jv_copy(doc), (enum jpatch_op)op, nl + 1,
			    "/o/p", jv_number(1), msg, sizeof(msg));
			if (!jv_is_valid(r) && msg[0] == '\0')
				abort();
			jv_free(r);
		}
	}
	jv_free(doc);
	free(s);
	return 0;
}
