/*
 * test_adt_bulk.c - push-adt's import file and the mapping of an import
 * job's output log back to its entities (src/push/adt_bulk.c).
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#include "../../src/push/adt_bulk.h"

static long
add(struct adt_bulk *b, const char *text)
{
	struct json_numlits lits = JSON_NUMLITS_INIT;
	struct json_err je;
	struct adt_op op;
	struct buf msg = BUF_INIT;
	const char *code;
	jv v;
	long i = -2;

	if (json_parse(text, strlen(text), &v, &lits, &je) == 0) {
		if (adt_op_parse(jv_copy(v), &lits, &op, &code, &msg) == 0) {
			i = adt_bulk_add(b, &op, v, &lits);
			adt_op_release(&op);
		}
		jv_free(v);
	}
	json_numlits_release(&lits);
	buf_release(&msg);
	return i;
}

#define T(id) "{\"$dtId\":\"" id "\",\"$metadata\":{\"$model\":\"dtmi:x;1\"}," \
	"\"n\":1.50,\"_meta\":{\"k\":1}}"
#define R(src, rid) "{\"$dtId\":\"" src "\",\"$relationshipId\":\"" rid \
	"\",\"$targetId\":\"b\",\"$relationshipName\":\"has\"}"
#define LOG0 "{\"jobId\":\"j\",\"jobType\":\"Import\",\"logType\":\"Info\","
#define INFO(sec, st) LOG0 "\"details\":{\"section\":\"" sec "\"," \
	"\"status\":\"" st "\"}}\n"
#define ERR(sec, rest) "{\"jobId\":\"j\",\"logType\":\"Error\",\"details\":" \
	"{\"section\":\"" sec "\"," rest "}}\n"

static void
build(struct adt_bulk *b, struct buf *f)
{
	memset(b, 0, sizeof(*b));
	ok(add(b, T("a")) == 0, "twin a added");
	ok(add(b, R("a", "r1")) == 1, "relationship added");
	ok(add(b, T("b")) == 2, "twin b added");
	ok(add(b, "{\"$dtId\":\"a\",\"$op\":\"patch\",\"$patch\":"
	    "[{\"op\":\"add\",\"path\":\"/n\",\"value\":1}]}") == -1,
	    "a patch is not for an import file");
	ok(add(b, R("b", "r2")) == 3, "second relationship");
	f->len = 0;
	adt_bulk_file(b, f, "t");
}

int
main(void)
{
	struct adt_bulk b;
	struct adt_bulk_sum s;
	struct buf f = BUF_INIT;
	const char *log;

	build(&b, &f);
	is_str(buf_cstr(&f),
	    "{\"Section\":\"Header\"}\n"
	    "{\"fileVersion\":\"1.0.0\",\"author\":\"t\","
	    "\"organization\":\"twinpipe\"}\n"
	    "{\"Section\":\"Twins\"}\n"
	    "{\"$dtId\":\"a\",\"$metadata\":{\"$model\":\"dtmi:x;1\"},"
	    "\"n\":1.50}\n"
	    "{\"$dtId\":\"b\",\"$metadata\":{\"$model\":\"dtmi:x;1\"},"
	    "\"n\":1.50}\n"
	    "{\"Section\":\"Relationships\"}\n"
	    "{\"$dtId\":\"a\",\"$relationshipId\":\"r1\",\"$targetId\":\"b\","
	    "\"$relationshipName\":\"has\"}\n"
	    "{\"$dtId\":\"b\",\"$relationshipId\":\"r2\",\"$targetId\":\"b\","
	    "\"$relationshipName\":\"has\"}\n", "import file");
	is_int(b.e[0].line, 4, "line of twin a");
	is_int(b.e[2].line, 5, "line of twin b");
	is_int(b.e[1].line, 7, "line of r1");
	is_int(b.e[3].line, 8, "line of r2");

	/* a clean job */
	log = LOG0 "\"details\":{\"status\":\"Started\"}}\n"
	    INFO("Twins", "Started") INFO("Twins", "Succeeded")
	    INFO("Relationships", "Started") INFO("Relationships", "Succeeded")
	    LOG0 "\"details\":{\"status\":\"Succeeded\"}}\n";
	adt_bulk_settle(&b, log, strlen(log), NULL, NULL, &s);
	is_int(s.job_status, 1, "job succeeded");
	ok(b.e[0].out == ADT_BULK_OK && b.e[1].out == ADT_BULK_OK &&
	    b.e[2].out == ADT_BULK_OK && b.e[3].out == ADT_BULK_OK,
	    "every entity ok");
	adt_bulk_release(&b);

	/* partial failures: by line, by ids, already there */
	build(&b, &f);
	log = INFO("Twins", "Started")
	    ERR("Twins", "\"lineNumber\":5,\"$dtId\":\"b\","
	    "\"code\":\"ModelNotFound\",\"message\":\"no model\"")
	    INFO("Twins", "Succeeded")
	    ERR("Relationships", "\"$dtId\":\"a\",\"$relationshipId\":\"r1\","
	    "\"code\":\"RelationshipAlreadyExists\"")
	    INFO("Relationships", "Succeeded")
	    LOG0 "\"details\":{\"status\":\"Succeeded\"}}\n";
	adt_bulk_settle(&b, log, strlen(log), NULL, NULL, &s);
	ok(b.e[0].out == ADT_BULK_OK, "a ok");
	ok(b.e[2].out == ADT_BULK_FAILED, "b failed");
	is_str(b.e[2].code, "ModelNotFound", "b's code");
	ok(b.e[1].out == ADT_BULK_EXISTS, "r1 exists: request path");
	ok(b.e[3].out == ADT_BULK_OK, "r2 ok");
	adt_bulk_release(&b);

	/* an error line that maps to nothing: its section is verified */
	build(&b, &f);
	log = INFO("Twins", "Started")
	    ERR("Twins", "\"lineNumber\":4,\"$dtId\":\"zz\",\"code\":\"X\"")
	    INFO("Twins", "Succeeded") INFO("Relationships", "Succeeded");
	adt_bulk_settle(&b, log, strlen(log), NULL, NULL, &s);
	ok(b.e[0].out == ADT_BULK_VERIFY && b.e[2].out == ADT_BULK_VERIFY,
	    "twins verified");
	ok(b.e[1].out == ADT_BULK_OK, "relationships trusted");
	adt_bulk_release(&b);

	/* the job failed in the relationships */
	build(&b, &f);
	log = INFO("Twins", "Succeeded") INFO("Relationships", "Started")
	    "not json\n"
	    LOG0 "\"details\":{\"status\":\"Failed\"}}\n";
	adt_bulk_settle(&b, log, strlen(log), "Cancelled", "cancelled", &s);
	is_int(s.job_status, -1, "job failed");
	is_int(s.bad_lines, 1, "a bad line counted");
	ok(b.e[0].out == ADT_BULK_VERIFY, "a bad line: twins verified");
	ok(b.e[1].out == ADT_BULK_FAILED && b.e[3].out == ADT_BULK_FAILED,
	    "relationships failed");
	is_str(b.e[1].code, "Cancelled", "with the job's code");
	adt_bulk_release(&b);
	ok(adt_bulk_code_exists("TwinAlreadyExists") &&
	    !adt_bulk_code_exists("Exists") && !adt_bulk_code_exists(NULL),
	    "already-exists codes");
	buf_release(&f);
	return tap_done();
}
