/*
 * ratectl.c - adapt a request rate to a throttling service (see ratectl.h).
 */
#include <string.h>

#include "ratectl.h"

void
ratectl_init(struct ratectl *rc, double ceiling)
{
	memset(rc, 0, sizeof(*rc));
	rc->ceiling = ceiling > 0 ? ceiling : 0;
	rc->cur = rc->ceiling;
	rc->last_cut = rc->last_inc = rc->t_first = INT64_MIN / 2;
	rc->ep_t0 = INT64_MIN / 2;
}

void
ratectl_tolerate(struct ratectl *rc, double share)
{
	rc->share = share > 0 ? (share > 1 ? 1 : share) : 0;
}

int
ratectl_set_ceiling(struct ratectl *rc, double ceiling)
{
	double old = rc->cur;

	rc->ceiling = ceiling > 0 ? ceiling : 0;
	if (rc->ceiling > 0 && (rc->cur == 0 || rc->cur > rc->ceiling))
		rc->cur = rc->ceiling;
	return rc->cur != old;
}

/* The rate after a quiet spell, or cur if it is not time yet. */
static double
grown(const struct ratectl *rc, int64_t now_ms, int64_t *stamp)
{
	double r = rc->cur;

	if (rc->share == 0) {
		if (now_ms - rc->last_cut >= 1000 &&
		    now_ms - rc->last_inc >= 1000) {
			r = r * 1.05 + 1;
			*stamp = now_ms;
		}
	} else if (r < rc->good) {
		if (now_ms - rc->last_cut >= 250 &&
		    now_ms - rc->last_inc >= 250) {
			r = r * 1.25 + 1;
			if (r > rc->good)
				r = rc->good;
			*stamp = now_ms;
		}
	} else if (now_ms - rc->last_cut >= 1000 &&
	    now_ms - rc->last_inc >= 1000) {
		r = r * 1.25 + 1;
		*stamp = now_ms;
	}
	if (rc->ceiling > 0 && r > rc->ceiling)
		r = rc->ceiling;
	return r;
}

/* Tolerant: has the throttled spell gone on long enough to measure? */
static int
spell_measured(const struct ratectl *rc, int64_t now_ms)
{
	return rc->ep_t0 != INT64_MIN / 2 &&
	    now_ms - rc->ep_t0 >= RATECTL_EP_MS &&
	    rc->ep_ok >= RATECTL_EP_OK;
}

/*
 * Tolerant: do the spell's 429s tell a limit the requests share? A 429
 * for one partition key comes with the time its budget is back, and
 * the request waits that long (push-cosmos holds the key too): it meets
 * a 429 again only if others took that budget first.
 */
static int
spell_shared(const struct ratectl *rc)
{
	return rc->ep_again >= RATECTL_MIN_429;
}

/* Tolerant: is a spell of widespread 429s going on (no growth then)? */
static int
spell_hot(const struct ratectl *rc, int64_t now_ms)
{
	return rc->share > 0 && rc->ep_t0 != INT64_MIN / 2 &&
	    now_ms - rc->ep_t0 <= 1000 && rc->ep_thr >= RATECTL_MIN_429 &&
	    rc->ep_thr >= rc->share * (rc->ep_ok + rc->ep_thr);
}

/*
 * Tolerant: the rate after a cut, got being what got through in the last
 * second (at most the rate in force); sets good, the rate to grow back to
 * at once.
 */
static double
cut_tolerant(struct ratectl *rc, double got, int64_t now_ms)
{
	double to = got, floor = 1;

	rc->good = got;
	rc->guessed = 0;
	if (!spell_shared(rc)) {
		floor = rc->cur * 0.75;	/* first 429s, a rate in force */
	} else if (!spell_measured(rc, now_ms)) {
		to = got / 2;		/* too soon or too few to tell */
		rc->guessed = 1;
	} else {
		to = rc->ep_ok * 1000.0 / (double)(now_ms - rc->ep_t0);
		if (to < got / 4) {	/* at most to a quarter */
			to = got / 4;
			rc->guessed = 1;
		} else if (to < got)
			rc->good = to;
		else
			to = got;
	}
	rc->ep_t0 = INT64_MIN / 2;
	memset(rc->thr, 0, sizeof(rc->thr));
	to *= 0.9;
	return to > floor ? to : floor > 1 ? floor : 1;
}

int
ratectl_note(struct ratectl *rc, long status, int64_t now_ms)
{
	return ratectl_note_req(rc, status, 0, now_ms);
}

int
ratectl_note_req(struct ratectl *rc, long status, unsigned prior_429,
    int64_t now_ms)
{
	int64_t tick = now_ms / 100;
	int slot = (int)(tick % RATECTL_SLOTS), i;
	double old = rc->cur, got = 0;
	unsigned thr = 0;

	if (rc->t_first == INT64_MIN / 2)
		rc->t_first = now_ms;
	if (rc->stamp[slot] != tick) {
		rc->stamp[slot] = tick;
		rc->ok[slot] = 0;
		rc->thr[slot] = 0;
	}
	if (status != 429) {
		if (status != 0) {
			rc->ok[slot]++;
			rc->ep_ok++;
		}
		if (rc->cur > 0 && !spell_hot(rc, now_ms))
			rc->cur = grown(rc, now_ms, &rc->last_inc);
		return rc->cur != old;
	}
	rc->thr[slot]++;
	if (rc->share > 0 && (rc->ep_t0 == INT64_MIN / 2 ||
	    now_ms - rc->ep_t0 > 1000)) {
		rc->ep_t0 = now_ms;	/* a throttled spell begins */
		rc->ep_ok = rc->ep_thr = rc->ep_again = 0;
	}
	rc->ep_thr++;
	if (prior_429 > 0)
		rc->ep_again++;
	/* after a guess, cut again as soon as the spell tells the rate */
	if (now_ms - rc->last_cut < 250 && !(rc->guessed &&
	    spell_measured(rc, now_ms)))
		return 0;
	for (i = 0; i < RATECTL_SLOTS; i++)
		if (tick - rc->stamp[i] < RATECTL_SLOTS) {
			got += rc->ok[i];
			thr += rc->thr[i];
		}
	if (rc->share > 0 && (thr < RATECTL_MIN_429 ||
	    thr < rc->share * (got + thr) ||
	    (!spell_shared(rc) && rc->cur == 0)))
		return 0;
	/* in the first second, what got through is not yet a second's
	   worth: a cut at 300 ms would be to a third of the rate */
	if (rc->share > 0 && now_ms - rc->t_first < 1000)
		got = got * 1000 / (double)(now_ms - rc->t_first < 100 ? 100 :
		    now_ms - rc->t_first);
	if (rc->cur > 0 && rc->cur < got)
		got = rc->cur;
	if (rc->share > 0)
		rc->cur = cut_tolerant(rc, got, now_ms);
	else {
		rc->good = got;
		rc->cur = got * 0.9 > 1 ? got * 0.9 : 1;
	}
	rc->last_cut = rc->last_inc = now_ms;
	return rc->cur != old;
}

double
ratectl_rate(const struct ratectl *rc)
{
	return rc->cur;
}
