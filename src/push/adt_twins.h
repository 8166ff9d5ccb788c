/*
 * adt_twins.h - what push-adt knows about each twin it touches in a run:
 * when it may next send a write to it (ADT allows 10 a second per twin),
 * which creates of it are still to finish, and the relationships parked
 * until those creates are done.
 *
 * A hash table of string ids; allocation failure aborts, nothing else
 * fails. Entries that are idle are dropped by adt_twins_sweep().
 */
#ifndef TP_ADT_TWINS_H
#define TP_ADT_TWINS_H

#include <stddef.h>
#include <stdint.h>

struct adt_twin {
	char *id;
	int64_t next_ms;	/* earliest start of the next write (ms) */
	uint64_t last_create;	/* seq of the last create read */
	uint64_t done_create;	/* seq of the last create finished */
	void *parked;		/* caller's list of parked items */
	void *incoming;		/* caller's list of pending relationship
				   operations that target this twin */
	struct adt_twin *next_;	/* private */
};

struct adt_twins;

/* A new, empty table. */
struct adt_twins *adt_twins_new(void);
/* Free t and its entries (parked lists are the caller's). NULL: no-op. */
void adt_twins_free(struct adt_twins *t);
/* The entry of id, created (zeroed) when absent. Never NULL. */
struct adt_twin *adt_twins_get(struct adt_twins *t, const char *id);
/* The entry of id, or NULL. */
struct adt_twin *adt_twins_find(const struct adt_twins *t, const char *id);
/* Number of entries. */
size_t adt_twins_count(const struct adt_twins *t);
/*
 * Drop the entries that are idle at now_ms: no create pending, nothing
 * parked or incoming, and no write spacing still in force. Can't fail.
 */
void adt_twins_sweep(struct adt_twins *t, int64_t now_ms);

#endif
