/*
 * eh.h - the emulator's Event Hubs store: hubs, partitions and their events,
 * shared by the AMQP endpoint (eh_amqp.c, readers and senders) and by
 * IoT Hub's routing (iothub.c, which publishes twin-change and lifecycle
 * events into the hub's built-in Event Hub-compatible endpoint).
 *
 * Every function is thread-safe (HTTP workers and the AMQP thread call in).
 */
#ifndef TP_EMU_EH_H
#define TP_EMU_EH_H

#include <stddef.h>
#include <stdint.h>

/* One typed AMQP value of an application property or message annotation. */
enum eh_type { EH_STRING, EH_SYMBOL, EH_LONG, EH_TIMESTAMP, EH_BOOL, EH_DOUBLE };

struct eh_value {
	const char *name;
	enum eh_type type;
	const char *s;		/* EH_STRING, EH_SYMBOL */
	int64_t i;		/* EH_LONG, EH_BOOL, EH_TIMESTAMP (ms since epoch) */
	double d;		/* EH_DOUBLE */
};

/* An event as a producer gives it. Everything is borrowed for the call. */
struct eh_event {
	const void *body;	/* the data section */
	size_t len;
	const char *content_type;	/* or NULL */
	const char *content_encoding;	/* or NULL */
	const char *message_id;	/* or NULL */
	const struct eh_value *props;	/* application properties */
	int nprops;
	const struct eh_value *annos;	/* message annotations, beside the
					 * x-opt-* ones the store sets */
	int nannos;
};

/*
 * Append one event to hub (created on first use with the emulator's
 * default partition count). partition >= 0 names the partition; otherwise
 * partition_key (e.g. the device id) picks it by a stable hash, so one
 * key's events stay in order, and NULL spreads round robin. The store sets
 * x-opt-sequence-number, x-opt-offset, x-opt-enqueued-time and
 * x-opt-partition-key. Returns the partition, or -1 (why in msg).
 */
int eh_publish(const char *hub, const char *partition_key, int partition,
    const struct eh_event *ev, char *msg, size_t msgsz);

#endif
