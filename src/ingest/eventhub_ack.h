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
};

struct eh_ack {
	struct eh_ack_part *p;
	size_t n, cap;
	uint64_t in_flight;	/* sum of n over partitions */
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

/* Forget the partition (revoked). This function can't fail. */
void eh_ack_drop(struct eh_ack *a, int32_t partition);

#endif
