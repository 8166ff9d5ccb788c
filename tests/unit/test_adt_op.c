/*
 * test_adt_op.c - push-adt's record parsing, ids, URLs, bodies and merges;
 * the shared result line.
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#include "../../src/push/adt_op.h"
#include "result.h"

static int
parse(const char *text, struct adt_op *op, const char **code, struct buf *msg)
{
	struct json_numlits lits = JSON_NUMLITS_INIT;
	struct json_err je;
	jv v;
	int rc;

	if (json_parse(text, strlen(text), &v, &lits, &je) < 0)
		return -2;
	msg->len = 0;
	*code = NULL;
	rc = adt_op_parse(v, &lits, op, code, msg);
	json_numlits_release(&lits);
	return rc;
}

static void
expect_error(const char *text, const char *want)
{
	struct adt_op op;
	struct buf msg = BUF_INIT;
	const char *code = NULL;

	ok(parse(text, &op, &code, &msg) == -1, "rejects %s", text);
	is_str(code, want, "code of %s", text);
	adt_op_release(&op);
	buf_release(&msg);
}

int
main(void)
{
	struct adt_op op, op2;
	struct buf msg = BUF_INIT, b = BUF_INIT;
	const char *code, *why = NULL;
	struct result r = { 0 };

	ok(parse("{\"$dtId\":\"a\",\"$metadata\":{\"$model\":\"dtmi:x;1\"},"
	    "\"t\":12345678901234567,\"a/b~\":1,\"$op\":\"upsert\","
	    "\"$version\":3,\"_meta\":{\"k\":[1]},\"$patch\":[]}", &op, &code,
	    &msg) == 0, "twin upsert parses");
	ok(op.kind == ADT_TWIN && op.op == ADT_UPSERT && op.has_model,
	    "twin upsert with a model");
	is_str(op.put_body, "{\"$metadata\":{\"$model\":\"dtmi:x;1\"},"
	    "\"t\":12345678901234567,\"a/b~\":1}", "PUT body: no reserved "
	    "keys, no $dtId, number text kept");
	is_str(op.patch_body, "[{\"op\":\"add\",\"path\":\"/t\",\"value\":"
	    "12345678901234567},{\"op\":\"add\",\"path\":\"/a~1b~0\","
	    "\"value\":1}]", "upsert patch: add of carried properties");
	is_str(op.meta, "{\"k\":[1]}", "_meta kept as text");
	adt_op_release(&op);

	ok(parse("{\"$dtId\":\"s\",\"$relationshipId\":\"r\",\"$targetId\":"
	    "\"t\",\"$relationshipName\":\"has\",\"w\":1,\"$op\":\"replace\"}",
	    &op, &code, &msg) == 0, "relationship parses");
	ok(op.kind == ADT_REL && op.op == ADT_REPLACE, "relationship replace");
	is_str(op.target, "t", "target");
	is_str(op.put_body, "{\"$targetId\":\"t\",\"$relationshipName\":"
	    "\"has\",\"w\":1}", "relationship body");
	adt_op_release(&op);

	ok(parse("{\"$dtId\":\"s\",\"$relationshipId\":\"r\",\"$op\":"
	    "\"delete\"}", &op, &code, &msg) == 0,
	    "relationship delete needs no target");
	adt_op_release(&op);

	expect_error("{}", "missing_id");
	expect_error("{\"$dtId\":1}", "bad_id");
	expect_error("{\"$dtId\":\"\"}", "bad_id");
	expect_error("{\"$dtId\":\"a\\nb\"}", "bad_id");
	expect_error("{\"$dtId\":\"a\",\"$op\":\"merge\"}", "unknown_op");
	expect_error("{\"$dtId\":\"a\",\"$op\":null}", "unknown_op");
	expect_error("{\"$dtId\":\"a\",\"$op\":\"patch\"}", "bad_patch");
	expect_error("{\"$dtId\":\"a\",\"$op\":\"patch\",\"$patch\":[]}",
	    "bad_patch");
	expect_error("{\"$dtId\":\"a\",\"$op\":\"patch\",\"$patch\":[{\"op\":"
	    "\"copy\",\"from\":\"/a\",\"path\":\"/b\"}]}", "bad_patch");
	expect_error("{\"$dtId\":\"a\",\"$op\":\"patch\",\"$patch\":[{\"op\":"
	    "\"add\",\"path\":\"/b\"}]}", "bad_patch");
	expect_error("{\"$dtId\":\"a\",\"$targetId\":\"b\"}", "missing_id");
	expect_error("{\"$dtId\":\"a\",\"$relationshipId\":\"r\","
	    "\"$relationshipName\":\"x\"}", "missing_target");
	expect_error("{\"$dtId\":\"a\",\"$relationshipId\":\"r\","
	    "\"$targetId\":\"b\"}", "missing_relationship_name");

	/* merges */
	ok(parse("{\"$dtId\":\"a\",\"$op\":\"patch\",\"$patch\":[{\"op\":"
	    "\"add\",\"path\":\"/x\",\"value\":1}]}", &op, &code, &msg) == 0 &&
	    parse("{\"$dtId\":\"a\",\"$op\":\"patch\",\"$patch\":[{\"op\":"
	    "\"remove\",\"path\":\"/y\"}]}", &op2, &code, &msg) == 0,
	    "two patches parse");
	ok(adt_op_merge(&op, &op2) == 1, "patches of one twin merge");
	is_str(op.patch_body, "[{\"op\":\"add\",\"path\":\"/x\",\"value\":1},"
	    "{\"op\":\"remove\",\"path\":\"/y\"}]", "merged operations in order");
	free(op2.id);
	op2.id = xstrdup("b");
	ok(adt_op_merge(&op, &op2) == 0, "patches of two twins do not");
	adt_op_release(&op);
	adt_op_release(&op2);

	/* ids and URLs */
	ok(adt_url(&b, "https://x", "a/b?c#d% e\xc3\xbc", "relationships",
	    "r/1", "2023-10-31", &why) == 0, "URL built");
	is_str(buf_cstr(&b), "https://x/digitaltwins/a%2Fb%3Fc%23d%25%20e%C3%BC"
	    "/relationships/r%2F1?api-version=2023-10-31", "ids percent-encoded");
	msg.len = 0;
	ok(adt_id_check(" a", "$dtId", &msg) < 0, "leading space rejected");
	ok(adt_id_check("a\x7f", "$dtId", &msg) < 0, "DEL rejected");
	ok(adt_id_check("a b/c", "$dtId", &msg) == 0, "inner space accepted");
	ok(adt_id_check(".", "$dtId", &msg) < 0, "'.' rejected");
	ok(adt_id_check("..", "$relationshipId", &msg) < 0, "'..' rejected");
	ok(strstr(buf_cstr(&msg), "$relationshipId '..'") != NULL,
	    "the reason names the id");
	ok(adt_id_check("...", "$dtId", &msg) == 0, "'...' accepted");
	b.len = 0;
	buf_adds(&b, "keep");
	ok(adt_url(&b, "https://x", "victim", "relationships", "..",
	    "2023-10-31", &why) < 0, "adt_url refuses a '..' relationship id");
	is_str(buf_cstr(&b), "keep", "and leaves the buffer as it was");
	ok(adt_url(&b, "https://x", ".", NULL, NULL, "v", &why) < 0,
	    "adt_url refuses a '.' twin id");
	{
		jv rec = jv_parse("{\"$dtId\":\"a\\u0000b\",\"$op\":\"delete\"}");
		struct adt_op o2;
		const char *c2 = NULL;

		msg.len = 0;
		ok(adt_op_parse(rec, NULL, &o2, &c2, &msg) < 0 && c2 != NULL &&
		    strcmp(c2, "bad_id") == 0, "an id with \\u0000 is bad_id");
		ok(strstr(buf_cstr(&msg), "NUL") != NULL, "the reason says NUL");
		adt_op_release(&o2);
	}

	/* result line */
	b.len = 0;
	r.ok = 0;
	r.op = "upsert";
	r.id = "r\"1";
	r.source = "s";
	r.status = 404;
	r.attempts = 2;
	r.err_code = "DigitalTwinNotFound";
	r.err_msg = "no";
	r.meta = "{\"k\":1}";
	result_write(&b, &r);
	is_str(buf_cstr(&b), "{\"ok\":false,\"op\":\"upsert\",\"id\":\"r\\\"1\","
	    "\"source\":\"s\",\"status\":404,\"attempts\":2,\"error\":{\"code\":"
	    "\"DigitalTwinNotFound\",\"message\":\"no\"},\"_meta\":{\"k\":1}}",
	    "result line");
	buf_release(&b);
	buf_release(&msg);
	return tap_done();
}
