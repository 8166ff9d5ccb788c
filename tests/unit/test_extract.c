/*
 * test_extract.c - extract-lob's modules: CSV type conversions, --types
 * lists, --items paths, the emitter's _meta.src and shards.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../src/ingest/extract.h"
#include "tap.h"

static char out_s[512];

static const char *
conv(enum csv_type ty, const char *s)
{
	static struct tape t;
	static struct canon c;
	struct buf b = BUF_INIT;
	char msg[256];

	if (extract_csv_convert(ty, s, strlen(s), &b, &t, &c, msg,
	    sizeof(msg)) < 0)
		snprintf(out_s, sizeof(out_s), "ERR %s", msg);
	else
		snprintf(out_s, sizeof(out_s), "%s", buf_cstr(&b));
	buf_release(&b);
	return out_s;
}

static int
never(void *ctx, const char *n, size_t l, enum csv_type t)
{
	(void)ctx; (void)n; (void)l; (void)t;
	return -1;
}

int
main(void)
{
	char msg[256];
	struct tape t = TAPE_INIT;
	struct json_err je;
	uint32_t arr;

	is_str(conv(CT_INT, "-42"), "-42", "int");
	is_str(conv(CT_INT, "12345678901234567890"), "12345678901234567890",
	    "big int keeps its digits");
	ok(strncmp(conv(CT_INT, "007"), "ERR", 3) == 0, "leading zeros are no int");
	ok(strncmp(conv(CT_INT, "1.5"), "ERR", 3) == 0, "1.5 is no int");
	is_str(conv(CT_INT, ""), "null", "empty typed field is null");
	is_str(conv(CT_NUMBER, "-0.50e+3"), "-0.50e+3", "number text kept");
	ok(strncmp(conv(CT_NUMBER, ".5"), "ERR", 3) == 0, ".5 is no JSON number");
	ok(strncmp(conv(CT_NUMBER, "NaN"), "ERR", 3) == 0, "NaN refused");
	is_str(conv(CT_BOOL, "TRUE"), "true", "bool TRUE");
	is_str(conv(CT_BOOL, "no"), "false", "bool no");
	ok(strncmp(conv(CT_BOOL, "maybe"), "ERR", 3) == 0, "bool maybe");
	is_str(conv(CT_DATETIME, "2024-02-29"), "\"2024-02-29\"", "date");
	ok(strncmp(conv(CT_DATETIME, "2023-02-29"), "ERR", 3) == 0,
	    "no Feb 29 in 2023");
	is_str(conv(CT_DATETIME, "2024-01-01T00:30:00+01:00"),
	    "\"2023-12-31T23:30:00Z\"", "zone crosses the year");
	is_str(conv(CT_DATETIME, "2024-01-01 10:00"),
	    "\"2024-01-01T10:00:00Z\"", "no seconds, no zone: UTC");
	is_str(conv(CT_DATETIME, "2024-06-30T12:00:00.123456789-0230"),
	    "\"2024-06-30T14:30:00.123456789Z\"", "fraction and -HHMM");
	ok(strncmp(conv(CT_DATETIME, "2024-01-01T25:00"), "ERR", 3) == 0,
	    "hour 25");
	ok(strncmp(conv(CT_DATETIME, "2024-01-01T10:00:00+1"), "ERR", 3) == 0,
	    "half a zone");
	is_str(conv(CT_JSON, " {\"a\" : [1, 2]} "), "{\"a\":[1,2]}",
	    "json compacted");
	ok(strncmp(conv(CT_JSON, "{\"a\":}"), "ERR", 3) == 0, "bad json");
	ok(strncmp(conv(CT_STRING, "\xff"), "ERR", 3) == 0, "invalid UTF-8");
	is_str(conv(CT_STRING, "a\"b\n"), "\"a\\\"b\\n\"", "string escaped");

	is_int(extract_csv_check_types("a=int,b=json", msg, sizeof(msg)), 0,
	    "types list");
	is_int(extract_csv_check_types("a=float", msg, sizeof(msg)), -1,
	    "unknown type");
	is_int(extract_csv_check_types("=int", msg, sizeof(msg)), -1,
	    "no column name");
	is_int(extract_types_each("a=int", msg, sizeof(msg), never, NULL), -1,
	    "unknown column");
	is_str(msg, "no column 'a' in the header", "its message");

	is_int(extract_items_check(".value", msg, sizeof(msg)), 0, ".value");
	is_int(extract_items_check(".d.results[]", msg, sizeof(msg)), 0,
	    ".d.results[]");
	is_int(extract_items_check(".[\"@odata x\"][]", msg, sizeof(msg)), 0,
	    "quoted step");
	is_int(extract_items_check("value", msg, sizeof(msg)), -1,
	    "no leading dot");
	is_int(extract_items_check(".a[0]", msg, sizeof(msg)), -1,
	    "indexes are not paths");
	tape_parse(&t, "{\"d\":{\"r\":[1,2,3]}}", 19, &je);
	is_int(extract_items_find(".d.r", &t, &arr, msg, sizeof(msg)), 0,
	    "find .d.r");
	is_int(t.nodes[arr].n, 3, "three elements");
	is_int(extract_items_find(".d.x", &t, &arr, msg, sizeof(msg)), -1,
	    "missing member");
	is_int(extract_items_find(".d", &t, &arr, msg, sizeof(msg)), -1,
	    "not an array");

	{
		struct extract x = { 0 };
		struct ndjson_writer w;
		volatile sig_atomic_t stop = 0;
		int fd = memfd_create("out", 0);
		char text[1024];
		ssize_t n;
		unsigned kept = 0, i;

		ndjson_writer_init(&w, fd);
		x.source = "csv:a.csv";
		x.file = "a.csv";
		x.run = "r1";
		x.w = &w;
		x.stop = &stop;
		x.shard_n = 1;
		buf_adds(&x.rec, "{\"id\":\"7\"");
		is_int(extract_emit(&x, "row", 3, NULL, 0), 0, "emit");
		buf_adds(&x.rec, "{");
		is_int(extract_emit(&x, "row", 4, "\"2024\"", 6), 0,
		    "emit an empty object with a watermark");
		ndjson_writer_flush(&w);
		n = pread(fd, text, sizeof(text) - 1, 0);
		text[n > 0 ? n : 0] = '\0';
		is_str(text, "{\"id\":\"7\",\"_meta\":{\"src\":{\"source\":"
		    "\"csv:a.csv\",\"file\":\"a.csv\",\"run\":\"r1\",\"row\":3}}}\n"
		    "{\"_meta\":{\"src\":{\"source\":\"csv:a.csv\",\"file\":"
		    "\"a.csv\",\"run\":\"r1\",\"row\":4,\"wm\":\"2024\"}}}\n",
		    "_meta.src");
		/* shards: the same key always lands in one shard */
		x.kp = keypath_parse(".id");
		x.shard_n = 4;
		for (i = 0; i < 4; i++) {
			x.shard_i = i;
			x.out = 0;
			buf_adds(&x.rec, "{\"id\":\"org42\"");
			extract_emit(&x, "row", 1, NULL, 0);
			kept += (unsigned)x.out;
		}
		is_int(kept, 1, "one shard of four keeps a key");
		is_int(x.other_shard, 3, "three shards skip it");
		is_int(canon_shard("org42", 5, 4) < 4, 1, "canon_shard range");
		keypath_free(x.kp);
		ndjson_writer_release(&w);
		close(fd);
		tape_release(&x.t);
		buf_release(&x.rec);
		buf_release(&x.tmp);
	}
	tape_release(&t);
	return tap_done();
}
