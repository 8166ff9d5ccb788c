/*
 * ratectl.h - adapt a request rate to a throttling service (AIMD on the
 * rate, on top of the HTTP engine's AIMD on its in-flight window).
 *
 * Feed every answer's status to ratectl_note(); when it returns 1, pass
 * ratectl_rate() to http_set_rate(). A 429 (at most one cut every 250 ms)
 * sets the rate to 90% of the answers that got through in the last second;
 * every second without a 429 adds 5% (+1). The ceiling (0: none) bounds
 * it; with no ceiling there is no limit at all until the first 429.
 * Without this, a service throttled below what the window sends answers
 * most requests with 429 and records run out of attempts.
 *
 *	struct ratectl rc;
 *	ratectl_init(&rc, 0);
 *	if (ratectl_note(&rc, resp->status, now_ms))
 *		http_set_rate(e, ratectl_rate(&rc), ratectl_rate(&rc) / 20 + 1);
 *
 * (push-adt and push-cosmos both use it.)
 */
#ifndef TP_RATECTL_H
#define TP_RATECTL_H

#include <stdint.h>

#define RATECTL_SLOTS 10	/* 100 ms slots: the last second */

struct ratectl {
	double cur;		/* requests/s now, 0 = unlimited */
	double ceiling;		/* 0 = none */
	unsigned ok[RATECTL_SLOTS];	/* answers other than 429 per slot */
	int64_t stamp[RATECTL_SLOTS];	/* the 100 ms tick a slot counts */
	int64_t last_cut, last_inc;
};

/* Start unlimited (or at the ceiling when one is set). Can't fail. */
void ratectl_init(struct ratectl *rc, double ceiling);
/* Change the ceiling (0: none); the rate is clamped at once. Returns 1 if
 * the rate changed. */
int ratectl_set_ceiling(struct ratectl *rc, double ceiling);
/*
 * Account one answer (status 0: none arrived) at time now_ms (monotonic).
 * Returns 1 if the rate changed. Can't fail.
 */
int ratectl_note(struct ratectl *rc, long status, int64_t now_ms);
/* The current rate, requests/s (0 = unlimited). */
double ratectl_rate(const struct ratectl *rc);

#endif
