/*
 * test_cosmos_doc.c - push-cosmos's pure parts: connection strings, RFC 7396
 * merge patches (the RFC's appendix A), versioned writes applied leaf by
 * leaf (against the in-order fold, also for random orders), partition keys,
 * ids; the shared rate controller it uses.
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#include "../../src/push/cosmos_doc.h"
#include "json.h"
#include "ratectl.h"

static jv
parse(const char *s)
{
	struct json_err je;
	jv v;

	if (json_parse(s, strlen(s), &v, NULL, &je) < 0)
		abort();
	return v;
}

static void
merge_case(const char *target, const char *patch, const char *want)
{
	jv r = cosmos_merge_patch(parse(target), parse(patch));
	char *got = json_dump(r, JSON_SORTED);
	jv w = parse(want);
	char *exp = json_dump(w, JSON_SORTED);

	is_str(got, exp, "merge %s into %s", patch, target);
	free(got);
	free(exp);
	jv_free(r);
	jv_free(w);
}

static void
id_case(const char *id, int encode, int rc_want, const char *want)
{
	struct buf b = BUF_INIT;
	const char *why = NULL;
	int rc = cosmos_id_check(id, strlen(id), encode, &b, &why);

	is_int(rc, rc_want, "id '%s' (encode %d)", id, encode);
	if (rc == 0)
		is_str(buf_cstr(&b), want, "stored id of '%s'", id);
	else
		ok(why != NULL && b.len == 0, "why for '%s': %s", id,
		    why ? why : "(null)");
	buf_release(&b);
}

static void
pk_case(const char *doc, const char *path, const char *want)
{
	jv d = parse(doc), pk = cosmos_pk_get(d, path);
	struct buf b = BUF_INIT;

	if (want == NULL) {
		ok(!jv_is_valid(pk), "no partition key %s in %s", path, doc);
	} else {
		cosmos_pk_header(&b, pk);
		is_str(buf_cstr(&b), want, "partition key %s of %s", path,
		    doc);
	}
	jv_free(pk);
	jv_free(d);
	buf_release(&b);
}


/*
 * Versioned writes: apply "v:PATCH" (merge) or "v=DOC" (upsert) steps in
 * turn to no document, then compare the document stored (sorted keys, with
 * _v and _lv) and which steps were stale ('s') or applied ('.').
 */
static jv
apply_steps(const char *const *steps, size_t n, struct buf *stale)
{
	jv doc = jv_null();
	size_t i;

	for (i = 0; i < n; i++) {
		char *end;
		double v = strtod(steps[i], &end);
		int st = -1;

		doc = cosmos_doc_apply(doc, parse(end + 1), *end == '=', v,
		    &st);
		buf_addc(stale, st == 1 ? 's' : st == 0 ? '.' : '?');
	}
	return doc;
}

static void
apply_case(const char *name, const char *const *steps, size_t n,
    const char *want, const char *want_stale)
{
	struct buf st = BUF_INIT;
	jv d = apply_steps(steps, n, &st), w = parse(want);
	char *got = json_dump(d, JSON_SORTED), *exp = json_dump(w,
	    JSON_SORTED);

	is_str(got, exp, "%s: document", name);
	is_str(buf_cstr(&st), want_stale, "%s: stale steps", name);
	free(got);
	free(exp);
	jv_free(d);
	jv_free(w);
	buf_release(&st);
}

#define APPLY(name, want, stale, ...) do { \
	static const char *const s_[] = { __VA_ARGS__ }; \
	apply_case(name, s_, sizeof(s_) / sizeof(s_[0]), want, stale); \
} while (0)

/* A tiny deterministic generator (for the random orders). */
static unsigned long rnd_state = 7;

static unsigned
rnd(unsigned n)
{
	rnd_state = rnd_state * 6364136223846793005UL + 1442695040888963407UL;
	return (unsigned)(rnd_state >> 33) % n;
}

/* A patch value at depth d: a number, an array, null or an object of
 * keys a..c (never empty: {} is the documented inexact case). */
