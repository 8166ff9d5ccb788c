/*
 * test_archive_seg.c - archive segments: names that sort, atomic
 * publication, manifests, stale temp files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "../../src/push/archive.h"
#include "buf.h"
#include "tap.h"

static int
exists(const char *root, const char *rel)
{
	struct buf p = BUF_INIT;
	struct stat st;
	int rc;

	buf_printf(&p, "%s/%s", root, rel);
	rc = stat(buf_cstr(&p), &st) == 0;
	buf_release(&p);
	return rc;
}

int
main(void)
{
	char root[] = "/tmp/tp-test-seg.XXXXXX";
	struct seg_opts o = { 3, 0, "run1" };
	struct seg s;
	struct buf err = BUF_INIT, b = BUF_INIT, z = BUF_INIT, d = BUF_INIT;
	const char *text = "{\"a\":1}\n{\"b\":2}\n";
	char **v;
	unsigned long long dsize;

	ok(mkdtemp(root) != NULL, "temp dir");
	setenv("TWINPIPE_ARCHIVE_CLOCK", "1700000000", 1);
	seg_init(&s);
	ok(seg_open(&s, &o, root, 7, &err) == 0, "open");
	is_str(s.name, "2023/11/14/221320-run1-000007.ndjson.zst",
	    "name: UTC time, run, zero-padded sequence");
	ok(exists(root, ".tmp/run1-000007.tmp"), "a temp file while open");
	ok(!exists(root, s.name), "no final name while open");
	ok(seg_write(&s, text, strlen(text), &err) == 0, "write");
	s.records = 2;
	buf_adds(&s.first_src, "{\"line\":1}");
	buf_adds(&s.last_src, "\"x\"");
	ok(seg_close(&s, &o, root, &err) == 0, "close");
	ok(exists(root, "2023/11/14/221320-run1-000007.ndjson.zst"),
	    "published under its name");
	ok(exists(root, "2023/11/14/221320-run1-000007.manifest.json"),
	    "manifest beside it");
	ok(!exists(root, ".tmp/run1-000007.tmp"), "temp file gone");

	buf_printf(&b, "%s/2023/11/14/221320-run1-000007.manifest.json", root);
	ok(buf_read_file(&d, buf_cstr(&b)) == 0, "manifest readable");
	ok(strstr(buf_cstr(&d), "\"records\":2,\"bytes_in\":16,") != NULL,
	    "manifest: records and bytes in");
	ok(strstr(d.p, "\"first_src\":{\"line\":1},\"last_src\":\"x\"") !=
	    NULL, "manifest: first and last _meta.src");
	ok(strstr(d.p, "\"segment\":\"2023/11/14/221320-run1-000007.ndjson"
	    ".zst\"") != NULL, "manifest: segment name");

	b.len = 0;
	buf_printf(&b, "%s/2023/11/14/221320-run1-000007.ndjson.zst", root);
	ok(buf_read_file(&z, buf_cstr(&b)) == 0, "segment readable");
	dsize = ZSTD_getFrameContentSize(z.p, z.len);
	ok(dsize == ZSTD_CONTENTSIZE_UNKNOWN || dsize == 16,
	    "one zstd frame");
	{
		char out[64];
		size_t n = ZSTD_decompress(out, sizeof(out), z.p, z.len);

		ok(!ZSTD_isError(n) && n == 16 && memcmp(out, text, 16) == 0,
		    "decompresses to the input");
	}

	/* a second segment in the same second sorts after the first */
	ok(seg_open(&s, &o, root, 8, &err) == 0 &&
	    seg_write(&s, "x\n", 2, &err) == 0 &&
	    seg_close(&s, &o, root, &err) == 0, "second segment");
	v = seg_list_dir(root, &err);
	ok(v != NULL && v[0] != NULL && v[1] != NULL && v[2] == NULL,
	    "two segments listed, temp files and manifests not");
	if (v != NULL && v[0] != NULL && v[1] != NULL)
		ok(strcmp(v[0], v[1]) < 0 && strstr(v[1], "000008") != NULL,
		    "in sequence order");
	seg_names_free(v);

	/* a crash: an open segment's temp file is live (locked) for its
	 * writer; once closed without seg_close it is stale */
	ok(seg_open(&s, &o, root, 9, &err) == 0, "third segment open");
	is_int(seg_report_stale(root), 0, "a live temp file is not stale");
	close(s.fd);
	s.fd = -1;
	is_int(seg_report_stale(root), 1, "a dead one is reported");

	b.len = 0;
	seg_manifest_name(&b, "a/b.ndjson.zst");
	is_str(buf_cstr(&b), "a/b.manifest.json", "manifest name");

	seg_release(&s);
	b.len = 0;
	buf_printf(&b, "rm -rf '%s'", root);
	ok(system(buf_cstr(&b)) == 0, "cleanup");
	buf_release(&b);
	buf_release(&d);
	buf_release(&z);
	buf_release(&err);
	return tap_done();
}
