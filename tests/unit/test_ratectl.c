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

/* the same for 429s to requests that had waited out an earlier 429 */
static int
feed_again(struct ratectl *rc, int n, int64_t t, int64_t ms)
{
	int i, changed = 0;

	for (i = 0; i < n; i++)
		changed |= ratectl_note_req(rc, 429, 1, t + ms * i / n);
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
	int64_t t, t_first = 0;
	int cuts = 0;
	double first = 0;

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

	/* a request's first 429: its partition is held, no global cut */
	ratectl_init(&rc, 0);
	ratectl_tolerate(&rc, 0.05);
	for (t = 0, cuts = 0; t < 5000; t += 1000) {
		cuts += feed(&rc, 200, 100, t, 1000);
		cuts += feed(&rc, 429, 100, t + 500, 20);
		cuts += feed_again(&rc, 4, t + 520, 10);
	}
	is_int(cuts, 0, "half the answers first 429s, 4 repeated a second: "
	    "no cut");
	ok(feed_again(&rc, 5, 5520, 10), "5 repeated within a second: cut");

	ratectl_init(&rc, 0);
	ratectl_tolerate(&rc, 0.05);
	ratectl_note(&rc, 0, 0);	/* started a second ago */
	feed(&rc, 200, 1, 1000, 1);
	ok(!feed_again(&rc, 4, 1010, 10), "4 429s of 5 answers: too few to "
	    "cut");
	ok(feed_again(&rc, 1, 1030, 1), "the fifth cuts");
	ok(ratectl_rate(&rc) == 1, "to 90%% of one answer: 1/s");

	/* 1000/s get through, then the service lets 400/s through */
	ratectl_init(&rc, 0);
	ratectl_tolerate(&rc, 0.05);
	feed(&rc, 200, 1000, 0, 1000);
	for (t = 1000, cuts = 0; t < 1200 && (cuts == 0 ||
	    ratectl_rate(&rc) > 380); t++) {
		cuts += ratectl_note_req(&rc, t % 5 < 2 ? 200 : 429, 1, t);
		cuts += ratectl_note_req(&rc, 429, 1, t);
		if (cuts == 1 && first == 0)
			first = ratectl_rate(&rc), t_first = t;
	}
	ok(first > 400 && t_first < 1050, "once 429s are 5%% of the last "
	    "second, a first cut by half at most, too soon to measure (%.0f "
	    "at %ld ms)", first, (long)t_first);
	ok(cuts == 2 && t >= 1050 && t < 1100, "a second one once the 429s "
	    "have gone on for 50 ms (%d cuts, at %ld ms)", cuts, (long)t);
	ok(ratectl_rate(&rc) > 340 && ratectl_rate(&rc) < 380,
	    "to 90%% of what got through while throttled, 400/s, not of the "
	    "last second's 1000 (%.1f)", ratectl_rate(&rc));
	is_int(feed_again(&rc, 4, t, 10), 0, "429s since the cut count anew");
	feed(&rc, 200, 1, t + 200, 1);
	ok(ratectl_rate(&rc) < 380, "no increase within 250 ms");
	feed(&rc, 200, 1, t + 260, 1);
	ok(ratectl_rate(&rc) > 390 && ratectl_rate(&rc) < 410,
	    "after 250 ms, back up to the rate that got through (%.1f)",
	    ratectl_rate(&rc));
	feed(&rc, 200, 1, t + 600, 1);
	ok(ratectl_rate(&rc) > 390 && ratectl_rate(&rc) < 410,
	    "beyond it only a second later");
	feed(&rc, 200, 1, t + 1300, 1);
	ok(ratectl_rate(&rc) > 490 && ratectl_rate(&rc) < 520,
	    "+25%% +1 (%.1f)", ratectl_rate(&rc));

	/* throttled from 300 ms on: too soon to measure, then measured */
	ratectl_init(&rc, 0);
	ratectl_tolerate(&rc, 0.05);
	feed(&rc, 200, 360, 0, 300);
	ok(feed_again(&rc, 20, 300, 5), "20 429s in 5 ms cut at once");
	ok(ratectl_rate(&rc) > 530 && ratectl_rate(&rc) < 550,
	    "too soon to measure: to 90%% of half the rate per second so "
	    "far, 1200/s (%.0f)", ratectl_rate(&rc));
	for (t = 305, cuts = 0; t < 500 && !cuts; t++) {
		cuts += ratectl_note_req(&rc, 429, 1, t);
		if (t % 5 < 2)
			cuts += ratectl_note(&rc, 200, t);
	}
	ok(cuts && t < 380, "then cut again as soon as the throttled spell "
	    "tells the rate, without waiting 250 ms (%ld ms)", (long)t);
	ok(ratectl_rate(&rc) > 340 && ratectl_rate(&rc) < 380,
	    "to 90%% of it (%.1f)", ratectl_rate(&rc));
	feed(&rc, 200, 1, t + 100, 1);
	ok(ratectl_rate(&rc) < 380, "that one was measured: no increase "
	    "within 250 ms");

	/* every partition out of its second's budget: nothing gets through */
	ratectl_init(&rc, 0);
	ratectl_tolerate(&rc, 0.05);
	ratectl_note(&rc, 0, 0);
	feed(&rc, 200, 1000, 0, 1000);
	feed(&rc, 429, 20, 1000, 20);
	ok(ratectl_rate(&rc) == 0, "each partition's first 429 at once, "
	    "nothing through: no cut");
	feed_again(&rc, 200, 1020, 200);
	ok(ratectl_rate(&rc) >= 200 && ratectl_rate(&rc) < 460,
	    "429s again: too few answers to measure, each cut at most halves "
	    "(%.0f)", ratectl_rate(&rc));

	/* a cut taken while few partitions had work: 20/s got through */
	ratectl_init(&rc, 0);
	ratectl_tolerate(&rc, 0.05);
	ratectl_note(&rc, 0, 0);
	feed(&rc, 200, 20, 100, 900);
	feed_again(&rc, 5, 1000, 5);
	ok(ratectl_rate(&rc) == 9, "cut to 9/s");
	for (t = 1005; t < 11000; t += 50)
		feed(&rc, 200, 1, t, 1);
	ok(ratectl_rate(&rc) > 80, "10 s later: %.0f/s (+5%%/s: 15/s)",
	    ratectl_rate(&rc));

	ratectl_init(&rc, 500);
	ratectl_tolerate(&rc, 0.05);
	feed(&rc, 200, 100, 0, 1000);
	feed_again(&rc, 10, 1000, 10);
	for (t = 1010; t < 20000; t += 50)
		feed(&rc, 200, 1, t, 1);
	is_int(ratectl_rate(&rc), 500, "the ceiling bounds the recovery");
}

