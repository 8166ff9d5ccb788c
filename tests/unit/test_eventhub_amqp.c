/*
 * test_eventhub_amqp.c - AMQP-encoded Kafka header values (hand-built
 * byte vectors for every type) and the acknowledgement tracker.
 */
#include <stdlib.h>

#include "../../src/ingest/eventhub_ack.h"
#include "../../src/ingest/eventhub_amqp.h"
#include "tap.h"

static char *
dec(const char *name, const void *p, size_t n)
{
	struct eh_amqp_value v;
	struct buf b = BUF_INIT;

	eh_amqp_decode(name, p, n, &v);
	eh_amqp_write_json(&b, &v);
	return buf_cstr(&b);
}

#define T(name, want, ...) do { \
	static const unsigned char v_[] = { __VA_ARGS__ }; \
	char *s_ = dec(name, v_, sizeof(v_)); \
	is_str(s_, want, "%s -> %s", name, want); \
	free(s_); \
} while (0)

int
main(void)
{
	struct eh_amqp_value v;

	T("a", "null", 0x40);
	T("a", "true", 0x41);
	T("a", "false", 0x42);
	T("a", "true", 0x56, 0x01);
	T("a", "false", 0x56, 0x00);
	T("a", "\"V\\u0002\"", 0x56, 0x02);	/* bad boolean: text */
	T("a", "255", 0x50, 0xff);
	T("a", "-2", 0x51, 0xfe);
	T("a", "0", 0x43);
	T("a", "7", 0x52, 0x07);
	T("a", "4294967295", 0x70, 0xff, 0xff, 0xff, 0xff);
	T("a", "9", 0x53, 0x09);
	T("a", "0", 0x44);
	T("a", "18446744073709551615", 0x80, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff);
	T("a", "-3", 0x61, 0xff, 0xfd);
	T("a", "65535", 0x60, 0xff, 0xff);
	T("a", "-4", 0x71, 0xff, 0xff, 0xff, 0xfc);
	T("a", "-5", 0x54, 0xfb);
	T("a", "-9223372036854775808", 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0);
	T("a", "5", 0x55, 0x05);
	T("a", "1.5", 0x72, 0x3f, 0xc0, 0, 0);
	T("a", "3.141592653589793", 0x82, 0x40, 0x09, 0x21, 0xfb, 0x54,
	    0x44, 0x2d, 0x18);
	T("a", "\"2026-01-01T01:32:10.624Z\"", 0x83, 0, 0, 0x01, 0x9b, 0x77,
	    0x2f, 0x0c, 0x00);
	T("a", "\"1969-12-31T23:59:59.999Z\"", 0x83, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff);
	T("a", "\"12345678-9abc-def0-1234-56789abcdef0\"", 0x98, 0x12, 0x34,
	    0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a,
	    0xbc, 0xde, 0xf0);
	T("a", "\"AQID\"", 0xa0, 3, 1, 2, 3);
	T("a", "\"//4=\"", 0xb0, 0, 0, 0, 2, 0xff, 0xfe);
	T("a", "\"hi\"", 0xa1, 2, 'h', 'i');
	T("a", "\"abc\"", 0xb1, 0, 0, 0, 3, 'a', 'b', 'c');
	T("a", "\"\"", 0xa1, 0);
	T("a", "\"sym\"", 0xa3, 3, 's', 'y', 'm');
	T("a", "\"z\"", 0xb3, 0, 0, 0, 1, 'z');
	/* length inconsistent: kept as bytes */
	T("a", "\"oQl4\"", 0xa1, 9, 'x');
	T("a", "\"cAH/\"", 0x70, 0x01, 0xff);
	/* the inherent ambiguity: 5 bytes from 0x70 are a uint */
	T("a", "1818323310", 'p', 'l', 'a', 'i', 'n');
	T("a", "\"plain!\"", 'p', 'l', 'a', 'i', 'n', '!');
	T("a", "\"//4=\"", 0xff, 0xfe);
	T("a", "\"\"");
	/* a string that is not UTF-8 is not an AMQP string */
	T("a", "\"oQH/\"", 0xa1, 0x01, 0xff);
	/* standard properties are plain; text properties stay text */
	T("message-id", "\"A\"", 'A');
	T("content-type", "\"@\"", '@');
	T("deviceId", "\"A\"", 'A');
	T("deviceId", "\"dev\"", 0xa1, 3, 'd', 'e', 'v');
	T("x-custom", "true", 'A');
	ok(eh_amqp_parse("", 0, &v) < 0, "empty is not AMQP");
	ok(eh_amqp_parse("\xb1\x00\x00", 3, &v) < 0, "short str32 length");
	ok(eh_amqp_parse("\xb1\xff\xff\xff\xff", 5, &v) < 0,
	    "huge str32 length");

	{
		struct eh_ack a = { 0 };
		struct eh_ack_part *p;
		int64_t o;

		for (o = 10; o < 15; o++)
			eh_ack_sent(&a, 3, o);
		eh_ack_sent(&a, 4, 100);
		is_int(a.in_flight, 6, "6 in flight");
		p = eh_ack_part(&a, 3, 0);
		is_int(eh_ack_done(&a, 3, 12), 1, "ack 12");
		is_int(p->commit, -1, "12 alone commits nothing");
		is_int(eh_ack_done(&a, 3, 10), 1, "ack 10");
		is_int(p->commit, 11, "commit 11");
		is_int(eh_ack_done(&a, 3, 11), 1, "ack 11");
		is_int(p->commit, 13, "commit 13 (10-12 done)");
		is_int(eh_ack_done(&a, 3, 11), 0, "ack 11 twice: unknown");
		is_int(eh_ack_done(&a, 3, 99), 0, "unknown offset");
		is_int(eh_ack_done(&a, 7, 1), 0, "unknown partition");
		is_int(a.in_flight, 3, "3 in flight");
		for (o = 15; o < 400; o++)
			eh_ack_sent(&a, 3, o);
		for (o = 399; o >= 13; o--)
			eh_ack_done(&a, 3, o);
		is_int(p->commit, 400, "ring buffer growth: commit 400");
		eh_ack_sent(&a, 3, 5);	/* redelivery after a seek */
		is_int(a.in_flight, 2, "reset on a lower offset");
		eh_ack_drop(&a, 4);
		is_int(a.in_flight, 1, "dropped partition 4");
		eh_ack_release(&a);
	}
	{
		struct eh_ack a = { 0 };
		uint64_t g, g2;
		int64_t last;

		is_int(eh_ack_last(&a, 1, &last, &g), -1, "barrier: nothing");
		for (int64_t o = 0; o < 10; o++)
			eh_ack_sent(&a, 1, o);
		is_int(eh_ack_last(&a, 1, &last, &g), 0, "barrier mark");
		is_int(last, 9, "marks offset 9");
		eh_ack_sent(&a, 1, 10);
		is_int(eh_ack_done(&a, 1, 3), 1, "a result for 3");
		is_int(eh_ack_upto(&a, 1, g, 9), 9, "barrier acks 0-9 but 3");
		is_int(eh_ack_part(&a, 1, 0)->commit, 10, "commit 10");
		is_int(a.in_flight, 1, "10 still in flight");
		is_int(eh_ack_upto(&a, 1, g, 9), 0, "the same barrier again");
		eh_ack_sent(&a, 1, 4);	/* redelivery: a new generation */
		is_int(eh_ack_last(&a, 1, &last, &g2), 0, "mark again");
		ok(g2 != g, "the generation changed");
		is_int(eh_ack_upto(&a, 1, g, 9), 0, "an old barrier acks nothing");
		is_int(eh_ack_upto(&a, 1, g2, 4), 1, "the new one does");
		is_int(eh_ack_upto(&a, 2, g2, 4), 0, "unknown partition");
		is_int(a.in_flight, 0, "nothing in flight");
		eh_ack_release(&a);
	}
	return tap_done();
}
