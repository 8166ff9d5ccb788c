/*
 * eventhub_event.c - the event line of ingest-eventhub, whatever the
 * transport: system and application properties from the headers, the body
 * as JSON (or base64), and _meta.src {topic, partition, offset, timestamp}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "codec.h"
#include "eventhub_amqp.h"
#include "eventhub_event.h"
#include "json.h"
#include "tape.h"

/* Is the header a system property (rather than an application one)? */
static int
is_system(const char *name)
{
	if (eh_amqp_is_standard(name) || strncmp(name, "x-opt-", 6) == 0)
		return 1;
	return strncmp(name, "iothub-", 7) == 0 &&
	    strcmp(name, "iothub-message-schema") != 0;
}

/* The headers of the message being built, in order (see hdr_collect). */
struct hdr {
	const char *name;
	const void *val;
	size_t sz;
	unsigned char sys;	/* a system property */
	unsigned char dup;	/* an earlier header has the same name */
	const struct eh_amqp_value *typed;	/* AMQP transport: decoded */
};

static struct hdr *hs;
static size_t hs_cap;

/* Free the headers' array (at exit). */
void
hdr_free(void)
{
	free(hs);
	hs = NULL;
	hs_cap = 0;
}

/*
 * Read the headers of h into hs once: their kind, duplicates, and in ix
 * the last of each header build_event looks up (-1 if absent). Returns
 * how many.
 */
/* Append one header to hs (n of them so far), noting it in ix. */
void
hdr_push(size_t n, const char *name, const void *val, size_t sz,
    const struct eh_amqp_value *typed, int ix[HX_N])
{
	struct hdr *x;
	size_t j;

	if (n == hs_cap) {
		hs_cap = hs_cap ? hs_cap * 2 : 16;
		hs = xrealloc(hs, hs_cap * sizeof(*hs));
	}
	x = &hs[n];
	x->name = name;
	x->val = val;
	x->sz = sz;
	x->typed = typed;
	x->sys = (unsigned char)is_system(name);
	x->dup = 0;
	for (j = 0; j < n && !x->dup; j++)
		x->dup = hs[j].name[0] == name[0] &&
		    strcmp(hs[j].name, name) == 0;
	if (strcmp(name, "iothub-message-schema") == 0)
		ix[HX_SCHEMA] = (int)n;
	else if (strcmp(name, "opType") == 0)
		ix[HX_OPTYPE] = (int)n;
	else if (strcmp(name, "content-type") == 0)
		ix[HX_CTYPE] = (int)n;
	else if (strcmp(name, "deviceId") == 0)
		ix[HX_DEVICE] = (int)n;
}

size_t
hdr_collect(rd_kafka_headers_t *h, int ix[HX_N])
{
	const char *name;
	const void *val;
	size_t sz, n = 0, j;

	for (j = 0; j < HX_N; j++)
		ix[j] = -1;
	while (h != NULL &&
	    rd_kafka_header_get_all(h, n, &name, &val, &sz) == 0) {
		hdr_push(n, name, val, sz, NULL, ix);
		n++;
	}
	return n;
}

/* Append the headers of one kind (system or not) as a JSON object. Sets
 * *bad to the name of a text property that does not decode as text. */
static void
write_props(struct buf *b, size_t nh, int system, const char **bad)
{
	size_t i;
	int first = 1;

	buf_addc(b, '{');
	for (i = 0; i < nh; i++) {
		const struct hdr *x = &hs[i];
		struct eh_amqp_value v;

		if (x->sys != system || x->dup)
			continue;	/* the first one wins */
		if (x->typed != NULL)
			v = *x->typed;
		else
			eh_amqp_decode(x->name, x->val ? x->val : "",
			    x->val ? x->sz : 0, &v);
		if (!eh_amqp_is_text(&v) && v.kind != EHA_NULL &&
		    (strcmp(x->name, "deviceId") == 0 ||
		    strcmp(x->name, "opType") == 0 ||
		    strcmp(x->name, "moduleId") == 0 ||
		    strcmp(x->name, "iothub-message-schema") == 0))
			*bad = x->name;
		if (!first)
			buf_addc(b, ',');
		first = 0;
		json_write_string(b, x->name, strlen(x->name), 0);
		buf_addc(b, ':');
		eh_amqp_write_json(b, &v);
	}
	buf_addc(b, '}');
}

/* The decoded text of header hs[i] (valid until tmp changes), or NULL. */
static const char *
header_text(int i, struct buf *tmp)
{
	struct eh_amqp_value v;

	if (i < 0 || (hs[i].val == NULL && hs[i].typed == NULL))
		return NULL;
	if (hs[i].typed != NULL)
		v = *hs[i].typed;
	else
		eh_amqp_decode(hs[i].name, hs[i].val, hs[i].sz, &v);
	if (!eh_amqp_is_text(&v))
		return NULL;
	tmp->len = 0;
	buf_add(tmp, v.p, v.n);
	return buf_cstr(tmp);
}

/* Append the decimal text of v (buf_printf is slow for this). */
static void
add_int(struct buf *b, int64_t v)
{
	char d[24];
	size_t i = sizeof(d);
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do
		d[--i] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		d[--i] = '-';
	buf_add(b, d + i, sizeof(d) - i);
}


