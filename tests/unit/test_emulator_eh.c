/* twin-emulator's Event Hubs store: publish, positions, retention,
 * re-encoding with the x-opt annotations, persistence. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <proton/codec.h>
#include <proton/message.h>

#include "../../src/emulator/eh.h"
#include "../../src/emulator/eh_store.h"
#include "tap.h"

static int
pub(const char *hub, const char *key, int part, const char *body)
{
	struct eh_value props[] = { { "deviceId", EH_STRING, "d1", 0, 0 },
	    { "n", EH_LONG, NULL, 7, 0 } };
	struct eh_event ev = { body, strlen(body), "application/json", NULL,
	    "m1", props, 2, NULL, 0 };
	char msg[200];

	return eh_publish(hub, key, part, &ev, msg, sizeof(msg));
}

int
main(void)
{
	struct eh_config cfg = { NULL, 4, 3, 0, 0 };
	struct eh_part_info pi;
	struct eh_rec r[8];
	char path[] = "/tmp/test_eh_XXXXXX", msg[200];
	int64_t next, seq;
	int p1, p2, n, fd, i;
	size_t len;
	unsigned char *enc;
	pn_message_t *m;
	pn_data_t *a;

	ok(eh_init(&cfg) == 0, "in-memory store opens");
	ok(eh_hub_add("h", 2, msg, sizeof(msg)) == 0, "hub added");
	ok(eh_hub_add("h", 0, msg, sizeof(msg)) != 0 && msg[0], "0 partitions refused");
	is_int(eh_hub_get("h", 0, NULL), 2, "hub has 2 partitions");
	is_int(eh_hub_get("auto", 0, NULL), 4, "created on use with the default");
	p1 = pub("h", "dev-a", -1, "{\"a\":1}");
	p2 = pub("h", "dev-a", -1, "{\"a\":2}");
	ok(p1 >= 0 && p1 == p2, "a key keeps its partition (%d %d)", p1, p2);
	/* FNV-1a 32 of the key modulo the partition count: these must not
	 * change (a restarted emulator keeps a key on its partition) */
	is_int(p1, 0, "dev-a (0xc81c1086) on partition 0 of 2");
	ok(eh_hub_add("k4", 4, msg, sizeof(msg)) == 0, "hub k4 added");
	is_int(pub("k4", "dev-a", -1, "x"), 2, "dev-a on partition 2 of 4");
	is_int(pub("k4", "dev-b", -1, "x"), 3, "dev-b (0xc71c0ef3) on 3 of 4");
	is_int(pub("k4", "pump-1", -1, "x"), 1, "pump-1 (0x031e11b9) on 1 of 4");
	is_int(pub("h", NULL, 1, "x"), 1, "explicit partition");
	is_int(pub("h", NULL, 5, "x"), -1, "no partition 5");
	ok(eh_part_info("h", p1, &pi) == 0, "partition info");
	is_int((int)pi.last_seq, p1 == 1 ? 2 : 1, "last sequence number");
	n = eh_read("h", p1, 0, 8, r, &next);
	ok(n >= 2, "read back %d events", n);
	ok(r[1].off > r[0].off, "offsets grow");
	is_str(r[0].pkey, "dev-a", "partition key kept");
	enc = eh_msg_annotate(&r[0], &len);
	ok(enc != NULL, "annotated");
	m = pn_message();
	ok(enc && pn_message_decode(m, (const char *)enc, len) == 0, "decodes");
	a = pn_message_annotations(m);
	pn_data_rewind(a);
	pn_data_next(a);
	pn_data_enter(a);
	i = 0;
	while (pn_data_next(a)) {
		pn_bytes_t k = pn_data_get_symbol(a);

		pn_data_next(a);
		if (k.size == 21 && memcmp(k.start, "x-opt-sequence-number", 21) == 0)
			i += pn_data_get_long(a) == 0;
		if (k.size == 19 && memcmp(k.start, "x-opt-partition-key", 19) == 0)
			i += 10;
	}
	is_int(i, 11, "x-opt-sequence-number 0 and the partition key set");
	is_str(pn_message_get_content_type(m), "application/json", "content type");
	pn_message_free(m);
	free(enc);
	for (i = 0; i < n; i++)
		eh_rec_free(&r[i]);
	ok(eh_part_start("h", p1, EH_POS_SEQ, 0, 0, 0, &seq) == 0 && seq == 1,
	    "> seq 0 starts at 1");
	ok(eh_part_start("h", p1, EH_POS_SEQ, 0, 1, 0, &seq) == 0 && seq == 0,
	    ">= seq 0 starts at 0");
	ok(eh_part_start("h", p1, EH_POS_OFFSET, -1, 0, 0, &seq) == 0 && seq == 0,
	    "offset -1 starts at the beginning");
	ok(eh_part_start("h", p1, EH_POS_OFFSET, 0, 0, 1, &seq) == 0 &&
	    seq == (p1 == 1 ? 3 : 2), "@latest is after the end");
	for (i = 0; i < 5; i++)
		pub("h", NULL, 0, "r");
	ok(eh_part_info("h", 0, &pi) == 0 && pi.last_seq - pi.begin_seq == 2,
	    "retention keeps 3 events (%lld..%lld)", (long long)pi.begin_seq,
	    (long long)pi.last_seq);
	eh_release();

	fd = mkstemp(path);
	close(fd);
	cfg.db_path = path;
	cfg.retention_count = 0;
	ok(eh_init(&cfg) == 0, "SQLite store opens");
	eh_hub_add("p", 3, msg, sizeof(msg));
	pub("p", NULL, 2, "one");
	pub("p", NULL, 2, "two");
	eh_release();
	ok(eh_init(&cfg) == 0, "reopens");
	is_int(eh_hub_get("p", 0, NULL), 3, "hub kept");
	ok(eh_part_info("p", 2, &pi) == 0 && pi.last_seq == 1 && !pi.empty,
	    "events kept across a restart");
	is_int(pub("p", NULL, 2, "three"), 2, "publish after reopen");
	n = eh_read("p", 2, 2, 8, r, &next);
	ok(n == 1 && r[0].seq == 2, "sequence numbers go on");
	for (i = 0; i < n; i++)
		eh_rec_free(&r[i]);
	eh_release();
	unlink(path);
	snprintf(msg, sizeof(msg), "%s-wal", path);
	unlink(msg);
	snprintf(msg, sizeof(msg), "%s-shm", path);
	unlink(msg);
	return tap_done();
}
