/*
 * eventhub_amqp.c - decoding of AMQP-encoded Kafka header values (see
 * eventhub_amqp.h and PROTOCOLS.md).
 */
#include "eventhub_amqp.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "json.h"

static uint64_t
be(const unsigned char *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* The signed value of the n-byte two's complement big-endian p. */
static int64_t
be_signed(const unsigned char *p, size_t n)
{
	uint64_t u = be(p, n);

	if (n < 8 && (u & (UINT64_C(1) << (n * 8 - 1))))
		u |= ~UINT64_C(0) << (n * 8);
	return (int64_t)u;
}

/* Fixed-size payload of type code c, or -1 for a variable-width code,
 * -2 for an unknown one. */
static int
fixed_size(unsigned c)
{
	switch (c) {
	case 0x40: case 0x41: case 0x42: case 0x43: case 0x44:
		return 0;
	case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55:
	case 0x56:
		return 1;
	case 0x60: case 0x61:
		return 2;
	case 0x70: case 0x71: case 0x72:
		return 4;
	case 0x80: case 0x81: case 0x82: case 0x83:
		return 8;
	case 0x98:
		return 16;
	case 0xa0: case 0xa1: case 0xa3: case 0xb0: case 0xb1: case 0xb3:
		return -1;
	default:
		return -2;
	}
}

int
eh_amqp_parse(const void *data, size_t n, struct eh_amqp_value *v)
{
	const unsigned char *p = data;
	unsigned c;
	int fs;

	if (n == 0)
		return -1;
	c = p[0];
	fs = fixed_size(c);
	if (fs == -2)
		return -1;
	if (fs >= 0) {
		const unsigned char *q = p + 1;

		if (n != (size_t)fs + 1)
			return -1;
		v->p = q;
		v->n = (size_t)fs;
		switch (c) {
		case 0x40: v->kind = EHA_NULL; break;
		case 0x41: v->kind = EHA_BOOL; v->v.b = 1; break;
		case 0x42: v->kind = EHA_BOOL; v->v.b = 0; break;
		case 0x56:
			if (q[0] > 1)
				return -1;
			v->kind = EHA_BOOL;
			v->v.b = q[0];
			break;
		case 0x43: case 0x44:
			v->kind = EHA_UINT;
			v->v.u = 0;
			break;
		case 0x50: case 0x52: case 0x53: case 0x60: case 0x70:
		case 0x80:
			v->kind = EHA_UINT;
			v->v.u = be(q, (size_t)fs);
			break;
		case 0x51: case 0x54: case 0x55: case 0x61: case 0x71:
		case 0x81:
			v->kind = EHA_INT;
			v->v.i = be_signed(q, (size_t)fs);
			break;
		case 0x72: {
			uint32_t u = (uint32_t)be(q, 4);
			float f;

			memcpy(&f, &u, sizeof(f));
			v->kind = EHA_FLOAT;
			v->v.d = f;
			break;
		}
		case 0x82: {
			uint64_t u = be(q, 8);

			memcpy(&v->v.d, &u, sizeof(v->v.d));
			v->kind = EHA_DOUBLE;
			break;
		}
		case 0x83:
			v->kind = EHA_TIMESTAMP;
			v->v.i = be_signed(q, 8);
			break;
		default:	/* 0x98 */
			v->kind = EHA_UUID;
			break;
		}
		return 0;
	}
	/* variable width: 0xaX one-byte length, 0xbX four-byte length */
	{
		size_t lw = c >= 0xb0 ? 4 : 1;
		uint64_t len;

		if (n < 1 + lw)
			return -1;
		len = be(p + 1, lw);
		if (len != n - 1 - lw)
			return -1;
		v->p = p + 1 + lw;
		v->n = (size_t)len;
	}
	switch (c & 0x0f) {
	case 0x0:
		v->kind = EHA_BINARY;
		break;
	case 0x1:
		if (!json_utf8_valid((const char *)v->p, v->n))
			return -1;
		v->kind = EHA_STRING;
		break;
	default: {	/* symbol: ASCII */
		size_t i;

		for (i = 0; i < v->n; i++)
			if (v->p[i] >= 0x80)
				return -1;
		v->kind = EHA_SYMBOL;
		break;
	}
	}
	return 0;
}

static const char *const standard[] = {
	"message-id", "user-id", "to", "reply-to", "content-type",
	"content-encoding", "creation-time"
};

/* IoT Hub application properties whose values are always strings */
static const char *const text_props[] = {
	"opType", "hubName", "deviceId", "moduleId", "operationTimestamp",
	"iothub-message-schema", "iothub-message-source",
	"iothub-connection-device-id", "iothub-connection-module-id",
	"iothub-content-type", "iothub-content-encoding"
};

static int
in_list(const char *name, const char *const *l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)	/* first bytes first: most differ */
		if (name[0] == l[i][0] && strcmp(name, l[i]) == 0)
			return 1;
	return 0;
}

