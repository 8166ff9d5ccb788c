/*
 * eventhub_ack.h - per-partition acknowledgement tracking: which offsets
 * were handed to the sink, which came back, and up to where a partition
 * may be committed (the highest contiguous acknowledged position).
 */
#ifndef TP_EVENTHUB_ACK_H
#define TP_EVENTHUB_ACK_H

#include <stddef.h>
#include <stdint.h>

struct eh_ack_part {
	int32_t partition;
	int64_t *off;		/* offsets in flight, ascending, ring buffer */
	unsigned char *acked;
	size_t head, n, cap;
	int64_t commit;		/* next offset to commit (last acked + 1), -1 none */
	int64_t committed;	/* what was last committed, -1 none */
	uint64_t gen;		/* changes when what is in flight is reset */
};

struct eh_ack {
	struct eh_ack_part *p;
	size_t n, cap;
	uint64_t in_flight;	/* sum of n over partitions */
	uint64_t gens;		/* the last generation handed out */
};

/* Free everything. eh_ack_release(NULL) is a no-op. */
void eh_ack_release(struct eh_ack *a);

/* The partition's state, created when create is set (else NULL). */
struct eh_ack_part *eh_ack_part(struct eh_ack *a, int32_t partition,
    int create);

/*
 * Record that offset was handed on. Offsets of one partition must grow;
 * an offset at or below the last one (a re-delivery after a seek) resets
 * what was in flight for that partition. This function can't fail.
 */
void eh_ack_sent(struct eh_ack *a, int32_t partition, int64_t offset);

/*
 * Record the acknowledgement of offset. Returns 1 if it was in flight,
 * 0 if unknown (already acknowledged, or from before a reset).
 */
int eh_ack_done(struct eh_ack *a, int32_t partition, int64_t offset);

/*
 * The last offset handed on for the partition and not yet acknowledged, in
 * *offset, with the partition's generation in *gen. Returns 0, or -1 when
 * nothing of the partition is in flight. This function can't fail.
 */
int eh_ack_last(const struct eh_ack *a, int32_t partition, int64_t *offset,
    uint64_t *gen);

/*
 * Acknowledge every offset in flight at or below offset, if the partition
 * is still at generation gen (a barrier that came back: everything handed
 * on before it was handled). Returns how many were acknowledged by this
 * call (0 for an unknown partition or an older generation).
 */
size_t eh_ack_upto(struct eh_ack *a, int32_t partition, uint64_t gen,
    int64_t offset);

/* Forget the partition (revoked). This function can't fail. */
void eh_ack_drop(struct eh_ack *a, int32_t partition);

/*
 * --max-buffer: one memory budget for the events a process holds, split
 * the same way for both transports. A quarter is output waiting to be
 * written (to stdout or the --exec pipe); the rest is prefetch: for Kafka
 * librdkafka's queue (queued.max.messages.kbytes, which counts payload
 * bytes only: an IoT Hub-shaped event costs about 8 times its payload in
 * memory, measured; and queued.min.messages, at 600 bytes an event), for
 * AMQP the credit of each partition link (1 KiB an event, at most
 * max_credit). This function can't fail.
 */
struct eh_budget {
	size_t out_bytes;		/* pause reading above this output */
	unsigned long kafka_kbytes;	/* queued.max.messages.kbytes */
	unsigned long kafka_messages;	/* queued.min.messages */
};
void eh_budget_split(size_t budget, struct eh_budget *b);
/* AMQP credit per partition link for n partitions, 1..max_credit. */
uint32_t eh_budget_credit(size_t budget, int partitions,
    uint32_t max_credit);

#endif
