/*
 * test_json.c - the strict parser, the number literal table, the jq 1.6
 * compatible writer (checked against the installed jq 1.6) and the record
 * contract helpers (json_meta_carry, json_is_control).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "tap.h"

static char tmpdir[] = "/tmp/tp-test-json.XXXXXX";

/* Parse s (NUL-terminated) and return 0/-1; *out freed unless wanted. */
static int
parse(const char *s, size_t n, jv *out, struct json_err *err)
{
	struct json_err e;
	jv v;
	int rc = json_parse(s, n, &v, NULL, err ? err : &e);

	if (out != NULL)
		*out = v;
	else
		jv_free(v);
	return rc;
}

static void
accept(const char *s, size_t n, const char *name)
{
	struct json_err err;
	int rc = parse(s, n, NULL, &err);

	ok(rc == 0, "accepts %s", name);
	if (rc != 0)
		printf("#   error at %zu: %s\n", err.off, err.msg);
}

static void
reject(const char *s, size_t n, const char *name)
{
	struct json_err err;
	jv v;
	int rc = parse(s, n, &v, &err);

	ok(rc == -1 && !jv_is_valid(v) && err.msg[0] != '\0' && err.off <= n,
	    "rejects %s (%s at %zu)", name, err.msg, err.off);
	jv_free(v);
}

#define ACCEPT(s) accept(s, sizeof(s) - 1, #s)
#define REJECT(s) reject(s, sizeof(s) - 1, #s)

/* parse s and write it back with flags and the literal table */
static char *
rewrite(const char *s, int flags, int use_lits)
{
	struct json_numlits lits = JSON_NUMLITS_INIT;
	struct buf b = BUF_INIT;
	jv v;

	if (json_parse(s, strlen(s), &v, use_lits ? &lits : NULL, NULL) != 0)
		return xstrdup("(parse error)");
	json_write(&b, v, flags, use_lits ? &lits : NULL);
	jv_free(v);
	json_numlits_release(&lits);
	return buf_cstr(&b);
}

static void
is_rewrite(const char *in, int flags, int use_lits, const char *want)
{
	char *got = rewrite(in, flags, use_lits);

	is_str(got, want, "write %s (flags %d, lits %d)", in, flags, use_lits);
	free(got);
}

