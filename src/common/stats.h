/*
 * stats.h - per-program counters, a summary line at exit and a progress
 * line on stderr when it is a terminal.
 *
 * Summary (text):  PROG: summary: in=10 out=9 failed=1 ...
 * Summary (json):  {"prog":"PROG","summary":{"in":10,"out":9,...}}
 * Counters print in the order they were registered.
 */
#ifndef TP_STATS_H
#define TP_STATS_H

#include <stdint.h>

enum stats_mode { STATS_TEXT, STATS_JSON, STATS_NONE };

/* Register (or find) a counter (name is copied); the pointer stays valid.
 * At most 64 counters. Can't fail. */
uint64_t *stats_counter(const char *name);
/* Add v to the counter named name (registers it). */
void stats_add(const char *name, uint64_t v);
uint64_t stats_get(const char *name);

/* Print the summary line on stderr in the given mode. */
void stats_summary(enum stats_mode mode);
/*
 * The end of a run: the summary line, then the last --metrics-file write
 * with the exit status (metrics.h). Can't fail (a metrics file that cannot
 * be written is a warning, never an exit status).
 */
void stats_finish(enum stats_mode mode, int status);
/* The i-th counter (registration order): 0, or -1 past the last. */
int stats_nth(int i, const char **name, uint64_t *v);

/*
 * Call once per record: every 64k calls (every call while metrics are on),
 * and at most once a second, the counters are shown on one overwritten
 * line if stderr is a terminal, and handed to metrics_tick(). Can't fail.
 */
void stats_tick(void);
/* Like stats_tick() without the call count: at most once a second. A
 * loop that can idle calls it on every turn (the /healthz heartbeat). */
void stats_progress(void);
/*
 * fn(ctx) is called before the progress line is formatted, so a program
 * can copy its own counts into the counters. Can't fail.
 */
void stats_set_refresh(void (*fn)(void *), void *ctx);
/* Clear the progress line if one is shown. */
void stats_progress_clear(void);

#endif
