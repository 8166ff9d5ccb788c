/*
 * eh_store.h - the Event Hubs store's side beyond eh.h, for the AMQP
 * endpoint (eh_amqp.c), the admin endpoint and main: configuration, hub
 * and partition properties, reads by position, and the publish notifier.
 *
 * Events are kept as encoded AMQP messages (the sections a producer sent,
 * byte for byte); eh_msg_annotate() adds the x-opt-* annotations the
 * store assigned when an event is read. Thread-safe.
 */
#ifndef TP_EMU_EH_STORE_H
#define TP_EMU_EH_STORE_H

#include <stddef.h>
#include <stdint.h>

#define EH_MAX_PARTITIONS 32
#define EH_MAX_NAME 256

struct eh_config {
	const char *db_path;	/* SQLite file, or NULL: in memory */
	int default_partitions;	/* of hubs created on first use */
	long retention_count;	/* events kept per partition, 0 = no bound */
	double retention_age;	/* seconds, 0 = no bound */
	int strict;		/* refuse hubs not configured (AMQP side) */
};

/* Open the store (the database when one is given). 0, or -1 (logged). */
int eh_init(const struct eh_config *cfg);
/* Close it. */
void eh_release(void);
/* Declare a hub with n partitions (1..EH_MAX_PARTITIONS); an existing
 * hub keeps its count. 0, or -1 (why in msg). */
int eh_hub_add(const char *name, int n, char *msg, size_t msgsz);
/* Look up a hub, creating it on first use unless the store is strict
 * and create is 0. Returns its partition count, or -1 (no such hub). */
int eh_hub_get(const char *name, int create, int64_t *created_ms);

struct eh_part_info {
	int64_t begin_seq;	/* first kept event, or -1 when empty */
	int64_t last_seq;	/* last enqueued, -1 when none ever */
	int64_t last_off;	/* its offset, -1 when none */
	int64_t last_time;	/* ms, 0 when none */
	int empty;
};
/* Partition properties. 0, or -1 (no such hub/partition). */
int eh_part_info(const char *hub, int part, struct eh_part_info *pi);

/* Append an encoded AMQP message. Same rules as eh_publish(). */
int eh_publish_raw(const char *hub, const char *partition_key, int partition,
    const void *msg, size_t len, char *err, size_t errsz);

/* One stored event, as read (owned by the caller: eh_rec_free). */
struct eh_rec {
	int64_t seq, off, t_ms;
	char *pkey;		/* or NULL */
	unsigned char *msg;
	size_t len;
};
void eh_rec_free(struct eh_rec *r);

/* Start positions of a receiver. */
enum eh_pos { EH_POS_OFFSET, EH_POS_SEQ, EH_POS_TIME };
/*
 * The sequence number of the first event to deliver for a start position
 * (value is the filter's: an offset, a sequence number or epoch ms;
 * latest means "after the last event"). 0 or -1 (no such partition).
 */
int eh_part_start(const char *hub, int part, enum eh_pos kind, int64_t value,
    int inclusive, int latest, int64_t *seq_out);
/*
 * Copy up to max events with sequence number >= from into out. Returns
 * how many; when from is older than retention, reading starts at the
 * first kept event (*next tells where to go on).
 */
int eh_read(const char *hub, int part, int64_t from, int max,
    struct eh_rec *out, int64_t *next);

/* fn(ctx) is called (on the publisher's thread, no lock held) after
 * every publish. One notifier; NULL removes it. */
void eh_set_notify(void (*fn)(void *), void *ctx);

/*
 * Re-encode a stored message with the x-opt annotations of r set (other
 * annotations kept, other sections byte for byte). Returns a malloc'd
 * buffer (length in *len), or NULL when the message does not decode.
 */
unsigned char *eh_msg_annotate(const struct eh_rec *r, size_t *len);

struct req;
struct resp;
/* GET /_admin/eventhubs/<hub>/partitions/<p>/events?from=SEQ&max=N
 * (eh_admin.c): a partition's events as JSON, for tests and debugging. */
void eh_admin_handle(struct req *r, struct resp *rs);

#endif