static void
write_src(struct buf *b, const struct ev *e)
{
	buf_adds(b, "{\"src\":{\"topic\":");
	json_write_string(b, e->topic, strlen(e->topic), 0);
	buf_adds(b, ",\"partition\":");
	add_int(b, e->partition);
	buf_adds(b, ",\"offset\":");
	add_int(b, e->offset);
	buf_adds(b, ",\"timestamp\":");
	if (e->ts >= 0) {
		struct eh_amqp_value v = { .kind = EHA_TIMESTAMP };

		v.v.i = e->ts;
		eh_amqp_write_json(b, &v);
	} else {
		buf_adds(b, "null");
	}
	if (e->amqp_offset != NULL) {
		buf_adds(b, ",\"sequenceNumber\":");
		add_int(b, e->offset);
		buf_adds(b, ",\"amqpOffset\":");
		json_write_string(b, e->amqp_offset, strlen(e->amqp_offset),
		    0);
	}
	buf_adds(b, "}}");
}

/* Does the parsed body (t) have a string deviceId? */
static int
body_device_id(const struct tape *t, int body_ok, const char *body, size_t blen)
{
	struct json_err je;
	uint32_t i;
	jv v;
	int r;

	if (!body_ok || t->nodes[0].type != TAPE_OBJECT)
		return 0;
	if (!(t->nodes[0].flags & TAPE_DUPS)) {
		i = tape_lookup(t, 0, "deviceId", 8);
		return i != 0 && t->nodes[i].type == TAPE_STRING;
	}
	if (json_parse(body, blen, &v, NULL, &je) < 0)
		return 0;
	r = json_get_str(v, "deviceId") != NULL;
	jv_free(v);
	return r;
}

/*
 * Build the event line of e into line (tp and lits: scratch). Returns 0, or -1 with a code and
 * message for a bad event (the line then holds the event with its body in
 * base64, for the dead-letter file).
 */
int
build_event(struct buf *line, struct tape *tp, struct json_numlits *lits,
    int binary_body, const struct ev *e, const char **code, char *msg,
    size_t msgsz)
{
	struct buf *b = line, tmp = BUF_INIT, t1 = BUF_INIT,
	    t2 = BUF_INIT, t3 = BUF_INIT;
	const char *bad = NULL, *schema, *optype, *ctype;
	const char *body = e->body ? e->body : "";
	size_t blen = e->body ? e->blen : 0, nh = e->nh;
	int iot, as_json, rc = 0, body_ok = 0;
	const int *ix = e->ix;
	jv v = jv_invalid();
	struct json_err je;

	b->len = 0;
	schema = header_text(ix[HX_SCHEMA], &t1);
	iot = schema != NULL;
	optype = header_text(ix[HX_OPTYPE], &t2);
	iot |= optype != NULL;
	ctype = header_text(ix[HX_CTYPE], &t3);
	as_json = !binary_body && (iot || ctype == NULL ||
	    strncmp(ctype, "application/json", 16) == 0);
	buf_adds(b, "{\"body\":");
	if (as_json && tape_parse(tp, body, blen, &je) == 0) {
		/* valid JSON on one line is copied as it is; a body with line
		 * breaks between its tokens is written again compactly */
		if (memchr(body, '\n', blen) == NULL &&
		    memchr(body, '\r', blen) == NULL) {
			buf_add(b, body, blen);
		} else {
			(void)json_parse(body, blen, &v, lits, &je);
			json_write(b, v, 0, lits);
		}
		body_ok = 1;
	} else {
		if (as_json && (iot || ctype != NULL)) {
			*code = "invalid_body";
			snprintf(msg, msgsz, "body is not JSON (at byte %zu: "
			    "%s)", je.off, je.msg);
			rc = -1;
		}
		buf_addc(b, '"');
		base64_encode(b, body, blen);
		buf_addc(b, '"');
		if (!binary_body)
			buf_adds(b, ",\"bodyEncoding\":\"base64\"");
	}
	buf_adds(b, ",\"properties\":");
	write_props(b, nh, 0, &bad);
	buf_adds(b, ",\"system\":");
	write_props(b, nh, 1, &bad);
	buf_adds(b, ",\"_meta\":");
	write_src(b, e);
	buf_addc(b, '}');
	if (rc == 0 && bad != NULL) {
		*code = "bad_header";
		snprintf(msg, msgsz, "header '%s' does not decode as text",
		    bad);
		rc = -1;
	}
	if (rc == 0 && iot) {
		/* twin and lifecycle events need a device id */
		int twin = (optype != NULL) || (schema != NULL &&
		    (strstr(schema, "twinChange") != NULL ||
		    strstr(schema, "ifecycle") != NULL));
		const char *dev = header_text(ix[HX_DEVICE], &tmp);

		if (twin && (dev == NULL || *dev == '\0') &&
		    !body_device_id(tp, body_ok, body, blen)) {
			*code = "missing_device_id";
			snprintf(msg, msgsz, "%s event without a deviceId",
			    optype ? optype : schema);
			rc = -1;
		}
	}
	jv_free(v);
	buf_release(&tmp);
	buf_release(&t1);
	buf_release(&t2);
	buf_release(&t3);
	return rc;
}