static void
test_accept_reject(void)
{
	static char deep[2 * JSON_MAX_DEPTH + 2], deeper[2 * JSON_MAX_DEPTH + 4];
	static char deepobj[8 * (JSON_MAX_DEPTH + 1) + 8];
	size_t i, n;
	struct json_err err;

	ACCEPT("{}");
	ACCEPT("[]");
	ACCEPT("0");
	ACCEPT("-0");
	ACCEPT("-0.0e-0");
	ACCEPT("0.5");
	ACCEPT("1E5");
	ACCEPT("1e+5");
	ACCEPT("1e-5");
	ACCEPT("12345678901234567890");
	ACCEPT("1e400");
	ACCEPT("\"\"");
	ACCEPT("true");
	ACCEPT("false");
	ACCEPT("null");
	ACCEPT(" \t\r\n[ 1 , { \"a\" : null } ] \t\r\n");
	ACCEPT("\"\x7f\"");
	ACCEPT("{\"a\":1,\"a\":2}");

	/* RFC 8259 says no */
	REJECT("");
	REJECT("   \n\t ");
	REJECT("NaN");
	REJECT("nan");
	REJECT("Infinity");
	REJECT("-Infinity");
	REJECT("[1,NaN]");
	REJECT("01");
	REJECT("-01");
	REJECT("00");
	REJECT("0123.5");
	REJECT("+1");
	REJECT(".5");
	REJECT("1.");
	REJECT("1.e5");
	REJECT("1e");
	REJECT("1e+");
	REJECT("-");
	REJECT("--1");
	REJECT("0x10");
	REJECT("1_000");
	REJECT("{} x");
	REJECT("{}{}");
	REJECT("1 2");
	REJECT("[1] ]");
	REJECT("\"a\" \"b\"");
	REJECT("[1,2,]");
	REJECT("{\"a\":1,}");
	REJECT("[,1]");
	REJECT("{,}");
	REJECT("[1 2]");
	REJECT("{\"a\" 1}");
	REJECT("{\"a\":}");
	REJECT("{a:1}");
	REJECT("{'a':1}");
	REJECT("{1:1}");
	REJECT("[");
	REJECT("]");
	REJECT("{");
	REJECT("{\"a\":1");
	REJECT("[1");
	REJECT("\"abc");
	REJECT("\"abc\\");
	REJECT("tru");
	REJECT("True");
	REJECT("nul");
	REJECT("nulll");
	REJECT("falsey");
	REJECT("\f1");		/* form feed is not JSON whitespace */
	REJECT("\v1");
	REJECT("\xc2\xa0" "1");	/* nor is NBSP */
	REJECT("\xef\xbb\xbf{}");	/* nor a BOM */
	/* unescaped control characters */
	for (i = 0; i < 0x20; i++) {
		char s[4] = { '"', (char)i, '"', 0 };

		reject(s, 3, "a raw control character in a string");
	}
	REJECT("{\"a\tb\":1}");
	/* bad escapes */
	REJECT("\"\\x41\"");
	REJECT("\"\\a\"");
	REJECT("\"\\'\"");
	REJECT("\"\\u12\"");
	REJECT("\"\\u12G4\"");
	REJECT("\"\\U0041\"");
	REJECT("\"\\\"");
	/* lone surrogates as escapes */
	REJECT("\"\\ud800\"");
	REJECT("\"\\udbff\"");
	REJECT("\"\\udc00\"");
	REJECT("\"\\udfff\"");
	REJECT("\"\\ud800x\"");
	REJECT("\"\\ud800\\u0041\"");
	REJECT("\"\\ud800\\ud800\"");
	REJECT("\"\\ud800\\n\"");
	REJECT("\"\\udc00\\ud800\"");
	REJECT("\"\\ud800\\udc0\"");
	REJECT("{\"\\ud800\":1}");

	/* nesting: JSON_MAX_DEPTH is fine, one more is not */
	n = 0;
	for (i = 0; i < JSON_MAX_DEPTH; i++)
		deep[n++] = '[';
	for (i = 0; i < JSON_MAX_DEPTH; i++)
		deep[n++] = ']';
	accept(deep, n, "JSON_MAX_DEPTH nested arrays");
	n = 0;
	for (i = 0; i <= JSON_MAX_DEPTH; i++)
		deeper[n++] = '[';
	for (i = 0; i <= JSON_MAX_DEPTH; i++)
		deeper[n++] = ']';
	reject(deeper, n, "JSON_MAX_DEPTH + 1 nested arrays");
	n = 0;
	for (i = 0; i <= JSON_MAX_DEPTH; i++) {
		memcpy(deepobj + n, "{\"a\":", 5);
		n += 5;
	}
	deepobj[n++] = '1';
	for (i = 0; i <= JSON_MAX_DEPTH; i++)
		deepobj[n++] = '}';
	reject(deepobj, n, "JSON_MAX_DEPTH + 1 nested objects");
	/* mixed: depth counts arrays and objects alike, exactly at the limit */
	accept(deepobj + 5, n - 6, "JSON_MAX_DEPTH nested objects");

	/* p need not be NUL-terminated: only n bytes are looked at */
	accept("123abc", 3, "a prefix \"123\" of \"123abc\"");
	accept("{\"a\":1}}}}", 7, "an object followed by bytes past n");
	reject("[1,2]", 4, "a cut array");
	reject("\"abc\"", 4, "a cut string");
	reject("nul", 2, "a cut literal");
	reject("1e5", 2, "a cut exponent");
	reject("\"\\u0041\"", 6, "a cut \\u escape");
	reject("\"\\ud83d\\ude00\"", 9, "a cut surrogate pair");

	/* error offsets and messages (parse first: argument order) */
	{
		static const struct {
			const char *s;
			size_t off;
			const char *msg;
		} errs[] = {
			{ "[1,2,]", 5, "" },
			{ "{} x", 3, "trailing" },
			{ "", 0, "empty" },
			{ "\"a\x01\"", 2, "control" },
			{ "01", 0, "leading zero" },
			{ "[\"\xff\"]", 2, "UTF-8" },
			{ "[1,{\"a\":tru}]", 8, "" },
			{ "{\"a\":1,}", 7, "" },
			{ "\"\\ud800\"", 1, "surrogate" },
		};

		for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
			int rc = parse(errs[i].s, strlen(errs[i].s), NULL, &err);

			ok(rc < 0 && err.off == errs[i].off &&
			    strstr(err.msg, errs[i].msg) != NULL,
			    "error in %s at offset %zu, message has '%s' "
			    "(got %zu: %s)", errs[i].s, errs[i].off,
			    errs[i].msg, err.off, err.msg);
		}
	}
	{
		int rc = parse(deeper, sizeof(deeper) - 2, NULL, &err);

		ok(rc < 0 && err.off == JSON_MAX_DEPTH &&
		    strstr(err.msg, "deep") != NULL,
		    "depth error at offset %d (got %zu: %s)", JSON_MAX_DEPTH,
		    err.off, err.msg);
	}
	{
		/* err may be NULL */
		jv v;

		ok(json_parse("x", 1, &v, NULL, NULL) == -1 &&
		    !jv_is_valid(v), "err may be NULL");
		jv_free(v);
	}
}

struct utf8_case {
	const char *s;
	int valid;
	const char *name;
};

