/*
 * test_canon.c - canonical form, hash, shards, JSON Patch generator and key
 * paths (src/common/canon.c, keypath.c).
 */
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "codec.h"
#include "json.h"
#include "keypath.h"
#include "tap.h"

static struct canon c = CANON_INIT;

static const char *
canon_of(const char *in, int flags)
{
	static struct buf b;
	struct tape t = TAPE_INIT;
	struct json_err je;

	b.len = 0;
	if (tape_parse(&t, in, strlen(in), &je) < 0)
		return "PARSE ERROR";
	canon_write(&c, &b, &t, 0, flags);
	tape_release(&t);
	return buf_cstr(&b);
}

static const char *
diff_of(const char *a, const char *b)
{
	static struct buf out;
	struct tape ta = TAPE_INIT, tb = TAPE_INIT;
	struct json_err je;
	size_t nops;
	int rc;

	out.len = 0;
	if (tape_parse(&ta, a, strlen(a), &je) < 0 ||
	    tape_parse(&tb, b, strlen(b), &je) < 0)
		return "PARSE ERROR";
	rc = canon_diff(&c, &out, &ta, &tb, &nops);
	tape_release(&ta);
	tape_release(&tb);
	if (rc < 0)
		return "NO PATCH";
	return buf_cstr(&out);
}

static const char *
key_of(const char *expr, const char *rec)
{
	static char out[256];
	struct keypath *kp = keypath_parse(expr);
	struct tape t = TAPE_INIT;
	struct json_err je;
	uint32_t i;

	if (kp == NULL)
		return "NOT SIMPLE";
	if (tape_parse(&t, rec, strlen(rec), &je) < 0) {
		keypath_free(kp);
		return "PARSE ERROR";
	}
	i = keypath_eval(kp, &t);
	if (i == 0)
		snprintf(out, sizeof(out), "null");
	else if (t.nodes[i].type == TAPE_FALSE)
		snprintf(out, sizeof(out), "false");
	else
		snprintf(out, sizeof(out), "%.*s", (int)t.nodes[i].n,
		    t.nodes[i].p);
	tape_release(&t);
	keypath_free(kp);
	return out;
}

