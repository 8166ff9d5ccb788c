/*
 * test_ratectl.c - the request-rate controller (ratectl.h) on a simulated
 * clock: push-adt's cut on every 429, and the tolerant mode push-cosmos
 * uses against per-partition throttling.
 */
#include <stdint.h>
#include <stdio.h>

#include "ratectl.h"
#include "tap.h"

/* n answers of status spread evenly over [t, t + ms) */
static int
feed(struct ratectl *rc, long status, int n, int64_t t, int64_t ms)
{
	int i, changed = 0;

	for (i = 0; i < n; i++)
		changed |= ratectl_note(rc, status, t + ms * i / n);
	return changed;
}

static void
test_every_429(void)
{
	struct ratectl rc;

	ratectl_init(&rc, 0);
	is_int(ratectl_rate(&rc), 0, "no ceiling: unlimited at first");
	feed(&rc, 200, 1000, 100, 900);
	ok(feed(&rc, 429, 1, 1000, 1), "a 429 cuts");
	ok(ratectl_rate(&rc) > 899 && ratectl_rate(&rc) < 901,
	    "to 90%% of what got through in the last second (%.1f)",
	    ratectl_rate(&rc));
	ok(!feed(&rc, 429, 1, 1100, 1), "not again within 250 ms");
	feed(&rc, 200, 1000, 1000, 300);
	ok(feed(&rc, 429, 1, 1300, 1), "after 250 ms, again");
	ok(ratectl_rate(&rc) > 809 && ratectl_rate(&rc) < 811,
	    "90%% of the rate, lower than what got through (%.1f)",
	    ratectl_rate(&rc));
	feed(&rc, 200, 10, 1400, 800);
	ok(ratectl_rate(&rc) > 809 && ratectl_rate(&rc) < 811,
	    "no increase within a second of the cut");
	feed(&rc, 200, 1, 2300, 1);
	ok(ratectl_rate(&rc) > 851 && ratectl_rate(&rc) < 852,
	    "+5%% +1 a second after (%.1f)", ratectl_rate(&rc));

	ratectl_init(&rc, 300);
	is_int(ratectl_rate(&rc), 300, "a ceiling: starts there");
	feed(&rc, 200, 100, 0, 5000);
	is_int(ratectl_rate(&rc), 300, "and never grows past it");
	ok(ratectl_set_ceiling(&rc, 100) && ratectl_rate(&rc) == 100,
	    "a lower ceiling clamps at once");
}

/*
 * 20 partitions, each out of budget once a second (one 429 each) while
 * 1000 answers a second get through: push-cosmos' bench. Cutting for each
 * 429 starved the others.
 */
static void
test_tolerant(void)
{
	struct ratectl rc;
	int64_t t;
	int cuts = 0;

	ratectl_init(&rc, 0);
	ratectl_tolerate(&rc, 0.05);
	for (t = 0; t < 10000; t += 1000) {
		cuts += feed(&rc, 200, 1000, t, 1000);
		cuts += feed(&rc, 429, 20, t + 3, 1000);
	}
	is_int(cuts, 0, "2%% of answers 429: no cut");
	is_int(ratectl_rate(&rc), 0, "the rate stays unlimited");
	ratectl_init(&rc, 0);
	for (t = 0; t < 10000; t += 1000) {
		cuts += feed(&rc, 200, 1000, t, 1000);
		cuts += feed(&rc, 429, 20, t + 3, 1000);
	}
	ok(cuts > 10 && ratectl_rate(&rc) > 0, "without ratectl_tolerate() "
	    "the same answers cut %d times", cuts);

	ratectl_init(&rc, 0);
	ratectl_tolerate(&rc, 0.05);
	ratectl_note(&rc, 0, 0);	/* started a second ago */
	feed(&rc, 200, 1, 1000, 1);
	ok(!feed(&rc, 429, 4, 1010, 10), "4 429s of 5 answers: too few to "
	    "cut");
	ok(feed(&rc, 429, 1, 1030, 1), "the fifth cuts");
	ok(ratectl_rate(&rc) == 1, "to 90%% of one answer: 1/s");

	ratectl_init(&rc, 0);
	ratectl_tolerate(&rc, 0.05);
	ratectl_note(&rc, 0, 0);
	feed(&rc, 200, 900, 100, 900);
	ok(!feed(&rc, 429, 40, 900, 100), "40 of 940 (4%%): no cut");
	ok(feed(&rc, 429, 10, 1000, 10), "50 of 950: cut");
	ok(ratectl_rate(&rc) > 809 && ratectl_rate(&rc) < 811,
	    "to 90%% of what got through (%.1f)", ratectl_rate(&rc));
	ok(!feed(&rc, 429, 4, 1300, 10), "429s since the cut count anew");
	feed(&rc, 200, 1, 1200, 1);
	is_int((long)ratectl_rate(&rc), 810, "no increase within 250 ms");
	feed(&rc, 200, 1, 1310, 1);
	ok(ratectl_rate(&rc) > 899 && ratectl_rate(&rc) < 901,
	    "after 250 ms, back up to the rate that got through (%.1f)",
	    ratectl_rate(&rc));
	feed(&rc, 200, 1, 1600, 1);
	ok(ratectl_rate(&rc) > 899 && ratectl_rate(&rc) < 901,
	    "beyond it only a second later");
	feed(&rc, 200, 1, 2320, 1);
	ok(ratectl_rate(&rc) > 1125 && ratectl_rate(&rc) < 1127,
	    "+25%% +1 (%.1f)", ratectl_rate(&rc));

	/* a cut taken while few partitions had work: 20/s got through */
	ratectl_init(&rc, 0);
	ratectl_tolerate(&rc, 0.05);
	ratectl_note(&rc, 0, 0);
	feed(&rc, 200, 20, 100, 900);
	feed(&rc, 429, 5, 1000, 5);
	ok(ratectl_rate(&rc) == 18, "cut to 18/s");
	for (t = 1005; t < 11000; t += 50)
		feed(&rc, 200, 1, t, 1);
	ok(ratectl_rate(&rc) > 150, "10 s later: %.0f/s (+5%%/s: 30/s)",
	    ratectl_rate(&rc));

	/* every partition out of budget at once, 300 ms after the start */
	ratectl_init(&rc, 0);
	ratectl_tolerate(&rc, 0.05);
	feed(&rc, 200, 360, 0, 300);
	feed(&rc, 429, 20, 300, 5);
	ok(ratectl_rate(&rc) > 1050 && ratectl_rate(&rc) < 1090,
	    "a cut in the first second: 90%% of the rate per second (%.0f), "
	    "not of the 360 answers so far", ratectl_rate(&rc));
	ratectl_init(&rc, 0);
	feed(&rc, 200, 360, 0, 300);
	feed(&rc, 429, 20, 300, 5);
	is_int((long)ratectl_rate(&rc), 324, "(cutting on every 429: still "
	    "of the answers so far)");

	ratectl_init(&rc, 500);
	ratectl_tolerate(&rc, 0.05);
	feed(&rc, 200, 100, 0, 1000);
	feed(&rc, 429, 10, 1000, 10);
	for (t = 1010; t < 20000; t += 50)
		feed(&rc, 200, 1, t, 1);
	is_int(ratectl_rate(&rc), 500, "the ceiling bounds the recovery");
}

int
main(void)
{
	test_every_429();
	test_tolerant();
	return tap_done();
}
