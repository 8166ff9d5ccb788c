/*
 * test_eventhub_own.c - the balancing decision of shared partition
 * ownership (eh_lb_pick): shares of floor/ceil(P/owners), unowned first,
 * stealing only from the owner holding the most and only when it evens
 * things out.
 */
#include <string.h>

#include "../../src/ingest/eventhub_own.h"
#include "tap.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* How many picks in a row (each one applied) until "me" holds its share. */
static int
fill(const char **o, size_t n, const char *me)
{
	int k = 0, j;

	while (k <= (int)n && (j = eh_lb_pick(o, n, me, (uint64_t)k * 7919 +
	    1)) >= 0) {
		o[j] = me;
		k++;
	}
	return k;
}

static size_t
count(const char *const *o, size_t n, const char *who)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += o[i] != NULL && strcmp(o[i], who) == 0;
	return k;
}

int
main(void)
{
	const char *none[4] = { "", "", NULL, "" };
	const char *half[4] = { "a", "a", "", "" };
	const char *full[4] = { "a", "a", "a", "a" };
	const char *even[4] = { "a", "a", "b", "b" };
	const char *three[4] = { "a", "a", "b", "b" };
	const char *odd[5] = { "a", "a", "a", "b", "b" };
	const char *mine[3] = { "me", "me", "me" };
	int j, k;

	is_int(fill(none, N(none), "me"), 4, "alone: every partition");
	is_int((int)count(none, N(none), "me"), 4, "all mine");
	j = eh_lb_pick(half, N(half), "b", 3);
	ok(j == 2 || j == 3, "unowned first (picked %d)", j);
	is_int(fill(half, N(half), "b"), 2, "b takes the two unowned");
	is_int(eh_lb_pick(half, N(half), "a", 1), -1, "a holds its 2 of 4");
	k = fill(full, N(full), "b");
	is_int(k, 2, "a newcomer steals 2 of 4");
	is_int((int)count(full, N(full), "a"), 2, "a keeps 2");
	is_int(eh_lb_pick(even, N(even), "a", 5), -1, "2+2: nothing to do");
	is_int(fill(three, N(three), "c"), 1, "a third owner takes one");
	is_int((int)count(three, N(three), "c"), 1, "c holds 1");
	ok(count(three, N(three), "a") + count(three, N(three), "b") == 3,
	    "the others keep 3");
	is_int(eh_lb_pick(three, N(three), "c", 9), -1, "2+1+1: c is done");
	{
		const char *t[4] = { "a", "a", "b", "c" };

		is_int(eh_lb_pick(t, N(t), "a", 9), -1, "2+1+1: a is done");
		is_int(eh_lb_pick(t, N(t), "b", 9), -1, "2+1+1: b is done");
	}
	{
		const char *t[4] = { "a", "a", "a", "b" };

		j = eh_lb_pick(t, N(t), "b", 4);
		ok(j >= 0 && j <= 2, "3+1: b steals one of a's (%d)", j);
	}
	is_int(eh_lb_pick(odd, N(odd), "b", 2), -1,
	    "3+2 of 5: b holds ceil minus one, no steal (3-2 < 2)");
	is_int(eh_lb_pick(mine, N(mine), "me", 2), -1, "all mine: done");
	is_int(eh_lb_pick(NULL, 0, "me", 2), -1, "no partitions");
	return tap_done();
}
