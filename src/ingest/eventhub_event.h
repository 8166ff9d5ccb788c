/*
 * eventhub_event.h - the event line of ingest-eventhub: a message's
 * headers (Kafka, or AMQP properties decoded) sorted into system and
 * application properties, its body as JSON or base64, and _meta.src.
 */
#ifndef EVENTHUB_EVENT_H
#define EVENTHUB_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "eventhub_amqp.h"
#include "json.h"
#include "tape.h"

/* The headers build_event looks up, as indexes into ix. */
enum { HX_SCHEMA, HX_OPTYPE, HX_CTYPE, HX_DEVICE, HX_N };

/* Where an event comes from, whatever the transport. */
struct ev {
	const char *topic;
	int32_t partition;
	int64_t offset;		/* Kafka offset; AMQP: the sequence number */
	int64_t ts;		/* ms, -1 if unknown */
	const char *amqp_offset;	/* AMQP: x-opt-offset, else NULL */
	const char *body;
	size_t blen;
	size_t nh;		/* headers in hs */
	int ix[HX_N];
};

/* Append one header to the message's headers (n so far), noting it in ix. */
void hdr_push(size_t n, const char *name, const void *val, size_t sz,
    const struct eh_amqp_value *typed, int ix[HX_N]);
/* Read the Kafka headers h (see hdr_push). Returns how many. */
size_t hdr_collect(rd_kafka_headers_t *h, int ix[HX_N]);
/* Free the headers' array (at exit). */
void hdr_free(void);
int build_event(struct buf *line, struct tape *tp, struct json_numlits *lits,
    int binary_body, const struct ev *e, const char **code, char *msg,
    size_t msgsz);

#endif
