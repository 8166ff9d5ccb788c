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
	rc->last_cut = rc->last_inc = INT64_MIN / 2;
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

int
ratectl_note(struct ratectl *rc, long status, int64_t now_ms)
{
	int64_t tick = now_ms / 100;
	int slot = (int)(tick % RATECTL_SLOTS), i;
	double old = rc->cur;

	if (rc->stamp[slot] != tick) {
		rc->stamp[slot] = tick;
		rc->ok[slot] = 0;
	}
	if (status != 429) {
		if (status != 0)
			rc->ok[slot]++;
		if (rc->cur > 0 && now_ms - rc->last_cut >= 1000 &&
		    now_ms - rc->last_inc >= 1000) {
			rc->cur = rc->cur * 1.05 + 1;
			if (rc->ceiling > 0 && rc->cur > rc->ceiling)
				rc->cur = rc->ceiling;
			rc->last_inc = now_ms;
		}
	} else if (now_ms - rc->last_cut >= 250) {
		double got = 0;

		for (i = 0; i < RATECTL_SLOTS; i++)
			if (tick - rc->stamp[i] < RATECTL_SLOTS)
				got += rc->ok[i];
		if (rc->cur > 0 && rc->cur < got)
			got = rc->cur;
		rc->cur = got * 0.9 > 1 ? got * 0.9 : 1;
		rc->last_cut = rc->last_inc = now_ms;
	}
	return rc->cur != old;
}

double
ratectl_rate(const struct ratectl *rc)
{
	return rc->cur;
}
