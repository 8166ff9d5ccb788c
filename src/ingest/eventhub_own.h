/*
 * eventhub_own.h - several ingest-eventhub instances (and Microsoft's
 * EventProcessorClient/EventHubConsumerClient) sharing a hub's partitions
 * through the ownership blobs of a checkpoint store, as the SDKs'
 * balanced load-balancing strategy does:
 *
 * every cycle (--ownership-expiry / 6, 0.2-10 s) each instance reads every
 * partition's ownership blob, renews its own (If-Match: the ETag it got;
 * a 412 means another took it: it stops reading it), and, counting the
 * owners whose claims are younger than the expiry, claims partitions until
 * it holds floor(P/owners) or, while some owner is short of the extra one,
 * ceil(P/owners): first unowned or expired ones, else one stolen from the
 * owner holding the most (If-Match on its ETag, so of two claimers one
 * wins). A stolen partition is read with a higher epoch (owner level), so
 * the service detaches the old owner's receiver.
 */
#ifndef TP_EVENTHUB_OWN_H
#define TP_EVENTHUB_OWN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "eventhub_ckpt.h"

/*
 * The balancing decision, pure: owner[i] is partition i's owner ("" or
 * NULL when unowned or expired), me this instance. Returns the index of
 * a partition to claim next, or -1 when this instance holds its share.
 * rnd picks among equal candidates. This function can't fail.
 */
int eh_lb_pick(const char *const *owner, size_t n, const char *me,
    uint64_t rnd);

struct eh_lb;

/* A balancer over partitions ids[0..n) of store d (borrowed), claims
 * expiring after expiry seconds. Can't fail. */
struct eh_lb *eh_lb_new(struct eh_ckpt_dir *d, const int32_t *ids,
    size_t n, double expiry);
void eh_lb_free(struct eh_lb *lb);
/* This instance's owner id (a random UUID). */
const char *eh_lb_id(const struct eh_lb *lb);
/* Seconds between cycles. */
double eh_lb_interval(const struct eh_lb *lb);

/*
 * One cycle at wall-clock time now: add(ctx, p, epoch) for each partition
 * newly claimed (returns 0, or -1: the claim is given up again),
 * drop(ctx, p) for each one lost. Returns 0, or -1 with err filled (the
 * store could not be read: nothing changed; retried next cycle).
 */
int eh_lb_cycle(struct eh_lb *lb, time_t now,
    int (*add)(void *, int32_t, int64_t), void (*drop)(void *, int32_t),
    void *ctx, struct buf *err);

/* Partition p was taken from this instance (its receiver was detached by
 * a higher epoch): no longer renewed. Can't fail. */
void eh_lb_lost(struct eh_lb *lb, int32_t p);

/* Give up every partition held (ownerid ""), as the SDKs do on close. */
void eh_lb_release(struct eh_lb *lb);

/* How many partitions this instance holds. */
size_t eh_lb_held(const struct eh_lb *lb);

#endif
