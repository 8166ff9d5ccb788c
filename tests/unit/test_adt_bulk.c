/*
 * test_adt_bulk.c - push-adt's import file and the mapping of an import
 * job's output log back to its entities (src/push/adt_bulk.c).
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#include "../../src/push/adt_bulk.h"
#include "ndjson.h"

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

/* the query for which twins exist: quoting, 50 ids, the text bound */
static void
test_query(void)
{
	char *ids[120], big[400];
	struct buf q = BUF_INIT;
	size_t i, n;

	ids[0] = "a";
	ids[1] = "it's";
	ids[2] = "back\\slash";
	n = adt_bulk_query(&q, ids, 3);
	is_int(n, 3, "three ids");
	is_str(q.p, "SELECT T.$dtId FROM DIGITALTWINS T WHERE T.$dtId IN "
	    "['a','it\\'s','back\\\\slash']", "quoted and escaped");
	for (i = 0; i < 120; i++)
		ids[i] = "x";
	q.len = 0;
	is_int(adt_bulk_query(&q, ids, 120), ADT_BULK_IN_MAX, "50 at most");
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (i = 0; i < 120; i++)
		ids[i] = big;
	q.len = 0;
	n = adt_bulk_query(&q, ids, 120);
	ok(n >= 1 && n < ADT_BULK_IN_MAX && q.len <= ADT_BULK_QUERY_MAX,
	    "long ids: the text stays under the bound (%zu ids, %zu bytes)",
	    n, q.len);
	ok(q.p[q.len - 1] == ']' && q.p[q.len - 2] == '\'', "well formed");
	{
		char huge[8000];

		memset(huge, 'h', sizeof(huge) - 1);
		huge[sizeof(huge) - 1] = '\0';
		ids[0] = huge;
		q.len = 0;
		is_int(adt_bulk_query(&q, ids, 3), 1,
		    "one id longer than the bound still goes alone");
	}
	buf_release(&q);
}

#define SP(text, ...) adt_bulk_state_parse(text, strlen(text), __VA_ARGS__)

/* the state file: written, read back, refused when broken */
static void
test_state(void)
{
	struct adt_bulk_state s = { 0 }, r;
	struct buf b = BUF_INIT, err = BUF_INIT;

	s.job_id = "j-1";
	s.endpoint = "https://x.api.wus2.digitaltwins.azure.net";
	s.input_url = "http://127.0.0.1:1/acct/c/in \"q\".ndjson";
	s.output_url = "http://127.0.0.1:1/acct/c/out.ndjson";
	s.input_blob = "p/in \"q\".ndjson";
	s.output_blob = "p/out.ndjson";
	adt_bulk_state_write(&b, &s);
	ok(b.len > 0 && b.p[b.len - 1] == '\n', "one line");
	ok(adt_bulk_state_parse(b.p, b.len, &r, &err) == 0, "read back");
	is_str(r.job_id, "j-1", "jobId");
	is_str(r.input_url, s.input_url, "inputBlobUri");
	is_str(r.input_blob, s.input_blob, "inputBlob");
	is_str(r.output_blob, "p/out.ndjson", "outputBlob");
	adt_bulk_state_release(&r);
	ok(r.job_id == NULL, "released");
	ok(SP("{\"jobId\":\"j\"}", &r, &err) == 0 &&
	    r.endpoint == NULL, "only a job id");
	adt_bulk_state_release(&r);
	ok(SP("{\"jobId\":\"\"}", &r, &err) < 0,
	    "an empty job id");
	ok(SP("{\"jobId\":1}", &r, &err) < 0,
	    "a number");
	ok(SP("{\"jobId\":\"j\",\"inputBlob\":[]}", &r,
	    &err) < 0, "a member not a string");
	ok(SP("[1]", &r, &err) < 0, "not an object");
	ok(SP("{\"jobId\":\"j\"", &r, &err) < 0 &&
	    err.len > 0, "cut short");
	buf_release(&b);
	buf_release(&err);
}

/* the spool's frames keep the bytes, line numbers and flags */
static void
test_spool(void)
{
	struct buf b = BUF_INIT;
	struct ndjson_line l = { 0 }, o;
	char a[] = "{\"$dtId\":\"a\"}", z[] = "x\0y";
	long n, m;

	l.p = a;
	l.len = strlen(a);
	l.lineno = 7;
	adt_spool_frame(&b, &l);
	l.p = z;
	l.len = 3;
	l.lineno = 1ull << 40;
	l.too_long = 1;
	l.unterminated = 1;
	adt_spool_frame(&b, &l);
	n = adt_spool_unframe(b.p, b.len, &o);
	ok(n > 0 && o.lineno == 7 && o.len == strlen(a) &&
	    memcmp(o.p, a, o.len) == 0 && o.p[o.len] == '\0' && !o.too_long,
	    "first frame");
	m = adt_spool_unframe(b.p + n, b.len - (size_t)n, &o);
	ok(m > 0 && (size_t)(n + m) == b.len && o.lineno == (1ull << 40) &&
	    o.len == 3 && memcmp(o.p, z, 3) == 0 && o.too_long &&
	    o.unterminated, "second frame: a NUL inside, flags");
	is_int(adt_spool_unframe(b.p, 0, &o), 0, "the end");
	is_int(adt_spool_unframe(b.p, (size_t)n - 1, &o), -1, "cut short");
	b.p[n - 1] = 'x';
	is_int(adt_spool_unframe(b.p, b.len, &o), -1, "no NUL at its end");
	buf_release(&b);
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
	test_query();
	test_state();
	test_spool();
	return tap_done();
}