int
eh_amqp_is_standard(const char *name)
{
	return in_list(name, standard, sizeof(standard) / sizeof(*standard));
}

int
eh_amqp_is_text(const struct eh_amqp_value *v)
{
	return v->kind == EHA_STRING || v->kind == EHA_SYMBOL ||
	    v->kind == EHA_PLAIN;
}

static void
as_plain(const void *p, size_t n, struct eh_amqp_value *v)
{
	v->p = p;
	v->n = n;
	v->kind = json_utf8_valid(p, n) ? EHA_PLAIN : EHA_RAW;
}

void
eh_amqp_decode(const char *name, const void *p, size_t n,
    struct eh_amqp_value *v)
{
	if (!eh_amqp_is_standard(name) && eh_amqp_parse(p, n, v) == 0) {
		if (!in_list(name, text_props,
		    sizeof(text_props) / sizeof(*text_props)) ||
		    eh_amqp_is_text(v))
			return;
		/* e.g. a plain "A" (0x41) for a property that is text */
		as_plain(p, n, v);
		if (v->kind == EHA_PLAIN)
			return;
		eh_amqp_parse(p, n, v);
		return;
	}
	as_plain(p, n, v);
}

/* The time as "YYYY-MM-DDTHH:MM:SS.mmmZ"; the date part of the last
 * second written is kept (events come in bursts of one second). */
static void
write_timestamp(struct buf *b, int64_t ms)
{
	static int64_t last_s = INT64_MIN;
	static char last[80];
	int64_t s = ms / 1000, r = ms % 1000;
	struct tm tm;
	time_t t;
	char tail[8];

	if (r < 0) {
		r += 1000;
		s--;
	}
	if (s != last_s) {
		t = (time_t)s;
		if (ms < INT64_C(-62135596800000) ||
		    ms > INT64_C(253402300799999) ||
		    gmtime_r(&t, &tm) == NULL) {
			/* outside years 1-9999: the number itself */
			buf_printf(b, "%" PRId64, ms);
			return;
		}
		snprintf(last, sizeof(last), "\"%04d-%02d-%02dT%02d:%02d:%02d.",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		last_s = s;
	}
	buf_adds(b, last);
	tail[0] = (char)('0' + r / 100);
	tail[1] = (char)('0' + r / 10 % 10);
	tail[2] = (char)('0' + r % 10);
	tail[3] = 'Z';
	tail[4] = '"';
	buf_add(b, tail, 5);
}

void
eh_amqp_write_json(struct buf *b, const struct eh_amqp_value *v)
{
	switch (v->kind) {
	case EHA_NULL:
		buf_adds(b, "null");
		break;
	case EHA_BOOL:
		buf_adds(b, v->v.b ? "true" : "false");
		break;
	case EHA_UINT:
		buf_printf(b, "%" PRIu64, v->v.u);
		break;
	case EHA_INT:
		buf_printf(b, "%" PRId64, v->v.i);
		break;
	case EHA_FLOAT:
	case EHA_DOUBLE:
		if (isfinite(v->v.d))
			json_write_number(b, v->v.d);
		else
			buf_adds(b, isnan(v->v.d) ? "\"NaN\"" : v->v.d > 0 ?
			    "\"Infinity\"" : "\"-Infinity\"");
		break;
	case EHA_TIMESTAMP:
		write_timestamp(b, v->v.i);
		break;
	case EHA_UUID: {
		static const char hx[] = "0123456789abcdef";
		char s[40];
		size_t i, j = 0;

		for (i = 0; i < 16; i++) {
			if (i == 4 || i == 6 || i == 8 || i == 10)
				s[j++] = '-';
			s[j++] = hx[v->p[i] >> 4];
			s[j++] = hx[v->p[i] & 15];
		}
		buf_addc(b, '"');
		buf_add(b, s, j);
		buf_addc(b, '"');
		break;
	}
	case EHA_STRING:
	case EHA_SYMBOL:
	case EHA_PLAIN:
		json_write_string(b, (const char *)v->p, v->n, 0);
		break;
	case EHA_BINARY:
	case EHA_RAW:
		buf_addc(b, '"');
		base64_encode(b, v->p, v->n);
		buf_addc(b, '"');
		break;
	}
}
