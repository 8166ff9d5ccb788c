/*
 * keyq.h - keep operations on one key in order while many are in flight.
 *
 * A FIFO per string key with at most one item "active" (in flight) per key.
 * push-adt and push-cosmos use it with the HTTP engine (http.h), which
 * itself reorders freely:
 *
 *	on input:   if (keyq_push(q, id, op))   start(op);
 *	in done():  if ((next = keyq_done(q, id)) != NULL)   start(next);
 *
 * so an operation on a twin or document starts only after the previous one
 * on the same key has finished (succeeded or failed for good), while
 * operations on different keys run concurrently. keyq_last_waiting() lets
 * a caller fold an operation into the one already waiting on its key (e.g.
 * merge consecutive patches) instead of queueing another.
 *
 * Items are opaque pointers owned by the caller. Memory is proportional to
 * the active keys plus the waiting items; an idle key is forgotten.
 * Allocation failure aborts; no function here can fail otherwise.
 */
#ifndef TP_KEYQ_H
#define TP_KEYQ_H

#include <stddef.h>

struct keyq;

/* A new, empty queue. */
struct keyq *keyq_new(void);
/*
 * Free q. free_item (may be NULL) is called on every waiting item; active
 * items are the caller's. keyq_free(NULL, ...) is a no-op.
 */
void keyq_free(struct keyq *q, void (*free_item)(void *item));

/*
 * Add item under key (copied). Returns 1 if the key was idle: item is now
 * the key's active item and the caller should start it now. Returns 0 if
 * it waits behind the key's active item.
 */
int keyq_push(struct keyq *q, const char *key, void *item);
/*
 * The active item of key has finished. Returns the key's next waiting item,
 * now active (start it), or NULL when the key has nothing waiting (it is
 * idle again). A key that is not active gives NULL.
 */
void *keyq_done(struct keyq *q, const char *key);
/* The newest item waiting on key (not the active one), or NULL. */
void *keyq_last_waiting(const struct keyq *q, const char *key);

/* 1 if key has an active item. */
int keyq_busy(const struct keyq *q, const char *key);
/* Keys with an active item. */
size_t keyq_active(const struct keyq *q);
/* Items waiting behind an active one, over all keys. */
size_t keyq_waiting(const struct keyq *q);

#endif
