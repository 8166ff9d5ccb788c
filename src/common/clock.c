/*
 * clock.c - the monotonic and wall clocks (clock.h).
 */
#include <time.h>

#include "clock.h"

static struct timespec
now(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts;
}

int64_t
clock_ms(void)
{
	struct timespec ts = now(CLOCK_MONOTONIC);

	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
clock_us(void)
{
	struct timespec ts = now(CLOCK_MONOTONIC);

	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

double
clock_s(void)
{
	struct timespec ts = now(CLOCK_MONOTONIC);

	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t
clock_wall_ms(void)
{
	struct timespec ts = now(CLOCK_REALTIME);

	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double
clock_wall_s(void)
{
	struct timespec ts = now(CLOCK_REALTIME);

	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
