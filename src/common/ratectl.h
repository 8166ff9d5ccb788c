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
 * That suits a service with one limit for the whole client (push-adt: an
 * Azure Digital Twins instance). A service that throttles each partition on
 * its own (Cosmos DB: a 429 means that one partition key is over its share
 * of the RU/s until x-ms-retry-after-ms) is different: the caller holds
 * that partition's requests until then, and a global cut for it would only
 * starve the partitions that still have budget. ratectl_tolerate() makes
 * the controller cut only for 429s that tell a limit the requests share:
 * 429s to requests that had waited out an earlier one as told (at least
 * RATECTL_MIN_429 in the spell: the second since the first 429 after the
 * last cut; the caller says so through ratectl_note_req()), and that are
 * at least a given share of the last second's answers (and at least
 * RATECTL_MIN_429 of them since the last cut), at most once every 250 ms.
 * A request's first 429 only holds its partition: cutting for those,
 * push-cosmos' throttled bench fell to 26-60% of the budget in one run of
 * four, when the first second's answers were few (holds, start-up).
 *
 * The cut is not to 90% of what got through in the last second either: it
 * includes the burst the service allowed before it began to throttle (an
 * instance-wide limit of 400/s with a burst of 400 let 4,000/s through for
 * 100 ms), and cutting to 90% of it left half the requests answered 429
 * for over a second. It takes what got through since the first 429 of the
 * spell, per second: while a service throttles, that is its rate. That
 * needs RATECTL_EP_MS of spell and RATECTL_EP_OK answers; until then (or
 * when almost nothing gets through) the cut is a guess, half of what got
 * through in the last second (per second in the first second), and the
 * next cut comes as soon as the spell can be measured instead of 250 ms
 * later. A measured cut goes at most to a quarter of what got through
 * (below is a guess too: in push-cosmos' throttled bench, a spell at the
 * partitions' one-second windows once measured 57/s of 4,000). The cut is
 * to 90% of that rate, the "good" rate (after a guess, good stays what
 * got through). Once a rate is in force, a share of first
 * 429s cuts it too, gently: to 90% of what got through, at most by a
 * quarter.
 * The rate then grows 25% every 250 ms back up to the good rate, and 25%
 * a second beyond it (the ceiling still bounds it), so that a cut taken
 * while few partitions had work does not keep the rate low for long; it
 * does not grow while a spell of widespread 429s goes on. Against an
 * instance-wide limit that probing costs a few percent of the requests in
 * 429s.
 */
#ifndef TP_RATECTL_H
#define TP_RATECTL_H

#include <stdint.h>

#define RATECTL_SLOTS 10	/* 100 ms slots: the last second */
#define RATECTL_MIN_429 5	/* tolerant: fewer 429s never cut */
#define RATECTL_EP_MS 50	/* tolerant: the shortest throttled span
				   whose answers set the cut */
#define RATECTL_EP_OK 10	/* tolerant: fewer answers than this in
				   the span cut at most by half */

struct ratectl {
	double cur;		/* requests/s now, 0 = unlimited */
	double ceiling;		/* 0 = none */
	double share;		/* tolerant: 429 share that cuts; 0 = any 429 */
	double good;		/* tolerant: what got through at the last cut */
	unsigned ok[RATECTL_SLOTS];	/* answers other than 429 per slot */
	unsigned thr[RATECTL_SLOTS];	/* 429s per slot (since the cut) */
	int64_t stamp[RATECTL_SLOTS];	/* the 100 ms tick a slot counts */
	int64_t last_cut, last_inc;
	int64_t t_first;	/* the first answer */
	int64_t ep_t0;		/* tolerant: the first 429 since the cut */
	unsigned ep_ok;		/* tolerant: answers other than 429 since */
	unsigned ep_thr;	/* tolerant: 429s since */
	unsigned ep_again;	/* tolerant: of those, to requests that had
				   waited out an earlier 429 */
	int guessed;		/* tolerant: the last cut did not measure */
};

/* Start unlimited (or at the ceiling when one is set). Can't fail. */
void ratectl_init(struct ratectl *rc, double ceiling);
/*
 * Cut only when at least share (0 < share <= 1) of the answers of the last
 * second were 429s, and recover faster (see above); share <= 0 goes back
 * to cutting on every 429. Call after ratectl_init(). Can't fail.
 */
void ratectl_tolerate(struct ratectl *rc, double share);
/* Change the ceiling (0: none); the rate is clamped at once. Returns 1 if
 * the rate changed. */
int ratectl_set_ceiling(struct ratectl *rc, double ceiling);
/*
 * Account one answer (status 0: none arrived) at time now_ms (monotonic).
 * Returns 1 if the rate changed. Can't fail.
 */
int ratectl_note(struct ratectl *rc, long status, int64_t now_ms);
/*
 * The same for an attempt of a request that earlier attempts had seen
 * prior_429 429s for (http_resp.throttled): in tolerant mode, 429s to
 * requests that waited as told tell a limit the requests share.
 */
int ratectl_note_req(struct ratectl *rc, long status, unsigned prior_429,
    int64_t now_ms);
/* The current rate, requests/s (0 = unlimited). */
double ratectl_rate(const struct ratectl *rc);

#endif