/*
 * An instance-wide limit: twin-emulator's "rate" 400/s (a token bucket
 * with a burst of 400, a 429 when it is empty), 16 requests in flight and
 * 2 ms a round trip, so up to 8000/s without a limit; the client's own
 * bucket set as push-cosmos sets it (the rate, a burst of rate/20 + 1);
 * a request answered 429 is sent again after the 3 ms it is told.
 * Simulated for 5 s in steps of 0.1 ms. Cutting to 90% of the last
 * second's answers, which include the 400 of the burst, left about half
 * of the requests answered 429 for over a second.
 */
static void
test_instance_limit(void)
{
	struct ratectl rc;
	double srv = 400, cli = 0, rate = 0;
	int64_t due[16], ready[16];
	unsigned prior[16];
	int status[16], i, step, n429[2] = { 0, 0 }, nok[2] = { 0, 0 };

	ratectl_init(&rc, 0);
	ratectl_tolerate(&rc, 0.05);
	for (i = 0; i < 16; i++) {
		due[i] = -1;
		ready[i] = 0;
		prior[i] = 0;
	}
	for (step = 0; step < 50000; step++) {
		int64_t ms = step / 10;

		srv += 400 / 1e4;
		if (srv > 400)
			srv = 400;
		if (rate > 0) {
			cli += rate / 1e4;
			if (cli > rate / 20 + 1)
				cli = rate / 20 + 1;
		}
		for (i = 0; i < 16; i++) {
			if (due[i] == step) {
				if (ratectl_note_req(&rc, status[i], prior[i],
				    ms))
					rate = ratectl_rate(&rc);
				due[i] = -1;
				/* a 429 retries after its 3 ms */
				prior[i] = status[i] == 429 ? prior[i] + 1 : 0;
				ready[i] = status[i] == 429 ? step + 30 : step;
			}
			if (due[i] >= 0 || step < ready[i] ||
			    (rate > 0 && cli < 1))
				continue;
			if (rate > 0)
				cli -= 1;
			status[i] = srv >= 1 ? 200 : 429;
			if (srv >= 1)
				srv -= 1;
			if (status[i] == 429)
				n429[ms >= 1000]++;
			else
				nok[ms >= 1000]++;
			due[i] = step + 20;
		}
	}
	printf("# first second: %d ok, %d 429s; then %d ok, %d 429s; rate %.0f/s\n",
	    nok[0], n429[0], nok[1], n429[1], ratectl_rate(&rc));
	ok(n429[0] < 800, "the first second: %d 429s (a storm at 8000/s "
	    "would be 7000)", n429[0]);
	ok(n429[1] * 20 < nok[1] + n429[1], "then under 5%% of the answers "
	    "are 429s (%d of %d)", n429[1], nok[1] + n429[1]);
	ok(nok[1] >= 0.9 * 4 * 400, "and at least 90%% of the limit gets "
	    "through (%d in 4 s)", nok[1]);
}

int
main(void)
{
	test_every_429();
	test_tolerant();
	test_instance_limit();
	return tap_done();
}
