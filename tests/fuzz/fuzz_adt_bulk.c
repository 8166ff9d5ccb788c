/*
 * fuzz_adt_bulk.c - push-adt's reading of an ADT import job's output log
 * (src/push/adt_bulk.c and adt_op.c, compiled in here).
 *
 * Input: a log (NDJSON). A fixed import file of two twins and two
 * relationships is built and settled from it: every entity must end in
 * a settled state (never pending), a FAILED or EXISTS one with a code.
 * Nothing may crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/push/adt_op.c"
#include "../../src/push/adt_bulk.c"

static const char *const recs[] = {
	"{\"$dtId\":\"a\",\"$metadata\":{\"$model\":\"dtmi:x;1\"}}",
	"{\"$dtId\":\"a\",\"$relationshipId\":\"r1\",\"$targetId\":\"b\","
	"\"$relationshipName\":\"has\"}",
	"{\"$dtId\":\"b\",\"$metadata\":{\"$model\":\"dtmi:x;1\"}}",
	"{\"$dtId\":\"b\",\"$relationshipId\":\"r2\",\"$targetId\":\"a\","
	"\"$relationshipName\":\"has\"}",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct adt_bulk b = ADT_BULK_INIT;
	struct adt_bulk_sum s;
	struct json_numlits lits = JSON_NUMLITS_INIT;
	struct json_err je;
	struct buf f = BUF_INIT, msg = BUF_INIT;
	struct adt_op op;
	const char *code;
	size_t i;
	jv v;

	for (i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		if (json_parse(recs[i], strlen(recs[i]), &v, &lits, &je) < 0)
			abort();
		if (adt_op_parse(jv_copy(v), &lits, &op, &code, &msg) < 0)
			abort();
		adt_bulk_add(&b, &op, v, &lits);
		adt_op_release(&op);
		jv_free(v);
	}
	adt_bulk_file(&b, &f, "fuzz");
	adt_bulk_settle(&b, (const char *)data, size, NULL, NULL, &s);
	for (i = 0; i < b.n; i++) {
		if (b.e[i].out == ADT_BULK_PENDING)
			abort();
		if ((b.e[i].out == ADT_BULK_FAILED ||
		    b.e[i].out == ADT_BULK_EXISTS) && !b.e[i].code)
			abort();
	}
	adt_bulk_release(&b);
	json_numlits_release(&lits);
	buf_release(&f);
	buf_release(&msg);
	return 0;
}