static const struct utf8_case utf8_cases[] = {
	{ "\x7f", 1, "U+007F" },
	{ "\xc2\x80", 1, "U+0080" },
	{ "\xdf\xbf", 1, "U+07FF" },
	{ "\xe0\xa0\x80", 1, "U+0800" },
	{ "\xed\x9f\xbf", 1, "U+D7FF" },
	{ "\xee\x80\x80", 1, "U+E000" },
	{ "\xef\xbf\xbd", 1, "U+FFFD" },
	{ "\xef\xbf\xbf", 1, "U+FFFF" },
	{ "\xf0\x90\x80\x80", 1, "U+10000" },
	{ "\xf4\x8f\xbf\xbf", 1, "U+10FFFF" },
	{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 1, "mixed" },
	{ "\x80", 0, "a lone continuation byte" },
	{ "\xbf", 0, "a lone continuation byte 0xbf" },
	{ "\xc0\xaf", 0, "overlong '/' (2 bytes, c0)" },
	{ "\xc1\xbf", 0, "overlong U+007F (2 bytes, c1)" },
	{ "\xc0\x80", 0, "overlong NUL" },
	{ "\xe0\x80\xaf", 0, "overlong '/' (3 bytes)" },
	{ "\xe0\x9f\xbf", 0, "overlong U+07FF (3 bytes)" },
	{ "\xf0\x80\x80\xaf", 0, "overlong '/' (4 bytes)" },
	{ "\xf0\x8f\xbf\xbf", 0, "overlong U+FFFF (4 bytes)" },
	{ "\xed\xa0\x80", 0, "surrogate U+D800" },
	{ "\xed\xbf\xbf", 0, "surrogate U+DFFF" },
	{ "\xed\xa0\xbd\xed\xb8\x80", 0, "CESU-8 surrogate pair" },
	{ "\xf4\x90\x80\x80", 0, "U+110000" },
	{ "\xf5\x80\x80\x80", 0, "lead byte f5" },
	{ "\xf8\x88\x80\x80\x80", 0, "5-byte form" },
	{ "\xfc\x84\x80\x80\x80\x80", 0, "6-byte form" },
	{ "\xfe", 0, "byte fe" },
	{ "\xff", 0, "byte ff" },
	{ "\xc3", 0, "truncated 2-byte sequence" },
	{ "\xe2\x82", 0, "truncated 3-byte sequence" },
	{ "\xf0\x9f\x98", 0, "truncated 4-byte sequence" },
	{ "\xc3\x28", 0, "bad continuation" },
	{ "\xe2\x28\xa1", 0, "bad second byte of 3" },
	{ "\xe2\x82\x28", 0, "bad third byte of 3" },
	{ "\xf0\x9f\x98\x28", 0, "bad fourth byte of 4" },
};

static void
test_utf8(void)
{
	size_t i;

	for (i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++) {
		const struct utf8_case *c = &utf8_cases[i];
		char s[64];
		size_t n = strlen(c->s);
		struct json_err err;
		jv v;
		int rc;

		is_int(json_utf8_valid(c->s, n), c->valid,
		    "json_utf8_valid: %s", c->name);
		s[0] = '"';
		memcpy(s + 1, c->s, n);
		s[n + 1] = '"';
		rc = parse(s, n + 2, &v, &err);
		is_int(rc, c->valid ? 0 : -1, "string with %s %s", c->name,
		    c->valid ? "accepted" : "rejected");
		if (rc == 0) {
			ok(jv_get_kind(v) == JV_KIND_STRING &&
			    (size_t)jv_string_length_bytes(jv_copy(v)) == n &&
			    memcmp(jv_string_value(v), c->s, n) == 0,
			    "string with %s kept as is", c->name);
		}
		jv_free(v);
		/* as an object key too */
		s[0] = '{';
		s[1] = '"';
		memcpy(s + 2, c->s, n);
		memcpy(s + n + 2, "\":1}", 4);
		rc = parse(s, n + 6, NULL, &err);
		is_int(rc, c->valid ? 0 : -1, "key with %s", c->name);
		/* and outside a string it is never JSON */
		if (!c->valid)
			reject(c->s, n, c->name);
	}
	ok(json_utf8_valid("", 0), "json_utf8_valid: empty");
	ok(json_utf8_valid("a\0b", 3), "json_utf8_valid: NUL is valid");
	ok(!json_utf8_valid("\xe2\x82\xac", 2),
	    "json_utf8_valid: looks only at n bytes");
}

static void
is_decoded(const char *json, const char *want, size_t wn)
{
	jv v;
	int rc = parse(json, strlen(json), &v, NULL);

	ok(rc == 0 && jv_get_kind(v) == JV_KIND_STRING &&
	    (size_t)jv_string_length_bytes(jv_copy(v)) == wn &&
	    memcmp(jv_string_value(v), want, wn) == 0, "decodes %s", json);
	jv_free(v);
}