static jv
rnd_value(int d, int nulls)
{
	unsigned k = rnd(d >= 3 ? 6 : 10);
	jv o;
	int i, any = 0;

	if (k < 3)
		return jv_number(rnd(100));
	if (k == 3)
		return JV_ARRAY(jv_number(rnd(10)));
	if (k < 6)
		return nulls ? jv_null() : jv_number(rnd(100));
	o = jv_object();
	while (!any)
		for (i = 0; i < 3; i++)
			if (rnd(2)) {
				char key[2] = { (char)('a' + i), 0 };

				o = jv_object_set(o, jv_string(key),
				    rnd_value(d + 1, nulls));
				any = 1;
			}
	return o;
}

/* Events 1..n (the first one maybe an upsert, another maybe too) applied
 * in order and in a shuffled order with replays: the same content. */
static int
order_trial(int n, char **why)
{
	jv ev[8], fold = jv_object(), doc = jv_null(), c;
	int whole[8], order[24], m = 0, i, j, rc = 0;
	char *a, *b;

	for (i = 0; i < n; i++) {
		whole[i] = (i == 0 && rnd(2)) || rnd(8) == 0;
		ev[i] = rnd_value(0, !whole[i]);
		while (jv_get_kind(ev[i]) != JV_KIND_OBJECT) {
			jv_free(ev[i]);
			ev[i] = rnd_value(0, !whole[i]);
		}
		if (whole[i]) {
			jv_free(fold);
			fold = jv_copy(ev[i]);
		} else {
			fold = cosmos_merge_patch(fold, jv_copy(ev[i]));
		}
	}
	for (i = 0; i < n; i++)
		order[m++] = i;
	for (i = m - 1; i > 0; i--) {
		int t;

		j = (int)rnd((unsigned)i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (i = rnd(4); i > 0; i--) {	/* replays anywhere after the event */
		int at = (int)rnd((unsigned)m), e = order[at], k;

		at += 1 + (int)rnd((unsigned)(m - at));
		for (k = m; k > at; k--)
			order[k] = order[k - 1];
		order[at] = e;
		m++;
	}
	for (i = 0; i < m; i++) {
		int st;

		doc = cosmos_doc_apply(doc, jv_copy(ev[order[i]]),
		    whole[order[i]], order[i] + 1, &st);
	}
	c = jv_object_delete(jv_object_delete(jv_copy(doc),
	    jv_string("_v")), jv_string("_lv"));
	a = json_dump(c, JSON_SORTED);
	b = json_dump(fold, JSON_SORTED);
	if (strcmp(a, b) != 0) {
		struct buf w = BUF_INIT;
		char *d = json_dump(doc, JSON_SORTED);

		for (i = 0; i < n; i++) {
			char *e = json_dump(ev[i], JSON_SORTED);

			buf_printf(&w, "%d%c%s ", i + 1, whole[i] ? '=' : ':',
			    e);
			free(e);
		}
		buf_adds(&w, "order");
		for (i = 0; i < m; i++)
			buf_printf(&w, " %d", order[i] + 1);
		buf_printf(&w, ": got %s, want %s", d, b);
		*why = buf_cstr(&w);
		free(d);
		rc = -1;
	} else {
		jv v = json_get(doc, "_v");

		if (jv_number_value(v) != n) {
			*why = xstrdup("_v is not the highest version");
			rc = -1;
		}
		jv_free(v);
	}
	free(a);
	free(b);
	jv_free(c);
	jv_free(doc);
	jv_free(fold);
	for (i = 0; i < n; i++)
		jv_free(ev[i]);
	return rc;
}

int
main(void)
{
	char *ep, *key, *big, *got;
	struct buf b = BUF_INIT;
	struct ratectl rc;
	int64_t t;
	int i, changed;

	/* connection strings */
	ok(cosmos_conn_parse("AccountEndpoint=https://a.documents.azure.com"
	    ":443/;AccountKey=k/+==;", &ep, &key) == 0, "connection string");
	is_str(ep, "https://a.documents.azure.com:443/", "endpoint");
	is_str(key, "k/+==", "key keeps '=' padding");
	free(ep);
	free(key);
	ok(cosmos_conn_parse(" accountkey = K ; Database=x", &ep, &key) == 0 &&
	    ep == NULL, "keys case-insensitive, others ignored");
	is_str(key, "K", "trimmed key");
	free(key);
	ok(cosmos_conn_parse("garbage", &ep, &key) == -1 && ep == NULL &&
	    key == NULL, "not key=value pairs");

	/* RFC 7396 appendix A */
	merge_case("{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
	merge_case("{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}");
	merge_case("{\"a\":\"b\"}", "{\"a\":null}", "{}");
	merge_case("{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}");
	merge_case("{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
	merge_case("{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}");
	merge_case("{\"a\":{\"b\":\"c\"}}",
	    "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}");
	merge_case("{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}");
	merge_case("[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]");
	merge_case("{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]");
	merge_case("{\"a\":\"foo\"}", "null", "null");
	merge_case("{\"a\":\"foo\"}", "\"bar\"", "\"bar\"");
	merge_case("{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}");
	merge_case("[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}");
	merge_case("{}", "{\"a\":{\"bb\":{\"ccc\":null}}}",
	    "{\"a\":{\"bb\":{}}}");
	/* twin shapes */
	merge_case("{\"properties\":{\"reported\":{\"t\":1,\"h\":2},"
	    "\"desired\":{\"x\":1}}}",
	    "{\"properties\":{\"reported\":{\"t\":null,\"n\":{\"a\":1}}}}",
	    "{\"properties\":{\"reported\":{\"h\":2,\"n\":{\"a\":1}},"
	    "\"desired\":{\"x\":1}}}");

	/* versioned writes, leaf by leaf */
	APPLY("in order", "{\"a\":3,\"b\":1,\"_v\":3,\"_lv\":{\"/a\":3,"
	    "\"/b\":1}}", "..", "1:{\"a\":1,\"b\":1}", "3:{\"a\":3}");
	APPLY("late leaf applied", "{\"a\":3,\"b\":2,\"_v\":3,\"_lv\":"
	    "{\"/a\":3,\"/b\":2}}", "...", "1:{\"a\":1,\"b\":1}",
	    "3:{\"a\":3}", "2:{\"b\":2}");
	APPLY("late leaf shadowed by a newer one", "{\"a\":3,\"_v\":3,"
	    "\"_lv\":{\"/a\":3}}", "..s", "1:{\"a\":1}", "3:{\"a\":3}",
	    "2:{\"a\":2}");
	APPLY("only the leaves not shadowed", "{\"p\":{\"x\":3,\"y\":2,"
	    "\"z\":1},\"_v\":3,\"_lv\":{\"/p/x\":3,\"/p/y\":2,\"/p/z\":1}}",
	    "...", "1:{\"p\":{\"x\":1,\"y\":1,\"z\":1}}", "3:{\"p\":{\"x\":3}}",
	    "2:{\"p\":{\"x\":2,\"y\":2}}");
	APPLY("shadowed by a newer ancestor", "{\"p\":\"s\",\"_v\":3,"
	    "\"_lv\":{\"/p\":3}}", "..s", "1:{\"p\":{\"x\":1}}",
	    "3:{\"p\":\"s\"}", "2:{\"p\":{\"y\":2}}");
	APPLY("shadowed by a newer removed ancestor", "{\"q\":1,\"_v\":3,"
	    "\"_lv\":{\"/p\":3,\"/q\":1}}", "..s",
	    "1:{\"p\":{\"x\":1},\"q\":1}", "3:{\"p\":null}",
	    "2:{\"p\":{\"x\":2,\"y\":{\"z\":2}}}");
	APPLY("a removal marker keeps an older set out", "{\"b\":1,\"_v\":3,"
	    "\"_lv\":{\"/a\":3,\"/b\":1}}", "..s", "1:{\"a\":1,\"b\":1}",
	    "3:{\"a\":null}", "2:{\"a\":2}");
	APPLY("a late removal of a leaf no newer event set",
	    "{\"a\":3,\"_v\":3,\"_lv\":{\"/a\":3,\"/b\":2}}", "...",
	    "1:{\"a\":1,\"b\":1}", "3:{\"a\":3}", "2:{\"b\":null}");
	APPLY("a late removal records its marker", "{\"_v\":3,\"_lv\":"
	    "{\"/a\":2,\"/c\":3}}", "..s", "3:{\"c\":null}", "2:{\"a\":null}",
	    "1:{\"a\":1}");
	APPLY("replays are stale", "{\"a\":3,\"b\":2,\"_v\":3,\"_lv\":"
	    "{\"/a\":3,\"/b\":2}}", "...sss", "1:{\"a\":1,\"b\":1}",
	    "3:{\"a\":3}", "2:{\"b\":2,\"a\":2}", "1:{\"a\":1,\"b\":1}",
	    "3:{\"a\":3}", "2:{\"b\":2,\"a\":2}");
	APPLY("a late value replacing an object keeps its newer members",
	    "{\"p\":{\"x\":3},\"_v\":3,\"_lv\":{\"/p\":2,\"/p/x\":3}}",
	    "...", "1:{\"p\":{\"x\":1,\"y\":1}}", "3:{\"p\":{\"x\":3}}",
	    "2:{\"p\":\"s\"}");
	APPLY("a late removal of an object keeps its newer removals",
	    "{\"p\":{\"q\":{}},\"_v\":3,\"_lv\":{\"/p\":2,\"/p/q/x\":3}}",
	    "...", "1:{\"p\":{\"y\":1,\"q\":{\"x\":1,\"z\":1}}}",
	    "3:{\"p\":{\"q\":{\"x\":null}}}", "2:{\"p\":null}");
	APPLY("an object replacing a value converts it", "{\"p\":{\"x\":3,"
	    "\"y\":2},\"_v\":3,\"_lv\":{\"/p\":1,\"/p/x\":3,\"/p/y\":2}}",
	    "...", "1:{\"p\":\"s\"}", "3:{\"p\":{\"x\":3}}",
	    "2:{\"p\":{\"y\":2}}");
	APPLY("upsert resets the map", "{\"a\":5,\"_v\":5}", "..s",
	    "1:{\"a\":1,\"b\":{\"c\":1}}", "5={\"a\":5}", "4:{\"b\":4}");
	APPLY("merges after an upsert", "{\"a\":5,\"b\":7,\"c\":6,\"_v\":7,"
	    "\"_lv\":{\"\":5,\"/b\":7,\"/c\":6}}", "...ss", "5={\"a\":5}",
	    "7:{\"b\":7}", "6:{\"b\":6,\"c\":6}", "4:{\"a\":4}",
	    "6:{\"c\":6}");
	APPLY("a late upsert under newer merges", "{\"a\":2,\"b\":3,\"c\":1,"
	    "\"_v\":3,\"_lv\":{\"\":1,\"/a\":2,\"/b\":3,\"/d\":3}}",
	    "...s",
	    "2:{\"a\":2}", "3:{\"b\":3,\"d\":null}", "1={\"a\":1,\"b\":1,"
	    "\"c\":1,\"d\":1}", "1={\"a\":1}");
	APPLY("system keys of a patch are not data", "{\"a\":1,\"_v\":1,"
	    "\"_lv\":{\"/a\":1}}", ".", "1:{\"a\":1,\"_v\":9,\"_lv\":{},"
	    "\"_rid\":\"r\",\"$op\":\"merge\",\"_meta\":{}}");
	APPLY("a stored document without a map counts as whole at _v",
	    "{\"a\":1,\"_v\":3}", ".s", "3={\"a\":1}", "2:{\"b\":2}");
	{
		int st;
		jv d = cosmos_doc_apply(parse("{\"id\":\"x\",\"k\":\"x\","
		    "\"_v\":5,\"_deleted\":true,\"_etag\":\"e\"}"),
		    parse("{\"a\":4}"), 0, 4, &st);

		ok(st == 1, "a tombstone shadows older merges");
		jv_free(d);
		d = cosmos_doc_apply(parse("{\"id\":\"x\",\"_v\":5,"
		    "\"_deleted\":true}"), parse("{\"a\":6}"), 0, 6, &st);
		got = json_dump(d, JSON_SORTED);
		is_str(got, "{\"_lv\":{\"\":5,\"/a\":6},\"_v\":6,\"a\":6}",
		    "a newer merge on a tombstone starts from nothing");
		free(got);
		jv_free(d);
		d = cosmos_doc_apply(jv_null(), parse("{\"a~/b\":{\"c\":1}}"),
		    0, 1, &st);
		got = json_dump(d, JSON_SORTED);
		is_str(got, "{\"_lv\":{\"/a~0~1b/c\":1},\"_v\":1,"
		    "\"a~/b\":{\"c\":1}}", "paths are JSON Pointers");
		free(got);
		jv_free(d);
	}
	{
		int fails = 0, tr;
		char *why = NULL;

		for (tr = 0; tr < 4000; tr++) {
			char *w = NULL;

			if (order_trial(2 + (int)rnd(6), &w) < 0) {
				if (why == NULL)
					why = w;
				else
					free(w);
				fails++;
			}
		}
		ok(fails == 0, "random orders with replays end in the in-order "
		    "fold (%d of 4000 did not)", fails);
		if (why != NULL)
			printf("#   %s\n", why);
		free(why);
	}

	/* times and generations */
	{
		int64_t t1 = 0, t2 = 0;

		ok(cosmos_time_parse("1970-01-01T00:00:00Z", &t1) == 0 &&
		    t1 == 0, "epoch");
		ok(cosmos_time_parse("2026-12-06T14:08:39.1234567Z", &t1) == 0 &&
		    t1 == 1796566119123456700LL, "IoT Hub's 7 digits: %lld",
		    (long long)t1);
		ok(cosmos_time_parse("2026-12-06T15:08:39.1234567+01:00",
		    &t2) == 0 && t2 == t1, "offsets");
		ok(cosmos_time_parse("2024-02-29T23:59:59.999999999999z",
		    &t1) == 0 && cosmos_time_parse("2024-03-01T00:00:00Z",
		    &t2) == 0 && t2 - t1 == 1, "leap day, nanoseconds");
		ok(cosmos_time_parse("2026-12-06 14:08:39Z", &t1) < 0 &&
		    cosmos_time_parse("2026-12-06T14:08:39", &t1) < 0 &&
		    cosmos_time_parse("2026-13-06T14:08:39Z", &t1) < 0 &&
		    cosmos_time_parse("2026-12-06T14:08:39.Z", &t1) < 0 &&
		    cosmos_time_parse("2026-12-06T14:08:39Zx", &t1) < 0 &&
		    cosmos_time_parse("+026-12-06T14:08:39Z", &t1) < 0 &&
		    cosmos_time_parse("", &t1) < 0, "not times");
	}
	{
		jv tomb = parse("{\"id\":\"d\",\"_v\":5,\"_deleted\":true,"
		    "\"_deleted_at\":\"2026-01-01T10:00:00Z\"}");
		jv old = parse("{\"id\":\"d\",\"_v\":5,\"_deleted\":true}");
		jv live = parse("{\"id\":\"d\",\"_v\":2,"
		    "\"_gen\":\"2026-01-01T11:00:00Z\"}");
		int64_t t9, t10, t11, t12, start = 0;

		cosmos_time_parse("2026-01-01T09:00:00Z", &t9);
		cosmos_time_parse("2026-01-01T10:00:00Z", &t10);
		cosmos_time_parse("2026-01-01T11:00:00Z", &t11);
		cosmos_time_parse("2026-01-01T12:00:00Z", &t12);
		ok(cosmos_doc_gen(tomb, t12, &start) == COSMOS_GEN_NEW &&
		    start == t10 + 1 &&
		    cosmos_doc_gen(tomb, t10, &start) == COSMOS_GEN_STALE &&
		    cosmos_doc_gen(tomb, t9, &start) == COSMOS_GEN_STALE,
		    "a tombstone: newer starts a generation, older is stale");
		ok(cosmos_doc_gen(old, t12, &start) == COSMOS_GEN_SAME,
		    "a tombstone without a time: versions decide");
		ok(cosmos_doc_gen(live, t9, &start) == COSMOS_GEN_STALE &&
		    cosmos_doc_gen(live, t11 - 1, &start) ==
		    COSMOS_GEN_STALE &&
		    cosmos_doc_gen(live, t11, &start) == COSMOS_GEN_SAME &&
		    cosmos_doc_gen(live, t12, &start) == COSMOS_GEN_SAME,
		    "a document: writes before its generation are stale");
		{
			struct buf tb = BUF_INIT;

			cosmos_time_format(&tb, t10 + 1);
			buf_addc(&tb, ' ');
			cosmos_time_format(&tb, -1);
			buf_addc(&tb, ' ');
			cosmos_time_format(&tb, 951782400LL * 1000000000);
			is_str(buf_cstr(&tb), "2026-01-01T10:00:00.000000001Z "
			    "1969-12-31T23:59:59.999999999Z "
			    "2000-02-29T00:00:00.000000000Z", "time format");
			buf_release(&tb);
		}
		jv_free(tomb);
		jv_free(old);
		jv_free(live);
	}

	/* partition keys */
	pk_case("{\"deviceId\":\"d1\"}", "/deviceId", "[\"d1\"]");
	pk_case("{\"a\":{\"b/c\":\"x\",\"t~\":7}}", "/a/b~1c", "[\"x\"]");
	pk_case("{\"a\":{\"t~\":7}}", "/a/t~0", "[7]");
	pk_case("{\"d\":\"d\xc3\xa9\xe2\x98\x83\"}", "/d",
	    "[\"d\\u00e9\\u2603\"]");
	pk_case("{\"d\":{}}", "/d", NULL);
	pk_case("{\"x\":1}", "/d", NULL);
	pk_case("{\"d\":1}", "d", NULL);

	/* ids */
	id_case("dev-1", 0, 0, "dev-1");
	id_case("d\xc3\xa9 1+%&=", 0, 0, "d\xc3\xa9 1+%&=");
	id_case("a/b", 0, -1, NULL);
	id_case("a\\b", 0, -1, NULL);
	id_case("a?b", 0, -1, NULL);
	id_case("a#b", 0, -1, NULL);
	id_case("", 1, -1, NULL);
	id_case("a/b?c#d\\e%", 1, 0, "a%2Fb%3Fc%23d%5Ce%25");
	id_case(".", 0, -1, NULL);
	id_case("..", 0, -1, NULL);
	id_case(".", 1, -1, NULL);
	id_case("..", 1, -1, NULL);
	id_case("...", 0, 0, "...");
	id_case(".a", 0, 0, ".a");
	{
		struct buf nb = BUF_INIT;
		const char *nwhy = NULL;

		is_int(cosmos_id_check("a\0b", 3, 0, &nb, &nwhy), -1,
		    "an id with NUL is refused");
		ok(nwhy != NULL && strstr(nwhy, "NUL") != NULL && nb.len == 0,
		    "and says why: %s", nwhy ? nwhy : "(null)");
		is_int(cosmos_id_check("a\0b", 3, 1, &nb, &nwhy), -1,
		    "an id with NUL is refused with --encode-ids too");
		buf_release(&nb);
	}
	big = malloc(1025);
	memset(big, 'x', 1024);
	big[1024] = '\0';
	id_case(big, 0, -1, NULL);
	big[1023] = '\0';
	id_case(big, 0, 0, big);
	memset(big, '/', 400);
	id_case(big, 1, -1, NULL);	/* too long once encoded */
	free(big);

	/* reserved and system keys */
	{
		jv d = cosmos_doc_clean(parse("{\"id\":\"a\",\"$op\":\"merge\","
		    "\"$version\":3,\"$patch\":[],\"_meta\":{},\"_rid\":\"r\","
		    "\"_etag\":\"e\",\"_ts\":1,\"_self\":\"s\",\"_deleted\":true,"
		    "\"_attachments\":\"a\",\"_v\":2,\"x\":1}"), 1);
		char *s = json_dump(d, 0);

		is_str(s, "{\"id\":\"a\",\"_v\":2,\"x\":1}", "doc_clean");
		free(s);
		jv_free(d);
	}
	cosmos_number(&b, 12);
	buf_addc(&b, ' ');
	cosmos_number(&b, 1e15 + 1);
	buf_addc(&b, ' ');
	cosmos_number(&b, 1.5);
	is_str(buf_cstr(&b), "12 1000000000000001 1.5", "numbers");
	buf_release(&b);

	/* rate controller */
	ratectl_init(&rc, 0);
	is_int((int)ratectl_rate(&rc), 0, "unlimited at first");
	t = 1000000;
	for (i = 0; i < 100; i++)
		ratectl_note(&rc, 201, t + i * 10);
	changed = ratectl_note(&rc, 429, t + 1000);
	ok(changed && ratectl_rate(&rc) > 80 && ratectl_rate(&rc) <= 90,
	    "a 429 sets 90%% of what got through: %.1f", ratectl_rate(&rc));
	ok(!ratectl_note(&rc, 429, t + 1100), "one cut per 250 ms");
	changed = ratectl_note(&rc, 200, t + 2200);
	ok(changed && ratectl_rate(&rc) > 85 && ratectl_rate(&rc) < 87,
	    "a quiet second adds 5%% + 1: %.1f", ratectl_rate(&rc));
	ratectl_set_ceiling(&rc, 50);
	is_int((int)ratectl_rate(&rc), 50, "ceiling clamps");
	ratectl_note(&rc, 200, t + 9000);
	is_int((int)ratectl_rate(&rc), 50, "and holds");
	return tap_done();
}