int
main(void)
{
	unsigned char h1[CANON_HASH_LEN], h2[CANON_HASH_LEN];
	struct buf hex = BUF_INIT;
	char err[128];
	const char *s;
	unsigned i, counts[4] = { 0 };

	/* canonical form */
	is_str(canon_of("{\"b\":1,\"a\":{\"d\":[3,{\"z\":1,\"y\":2}],\"c\":null}}",
	    CANON_SORTED), "{\"a\":{\"c\":null,\"d\":[3,{\"y\":2,\"z\":1}]},\"b\":1}",
	    "keys sorted at every level, arrays kept in order");
	is_str(canon_of(" { \"a\" : 1.50 , \"b\":1e3 }", CANON_SORTED),
	    "{\"a\":1.50,\"b\":1e3}", "numbers keep their literal text");
	is_str(canon_of("{\"a\":1,\"a\":2,\"b\":0}", CANON_SORTED),
	    "{\"a\":2,\"b\":0}", "duplicate keys: the last wins");
	is_str(canon_of("{\"_meta\":{\"x\":1},\"$op\":\"upsert\",\"$version\":3,\"a\":1}",
	    CANON_SORTED | CANON_TOP), "{\"a\":1}",
	    "reserved keys are left out of a record");
	is_str(canon_of("{\"o\":{\"_meta\":1}}", CANON_SORTED | CANON_TOP),
	    "{\"o\":{\"_meta\":1}}", "only top-level reserved keys");
	is_str(canon_of("{\"b\":\"\\u00e9\\n\\/\",\"a\":\"\\u0041\"}", CANON_SORTED),
	    "{\"a\":\"A\",\"b\":\"\xc3\xa9\\n/\"}", "string escapes are normalised");
	is_str(canon_of("{\"\xc3\xa9\":1,\"z\":2,\"Z\":3}", CANON_SORTED),
	    "{\"Z\":3,\"z\":2,\"\xc3\xa9\":1}", "byte order of UTF-8 keys");
	is_str(canon_of("{\"b\":1,\"a\":2}", 0), "{\"b\":1,\"a\":2}",
	    "unsorted mode keeps the order");
	{
		struct buf big = BUF_INIT;
		const char *got;

		buf_addc(&big, '{');
		for (i = 40; i > 0; i--)
			buf_printf(&big, "%s\"k%02u\":%u", i == 40 ? "" : ",",
			    i, i);
		buf_addc(&big, '}');
		got = canon_of(buf_cstr(&big), CANON_SORTED);
		ok(strncmp(got, "{\"k01\":1,\"k02\":2,", 17) == 0 &&
		    strstr(got, "\"k39\":39,\"k40\":40}") != NULL,
		    "large objects are sorted too (qsort path)");
		buf_release(&big);
	}

	/* exclusions */
	ok(canon_exclude(&c, "seen", err, sizeof(err)) == 0, "exclude a name");
	ok(canon_exclude(&c, "/o/ts", err, sizeof(err)) == 0,
	    "exclude a pointer");
	ok(canon_exclude(&c, "/a~1b/~0", err, sizeof(err)) == 0,
	    "exclude a pointer with escapes");
	ok(canon_exclude(&c, "/bad~2", err, sizeof(err)) < 0,
	    "a bad pointer is refused");
	is_str(canon_of("{\"seen\":1,\"o\":{\"ts\":2,\"k\":3,\"seen\":4},\"a/b\":{\"~\":5,\"x\":6},\"ts\":7}",
	    CANON_SORTED | CANON_TOP),
	    "{\"a/b\":{\"x\":6},\"o\":{\"k\":3,\"seen\":4},\"ts\":7}",
	    "excluded fields are left out, at their level only");

	/* hash */
	s = canon_of("{}", CANON_SORTED);
	canon_hash(&c, s, strlen(s), h1);
	hex_encode(&hex, h1, sizeof(h1));
	is_str(buf_cstr(&hex),
	    "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
	    "SHA-256 of {}");
	s = canon_of("{\"b\":[1,2],\"a\":\"x\"}", CANON_SORTED | CANON_TOP);
	canon_hash(&c, s, strlen(s), h1);
	s = canon_of("{\"a\":\"x\",\"_meta\":{\"q\":1},\"b\":[1,2]}",
	    CANON_SORTED | CANON_TOP);
	canon_hash(&c, s, strlen(s), h2);
	ok(memcmp(h1, h2, sizeof(h1)) == 0, "same content, same hash");
	s = canon_of("{\"a\":\"x\",\"b\":[2,1]}", CANON_SORTED | CANON_TOP);
	canon_hash(&c, s, strlen(s), h2);
	ok(memcmp(h1, h2, sizeof(h1)) != 0, "array order is content");

	/* shards */
	is_int(canon_shard("", 0, 7), (unsigned)(UINT64_C(14695981039346656037) % 7),
	    "shard of the empty key");
	for (i = 0; i < 4000; i++) {
		char k[16];

		snprintf(k, sizeof(k), "t%u", i);
		counts[canon_shard(k, strlen(k), 4)]++;
	}
	ok(counts[0] > 800 && counts[1] > 800 && counts[2] > 800 &&
	    counts[3] > 800, "shards are balanced (%u %u %u %u)", counts[0],
	    counts[1], counts[2], counts[3]);

	/* JSON Patch */
	canon_release(&c);
	is_str(diff_of("{\"$dtId\":\"a\",\"x\":1}", "{\"$dtId\":\"a\",\"x\":1}"),
	    "[]", "no change, no operations");
	is_str(diff_of("{\"$dtId\":\"a\",\"x\":1,\"y\":2}",
	    "{\"$dtId\":\"a\",\"x\":3,\"z\":[1]}"),
	    "[{\"op\":\"replace\",\"path\":\"/x\",\"value\":3},"
	    "{\"op\":\"remove\",\"path\":\"/y\"},"
	    "{\"op\":\"add\",\"path\":\"/z\",\"value\":[1]}]",
	    "replace, remove, add");
	is_str(diff_of("{\"o\":{\"a~b\":1,\"c/d\":{\"e\":1}}}",
	    "{\"o\":{\"a~b\":2,\"c/d\":{\"e\":1,\"f\":{\"b\":1,\"a\":2}}}}"),
	    "[{\"op\":\"replace\",\"path\":\"/o/a~0b\",\"value\":2},"
	    "{\"op\":\"add\",\"path\":\"/o/c~1d/f\",\"value\":{\"a\":2,\"b\":1}}]",
	    "nested objects, ~0 and ~1 escaping, canonical values");
	is_str(diff_of("{\"a\":{\"x\":1}}", "{\"a\":[1]}"),
	    "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":[1]}]",
	    "a type change replaces the member");
	is_str(diff_of("{\"a\":1,\"_meta\":{\"x\":1}}", "{\"a\":1,\"$op\":\"upsert\",\"_meta\":2}"),
	    "[]", "reserved keys are not patched");
	is_str(diff_of("{\"\":1}", "{\"\":2}"),
	    "[{\"op\":\"replace\",\"path\":\"/\",\"value\":2}]",
	    "the empty member name");
	is_str(diff_of("{\"$dtId\":\"a\"}", "{\"$dtId\":\"b\"}"), "NO PATCH",
	    "a changed identity cannot be patched");
	is_str(diff_of("{\"$targetId\":\"a\"}", "{}"), "NO PATCH",
	    "a removed identity field cannot be patched");
	is_str(diff_of("[1]", "{}"), "NO PATCH", "a non-object root");
	is_str(diff_of("{\"a\":1.0}", "{\"a\":1}"),
	    "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":1}]",
	    "literal number text is compared");
	is_str(diff_of("{\"a\":1,\"a\":2}", "{\"a\":2}"), "[]",
	    "duplicates: the last wins on both sides");

	/* key paths */
	is_str(key_of(".[\"$dtId\"] // .id", "{\"$dtId\":\"t1\",\"id\":2}"), "t1",
	    "default key: $dtId");
	is_str(key_of(".[\"$dtId\"] // .id", "{\"id\":22}"), "22",
	    "default key: id when $dtId is missing");
	is_str(key_of(".[\"$dtId\"] // .id", "{\"$dtId\":null,\"id\":\"x\"}"), "x",
	    "null falls through //");
	is_str(key_of(".a // .b", "{\"a\":false,\"b\":\"y\"}"), "y",
	    "false falls through //");
	is_str(key_of(".a // .b", "{\"a\":false}"), "null",
	    "the last alternative decides");
	is_str(key_of(".b // .a", "{\"a\":false}"), "false",
	    "false as the last alternative");
	is_str(key_of(".dev.id", "{\"dev\":{\"id\":\"d\"}}"), "d", "nested");
	is_str(key_of(" .dev [ \"id\" ] ", "{\"dev\":{\"id\":\"d\"}}"), "d",
	    "whitespace between tokens");
	is_str(key_of(".[\"a\\u0062\"]", "{\"ab\":\"e\"}"), "e",
	    "string escapes in names");
	is_str(key_of(".\"x y\"", "{\"x y\":\"q\"}"), "q", "quoted names");
	is_str(key_of(".a.b", "{\"a\":\"s\"}"), "null", "into a non-object");
	is_str(key_of(".a", "{\"a\":1,\"a\":\"last\"}"), "last",
	    "duplicate keys: the last wins");
	is_str(key_of(".", "{}"), "NOT SIMPLE", "identity goes to jq");
	is_str(key_of(".a | tostring", "{}"), "NOT SIMPLE", "pipes go to jq");
	is_str(key_of("\"\\(.a)\"", "{}"), "NOT SIMPLE",
	    "interpolation goes to jq");
	is_str(key_of(".[0]", "{}"), "NOT SIMPLE", "indexes go to jq");
	is_str(key_of(".a //", "{}"), "NOT SIMPLE", "a dangling //");
	is_str(key_of("", "{}"), "NOT SIMPLE", "empty");

	buf_release(&hex);
	canon_release(&c);
	canon_of("{}", 0);
	return tap_done();
}