static void
test_decode(void)
{
	jv v;
	const char *s;

	is_decoded("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8);
	is_decoded("\"\\u0041\\u00e9\\u20AC\"", "A\xc3\xa9\xe2\x82\xac", 6);
	is_decoded("\"\\u0000\"", "\0", 1);
	is_decoded("\"a\\u0000b\"", "a\0b", 3);
	is_decoded("\"\\u001f\\u007f\"", "\x1f\x7f", 2);
	is_decoded("\"\\u07ff\\u0800\"", "\xdf\xbf\xe0\xa0\x80", 5);
	is_decoded("\"\\uffff\"", "\xef\xbf\xbf", 3);
	is_decoded("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4);
	is_decoded("\"\\uD834\\uDD1E\"", "\xf0\x9d\x84\x9e", 4);
	is_decoded("\"\\ud800\\udc00\"", "\xf0\x90\x80\x80", 4);
	is_decoded("\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf", 4);
	is_decoded("\"x\\ud83d\\ude00y\\n\"", "x\xf0\x9f\x98\x80y\n", 7);
	is_decoded("\"plain \xc3\xa9\"", "plain \xc3\xa9", 8);

	/* keys are decoded too, and a later key wins */
	ok(parse("{\"a\\u0062\":1,\"b\":2,\"ab\":3}", 26, &v, NULL) == 0 &&
	    jv_object_length(jv_copy(v)) == 2, "escaped key equals plain key");
	ok(jv_get_kind(json_get(v, "ab")) == JV_KIND_NUMBER &&
	    jv_number_value(json_get(v, "ab")) == 3, "duplicate key: last wins");
	jv_free(v);
	ok(parse("{\"a\":1,\"b\":2,\"a\":3}", 19, &v, NULL) == 0, "parse dup");
	{
		char *t = json_dump(v, 0);

		is_str(t, "{\"a\":3,\"b\":2}",
		    "duplicate key keeps the first position, the last value");
		free(t);
	}
	jv_free(v);

	/* json_get / json_get_str */
	parse("{\"s\":\"str\",\"n\":1,\"o\":{}}", 24, &v, NULL);
	s = json_get_str(v, "s");
	is_str(s, "str", "json_get_str");
	ok(json_get_str(v, "n") == NULL, "json_get_str of a number is NULL");
	ok(json_get_str(v, "x") == NULL, "json_get_str of a missing key");
	ok(!jv_is_valid(json_get(v, "x")), "json_get missing is invalid");
	ok(jv_get_kind(json_get(jv_null(), "x")) == JV_KIND_INVALID,
	    "json_get of a non-object is invalid");
	ok(json_get_str(jv_null(), "x") == NULL, "json_get_str of null");
	{
		jv o = json_get(v, "o");

		ok(jv_get_kind(o) == JV_KIND_OBJECT, "json_get object");
		jv_free(o);
	}
	jv_free(v);
}

static void
test_numlits(void)
{
	struct json_numlits lits = JSON_NUMLITS_INIT;
	jv v;
	int rc;

	/* big integers and literal text survive a round trip */
	is_rewrite("{\"id\":12345678901234567890}", 0, 1,
	    "{\"id\":12345678901234567890}");
	is_rewrite("{\"id\":12345678901234567890}", 0, 0,
	    "{\"id\":12345678901234567000}");
	is_rewrite("[1.0,1e2,1.50,-0.0,0.10,2E0]", 0, 1,
	    "[1.0,1e2,1.50,-0.0,0.10,2E0]");
	is_rewrite("[1.0,1e2,-0.0,0.10]", 0, 0, "[1,100,-0,0.1]");
	is_rewrite("[123456789012345678,9007199254740993]", 0, 1,
	    "[123456789012345678,9007199254740993]");
	is_rewrite("[123456789012345678,9007199254740993]", 0, 0,
	    "[123456789012345680,9007199254740992]");
	is_rewrite("[1e400,-1e400]", 0, 1, "[1e400,-1e400]");
	is_rewrite("[1e400,-1e400]", 0, 0,
	    "[1.7976931348623157e+308,-1.7976931348623157e+308]");
	is_rewrite("{\"a\":{\"b\":[0.50]},\"c\":1.0}", JSON_SORTED, 1,
	    "{\"a\":{\"b\":[0.50]},\"c\":1.0}");
	/* ambiguous: two literals for one double restore neither */
	is_rewrite("[1.0,1.00]", 0, 1, "[1,1]");
	is_rewrite("[12345678901234567890,12345678901234567891]", 0, 1,
	    "[12345678901234567000,12345678901234567000]");
	/* the same literal twice is not ambiguous */
	is_rewrite("[1.0,1.0]", 0, 1, "[1.0,1.0]");
	/* -0 and 0 are different doubles here */
	is_rewrite("[0.0,-0.0]", 0, 1, "[0.0,-0.0]");
	/* canonical literals are not recorded */
	rc = json_parse("[1,1.5,-2,0.1,1e+17,123]", 24, &v, &lits, NULL);
	ok(rc == 0 && lits.n == 0, "canonical literals not recorded (n=%zu)",
	    lits.n);
	jv_free(v);
	rc = json_parse("[1.0,2.0]", 9, &v, &lits, NULL);
	ok(rc == 0 && lits.n == 2, "two literals recorded (n=%zu)", lits.n);
	jv_free(v);
	/* a parse resets the table */
	rc = json_parse("[3.0]", 5, &v, &lits, NULL);
	ok(rc == 0 && lits.n == 1, "the table is reset by every parse (n=%zu)",
	    lits.n);
	jv_free(v);
	ok(json_parse("[3.0,", 5, &v, &lits, NULL) == -1, "failed parse");
	json_numlits_reset(&lits);
	ok(lits.n == 0, "json_numlits_reset");
	json_numlits_release(&lits);
	json_numlits_release(&lits);
	json_numlits_release(NULL);
	ok(1, "json_numlits_release twice and on NULL");
	{
		/* a literal applies only to its own double */
		struct buf b = BUF_INIT;

		json_parse("[1.0]", 5, &v, &lits, NULL);
		jv_free(v);
		v = JV_ARRAY(jv_number(1), jv_number(2), jv_number(1.5));
		json_write(&b, v, 0, &lits);
		is_str(buf_cstr(&b), "[1.0,2,1.5]",
		    "the table applies to equal doubles only");
		jv_free(v);
		buf_release(&b);
		json_numlits_release(&lits);
	}
}

/* Write lines to a file, run jq with args on it, return its output lines. */
static char **
run_jq(const char *args, const char *input, size_t n, size_t *nlines)
{
	char in[256], out[256], cmd[1024];
	FILE *f;
	char **lines = NULL, *line = NULL;
	size_t cap = 0, nl = 0, lcap = 0;
	ssize_t len;
	int rc;

	snprintf(in, sizeof(in), "%s/jq.in", tmpdir);
	snprintf(out, sizeof(out), "%s/jq.out", tmpdir);
	f = fopen(in, "w");
	if (f == NULL || fwrite(input, 1, n, f) != n || fclose(f) != 0)
		return NULL;
	snprintf(cmd, sizeof(cmd), "jq %s <'%s' >'%s'", args, in, out);
	rc = system(cmd);
	if (rc != 0)
		return NULL;
	if ((f = fopen(out, "r")) == NULL)
		return NULL;
	while ((len = getline(&line, &lcap, f)) >= 0) {
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (nl == cap) {
			cap = cap ? cap * 2 : 1024;
			lines = xrealloc(lines, cap * sizeof(*lines));
		}
		lines[nl++] = xstrdup(line);
	}
	free(line);
	fclose(f);
	*nlines = nl;
	return lines;
}

static void
free_lines(char **l, size_t n)
{
	size_t i;

	for (i = 0; l != NULL && i < n; i++)
		free(l[i]);
	free(l);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rng(void)
{
	/* splitmix64: seeded, the same numbers on every run */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int
have_jq(void)
{
	int rc = system("jq --version 2>/dev/null | grep -q '^jq-1\\.6'");

	ok(rc == 0, "jq 1.6 is installed (needed to check the writer)");
	return rc == 0;
}

/* compare our text (one a line in ours) with jq's output of jq_in */
static void
cmp_jq(const char *what, const char *jqargs, struct buf *jq_in,
    struct buf *ours, size_t count)
{
	size_t n = 0, i, bad = 0;
	char **jl = run_jq(jqargs, jq_in->p, jq_in->len, &n);
	char *p = buf_cstr(ours);

	ok(jl != NULL && n == count, "%s: jq printed %zu of %zu lines", what,
	    n, count);
	for (i = 0; jl != NULL && i < n && i < count; i++) {
		char *e = strchr(p, '\n');

		*e = '\0';
		if (strcmp(p, jl[i]) != 0 && bad++ < 10)
			printf("#   %s line %zu: ours '%s', jq '%s'\n", what,
			    i + 1, p, jl[i]);
		p = e + 1;
	}
	ok(jl != NULL && bad == 0, "%s: writer output identical to jq 1.6 "
	    "(%zu lines, %zu differ)", what, count, bad);
	free_lines(jl, n);
}

static void
add_double(struct buf *in, struct buf *ours, double d)
{
	if (isnan(d) || isinf(d))
		return;
	buf_printf(in, "%.17g\n", d);
	json_write_number(ours, d);
	buf_addc(ours, '\n');
}

static void
test_numbers_vs_jq(void)
{
	struct buf in = BUF_INIT, ours = BUF_INIT, b = BUF_INIT;
	size_t count = 0, i;
	static const double special[] = {
		0.0, 1.0, -1.0, 0.1, 0.5, 1.5, 100, 1e15, 1e16, 1e17, 1e-5,
		1e-4, 0.0001, 0.00001, 123456789012345678.0, 1e21, 1e22, 1e-7,
		9007199254740992.0, 9007199254740993.0, 9999999999999998.0,
		12345678901234567890.0, 1234567890123456.0, 0.30000000000000004,
		DBL_MAX, -DBL_MAX, DBL_MIN, DBL_EPSILON, 4.9406564584124654e-324,
		2.2250738585072009e-308, 1e-310, 1.2345e-320, 1e308, 1.7e308,
		3.14159265358979, 2.718281828459045, 1.0 / 3, 2.0 / 3,
		123.456, 1e-300, 5e-324, 1e100, 0.000123, 123e-20,
	};

	/* the formatting of a few values, spelled out */
	json_write_number(&b, -0.0);
	is_str(buf_cstr(&b), "-0", "-0 prints as -0");
	b.len = 0;
	json_write_number(&b, 1e17);
	is_str(buf_cstr(&b), "1e+17", "1e17 prints as 1e+17");
	b.len = 0;
	json_write_number(&b, 1e-5);
	is_str(buf_cstr(&b), "1e-05", "1e-5 prints as 1e-05");
	b.len = 0;
	json_write_number(&b, NAN);
	is_str(buf_cstr(&b), "null", "NaN prints as null");
	b.len = 0;
	json_write_number(&b, INFINITY);
	is_str(buf_cstr(&b), "1.7976931348623157e+308", "inf is DBL_MAX");
	b.len = 0;
	json_write_number(&b, -INFINITY);
	is_str(buf_cstr(&b), "-1.7976931348623157e+308", "-inf is -DBL_MAX");
	b.len = 0;
	json_write_number(&b, 1e16);
	is_str(buf_cstr(&b), "1e+16", "1e16 prints as 1e+16");
	b.len = 0;
	json_write_number(&b, 1e15);
	is_str(buf_cstr(&b), "1000000000000000", "1e15 prints in full");
	b.len = 0;
	json_write_number(&b, 0.0001);
	is_str(buf_cstr(&b), "0.0001", "0.0001 prints in full");
	b.len = 0;
	json_write_number(&b, 123456789012345678.0);
	is_str(buf_cstr(&b), "123456789012345680", "123456789012345678");
	buf_release(&b);

	if (!have_jq())
		return;

	for (i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
		add_double(&in, &ours, special[i]);
		add_double(&in, &ours, -special[i]);
		add_double(&in, &ours, nextafter(special[i], 0));
		add_double(&in, &ours, nextafter(special[i], DBL_MAX));
		count += 4;
		if (special[i] == 0)
			count -= 1;	/* nextafter(0, 0) = 0 printed too */
	}
	/* recount exactly: lines written */
	count = 0;
	for (i = 0; i < ours.len; i++)
		count += ours.p[i] == '\n';
	cmp_jq("special numbers", "-c .", &in, &ours, count);

	/* integers around the 1e15..1e17 switch, every power of ten */
	in.len = ours.len = 0;
	for (i = 0; i <= 30; i++) {
		double p = pow(10, (double)i);

		add_double(&in, &ours, p);
		add_double(&in, &ours, p - 1);
		add_double(&in, &ours, p + 1);
		add_double(&in, &ours, -p);
		add_double(&in, &ours, pow(10, -(double)i));
		add_double(&in, &ours, 3 * pow(10, -(double)i));
	}
	for (count = 0, i = 0; i < ours.len; i++)
		count += ours.p[i] == '\n';
	cmp_jq("powers of ten", "-c .", &in, &ours, count);

	/* every power of two: the round-trip interval is narrower below */
	in.len = ours.len = 0;
	for (i = 0; i < 2098; i++)
		add_double(&in, &ours, ldexp(1, (int)i - 1074));
	for (count = 0, i = 0; i < ours.len; i++)
		count += ours.p[i] == '\n';
	cmp_jq("powers of two", "-c .", &in, &ours, count);

	/* seeded random doubles of every magnitude */
	in.len = ours.len = 0;
	for (i = 0; i < 3000; i++) {
		uint64_t u = rng();
		double d;

		switch (i % 6) {
		case 0:	/* any bit pattern (any exponent, denormals) */
			memcpy(&d, &u, sizeof(d));
			break;
		case 1:	/* "normal" magnitudes 1e-30 .. 1e30 */
			d = (double)(u >> 11) / (double)(1ull << 53) *
			    pow(10, (double)(int)(rng() % 61) - 30);
			break;
		case 2:	/* integers up to 2^63 */
			d = (double)(int64_t)(u >> (rng() % 63));
			break;
		case 3:	/* few decimals */
			d = (double)(int64_t)(u % 2000000 - 1000000) / 1000;
			break;
		case 4:	/* short decimal mantissas of any exponent */
			d = (double)(u % 100000) *
			    pow(10, (double)(int)(rng() % 600) - 300);
			break;
		default:	/* denormals */
			u &= 0x800fffffffffffffull;
			memcpy(&d, &u, sizeof(d));
			break;
		}
		add_double(&in, &ours, d);
	}
	for (count = 0, i = 0; i < ours.len; i++)
		count += ours.p[i] == '\n';
	cmp_jq("random doubles", "-c .", &in, &ours, count);
	buf_release(&in);
	buf_release(&ours);
}

static const char *const strings[] = {
	"", "plain", "quote \" backslash \\ slash /",
	"\b\f\n\r\t", "\x7f", "caf\xc3\xa9", "\xe2\x82\xac 20",
	"\xf0\x9f\x98\x80 smile", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf",
	"\xc2\x80\xdf\xbf\xe0\xa0\x80", ("\xef\xbb\xbf" "bom"), "<>&'",
	"\xe2\x80\xa8\xe2\x80\xa9", "\xed\x9f\xbf\xee\x80\x80",
};

static void
test_strings_vs_jq(void)
{
	struct buf in = BUF_INIT, ours = BUF_INIT, ascii = BUF_INIT, b = BUF_INIT;
	size_t i, count = 0;
	char all[0x80];

	/* every control character, spelled out */
	for (i = 0; i < 0x80; i++)
		all[i] = (char)i;
	json_write_string(&b, all, 0x21, 0);
	is_str(buf_cstr(&b), "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005"
	    "\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f\\u0010\\u0011"
	    "\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a"
	    "\\u001b\\u001c\\u001d\\u001e\\u001f \"", "control characters");
	b.len = 0;
	json_write_string(&b, "\"\\/\x7f", 4, 0);
	is_str(buf_cstr(&b), "\"\\\"\\\\/\\u007f\"", "quote, backslash, /, DEL");
	b.len = 0;
	json_write_string(&b, "\xc3\xa9\xf0\x9f\x98\x80", 6, JSON_ASCII);
	is_str(buf_cstr(&b), "\"\\u00e9\\ud83d\\ude00\"",
	    "JSON_ASCII: surrogate pair for U+1F600");
	b.len = 0;
	json_write_string(&b, "\xf4\x8f\xbf\xbf\xef\xbf\xbf", 7, JSON_ASCII);
	is_str(buf_cstr(&b), "\"\\udbff\\udfff\\uffff\"",
	    "JSON_ASCII: U+10FFFF and U+FFFF");
	b.len = 0;
	json_write_string(&b, "caf\xc3\xa9", 5, 0);
	is_str(buf_cstr(&b), "\"caf\xc3\xa9\"", "non-ASCII kept as UTF-8");
	b.len = 0;
	json_write_string(&b, "a\0b", 3, 0);
	ok(b.len == 10 && memcmp(b.p, "\"a\\u0000b\"", 10) == 0,
	    "NUL written as \\u0000");
	buf_release(&b);

	if (!have_jq())
		return;
	/* one JSON string a line: every byte 0x00..0x7f, and the others */
	for (i = 0; i < 0x80; i++) {
		json_write_string(&in, all + i, 1, JSON_ASCII);
		buf_addc(&in, '\n');
		json_write_string(&ours, all + i, 1, 0);
		buf_addc(&ours, '\n');
		json_write_string(&ascii, all + i, 1, JSON_ASCII);
		buf_addc(&ascii, '\n');
		count++;
	}
	for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		json_write_string(&in, strings[i], strlen(strings[i]),
		    JSON_ASCII);
		buf_addc(&in, '\n');
		json_write_string(&ours, strings[i], strlen(strings[i]), 0);
		buf_addc(&ours, '\n');
		json_write_string(&ascii, strings[i], strlen(strings[i]),
		    JSON_ASCII);
		buf_addc(&ascii, '\n');
		count++;
	}
	json_write_string(&in, all, 0x80, JSON_ASCII);
	buf_addc(&in, '\n');
	json_write_string(&ours, all, 0x80, 0);
	buf_addc(&ours, '\n');
	json_write_string(&ascii, all, 0x80, JSON_ASCII);
	buf_addc(&ascii, '\n');
	count++;
	cmp_jq("strings", "-c .", &in, &ours, count);
	cmp_jq("strings JSON_ASCII", "-ac .", &in, &ascii, count);
	buf_release(&in);
	buf_release(&ours);
	buf_release(&ascii);
}

static const char *const records[] = {
	"{\"b\":1,\"a\":2,\"c\":{\"z\":[1,{\"y\":null,\"x\":true}],\"a\":false}}",
	"{\"\xc3\xa9\":1,\"e\":2,\"E\":3,\"\":4,\"ee\":5,\"~\":6,\"\\u0000\":7}",
	"{\"a\":1,\"b\":2,\"a\":3}",
	"[{\"b\":1,\"a\":2},[],{},\"s\",-0,1.5e300,null]",
	"{\"id\":\"x\",\"n\":0.1,\"m\":100,\"l\":1e-7,\"k\":-123.456e10}",
	"\"only a string \\u00e9 \\ud83d\\ude00\"",
	"{\"_meta\":{\"src\":{\"p\":\"0\",\"o\":12}},\"v\":[1,2,3]}",
	"{\"aa\":1,\"a\":2,\"ab\":3,\"b\":4,\"a\\u0000\":5,\"A\":6}",
	"12",
	"true",
	"null",
};

static void
test_records_vs_jq(void)
{
	struct buf in = BUF_INIT, ours = BUF_INIT, sorted = BUF_INIT;
	struct buf ascii = BUF_INIT;
	size_t i, n = sizeof(records) / sizeof(records[0]);
	jv v;

	for (i = 0; i < n; i++) {
		if (json_parse(records[i], strlen(records[i]), &v, NULL,
		    NULL) != 0) {
			ok(0, "parse %s", records[i]);
			continue;
		}
		buf_adds(&in, records[i]);
		buf_addc(&in, '\n');
		json_write(&ours, v, 0, NULL);
		buf_addc(&ours, '\n');
		json_write(&sorted, v, JSON_SORTED, NULL);
		buf_addc(&sorted, '\n');
		json_write(&ascii, v, JSON_SORTED | JSON_ASCII, NULL);
		buf_addc(&ascii, '\n');
		jv_free(v);
	}
	{
		char *t = json_dump(jv_invalid(), 0);

		is_str(t, "null", "an invalid jv is written as null");
		free(t);
	}
	{
		char *t;

		json_parse(records[0], strlen(records[0]), &v, NULL, NULL);
		t = json_dump(v, JSON_SORTED);
		is_str(t, "{\"a\":2,\"b\":1,\"c\":{\"a\":false,\"z\":[1,"
		    "{\"x\":true,\"y\":null}]}}", "JSON_SORTED sorts nested "
		    "objects, keeps arrays");
		free(t);
		jv_free(v);
		json_parse(records[7], strlen(records[7]), &v, NULL, NULL);
		t = json_dump(v, JSON_SORTED);
		ok(t != NULL && memcmp(t, "{\"A\":6,\"a\":2,\"a\\u0000\":5,"
		    "\"aa\":1,\"ab\":3,\"b\":4}", strlen(t)) == 0,
		    "JSON_SORTED: byte order, a prefix first (%s)", t);
		free(t);
		jv_free(v);
	}
	if (have_jq()) {
		cmp_jq("records", "-c .", &in, &ours, n);
		cmp_jq("records JSON_SORTED", "-cS .", &in, &sorted, n);
		cmp_jq("records JSON_SORTED|JSON_ASCII", "-acS .", &in, &ascii,
		    n);
	}
	buf_release(&in);
	buf_release(&ours);
	buf_release(&sorted);
	buf_release(&ascii);
}

static jv
pj(const char *s)
{
	jv v;

	if (json_parse(s, strlen(s), &v, NULL, NULL) != 0)
		abort();
	return v;
}

static void
is_carry(const char *out, const char *in_meta, const char *want)
{
	jv m = pj(in_meta);
	jv r = json_meta_carry(pj(out), m);
	char *t = json_dump(r, 0), *mt = json_dump(m, 0);

	is_str(t, want, "json_meta_carry(%s, %s)", out, in_meta);
	is_str(mt, in_meta, "json_meta_carry leaves in_meta alone");
	free(t);
	free(mt);
	jv_free(r);
	jv_free(m);
}

static void
test_meta(void)
{
	jv v;

	is_carry("{\"a\":1}", "{\"src\":{\"o\":1}}",
	    "{\"a\":1,\"_meta\":{\"src\":{\"o\":1}}}");
	is_carry("{\"a\":1,\"_meta\":{\"cdc\":{\"h\":\"x\"}}}",
	    "{\"src\":{\"o\":1}}",
	    "{\"a\":1,\"_meta\":{\"src\":{\"o\":1},\"cdc\":{\"h\":\"x\"}}}");
	is_carry("{\"_meta\":{\"src\":2,\"x\":1}}", "{\"src\":1,\"y\":2}",
	    "{\"_meta\":{\"src\":2,\"y\":2,\"x\":1}}");
	is_carry("{\"_meta\":{\"src\":1}}", "{\"src\":1}",
	    "{\"_meta\":{\"src\":1}}");
	is_carry("{\"a\":1}", "null", "{\"a\":1}");
	is_carry("{\"a\":1}", "\"meta\"", "{\"a\":1}");
	is_carry("{\"a\":1,\"_meta\":{\"k\":1}}", "[]",
	    "{\"a\":1,\"_meta\":{\"k\":1}}");
	is_carry("[1,2]", "{\"src\":1}", "[1,2]");
	is_carry("\"s\"", "{\"src\":1}", "\"s\"");
	is_carry("{\"_meta\":\"x\"}", "{\"src\":1}", "{\"_meta\":{\"src\":1}}");
	is_carry("{\"_meta\":null,\"a\":1}", "{\"src\":1}",
	    "{\"_meta\":{\"src\":1},\"a\":1}");
	is_carry("{}", "{}", "{\"_meta\":{}}");
	{
		/* in_meta may be invalid (no input _meta) */
		jv r = json_meta_carry(pj("{\"a\":1}"), jv_invalid());
		char *t = json_dump(r, 0);

		is_str(t, "{\"a\":1}", "json_meta_carry with jv_invalid()");
		free(t);
		jv_free(r);
	}

	v = pj("{\"_meta\":{\"control\":\"snapshot-begin\"}}");
	ok(json_is_control(v), "control record");
	jv_free(v);
	v = pj("{\"_meta\":{\"control\":\"end\",\"n\":3}}");
	ok(json_is_control(v), "control record with more _meta keys");
	jv_free(v);
	v = pj("{\"_meta\":{\"control\":\"end\"},\"a\":1}");
	ok(!json_is_control(v), "a record with data is not control");
	jv_free(v);
	v = pj("{\"_meta\":{\"control\":1}}");
	ok(!json_is_control(v), "control must be a string");
	jv_free(v);
	v = pj("{\"_meta\":{\"src\":1}}");
	ok(!json_is_control(v), "_meta without control");
	jv_free(v);
	v = pj("{\"_meta\":\"control\"}");
	ok(!json_is_control(v), "_meta not an object");
	jv_free(v);
	v = pj("{\"control\":\"x\"}");
	ok(!json_is_control(v), "control outside _meta");
	jv_free(v);
	v = pj("[{\"_meta\":{\"control\":\"x\"}}]");
	ok(!json_is_control(v), "an array is not control");
	jv_free(v);
	ok(!json_is_control(jv_null()), "null is not control");
	ok(!json_is_control(jv_invalid()), "invalid is not control");
}

static void
test_large(void)
{
	/* a long string (past the 1 MiB scratch buffer) with escapes */
	size_t n = 3u << 20, i;
	struct buf s = BUF_INIT, w = BUF_INIT;
	jv v;

	buf_addc(&s, '"');
	for (i = 0; i < n / 8; i++)
		buf_adds(&s, "ab\\n\\u00e9");
	buf_addc(&s, '"');
	ok(json_parse(s.p, s.len, &v, NULL, NULL) == 0 &&
	    (size_t)jv_string_length_bytes(jv_copy(v)) == n / 8 * 5,
	    "a 3 MiB escaped string");
	json_write(&w, v, 0, NULL);
	ok(w.len == 2 + n / 8 * 6, "written back (%zu bytes)", w.len);
	jv_free(v);
	/* and a small one after it still works (scratch buffer released) */
	ok(json_parse("\"a\\nb\"", 6, &v, NULL, NULL) == 0 &&
	    strcmp(jv_string_value(v), "a\nb") == 0, "small after large");
	jv_free(v);
	/* a long array */
	s.len = 0;
	buf_addc(&s, '[');
	for (i = 0; i < 100000; i++)
		buf_printf(&s, "%s%zu.5", i ? "," : "", i);
	buf_addc(&s, ']');
	ok(json_parse(s.p, s.len, &v, NULL, NULL) == 0 &&
	    jv_array_length(jv_copy(v)) == 100000, "an array of 100000");
	w.len = 0;
	json_write(&w, v, 0, NULL);
	ok(w.len == s.len && memcmp(w.p, s.p, s.len) == 0,
	    "written back identically");
	jv_free(v);
	buf_release(&s);
	buf_release(&w);
}

int
main(void)
{
	char cmd[300];

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_accept_reject();
	test_utf8();
	test_decode();
	test_numlits();
	test_numbers_vs_jq();
	test_strings_vs_jq();
	test_records_vs_jq();
	test_meta();
	test_large();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	return tap_done();
}
