/*
 * eventhub_amqp.h - Kafka header values as Event Hubs delivers them.
 *
 * Properties set by an AMQP producer (IoT Hub routing is one) reach Kafka
 * consumers as headers holding the raw AMQP-encoded value, type code first
 * (PROTOCOLS.md). Headers from Kafka producers, and since about 2022 the
 * seven standard AMQP properties (message-id, user-id, to, reply-to,
 * content-type, content-encoding, creation-time), are plain bytes.
 *
 * A value is decoded as AMQP only when its type code is known and its
 * length is exactly what the code says; otherwise it is kept as a UTF-8
 * string, or as base64 when it is not valid UTF-8.
 */
#ifndef TP_EVENTHUB_AMQP_H
#define TP_EVENTHUB_AMQP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum eh_amqp_kind {
	EHA_NULL,	/* 0x40 */
	EHA_BOOL,	/* 0x41 0x42 0x56: v.b */
	EHA_UINT,	/* ubyte uint0 smalluint uint ulong0 smallulong ulong: v.u */
	EHA_INT,	/* byte short smallint int smalllong long: v.i */
	EHA_FLOAT,	/* 0x72: v.d */
	EHA_DOUBLE,	/* 0x82: v.d */
	EHA_TIMESTAMP,	/* 0x83, ms since the epoch: v.i */
	EHA_UUID,	/* 0x98: p, 16 bytes */
	EHA_BINARY,	/* 0xa0 0xb0: p, n */
	EHA_STRING,	/* 0xa1 0xb1 (valid UTF-8): p, n */
	EHA_SYMBOL,	/* 0xa3 0xb3 (ASCII): p, n */
	EHA_PLAIN,	/* not AMQP, valid UTF-8: p, n */
	EHA_RAW		/* not AMQP, not UTF-8: p, n (written as base64) */
};

struct eh_amqp_value {
	enum eh_amqp_kind kind;
	union {
		int b;
		uint64_t u;
		int64_t i;
		double d;
	} v;
	const unsigned char *p;	/* points into the input */
	size_t n;
};

/*
 * Parse p[0..n) as exactly one AMQP primitive value. Returns 0 and fills
 * *v, or -1 (v undefined) when the bytes are not one: unknown type code,
 * a length that does not match the size, a string that is not UTF-8.
 */
int eh_amqp_parse(const void *p, size_t n, struct eh_amqp_value *v);

/*
 * Decode the header value p[0..n) of the header called name: the standard
 * properties are plain; the IoT Hub string properties (deviceId, opType,
 * ...) are decoded as AMQP only when that yields a string or symbol; other
 * names are decoded as AMQP when they parse as it. Falls back to
 * EHA_PLAIN / EHA_RAW. This function can't fail.
 */
void eh_amqp_decode(const char *name, const void *p, size_t n,
    struct eh_amqp_value *v);

/* Is name one of the seven standard AMQP properties sent as plain text? */
int eh_amqp_is_standard(const char *name);

/*
 * Append v as JSON: null, true/false, numbers (64-bit integers exactly),
 * timestamps as ISO 8601 UTC strings with milliseconds
 * ("2026-01-02T03:04:05.678Z"), uuids as 8-4-4-4-12 lowercase hex strings,
 * strings, symbols and plain text as strings, binary and raw bytes as
 * base64 strings. This function can't fail.
 */
void eh_amqp_write_json(struct buf *b, const struct eh_amqp_value *v);

/* Is v a text value (string, symbol or plain UTF-8)? */
int eh_amqp_is_text(const struct eh_amqp_value *v);

#endif
