/*
 * clock.h - the clocks the programs read: the monotonic one for timeouts,
 * intervals and rates, the wall clock for timestamps and expiry times.
 * None of these functions can fail.
 */
#ifndef TP_CLOCK_H
#define TP_CLOCK_H

#include <stdint.h>

/* The monotonic clock in milliseconds, microseconds, seconds. */
int64_t clock_ms(void);
int64_t clock_us(void);
double clock_s(void);

/* The wall clock (since the epoch) in milliseconds, seconds. */
int64_t clock_wall_ms(void);
double clock_wall_s(void);

#endif
