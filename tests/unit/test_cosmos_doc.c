/*
 * test_cosmos_doc.c - push-cosmos's pure parts: connection strings, RFC 7396
 * merge patches (the RFC's appendix A), partition keys, ids; the shared
 * rate controller it uses.
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

int
main(void)
{
	char *ep, *key, *big;
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
