/*
 * eh-produce.c - test helper: a librdkafka mock cluster with IoT Hub-shaped
 * events whose headers are AMQP-encoded as Event Hubs delivers them.
 *
 *   eh-produce TOPIC PARTITIONS DEVICES ROUNDS
 *
 * Creates the mock cluster (3 brokers) and TOPIC, prints its bootstrap
 * servers on the first line of stdout, produces for each device a
 * createDeviceIdentity, ROUNDS updateTwin events (version 2..), then one
 * event of every special kind (see below), prints "produced N", and stays
 * up until killed (SIGTERM). Keyed by device id.
 *
 * Special events (device "dev-bad-*", partition by key):
 *   a header of every AMQP type (on device "types"), a non-JSON body, a
 *   twin event without deviceId, a plain (non-AMQP) header set.
 * Build: cc -o eh-produce eh-produce.c -lrdkafka
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stop;
static rd_kafka_t *rk;
static const char *topic;
static int count;

static void
on_sig(int s)
{
	(void)s;
	stop = 1;
}

/* AMQP str8 */
static size_t
str8(unsigned char *b, const char *s)
{
	size_t n = strlen(s);

	b[0] = 0xa1;
	b[1] = (unsigned char)n;
	memcpy(b + 2, s, n);
	return n + 2;
}

static void
hdr_str(rd_kafka_headers_t *h, const char *name, const char *val)
{
	unsigned char b[300];

	rd_kafka_header_add(h, name, -1, b, (ssize_t)str8(b, val));
}

static void
produce(const char *key, rd_kafka_headers_t *h, const char *body)
{
	rd_kafka_resp_err_t err;

	/* a full queue: wait for deliveries and try again (the headers are
	 * still ours then) */
	while ((err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
	    RD_KAFKA_V_KEY(key, strlen(key)),
	    RD_KAFKA_V_VALUE((void *)body, strlen(body)),
	    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	    RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END)) ==
	    RD_KAFKA_RESP_ERR__QUEUE_FULL)
		rd_kafka_poll(rk, 100);
	if (err) {
		fprintf(stderr, "produce: %s\n", rd_kafka_err2str(err));
		exit(1);
	}
	count++;
	rd_kafka_poll(rk, 0);
}

static rd_kafka_headers_t *
iot(const char *dev, const char *optype, const char *schema)
{
	rd_kafka_headers_t *h = rd_kafka_headers_new(8);

	hdr_str(h, "hubName", "hub1");
	if (dev != NULL)
		hdr_str(h, "deviceId", dev);
	hdr_str(h, "opType", optype);
	hdr_str(h, "iothub-message-schema", schema);
	hdr_str(h, "operationTimestamp", "2026-01-01T00:00:00.0000000Z");
	/* standard property: plain UTF-8 */
	rd_kafka_header_add(h, "content-type", -1, "application/json", -1);
	return h;
}

