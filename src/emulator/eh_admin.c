/*
 * eh_admin.c - GET /_admin/eventhubs/<hub>/partitions/<p>/events: the
 * events of a partition as JSON (sequenceNumber, offset, enqueuedTime,
 * partitionKey, contentType, body as text, properties), for tests and
 * debugging. ?from=SEQ (default 0) &max=N (default 100, at most 1000).
 * POST /_admin/eventhubs/<hub>/detach[?condition=C]: every receiver link
 * of the hub is detached with error condition C (default
 * amqp:link:detach-forced); POST .../drop: every connection with one is
 * dropped. Both for fault tests; 202, done by the AMQP thread soon after.
 */
#include <stdlib.h>
#include <string.h>

#include <proton/codec.h>
#include <proton/message.h>

#include "eh_amqp.h"
#include "eh_store.h"
#include "emu.h"

/* One AMQP value of d as JSON (strings, numbers, booleans; else null). */
static jv
value_json(pn_data_t *d)
{
	pn_bytes_t b;

	switch (pn_data_type(d)) {
	case PN_STRING:
		b = pn_data_get_string(d);
		return jv_string_sized(b.start, (int)b.size);
	case PN_SYMBOL:
		b = pn_data_get_symbol(d);
		return jv_string_sized(b.start, (int)b.size);
	case PN_BOOL:
		return jv_bool(pn_data_get_bool(d));
	case PN_INT:
		return jv_number(pn_data_get_int(d));
	case PN_UINT:
		return jv_number(pn_data_get_uint(d));
	case PN_LONG:
		return jv_number((double)pn_data_get_long(d));
	case PN_ULONG:
		return jv_number((double)pn_data_get_ulong(d));
	case PN_TIMESTAMP:
		return jv_number((double)pn_data_get_timestamp(d));
	case PN_DOUBLE:
		return jv_number(pn_data_get_double(d));
	case PN_BINARY:
		b = pn_data_get_binary(d);
		return jv_string_sized(b.start, (int)b.size);
	default:
		return jv_null();
	}
}

static jv
event_json(const struct eh_rec *r)
{
	pn_message_t *m = pn_message();
	pn_data_t *d;
	jv o = jv_object(), props = jv_object();
	char off[24];

	o = jv_object_set(o, jv_string("sequenceNumber"), jv_number((double)r->seq));
	snprintf(off, sizeof(off), "%lld", (long long)r->off);
	o = jv_object_set(o, jv_string("offset"), jv_string(off));
	o = jv_object_set(o, jv_string("enqueuedTime"), jv_number((double)r->t_ms));
	o = jv_object_set(o, jv_string("partitionKey"), r->pkey != NULL ?
	    jv_string(r->pkey) : jv_null());
	if (m != NULL && pn_message_decode(m, (const char *)r->msg, r->len) == 0) {
		const char *ct = pn_message_get_content_type(m);

		o = jv_object_set(o, jv_string("contentType"), ct != NULL ?
		    jv_string(ct) : jv_null());
		d = pn_message_properties(m);
		pn_data_rewind(d);
		if (pn_data_next(d) && pn_data_type(d) == PN_MAP) {
			pn_data_enter(d);
			while (pn_data_next(d)) {
				jv k = value_json(d);

				if (!pn_data_next(d)) {
					jv_free(k);
					break;
				}
				if (jv_get_kind(k) == JV_KIND_STRING)
					props = jv_object_set(props, k, value_json(d));
				else
					jv_free(k);
			}
		}
		d = pn_message_body(m);
		pn_data_rewind(d);
		o = jv_object_set(o, jv_string("body"), pn_data_next(d) ?
		    value_json(d) : jv_null());
	}
	o = jv_object_set(o, jv_string("properties"), props);
	pn_message_free(m);
	return o;
}

/* POST /_admin/eventhubs/<hub>/detach[?condition=C] or .../drop */
static void
admin_kick(struct req *r, struct resp *rs)
{
	const char *c = req_query(r, "condition");

	if (eh_hub_get(r->seg[2], 0, NULL) < 0) {
		resp_json(rs, 404, JV_OBJECT(jv_string("error"),
		    jv_string("no such event hub")));
		return;
	}
	if (c != NULL && (strlen(c) == 0 || strlen(c) > 63)) {
		resp_json(rs, 400, JV_OBJECT(jv_string("error"),
		    jv_string("condition wants 1-63 characters")));
		return;
	}
	eh_amqp_kick(strcmp(r->seg[3], "detach") == 0 ? EH_KICK_DETACH :
	    EH_KICK_DROP, r->seg[2], c);
	rs->status = 202;
}

void
eh_admin_handle(struct req *r, struct resp *rs)
{
	struct eh_rec *recs;
	const char *s;
	long from = 0, max = 100, part;
	int64_t next;
	char *end;
	jv a;
	int n, i;

	if (r->nseg == 4 && strcmp(r->method, "POST") == 0 &&
	    (strcmp(r->seg[3], "detach") == 0 || strcmp(r->seg[3],
	    "drop") == 0)) {
		admin_kick(r, rs);
		return;
	}
	/* _admin eventhubs <hub> partitions <p> events */
	if (r->nseg != 6 || strcmp(r->seg[3], "partitions") != 0 ||
	    strcmp(r->seg[5], "events") != 0 || strcmp(r->method, "GET") != 0) {
		resp_json(rs, 404, JV_OBJECT(jv_string("error"), jv_string(
		    "use GET /_admin/eventhubs/<hub>/partitions/<p>/events, "
		    "POST .../<hub>/detach or POST .../<hub>/drop")));
		return;
	}
	part = strtol(r->seg[4], &end, 10);
	if (*end != '\0' || end == r->seg[4] || part < 0 ||
	    part >= EH_MAX_PARTITIONS || eh_hub_get(r->seg[2], 0, NULL) <= part) {
		resp_json(rs, 404, JV_OBJECT(jv_string("error"), jv_string(
		    "no such event hub or partition")));
		return;
	}
	if ((s = req_query(r, "from")) != NULL)
		from = strtol(s, NULL, 10);
	if ((s = req_query(r, "max")) != NULL)
		max = strtol(s, NULL, 10);
	if (max < 1 || max > 1000)
		max = 100;
	if ((recs = calloc((size_t)max, sizeof(*recs))) == NULL) {
		rs->status = 500;
		return;
	}
	n = eh_read(r->seg[2], (int)part, from, (int)max, recs, &next);
	a = jv_array();
	for (i = 0; i < n; i++) {
		a = jv_array_append(a, event_json(&recs[i]));
		eh_rec_free(&recs[i]);
	}
	free(recs);
	resp_json(rs, 200, a);
}
