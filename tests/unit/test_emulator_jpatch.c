/* twin-emulator's JSON Pointer edits and Cosmos patch conditions. */
#include <stdlib.h>
#include <string.h>

#include "../../src/emulator/emu.h"
#include "json.h"
#include "tap.h"

static jv
J(const char *s)
{
	struct json_err je;
	jv v;

	if (json_parse(s, strlen(s), &v, NULL, &je) != 0)
		abort();
	return v;
}

/* apply op to doc text and compare with want text ("ERR" for failure) */
static void
check(const char *doc, enum jpatch_op op, const char *path, const char *from,
    const char *val, const char *want, const char *name)
{
	char msg[200];
	jv v = val ? J(val) : jv_null();
	jv r = jpatch_apply(J(doc), op, path, from, v, msg, sizeof(msg));
	char *got = jv_is_valid(r) ? json_dump(r, JSON_SORTED) : strdup("ERR");

	is_str(got, want, "%s", name);
	if (!jv_is_valid(r))
		ok(msg[0] != '\0', "%s: has a message", name);
	free(got);
	jv_free(r);
	jv_free(v);
}

static void
cond(const char *c, const char *doc, int want, const char *name)
{
	char msg[200];
	jv d = J(doc);

	is_int(jpatch_cond(c, d, msg, sizeof(msg)), want, "%s", name);
	jv_free(d);
}

int
main(void)
{
	check("{\"a\":1}", JP_ADD, "/b", NULL, "2", "{\"a\":1,\"b\":2}", "add");
	check("{\"a\":1}", JP_ADD, "/a", NULL, "3", "{\"a\":3}", "add existing");
	check("{\"a\":[1,2]}", JP_ADD, "/a/1", NULL, "9", "{\"a\":[1,9,2]}",
	    "add inserts into an array");
	check("{\"a\":[1,2]}", JP_ADD, "/a/-", NULL, "9", "{\"a\":[1,2,9]}",
	    "add appends with -");
	check("{\"a\":[1,2]}", JP_SET, "/a/0", NULL, "9", "{\"a\":[9,2]}",
	    "set replaces an array element");
	check("{\"a\":1}", JP_REPLACE, "/b", NULL, "2", "ERR", "replace missing");
	check("{\"a\":1}", JP_REMOVE, "/a", NULL, NULL, "{}", "remove");
	check("{\"a\":1}", JP_REMOVE, "/b", NULL, NULL, "ERR", "remove missing");
	check("{\"a\":1}", JP_INCR, "/a", NULL, "2.5", "{\"a\":3.5}", "incr");
	check("{}", JP_INCR, "/n", NULL, "2", "{\"n\":2}", "incr creates");
	check("{\"a\":\"x\"}", JP_INCR, "/a", NULL, "1", "ERR", "incr of a string");
	check("{\"a\":{\"b\":1}}", JP_MOVE, "/c", "/a/b", NULL,
	    "{\"a\":{},\"c\":1}", "move");
	check("{\"a\":1}", JP_MOVE, "/c", "/zz", NULL, "ERR", "move from missing");
	check("{\"a/b\":1,\"m~n\":2}", JP_REMOVE, "/a~1b", NULL, NULL,
	    "{\"m~n\":2}", "~1 escape");
	check("{\"m~n\":2}", JP_REPLACE, "/m~0n", NULL, "3", "{\"m~n\":3}",
	    "~0 escape");
	check("{\"a\":1}", JP_ADD, "/x/y", NULL, "1", "ERR", "missing parent");
	check("{\"a\":1}", JP_ADD, "a", NULL, "1", "ERR", "path without /");
	check("{\"a\":1}", JP_ADD, "", NULL, "1", "ERR", "empty path");
	check("{\"a\":5}", JP_ADD, "/a/b", NULL, "1", "ERR", "parent not a container");

	cond("from c", "{}", 1, "no where: true");
	cond("from c where c.v < 5", "{\"v\":3}", 1, "number <");
	cond("FROM c WHERE c.v < 5", "{\"v\":7}", 0, "keywords in capitals");
	cond("from c where c.v >= 5 and c.s = 'x'", "{\"v\":5,\"s\":\"x\"}", 1, "AND");
	cond("from c where c.v > 9 or c.s != \"y\"", "{\"v\":5,\"s\":\"x\"}", 1, "OR");
	cond("from c where NOT IS_DEFINED(c.gone)", "{\"v\":1}", 1, "NOT IS_DEFINED");
	cond("from c where IS_DEFINED(c.p.q)", "{\"p\":{\"q\":null}}", 1,
	    "IS_DEFINED of a nested null");
	cond("from c where c.v < 5", "{}", 0, "undefined compares false");
	cond("from c where NOT (c.v < 5)", "{}", 0, "NOT undefined is not true");
	cond("from c where c.v = '5'", "{\"v\":5}", 0, "mixed types never equal");
	cond("from c where c['a b'] = true", "{\"a b\":true}", 1, "bracket path");
	cond("from c where c.arr[1] = 2", "{\"arr\":[1,2]}", 1, "array index");
	cond("from c where (c.a = 1 or c.b = 1) and c.c = 1",
	    "{\"b\":1,\"c\":1}", 1, "parentheses");
	cond("from c where c.v <", "{}", -1, "syntax error");
	cond("select * from c", "{}", -1, "not a condition");
	cond("from c where d.v = 1", "{}", -1, "wrong alias");
	cond("from c where c.v = 1 garbage", "{\"v\":1}", -1, "trailing text");
	{
		char msg[200];
		jv d = J("{\"v\":3,\"s\":\"x\"}");
		jv ps = J("[{\"name\":\"@m\",\"value\":4},{\"name\":\"@s\",\"value\":\"x\"}]");

		is_int(jpatch_cond_params("from c where c.v < @m and c.s = @s", d,
		    ps, msg, sizeof(msg)), 1, "parameters");
		is_int(jpatch_cond_params("from c where c.v < @nope", d, ps, msg,
		    sizeof(msg)), -1, "unknown parameter");
		is_int(jpatch_cond("from c where c.v = @m", d, msg, sizeof(msg)),
		    -1, "parameter without parameters");
		jv_free(ps);
		jv_free(d);
	}
	return tap_done();
}