int
main(int argc, char **argv)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_mock_cluster_t *mc;
	char err[512], key[64], body[1024];
	int parts, devices, rounds, d, r;

	if (argc != 5) {
		fprintf(stderr, "usage: eh-produce TOPIC PARTITIONS DEVICES "
		    "ROUNDS\n");
		return 2;
	}
	topic = argv[1];
	parts = atoi(argv[2]);
	devices = atoi(argv[3]);
	rounds = atoi(argv[4]);
	rd_kafka_conf_set(conf, "test.mock.num.brokers", "3", err,
	    sizeof(err));
	rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err));
	rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (rk == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	mc = rd_kafka_handle_mock_cluster(rk);
	if (rd_kafka_mock_topic_create(mc, topic, parts, 1)) {
		fprintf(stderr, "topic create failed\n");
		return 1;
	}
	printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);

	for (d = 0; d < devices; d++) {
		snprintf(key, sizeof(key), "dev-%d", d);
		snprintf(body, sizeof(body), "{\"deviceId\":\"%s\",\"etag\":"
		    "\"AAAA\",\"version\":1,\"status\":\"enabled\","
		    "\"properties\":{\"desired\":{\"$version\":1},"
		    "\"reported\":{\"$version\":1}}}", key);
		produce(key, iot(key, "createDeviceIdentity",
		    "deviceLifecycleNotification"), body);
	}
	for (r = 0; r < rounds; r++)
		for (d = 0; d < devices; d++) {
			snprintf(key, sizeof(key), "dev-%d", d);
			snprintf(body, sizeof(body), "{\"version\":%d,"
			    "\"properties\":{\"reported\":{\"temp\":%d,"
			    "\"$version\":%d}}}", r + 2, r * 10 + d, r + 2);
			produce(key, iot(key, "updateTwin",
			    "twinChangeNotification"), body);
		}
	{
		/* every AMQP type on one event */
		rd_kafka_headers_t *h = iot("types", "updateTwin",
		    "twinChangeNotification");
		static const unsigned char
		    t_null[] = { 0x40 }, t_true[] = { 0x41 },
		    t_false[] = { 0x42 }, t_bool[] = { 0x56, 0x01 },
		    t_ubyte[] = { 0x50, 0xff }, t_byte[] = { 0x51, 0xfe },
		    t_uint0[] = { 0x43 }, t_suint[] = { 0x52, 0x07 },
		    t_uint[] = { 0x70, 0xff, 0xff, 0xff, 0xff },
		    t_sulong[] = { 0x53, 0x09 }, t_ulong0[] = { 0x44 },
		    t_ulong[] = { 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			0xff, 0xff },
		    t_short[] = { 0x61, 0xff, 0xfd },
		    t_int[] = { 0x71, 0xff, 0xff, 0xff, 0xfc },
		    t_sint[] = { 0x54, 0xfb },
		    t_long[] = { 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0 },
		    t_slong[] = { 0x55, 0x05 },
		    t_float[] = { 0x72, 0x3f, 0xc0, 0, 0 },
		    t_double[] = { 0x82, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44,
			0x2d, 0x18 },
		    t_ts[] = { 0x83, 0, 0, 0x01, 0x9b, 0x77, 0x2f, 0x0c,
			0x00 },
		    t_uuid[] = { 0x98, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc,
			0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde,
			0xf0 },
		    t_bin8[] = { 0xa0, 3, 1, 2, 3 },
		    t_bin32[] = { 0xb0, 0, 0, 0, 2, 0xff, 0xfe },
		    t_str32[] = { 0xb1, 0, 0, 0, 3, 'a', 'b', 'c' },
		    t_sym8[] = { 0xa3, 3, 's', 'y', 'm' },
		    t_sym32[] = { 0xb3, 0, 0, 0, 1, 'z' },
		    t_badlen[] = { 0xa1, 9, 'x' };
#define H(n, a) rd_kafka_header_add(h, n, -1, a, sizeof(a))
		H("t-null", t_null); H("t-true", t_true);
		H("t-false", t_false); H("t-bool", t_bool);
		H("t-ubyte", t_ubyte); H("t-byte", t_byte);
		H("t-uint0", t_uint0); H("t-smalluint", t_suint);
		H("t-uint", t_uint); H("t-smallulong", t_sulong);
		H("t-ulong0", t_ulong0); H("t-ulong", t_ulong);
		H("t-short", t_short); H("t-int", t_int);
		H("t-smallint", t_sint); H("t-long", t_long);
		H("t-smalllong", t_slong); H("t-float", t_float);
		H("t-double", t_double); H("t-timestamp", t_ts);
		H("t-uuid", t_uuid); H("t-bin8", t_bin8);
		H("t-bin32", t_bin32); H("t-str32", t_str32);
		H("t-sym8", t_sym8); H("t-sym32", t_sym32);
		H("t-badlen", t_badlen);
#undef H
		hdr_str(h, "t-str8", "héllo");
		rd_kafka_header_add(h, "t-plain", -1, "plain text", -1);
		rd_kafka_header_add(h, "message-id", -1, "A", -1);
		rd_kafka_header_add(h, "t-notutf8", -1, "\xff\xfe", 2);
		hdr_str(h, "iothub-connection-device-id", "types");
		/* pretty-printed: written again on one line */
		produce("types", h, "{\"version\": 5,\r\n  \"properties\":\n"
		    "    {\"desired\": {\"x\": 12345678901234567890}}\n}\n");
	}
	produce("dev-bad-body", iot("dev-bad-body", "updateTwin",
	    "twinChangeNotification"), "not json {");
	produce("dev-bad-nodev", iot(NULL, "updateTwin",
	    "twinChangeNotification"), "{\"version\":2}");
	rd_kafka_flush(rk, 10000);
	printf("produced %d\n", count);
	fflush(stdout);
	signal(SIGTERM, on_sig);
	signal(SIGINT, on_sig);
	while (!stop)
		rd_kafka_poll(rk, 200);
	rd_kafka_destroy(rk);
	return 0;
}
