/*
 * fuzz_fastpath.c - transform's fast path: the jq-subset compiler and the
 * evaluator (src/transform/fastpath*.c, compiled in here).
 *
 * Input: a jq program, a newline, then one JSON record. The program is
 * compiled for the fast path; when it compiles and the record parses as an
 * object, it is run. Nothing may crash or leak, an output must be one valid
 * JSON line, and a refused record must leave the output as it was.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tape.h"
#include "../../src/transform/fastpath_lex.c"
#include "../../src/transform/fastpath_parse.c"
#include "../../src/transform/fastpath_eval.c"
#include "../../src/transform/fastpath_map.c"
#include "../../src/transform/fastpath.c"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tape t;
	struct json_err je;
	struct buf out = BUF_INIT;
	const char *nl;
	char *prog;
	struct fp *f;
	jv args;

	if (size > 4096)
		return 0;
	{
		/* the mapping matchers on the raw bytes */
		uint32_t i = 0;
		int zone;

		(void)match_datetime((const char *)data, (uint32_t)size, &zone);
		(void)match_duration((const char *)data, (uint32_t)size);
		(void)match_date((const char *)data, (uint32_t)size, &i);
		if (i > size)
			abort();
	}
	nl = memchr(data, '\n', size);
	if (nl == NULL)
		nl = (const char *)data + size;
	prog = xmalloc((size_t)(nl - (const char *)data) + 1);
	memcpy(prog, data, (size_t)(nl - (const char *)data));
	prog[nl - (const char *)data] = '\0';
	args = jv_object_set(jv_object(), jv_string("v"), jv_string("V"));
	args = jv_object_set(args, jv_string("n"), jv_number(2));
	f = fp_compile(prog, args);
	if (f != NULL && nl < (const char *)data + size) {
		const char *rec = nl + 1;
		size_t rn = size - (size_t)(rec - (const char *)data);

		if (tape_parse(&t, rec, rn, &je) == 0 &&
		    t.nodes[0].type == TAPE_OBJECT) {
			buf_adds(&out, "x");
			if (fp_run(f, &t, &out)) {
				jv v;

				if (out.len < 3 || out.p[out.len - 1] != '\n' ||
				    json_parse(out.p + 1, out.len - 2, &v, NULL,
				    &je) < 0)
					abort();	/* not one JSON line */
				jv_free(v);
			} else if (out.len != 1) {
				abort();	/* refused but wrote */
			}
		}
	}
	fp_free(f);
	jv_free(args);
	free(prog);
	buf_release(&out);
	return 0;
}
